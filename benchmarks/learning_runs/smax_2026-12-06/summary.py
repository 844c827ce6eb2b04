"""Greedy win rate of each run at equal environment steps (the evaluation nearest to each step).

    PYTHONPATH=. python benchmarks/learning_runs/smax_2026-12-06/summary.py [--tasks 3m 2s3z] [--steps 100000 ...]

``--mean-after STEP`` adds a column: each run's mean over its evaluations after STEP (less noisy than one
evaluation of 32 battles), as mean +- standard deviation over seeds.
"""
import argparse
from pathlib import Path

import numpy as np

from meharl.report import find_runs

HERE = Path(__file__).parent
STEPS = (100_000, 200_000, 300_000, 400_000, 500_000)


def at(run, step: int):
    """The evaluation nearest to ``step`` (on-policy runs evaluate after whole rollouts, at 502k for 500k);
    None where the run has none within 10k steps."""
    i = int(np.argmin(np.abs(run.steps - step)))
    return run.win_rate[i] if abs(run.steps[i] - step) <= 10_000 else None


def main():
    runs = find_runs(HERE)[0]
    tasks = sorted({r.task for r in runs})
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", choices=tasks, default=tasks)
    p.add_argument("--steps", nargs="+", type=int, default=STEPS)
    p.add_argument("--mean-after", type=int, default=None, metavar="STEP")
    args = p.parse_args()
    tail = [] if args.mean_after is None else [f"mean after {args.mean_after // 1000}k"]
    for task in args.tasks:
        print(f"\n{task}: greedy win rate per seed (mean)\n")
        print("| algorithm | " + " | ".join([f"{s // 1000}k" for s in args.steps] + tail) + " |")
        print("|---|" + "---|" * (len(args.steps) + len(tail)))
        for algo in sorted({r.algo for r in runs if r.task == task}):
            seeds = sorted((r for r in runs if r.task == task and r.algo == algo), key=lambda r: r.seed)
            cells = []
            for s in args.steps:
                w = [x for x in (at(r, s) for r in seeds) if x is not None]
                cells.append(f"{', '.join(f'{x:.2f}' for x in w)} ({np.mean(w):.2f})" if w else "-")
            if tail:
                m = [r.win_rate[r.steps > args.mean_after].mean() for r in seeds if (r.steps > args.mean_after).any()]
                cells.append(f"{np.mean(m):.2f} +- {np.std(m):.2f}" if m else "-")
            print(f"| {algo} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
