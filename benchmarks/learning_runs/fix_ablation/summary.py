"""Issue 24's fixes switched off one at a time, on the seeds of the comparisons they belong to: greedy
evaluation per seed at equal environment steps, and mean +- standard deviation over seeds, beside the shipped
HASAC and the baseline it is measured against (their runs are those of the comparison folders named below).

    PYTHONPATH=. python benchmarks/learning_runs/fix_ablation/summary.py

MPE Spread reports the team return, SMAX 3m the win rate (32 battles per evaluation).
"""
import csv
from pathlib import Path

import numpy as np

from benchmarks.learning_runs.equal_steps import nearest

HERE = Path(__file__).parent
RUNS = HERE.parent
TABLES = {  # title -> (steps, metric, [(row label, folder of seed<k> or <arm>_s<k> runs, name prefix)])
    "MPE Spread (continuous actions)": ((100_000, 200_000, 300_000, 400_000), "return", [
        ("HASAC, shipped (every fix on)", RUNS / "compare_2026-12-06/mpe_simple_spread_v3/hasac", "seed"),
        ("HATD3 (the goal's baseline)", RUNS / "compare/mpe_simple_spread_v3/hatd3", "seed"),
        ("fix 1 off: target entropy -dim in environment units (`te_env_units.patch`)", HERE / "mpe_spread",
         "te_env_s"),
        ("fix 3 off: the actor's trunk ends in ReLU, not tanh (`relu_trunk.patch`)", HERE / "mpe_spread",
         "relu_trunk_s"),
    ]),
    "SMAX 3m": ((100_000, 200_000, 300_000, 400_000, 500_000), "win_rate", [
        ("HASAC, shipped (every fix on)", RUNS / "smax_2026-12-06/3m/hasac", "seed"),
        ("MAPPO (the goal's baseline)", RUNS / "smax_2026-12-06/3m/mappo", "seed"),
        ("fix 3 off: the plain ReLU MLP actor (`plain_actor.patch`)", HERE / "smax_3m", "plain_s"),
        ("fix 3 in part: no input LayerNorm (`algo.feature_norm=false`; stopped at 137k)", HERE / "smax_3m", "fn0_s"),
    ]),
    "SMAX 3m, the first 150k steps": ((30_000, 50_000, 100_000, 150_000), "win_rate", [
        ("HASAC, shipped (alpha from 0.05, target entropy 0.1 log of the actions)", RUNS / "smax_explore", "a05te1_s"),
        ("fix 2 in part: alpha from 0.001", RUNS / "smax_explore", "d_s"),
        ("fix 2 off: alpha from 0.001, target entropy 0.98 log of the actions", HERE / "smax_3m", "f2off_s"),
    ]),
}


def curves(folder: Path, prefix: str, metric: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(steps, values) of the greedy evaluations of each run ``folder/<prefix><seed>``, seed by seed.  Read from
    ``eval.csv`` directly: the patched arms carry an ``EXCLUDE`` marker that keeps ``meharl report`` from mixing
    them with the shipped runs, whose configs they share."""
    column = "eval_win_rate" if metric == "win_rate" else "eval_return"
    out = []
    for run in sorted(folder.glob(f"{prefix}[0-9]*"), key=lambda d: int(d.name[len(prefix):])):
        with open(run / "eval.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        out.append((np.array([float(r["env_steps"]) for r in rows]), np.array([float(r[column]) for r in rows])))
    return out


def main():
    for title, (steps, metric, rows) in TABLES.items():
        print(f"\n{title}: greedy {metric.replace('_', ' ')} per seed (mean +- std over seeds)\n")
        print("| | " + " | ".join(f"{s // 1000}k" for s in steps) + " |")
        print("|---|" + "---|" * len(steps))
        for label, folder, prefix in rows:
            runs = curves(folder, prefix, metric)
            cells = []
            for s in steps:
                v = [x for x in (nearest(*c, s) for c in runs) if x is not None]
                cells.append(f"{', '.join(f'{x:.2f}' for x in v)} ({np.mean(v):.2f} +- {np.std(v):.2f})" if v else "-")
            print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
