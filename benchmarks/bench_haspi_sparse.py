"""HASPI on sparse random Markov games: time per iteration, the public call's time and peak memory.

Games: 3 agents x 5 actions (125 joint actions), 5 successors per state-joint-action pair, gamma 0.95,
alpha 1.  Left of the bar, a hand-written loop: one iteration = exact soft evaluation of the current policy +
the 3 sequential updates (no QRE gap).  Right of it, what a user gets: ``T.haspi(g, alpha=1.0, seed=0,
max_iter=iters)`` with the QRE gap of its result included (``haspi s``), and that gap timed again on its own
(``gap s``; ``gap/iter`` is it in hand-written iterations).  Each measurement runs in its own process so its
peak resident memory (ru_maxrss, game construction included) is its own; ``B/nnz`` divides it by the
non-zeros of P (P itself needs 12: a float64 and an int32 column index) and ``traced`` does the same for
tracemalloc's peak over the game and the public call.

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
import tracemalloc

#: Memory the 10^6-state run must find available before it starts (its peak is about 13 GB, plus margin).
MILLION_FREE_GB = 18


def available_gb() -> float:
    with open("/proc/meminfo") as fh:
        info = dict(line.split(":", 1) for line in fh)
    return int(info["MemAvailable"].split()[0]) / 2 ** 20


def build(n_states: int):
    import tabular as T

    return T.random_markov_game(n_states, (5, 5, 5), gamma=0.95, n_successors=5, sparse=True, seed=0)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def loop(n_states: int, iters: int) -> dict:
    """The hand-written loop: warm-started evaluation and the sequential update, no QRE gap."""
    import numpy as np

    import tabular as T

    t0 = time.perf_counter()
    game = build(n_states)
    build_s = time.perf_counter() - t0
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
    return {"states": n_states, "pairs": n_states * 125, "nnz": int(game.P.nnz), "build_s": build_s,
            "iter_s": (t_eval + t_upd) / iters, "eval_s": t_eval / iters, "update_s": t_upd / iters,
            "residual": ev.residual, "J": ev.J, "peak_rss_mb": peak_rss_mb()}


def public(n_states: int, iters: int) -> dict:
    """The call a user makes, ``T.haspi(g, alpha=1.0, seed=0, max_iter=iters)`` (QRE gap included), then the gap
    of its result again on its own; tracemalloc's peak covers the game and the call."""
    import tabular as T

    tracemalloc.start()
    game = build(n_states)
    tracemalloc.reset_peak()
    t = time.perf_counter()
    res = T.haspi(game, alpha=1.0, seed=0, max_iter=iters)
    haspi_s = time.perf_counter() - t
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    t = time.perf_counter()
    gap = T.qre_gap(game, res.policy, 1.0, res.evaluation)
    gap_s = time.perf_counter() - t
    return {"haspi_s": haspi_s, "gap_s": gap_s, "gap": gap, "traced_peak_mb": traced_peak / 2 ** 20,
            "peak_rss_mb": peak_rss_mb()}


def run(mode: str, n_states: int, iters: int, env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", mode, str(n_states), "--iters", str(iters)],
                         capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--states", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--million", action="store_true", help="also run 10^6 states (needs ~13 GB)")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        mode, n_states = args.one[0], int(args.one[1])
        print(json.dumps((loop if mode == "loop" else public)(n_states, args.iters)))
        return
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    print(f"{'states':>8} {'nnz(P)':>10} | {'s/iter':>7} {'eval s':>7} {'upd s':>6} {'resid':>8} "
          f"{'B/nnz':>5} | {'haspi s':>8} {'gap s':>6} {'gap/iter':>8} {'B/nnz':>5} {'traced':>6}")
    sizes = list(args.states)
    if args.million:
        if available_gb() < MILLION_FREE_GB:
            print(f"10^6 states skipped: {available_gb():.1f} GB available, {MILLION_FREE_GB} GB needed")
        else:
            sizes.append(1_000_000)
    for S in sizes:
        r, p = run("loop", S, args.iters, env), run("public", S, args.iters, env)
        per_nnz = 2 ** 20 / r["nnz"]
        print(f"{S:>8} {r['nnz']:>10} | {r['iter_s']:>7.3f} {r['eval_s']:>7.3f} {r['update_s']:>6.3f} "
              f"{r['residual']:>8.1e} {r['peak_rss_mb'] * per_nnz:>5.1f} | {p['haspi_s']:>8.2f} {p['gap_s']:>6.2f} "
              f"{p['gap_s'] / r['iter_s']:>8.2f} {p['peak_rss_mb'] * per_nnz:>5.1f} "
              f"{p['traced_peak_mb'] * per_nnz:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
