"""HASAC learning curves in fp32 against bf16 (``algo.precision``) on MPE Spread and HalfCheetah 2x3, N seeds
each, in one figure: the evidence issue 17 asks for before bf16 may become a default.

Every run is one ``meharl train`` process (benchmarks/compare_offpolicy.py's ``train``) with the pair's
shipped config (the paper's settings), ``threads=2`` (the machine's cores), and only ``algo.precision``
differing between the two arms; seeds 0..N-1 are shared, so fp32 and bf16 see the same seeds.  The figure
has one column per task (mean and +-1 std of the evaluation return over seeds, per precision, against
environment steps and against wall time: the issue's target is MPE's -43.1 within 295 s); the script
prints each arm's final evaluation return (mean +- std over seeds) and mean wall time per run, and writes
everything to ``OUT/summary.csv``.  The default budgets are the issue's MPE comparison point (200k steps,
where the reference code's three-seed mean is -43.1) and 1M steps of HalfCheetah; run it on a quiet machine,
it takes about three hours there:

    python benchmarks/precision_learning.py --out runs/precision --seeds 3

A tiny run only shows the pipeline works (its curves say nothing about bf16):

    python benchmarks/precision_learning.py --out /tmp/precision --seeds 2 --steps 1000 1000 --eval-interval 500 \\
        --set train.eval_episodes=4 eval_num_envs=4 train.warmup_steps=200 algo.batch_size=64 "algo.hidden=[32,32]"
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from benchmarks.compare_offpolicy import TASKS, read_final_eval, train
from meharl.commands.plot import read_curve
from meharl.report import common_steps

PRECISIONS = ("fp32", "bf16")
DEFAULT_STEPS = (200_000, 1_000_000)   #: per task of TASKS: MPE Spread's comparison point (issue 17), HalfCheetah


def plot(curves: dict, tasks: list, steps: dict, out: Path) -> None:
    """One column per task: each precision's mean evaluation return with its 95% bootstrap band over seeds
    (:func:`meharl.report.mean_band`), against environment steps (top) and against the mean wall time to reach
    them (bottom), in the project's figure style (:mod:`meharl.style`)."""
    from meharl.figures import plt, save_png
    from meharl.report import mean_band
    from meharl.style import legend_below, step_axis, styles
    labels = {p: f"hasac (algo.precision={p})" for p in PRECISIONS}
    style = styles(labels.values())
    fig, axes = plt.subplots(2, len(tasks), figsize=(6 * len(tasks), 8), squeeze=False, layout="constrained")
    for column, task in enumerate(tasks):
        top, bottom = axes[0, column], axes[1, column]
        for precision in PRECISIONS:
            run_dirs = curves[task, precision]
            x, vals = common_steps([read_curve(d, "eval_return") for d in run_dirs])
            _, walls = common_steps([read_curve(d, "wall_time") for d in run_dirs])
            mean, lo, hi = mean_band(vals, reps=2000, seed=0)
            for ax, at in ((top, x), (bottom, walls.mean(axis=0))):
                ax.plot(at, mean, label=f"{labels[precision]}, {len(run_dirs)} seeds", **style[labels[precision]])
                ax.fill_between(at, lo, hi, color=style[labels[precision]]["color"], alpha=0.2, lw=0)
        top.set_title(f"HASAC {task}, {steps[task]} steps")
        step_axis(top)
        bottom.set_xlabel("wall time (s, mean over seeds)")
        for ax in (top, bottom):
            ax.set_ylabel("evaluation return")
            ax.grid(alpha=0.3)
    legend_below(fig, *axes[0, 0].get_legend_handles_labels(), ncol=2)
    fig.suptitle("fp32 against bf16 autocast (algo.precision): mean over seeds, 95% bootstrap band")
    save_png(fig, out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="directory for the run directories, the figure and summary.csv")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS), help="a subset of the tasks")
    p.add_argument("--steps", type=int, nargs=len(TASKS), default=list(DEFAULT_STEPS),
                   help=f"environment steps of every run, per task of TASKS ({', '.join(TASKS)})")
    p.add_argument("--eval-interval", type=int, default=None, help="environment steps between evaluations "
                   "(default: each task's steps / 20)")
    p.add_argument("--set", dest="sets", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="overrides for every run")
    p.add_argument("--reuse", action="store_true", help="keep runs already in OUT (e.g. one task's, run earlier "
                   "with --tasks) instead of training them again; shorter ones are resumed to the task's steps")
    args = p.parse_args(argv)
    out = Path(args.out)
    tasks = [t for t in TASKS if t in args.tasks]
    steps = dict(zip(TASKS, args.steps))
    rows, curves = [], {}
    for task in tasks:
        eval_interval = args.eval_interval or max(steps[task] // 20, 1)
        for seed in range(args.seeds):
            for precision in PRECISIONS:   # the arms alternate, so a change in the machine's load hits both
                run_dir = out / task.replace(":", "_") / precision / f"seed{seed}"
                wall = train("hasac", task, seed, steps[task], eval_interval,
                             ["threads=2", f"algo.precision={precision}", *args.sets], run_dir, args.reuse)
                rows.append({"task": task, "precision": precision, "seed": seed, "env_steps": steps[task],
                             "wall_s": round(wall, 1), "final_eval_return": read_final_eval(run_dir)})
                curves.setdefault((task, precision), []).append(run_dir)
                print(f"{task} {precision} seed {seed}: {wall:.0f} s, final evaluation return "
                      f"{rows[-1]['final_eval_return']:.4g}", flush=True)
    with open(out / "summary.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    figure = out / "precision_learning.png"
    plot(curves, tasks, steps, figure)
    for task in tasks:
        print(f"\n{task}, {steps[task]} env steps, {args.seeds} seeds:")
        for precision in PRECISIONS:
            r = [x for x in rows if x["task"] == task and x["precision"] == precision]
            final = np.array([x["final_eval_return"] for x in r])
            print(f"  {precision}: final evaluation return {final.mean():10.4g} +- {final.std():.3g}   "
                  f"wall time {np.mean([x['wall_s'] for x in r]):.0f} s per run")
    print(f"\nwrote {figure} and {out / 'summary.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
