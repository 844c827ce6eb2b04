"""``meharl plot RUN_DIR...``: learning curves (mean over seeds and its confidence band) to PNG.

Runs are grouped by (env, task, algorithm and the settings in which it differs from its shipped config, as
``meharl report`` labels them) from their saved ``config.yaml``; each group's curves (one per seed) are put on
the environment steps they share and drawn as the mean with its 95% bootstrap percentile band over seeds
(:func:`meharl.report.mean_band`, seed 0), in the algorithm's colour and the setting's line style
(:mod:`meharl.style`).  ``--baseline LABEL=VALUE`` draws a reference policy's figure (e.g. a random policy's
score rate from a benchmark script) as a dashed grey horizontal line, named in the legend.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

NAME = "plot"
HELP = "draw learning curves of run directories (mean and spread over seeds) to a PNG"
METRICS = {"eval_return": "eval.csv", "episode_return": "progress.csv", "critic_loss": "progress.csv",
           "qre_gap": "eval.csv", "env_steps_per_s": "progress.csv", "wall_time": "eval.csv",
           "eval_win_rate": "eval.csv", "eval_success_rate": "eval.csv",  # deep/run/evaluate.py OUTCOMES
           "win_rate": "progress.csv", "success_rate": "progress.csv"}


def add_arguments(p):
    p.add_argument("run_dirs", nargs="+", help="run directories written by `meharl train`")
    p.add_argument("--metric", default="eval_return", choices=sorted(METRICS), help="what to plot")
    p.add_argument("--out", default="learning_curves.png", help="output PNG path")
    p.add_argument("--title", default=None)
    p.add_argument("--baseline", action="append", default=[], type=parse_baseline, metavar="LABEL=VALUE",
                   help="a reference figure drawn as a dashed grey horizontal line and named in the legend, e.g. "
                        "random=0.01 (repeatable)")


def parse_baseline(text: str) -> tuple[str, float]:
    """``LABEL=VALUE`` -> (label, value); a malformed one is argparse's one-line usage error (exit status 2)."""
    label, sep, value = text.rpartition("=")
    try:
        if not (sep and label):
            raise ValueError
        return label, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--baseline wants LABEL=VALUE with a number, e.g. random=0.01; "
                                         f"got {text!r}") from None


def read_curve(run_dir: Path, metric: str) -> tuple[np.ndarray, np.ndarray]:
    path = run_dir / METRICS[metric]
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (is {run_dir} a run directory with logs?)")
    from safeio import parse_file
    steps, values = [], []
    for line, r in enumerate(parse_file(path, lambda fh: list(csv.DictReader(fh)), csv.Error, "CSV"), start=2):
        if r.get(metric, "") == "":
            continue
        try:
            steps.append(float(r["env_steps"]))
            values.append(float(r[metric]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}, line {line}: env_steps and {metric} must be numbers") from None
    if not steps:
        raise ValueError(f"{path} has no {metric} values yet")
    return np.array(steps), np.array(values)


def group_runs(run_dirs) -> dict:
    """(label, task, simulator) -> run directories: the algorithm with the settings that set it apart
    (:func:`meharl.report.config_labels`), the task and the simulator that ran it
    (:func:`meharl.report.simulator`); the directories of one key are its seeds."""
    from meharl.report import config_labels, read_run_config, simulator, task_name
    configs = {}
    for d in map(Path, run_dirs):
        cfg_path = d / "config.yaml"
        if not cfg_path.exists():
            raise FileNotFoundError(f"{cfg_path} does not exist: not a run directory")
        configs[d] = read_run_config(cfg_path)
    groups = {}
    for d, label in config_labels(configs).items():
        cfg = configs[d]
        groups.setdefault((label, f"{cfg['env']}:{task_name(cfg)}", simulator(cfg)), []).append(d)
    return groups


def run(args) -> int:
    from meharl.figures import plt, save_png
    from meharl.report import common_steps, mean_band
    from meharl.style import REFERENCE_COLOUR, REFERENCE_DASHES, legend_below, step_axis, styles
    groups = group_runs(args.run_dirs)
    style = styles(label for label, _, _ in groups)
    one_task = len({task for _, task, _ in groups}) == 1
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for (label, task, _), dirs in groups.items():
        steps, vals = common_steps([read_curve(d, args.metric) for d in dirs])
        mean, lo, hi = mean_band(vals, reps=2000, seed=0)
        seeds = f"{len(dirs)} seed{'s' if len(dirs) > 1 else ''}"
        ax.plot(steps, mean, lw=1.6, label=f"{label} ({seeds})" if one_task else f"{label} {task} ({seeds})",
                **style[label])
        ax.fill_between(steps, lo, hi, color=style[label]["color"], alpha=0.2, lw=0)
        print(f"{label} {task}: {len(dirs)} run(s), final {args.metric} {mean[-1]:.4g} "
              f"[{lo[-1]:.4g}, {hi[-1]:.4g}] at {int(steps[-1])} env steps")
    for k, (label, value) in enumerate(args.baseline):  # in the legend, so that close values cannot collide
        ax.axhline(value, linewidth=1.2, color=REFERENCE_COLOUR, linestyle=REFERENCE_DASHES[k % len(REFERENCE_DASHES)],
                   label=f"{label}: {value:.4g}")
    step_axis(ax)
    ax.set_ylabel(args.metric.replace("_", " "))
    tasks = ", ".join(sorted({task for _, task, _ in groups}))
    sims = ", ".join(sorted({sim for _, _, sim in groups}))
    spread = "mean over seeds, 95% bootstrap band" if any(len(d) > 1 for d in groups.values()) else "one seed"
    ax.set_title(f"{args.title or tasks}\n{sims}; {spread}", fontsize=10)
    ax.grid(alpha=0.3)
    legend_below(fig, *ax.get_legend_handles_labels(), ncol=2)
    save_png(fig, args.out)
    print(f"wrote {args.out}")
    return 0
