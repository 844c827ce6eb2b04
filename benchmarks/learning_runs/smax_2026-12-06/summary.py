"""Greedy win rate of each run at equal environment steps (the evaluation nearest to each step).

    PYTHONPATH=. python benchmarks/learning_runs/smax_2026-12-06/summary.py [--tasks 3m 2s3z] [--steps 100000 ...]

``--metric return`` prints the greedy evaluation return instead (SMAX's dense reward, which moves before any
battle is won).

``--mean-after STEP`` adds a column: each run's mean over its evaluations after STEP (less noisy than one
evaluation of 32 battles), as mean +- standard deviation over seeds.
"""
import argparse
from pathlib import Path

import numpy as np

from benchmarks.learning_runs.equal_steps import nearest
from meharl.report import find_runs

HERE = Path(__file__).parent
STEPS = (100_000, 200_000, 300_000, 400_000, 500_000)


def main():
    runs = find_runs(HERE)[0]
    tasks = sorted({r.task for r in runs})
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", choices=tasks, default=tasks)
    p.add_argument("--steps", nargs="+", type=int, default=STEPS)
    p.add_argument("--mean-after", type=int, default=None, metavar="STEP")
    p.add_argument("--metric", choices=("win-rate", "return"), default="win-rate")
    args = p.parse_args()
    name, fmt = ("greedy win rate", ".2f") if args.metric == "win-rate" else ("greedy evaluation return", ".1f")
    tail = [] if args.mean_after is None else [f"mean after {args.mean_after // 1000}k"]
    for task in args.tasks:
        print(f"\n{task}: {name} per seed (mean)\n")
        print("| algorithm | " + " | ".join([f"{s // 1000}k" for s in args.steps] + tail) + " |")
        print("|---|" + "---|" * (len(args.steps) + len(tail)))
        for algo in sorted({r.algo for r in runs if r.task == task}):
            seeds = sorted((r for r in runs if r.task == task and r.algo == algo), key=lambda r: r.seed)
            values = [r.win_rate if args.metric == "win-rate" else r.returns for r in seeds]
            cells = []
            for s in args.steps:
                w = [x for x in (nearest(r.steps, v, s) for r, v in zip(seeds, values)) if x is not None]
                cells.append(f"{', '.join(f'{x:{fmt}}' for x in w)} ({np.mean(w):{fmt}})" if w else "-")
            if tail:
                m = [v[r.steps > args.mean_after].mean() for r, v in zip(seeds, values)
                     if (r.steps > args.mean_after).any()]
                cells.append(f"{np.mean(m):{fmt}} +- {np.std(m):{fmt}}" if m else "-")
            print(f"| {algo} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
