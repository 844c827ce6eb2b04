"""HASPI on sparse random Markov games: time per iteration and peak memory as the state count grows.

Games: 3 agents x 5 actions (125 joint actions), 5 successor states per state-joint-action pair, gamma 0.95,
alpha 1.  One HASPI iteration = exact soft evaluation of the current policy + the 3 sequential updates.
Each size runs in its own process so its peak resident memory (ru_maxrss, game construction included) is its
own; bytes/nnz divides it by the non-zeros of P (P itself needs 12: a float64 and an int32 column index).

    python benchmarks/bench_haspi_sparse.py [--states 1000 10000 100000] [--iters 5] [--million]

``--million`` adds 10^6 states (625M non-zeros, about 13 GB at peak); it runs only when the machine reports at
least ``MILLION_FREE_GB`` available.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

#: Memory the 10^6-state run must find available before it starts (its peak is about 13 GB, plus margin).
MILLION_FREE_GB = 18


def available_gb() -> float:
    with open("/proc/meminfo") as fh:
        info = dict(line.split(":", 1) for line in fh)
    return int(info["MemAvailable"].split()[0]) / 2 ** 20


def one(n_states: int, iters: int) -> dict:
    import numpy as np

    import tabular as T

    t0 = time.perf_counter()
    game = T.random_markov_game(n_states, (5, 5, 5), gamma=0.95, n_successors=5, sparse=True, seed=0)
    build = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    pi = T.JointPolicy.uniform(game)
    ev = T.soft_evaluate(game, pi, 1.0)
    t_eval = t_upd = 0.0
    for _ in range(iters):
        t = time.perf_counter()
        pi = T.sequential_update(game, pi, 1.0, rng.permutation(3), ev)
        t_upd += time.perf_counter() - t
        t = time.perf_counter()
        ev = T.soft_evaluate(game, pi, 1.0, V0=ev.V)
        t_eval += time.perf_counter() - t
    return {"states": n_states, "pairs": n_states * 125, "nnz": int(game.P.nnz), "build_s": build,
            "iter_s": (t_eval + t_upd) / iters, "eval_s": t_eval / iters, "update_s": t_upd / iters,
            "residual": ev.residual, "J": ev.J,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--states", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--million", action="store_true", help="also run 10^6 states (needs ~13 GB)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.iters)))
        return
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    print(f"{'states':>8} {'pairs':>10} {'nnz(P)':>10} {'s/iter':>8} {'eval s':>8} {'update s':>9} "
          f"{'residual':>9} {'peak MB':>8} {'bytes/nnz':>9}")
    sizes = list(args.states)
    if args.million:
        if available_gb() < MILLION_FREE_GB:
            print(f"10^6 states skipped: {available_gb():.1f} GB available, {MILLION_FREE_GB} GB needed")
        else:
            sizes.append(1_000_000)
    for S in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(S), "--iters", str(args.iters)],
                             capture_output=True, text=True, env=env, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['states']:>8} {r['pairs']:>10} {r['nnz']:>10} {r['iter_s']:>8.3f} {r['eval_s']:>8.3f} "
              f"{r['update_s']:>9.3f} {r['residual']:>9.1e} {r['peak_rss_mb']:>8.0f} "
              f"{r['peak_rss_mb'] * 2**20 / r['nnz']:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
