"""``meharl plot RUN_DIR...``: learning curves (mean and spread over seeds) to PNG.

Runs are grouped by (env, task, algorithm and the settings in which its runs differ) from their saved
``config.yaml``; each group's curves (one per seed) are put on the environment steps they share and drawn as
the mean with a band of +- one standard deviation (and the min-max range, lighter).  ``--baseline LABEL=VALUE``
draws a reference policy's figure (e.g. a random policy's score rate from a benchmark script) as a dashed
horizontal line beside the curves.
"""
from __future__ import annotations

import argparse
import csv
import textwrap
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
                   help="a reference figure drawn as a dashed horizontal line, e.g. random=0.01 (repeatable)")


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
    from tabular._io import parse_file
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


#: settings of a run's length and logging: runs differing only in these are curves of one setting (a resumed,
#: longer run beside shorter ones is drawn on the steps they share)
RUN_LENGTH = {"train.total_steps", "train.eval_interval", "train.checkpoint_interval", "train.log_interval",
              "train.final_eval"}


def group_runs(run_dirs) -> dict:
    """Label -> run directories: the algorithm (with the config keys that set its runs apart, as ``meharl
    report`` labels them, ``RUN_LENGTH`` aside) and the task; the directories of one label are its seeds."""
    from meharl.report import NOT_HYPERPARAMETERS, _read_config, config_labels, task_name
    configs = {}
    for d in map(Path, run_dirs):
        cfg_path = d / "config.yaml"
        if not cfg_path.exists():
            raise FileNotFoundError(f"{cfg_path} does not exist: not a run directory")
        configs[d] = _read_config(cfg_path)
    groups = {}
    for d, label in config_labels(configs, NOT_HYPERPARAMETERS | RUN_LENGTH).items():
        cfg = configs[d]
        groups.setdefault(f"{label} {cfg['env']}:{task_name(cfg)}", []).append(d)
    return groups


def aggregate(curves) -> tuple[np.ndarray, np.ndarray]:
    """Curves ``(steps, values)`` -> (shared steps, values of shape (n_runs, n_steps)); steps every run logged."""
    common = curves[0][0]
    for steps, _ in curves[1:]:
        common = np.intersect1d(common, steps)
    if common.size == 0:
        raise ValueError("the runs share no logged environment step; they cannot be averaged")
    return common, np.stack([vals[np.searchsorted(steps, common)] for steps, vals in curves])


def run(args) -> int:
    from meharl.figures import plt, save_png
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, dirs in group_runs(args.run_dirs).items():
        steps, vals = aggregate([read_curve(d, args.metric) for d in dirs])
        mean, std = vals.mean(axis=0), vals.std(axis=0)
        seeds = f"{len(dirs)} seed{'s' if len(dirs) > 1 else ''}"
        line, = ax.plot(steps, mean, label=textwrap.fill(f"{label} ({seeds})", 90, subsequent_indent="    "))
        if len(dirs) > 1:
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.25)
            ax.fill_between(steps, vals.min(axis=0), vals.max(axis=0), color=line.get_color(), alpha=0.1)
        print(f"{label}: {len(dirs)} run(s), final {args.metric} {mean[-1]:.4g} +- {std[-1]:.3g} "
              f"at {int(steps[-1])} env steps")
    for label, value in args.baseline:
        ax.axhline(value, linestyle="--", linewidth=1, color="0.3")
        ax.annotate(f"{label} ({value:.4g})", (0, value), xycoords=("axes fraction", "data"),
                    xytext=(4, 3), textcoords="offset points", fontsize=8, color="0.3")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(args.metric.replace("_", " "))
    ax.set_title(args.title or f"{args.metric.replace('_', ' ')}: mean, +-1 std and range over seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)  # below: labels run long
    save_png(fig, args.out)
    print(f"wrote {args.out}")
    return 0
