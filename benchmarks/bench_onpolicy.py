"""Throughput and memory of the on-policy algorithms (MAPPO, HAPPO, HATRPO, PPO) beside HASAC's, at each
algorithm's layered config for the task (deep/configs: the reference code's tuned settings).

Each (algorithm, task) is measured in its own process (so its peak resident memory is its own): on-policy, one
untimed rollout-and-update, then ``--updates`` timed ones (a rollout is ``num_envs`` x ``rollout_length`` vector
steps: 20 x 200 = 4000 environment steps at the reference settings); HASAC as benchmarks/bench_hasac.py (the
warm-up untimed, one untimed training phase, then ``--phases`` timed phases of 50 vector steps and 50
updates).  Printed per row: updates/s (on-policy: rollout updates, each many gradient steps; HASAC: gradient
updates), environment steps/s, the time split and the peak RSS.  The machine may be shared: compare the
algorithms by their ratio to HASAC measured in the same invocation.

    python benchmarks/bench_onpolicy.py                          # MPE Spread and HalfCheetah 2x3, all algorithms
    python benchmarks/bench_onpolicy.py --tasks mpe:simple_spread_v3 --algos mappo hasac --updates 3
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ALGOS = ("mappo", "happo", "hatrpo", "ppo", "hasac")
TASKS = ("mpe:simple_spread_v3", "mamujoco:HalfCheetah-2x3")
SPLIT = ("env", "act", "gae", "sample", "actors", "critic")


def measure(algo: str, env: str, task: str, updates: int, phases: int, threads: int) -> dict:
    """One algorithm on one task, in this process."""
    from deep.configure import resolve
    from deep.run import start

    base = ["train.progress=false", "train.tensorboard=false", f"threads={threads}", "train.checkpoint_interval=0",
            "train.log_interval=1000000000", "train.eval_interval=0", "train.final_eval=false"]
    cfg = resolve(env, task, 0, base, algo=algo)
    with tempfile.TemporaryDirectory() as tmp:
        run = start(cfg, os.path.join(tmp, "run"))
        if run.algo.on_policy:
            untimed, timed = 1, updates
        else:
            t = cfg["train"]
            warm = -(-t["warmup_steps"] // cfg["num_envs"])
            warm += -warm % t["train_interval"]
            untimed, timed = warm + t["train_interval"], phases * t["train_interval"]
        run.run(stop_after=untimed)
        run.log.reset_window(run.counters)
        u0, s0, w0 = run.counters["updates"], run.counters["env_steps"], time.perf_counter()
        run.run(stop_after=timed)
        wall = time.perf_counter() - w0
        stats = run.log.win["stats"]
        split = {k: stats.get(f"time_{k}", 0.0) / wall for k in SPLIT}
        split["other"] = 1.0 - sum(split.values())
        out = {"algo": algo, "task": f"{env}:{task}", "updates_per_s": (run.counters["updates"] - u0) / wall,
               "env_steps_per_s": (run.counters["env_steps"] - s0) / wall, "wall_s": wall, "split": split,
               "num_envs": cfg["num_envs"], "hidden": cfg["algo"]["hidden"]}
        run.close()
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # Linux: KiB
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), help="ENV:TASK pairs")
    ap.add_argument("--updates", type=int, default=2, help="timed on-policy updates (rollouts)")
    ap.add_argument("--phases", type=int, default=2, help="timed HASAC training phases of 50 vector steps")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--one", nargs=3, metavar=("ALGO", "ENV", "TASK"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure(*args.one, args.updates, args.phases, args.threads)))
        return 0
    import torch
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs visible; each row its own "
          f"process; on-policy: {args.updates} timed rollout updates, HASAC: {args.phases} timed phases")
    env_vars = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    for pair in args.tasks:
        env, task = pair.split(":", 1)
        rows = []
        for algo in args.algos:
            res = subprocess.run([sys.executable, __file__, "--one", algo, env, task, "--updates", str(args.updates),
                                  "--phases", str(args.phases), "--threads", str(args.threads)],
                                 capture_output=True, text=True, env=env_vars)
            if res.returncode != 0:
                print(f"{algo} {pair}: failed: {res.stderr.strip().splitlines()[-1:]}")
                continue
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        ref = next((r for r in rows if r["algo"] == "hasac"), None)
        print(f"\n{pair}")
        print(f"  {'algo':7s} {'updates/s':>10s} {'env steps/s':>12s} {'vs HASAC':>9s} {'peak GB':>8s}  time split")
        for r in rows:
            ratio = r["env_steps_per_s"] / ref["env_steps_per_s"] if ref else float("nan")
            split = "  ".join(f"{k} {v:4.0%}" for k, v in r["split"].items() if v >= 0.005)
            print(f"  {r['algo']:7s} {r['updates_per_s']:10.3f} {r['env_steps_per_s']:12.1f} {ratio:8.2f}x "
                  f"{r['peak_rss_gb']:8.3f}  {split}   ({r['wall_s']:.1f} s, hidden {r['hidden']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
