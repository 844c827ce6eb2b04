"""Greedy win rate of each run at equal environment steps (the evaluation nearest to each step).

    PYTHONPATH=. python benchmarks/learning_runs/smax_2026-12-06/summary.py [--tasks 3m 2s3z] [--steps 100000 ...]
"""
import argparse
import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
STEPS = (100_000, 200_000, 300_000, 400_000, 500_000)


def curve(run: Path) -> list:
    with open(run / "eval.csv") as f:
        return [(int(r["env_steps"]), float(r["eval_win_rate"])) for r in csv.DictReader(f)]


def at(points: list, step: int):
    """The evaluation nearest to ``step`` (on-policy runs evaluate after whole rollouts, at 502k for 500k);
    None where the run has none within 10k steps."""
    s, w = min(points, key=lambda p: abs(p[0] - step))
    return w if abs(s - step) <= 10_000 else None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=sorted(d.name for d in HERE.iterdir() if d.is_dir()))
    p.add_argument("--steps", nargs="+", type=int, default=STEPS)
    args = p.parse_args()
    for task in args.tasks:
        print(f"\n{task}: greedy win rate per seed (mean)\n")
        print("| algorithm | " + " | ".join(f"{s // 1000}k" for s in args.steps) + " |")
        print("|---|" + "---|" * len(args.steps))
        for algo_dir in sorted((HERE / task).iterdir()):
            runs = [c for d in sorted(algo_dir.glob("seed*")) if (d / "eval.csv").exists() and (c := curve(d))]
            cells = []
            for s in args.steps:
                w = [at(c, s) for c in runs]
                w = [x for x in w if x is not None]
                cells.append(f"{', '.join(f'{x:.2f}' for x in w)} ({np.mean(w):.2f})" if w else "-")
            print(f"| {algo_dir.name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
