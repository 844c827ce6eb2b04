"""Reports over many runs: learning curves, final-performance tables, rliable aggregates and the paper's figures.

A *run* is a directory written by ``meharl train`` (or ``meharl sweep``): ``config.yaml`` names its env, task,
algorithm (``algo_name``) and seed; ``eval.csv`` holds its deterministic evaluations (``env_steps``,
``eval_return`` and, on tasks that have one, a win-rate column ``eval_win_rate``; other columns are ignored).

Statistics, and where they come from:

- Learning curves: per task and algorithm, the mean over seeds at every environment step all its seeds
  evaluated, with a 95% Student-t confidence band ``mean +- t_{0.975, n-1} s / sqrt(n)`` (``s`` the sample
  standard deviation over the ``n`` seeds).
- Final performance: each run's last evaluation (return, or win rate where the task has one).
- Aggregates across tasks (Agarwal et al., NeurIPS 2021, with their library ``rliable``): the interquartile mean
  (IQM) and the mean of normalised final scores over all runs and tasks, the median of the per-task means and
  the optimality gap (mean shortfall below 1), with 95% stratified-bootstrap
  confidence intervals (percentile method), and performance profiles (the fraction of runs whose normalised
  score exceeds ``tau``). Normalisation, per task: a win rate is already in [0, 1] and is used as it is; a
  return is min-max normalised, ``(x - lo) / (hi - lo)`` with ``lo`` and ``hi`` the lowest and highest final
  return of any run (every algorithm and seed) on that task, so 0 is the worst and 1 the best run seen there
  (every run scores 1 if all tie).
- Runs of one algorithm on one task whose configs differ in more than the seed are told apart by the keys that
  differ, e.g. ``hasac (algo.alpha=5)``.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: columns an ``eval.csv`` must have, and the win-rate columns recognised (first found wins)
EVAL_COLUMNS = ("env_steps", "eval_return")
WIN_RATE_COLUMNS = ("eval_win_rate", "win_rate")
#: config keys that do not change what a run computes; never used to tell variants apart
NOT_HYPERPARAMETERS = {"seed", "device", "threads", "train.progress", "train.tensorboard"}
CONFIDENCE = 0.95

#: The paper's figures, as (panel title, "env:task") in the paper's order.  Fig. 3 (Section 5): (a) the matrix
#: game, (b-d) Bi-DexHands (here the MuJoCo ``bimanual`` family), (e-f) MAMuJoCo, (g-h) Google Research
#: Football; Fig. 8 (Appendix H.2.2): the ten MAMuJoCo tasks.
PAPER_FIGURES = {
    "figure3": ("Figure 3: performance comparisons on selected tasks", 2, [
        ("(a) Matrix Game", "tabular:paper-matrix"),
        ("(b) Catch Abreast", "bimanual:catch_abreast"),
        ("(c) Two Catch Underarm", "bimanual:two_catch_underarm"),
        ("(d) Lift Underarm", "bimanual:lift_underarm"),
        ("(e) 3x2-Agent HalfCheetah", "mamujoco:HalfCheetah-3x2"),
        ("(f) 6x1-Agent Walker2d", "mamujoco:Walker2d-6x1"),
        ("(g) RPS (2 agents)", "football:academy_run_pass_and_shoot_with_keeper"),
        ("(h) Corner (11 agents)", "football:academy_corner")]),
    "figure8": ("Figure 8: Multi-Agent MuJoCo", 2, [
        (f"{t.replace('-', ' ')}", f"mamujoco:{t}") for t in
        ("HalfCheetah-2x3", "HalfCheetah-3x2", "HalfCheetah-6x1", "Walker2d-2x3", "Walker2d-6x1",
         "Ant-2x4", "Ant-4x2", "Ant-8x1", "HumanoidStandup-17x1", "ManyAgentSwimmer-10x2")]),
}
#: Table 1 (SMAC, median evaluation win rate % and its standard deviation over seeds), as printed in the paper
#: (Liu et al., ICLR 2024, Table 1; transcribed in docs/mathematics.md), algorithms in TABLE1_ALGOS's order
TABLE1_ALGOS = ("hasac", "happo", "hatrpo", "mappo", "qmix", "fop")
TABLE1 = {
    "8m_vs_9m": ((97.5, 1.2), (83.8, 4.1), (92.5, 3.7), (87.5, 4.0), (92.2, 1.0), (23.4, 1.6)),
    "5m_vs_6m": ((90.0, 3.9), (77.5, 7.2), (75.0, 6.5), (75.0, 18.2), (77.3, 3.3), (46.9, 5.3)),
    "3s5z": ((100.0, 0.0), (97.5, 1.2), (93.8, 1.2), (96.9, 0.7), (89.8, 2.5), (93.0, 0.8)),
    "10m_vs_11m": ((95.0, 3.1), (87.5, 6.7), (98.8, 0.6), (96.9, 4.8), (95.3, 2.2), (12.5, 6.2)),
    "MMM2": ((97.5, 2.4), (88.8, 2.0), (97.5, 6.4), (93.8, 4.7), (87.5, 2.5), (37.5, 28.1)),
    "3s5z_vs_3s6z": ((82.5, 4.1), (66.2, 3.1), (72.5, 14.7), (70.0, 10.7), (87.5, 12.6), (0.0, 0.0)),
    "corridor": ((90.0, 10.8), (92.5, 13.9), (88.8, 2.7), (97.5, 1.2), (82.8, 4.4), (0.0, 0.0)),
    "6h_vs_8z": ((95.0, 3.1), (76.2, 3.1), (78.8, 0.6), (85.0, 2.0), (7.0, 27.0), (0.0, 0.0)),
}
#: Table 1's last column: the environment steps of each map's runs in the paper
TABLE1_STEPS = {"8m_vs_9m": 10_000_000, "5m_vs_6m": 10_000_000, "3s5z": 10_000_000, "10m_vs_11m": 10_000_000,
                "MMM2": 20_000_000, "3s5z_vs_3s6z": 20_000_000, "corridor": 20_000_000, "6h_vs_8z": 40_000_000}
#: the paper's colours, roughly: HASAC red, then a fixed order so an algorithm keeps its colour in every panel
ALGO_COLOURS = {"hasac": "tab:red", "happo": "tab:blue", "hatrpo": "tab:purple", "mappo": "tab:green",
                "hatd3": "tab:orange", "qmix": "tab:brown", "fop": "tab:pink", "haddpg": "tab:olive",
                "ppo": "tab:cyan", "sac": "tab:gray"}


@dataclass(frozen=True)
class Run:
    """One run directory's identity and evaluation curve (``metric`` is ``"return"`` or ``"win rate"``)."""

    path: Path
    env: str
    task: str
    algo: str
    seed: int
    config: dict = field(repr=False)
    steps: np.ndarray = field(repr=False)
    returns: np.ndarray = field(repr=False)
    win_rate: np.ndarray | None = field(repr=False, default=None)

    @property
    def task_key(self) -> str:
        return f"{self.env}:{self.task}"


@dataclass
class Report:
    """Everything the page shows; built by :func:`build`, written by :func:`write`."""

    root: Path
    runs: list
    skipped: list                 #: (path, reason) of directories with a config.yaml that were not used
    labels: dict                  #: run path -> algorithm label (name, plus the config keys that set it apart)
    metric: dict                  #: task -> "return" or "win rate"
    curves: dict                  #: task -> label -> (steps, values (n_seeds, n_steps), seeds)
    finals: dict                  #: task -> label -> (seeds, final scores, final env steps)
    normalised: dict              #: task -> label -> normalised final scores (seed order of ``finals``)
    aggregate: dict               #: label -> statistic -> (point, lo, hi); empty if not computable
    aggregate_tasks: list         #: the tasks the aggregate is over
    aggregate_note: str
    profiles: dict                #: label -> (taus, fraction, lo, hi)


# --------------------------------------------------------------------------- reading
def _read_config(path: Path) -> dict:
    from deep.config import load_yaml
    cfg = load_yaml(path, "a run's config.yaml")
    if not cfg.get("env") or not cfg.get("task"):
        raise ValueError(f"{path}: a run's config.yaml must be a mapping with env and task")
    seed = cfg.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"{path}: seed must be an integer, got {seed!r}")
    return cfg


def _read_eval(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        missing = [c for c in EVAL_COLUMNS if c not in fields]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(fields) or 'none'})")
        rows = list(reader)
        # a win-rate column counts only where the env reports one (meharl writes it empty otherwise)
        win = next((c for c in WIN_RATE_COLUMNS if c in fields and any(r[c] not in ("", None) for r in rows)), None)
        steps, rets, wins = [], [], []
        for line, row in enumerate(rows, start=2):
            if row["eval_return"] in ("", None):
                continue
            try:
                steps.append(float(row["env_steps"]))
                rets.append(float(row["eval_return"]))
                if win is not None:
                    wins.append(float(row[win]))
            except (TypeError, ValueError):
                raise ValueError(f"{path}, line {line}: env_steps, eval_return and {win or 'the win rate'} "
                                 f"must be numbers") from None
    order = np.argsort(steps, kind="stable")
    if len(set(steps)) != len(steps):
        raise ValueError(f"{path}: an env_steps value appears twice")
    return (np.array(steps)[order], np.array(rets)[order],
            None if win is None else np.array(wins)[order])


def task_name(cfg: dict) -> str:
    """A run's task as reports name it: a tabular game file (``.json``) by its stem, any other task as given."""
    task = str(cfg["task"])
    return Path(task).stem if task.lower().endswith(".json") else task


def find_runs(root) -> tuple[list[Run], list[tuple[Path, str]]]:
    """Every run directory under ``root`` (``config.yaml`` beside a non-empty ``eval.csv``), and those skipped."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    runs, skipped = [], []
    for cfg_path in sorted(root.rglob("config.yaml")):
        d = cfg_path.parent
        if not (d / "eval.csv").exists():
            skipped.append((d, "no eval.csv yet"))
            continue
        try:  # one damaged directory is listed as skipped; it does not stop the report
            cfg = _read_config(cfg_path)
            steps, rets, wins = _read_eval(d / "eval.csv")
        except (ValueError, OSError) as exc:
            skipped.append((d, str(exc)))
            continue
        if steps.size == 0:
            skipped.append((d, "eval.csv has no evaluation yet"))
            continue
        runs.append(Run(d, str(cfg["env"]), task_name(cfg), str(cfg.get("algo_name", "hasac")), int(cfg.get("seed", 0)),
                        cfg, steps, rets, wins))
    if not runs:
        why = "".join(f"; skipped {d}: {reason}" for d, reason in skipped)
        raise ValueError(f"no run with evaluations under {root} (a run is a directory with config.yaml and "
                         f"eval.csv){why}")
    return runs, skipped


def _flatten(cfg: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = json.dumps(v, sort_keys=True)
    return out


def config_labels(configs: dict, ignore=NOT_HYPERPARAMETERS) -> dict:
    """Run path -> label, from ``{path: config}`` (configs as ``meharl train`` saves them): the algorithm name,
    plus ``key=value`` for every config key in which runs of the same algorithm on the same task differ (apart
    from the keys in ``ignore``: the seed and the settings that do not change what is learned)."""
    flat = {p: {k: v for k, v in _flatten(c).items() if k not in ignore} for p, c in configs.items()}
    groups: dict = {}
    for p, c in configs.items():
        groups.setdefault((c["env"], task_name(c), c.get("algo_name", "hasac")), []).append(p)
    labels = {}
    for (_, _, algo), members in groups.items():
        keys = sorted({k for p in members for k in flat[p]})
        varying = [k for k in keys if len({flat[p].get(k) for p in members}) > 1]
        for p in members:
            parts = [f"{k}={json.loads(flat[p][k]) if k in flat[p] else '-'}" for k in varying]
            labels[p] = f"{algo} ({', '.join(parts)})" if parts else algo
    return labels


def label_runs(runs: list[Run]) -> dict:
    """Run path -> label (:func:`config_labels`); a label names one seed at most once."""
    labels = config_labels({r.path: r.config for r in runs})
    seen = {}
    for r in runs:
        key = (r.task_key, labels[r.path], r.seed)
        if key in seen:
            raise ValueError(f"two runs of {labels[r.path]} on {r.task_key} with seed {r.seed}: {seen[key]} and "
                             f"{r.path} (report one of them, or give them different configs)")
        seen[key] = r.path
    return labels


# --------------------------------------------------------------------------- statistics
def t_band(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over axis 0 and the Student-t confidence band; with one seed the band is the mean itself."""
    from scipy import stats
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    mean = values.mean(axis=0)
    if n < 2:
        return mean, mean.copy(), mean.copy()
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(axis=0, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def _metric_values(run: Run, metric: str) -> np.ndarray:
    return run.win_rate if metric == "win rate" else run.returns


def normalise(finals: dict, metric: dict) -> dict:
    """Per task: win rates as they are; returns min-max normalised over every run on the task (module doc)."""
    out = {}
    for task, by_label in finals.items():
        if metric[task] == "win rate":
            out[task] = {lab: np.asarray(v[1], dtype=float) for lab, v in by_label.items()}
            continue
        every = np.concatenate([v[1] for v in by_label.values()])
        lo, hi = float(every.min()), float(every.max())
        out[task] = {lab: (np.ones(len(v[1])) if hi == lo else (np.asarray(v[1]) - lo) / (hi - lo))
                     for lab, v in by_label.items()}
    return out


AGGREGATES = ("IQM", "median", "mean", "optimality gap")


def aggregate_scores(normalised: dict, tasks: list, labels: list, reps: int, seed: int):
    """rliable's point estimates and 95% stratified-bootstrap CIs of :data:`AGGREGATES` and performance
    profiles, over ``tasks``, for each label; every label must have the same number of runs on every task
    (rliable's (runs x tasks) matrices)."""
    from rliable import library, metrics
    scores = {lab: np.stack([normalised[t][lab] for t in tasks], axis=1) for lab in labels}

    def stats(x):
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_median(x), metrics.aggregate_mean(x),
                         metrics.aggregate_optimality_gap(x)])

    taus = np.linspace(0.0, 1.0, 51)
    # rliable 1.2.0's StratifiedBootstrap draws its resamples from numpy's global RNG (its random_state only
    # seeds arch's generator, which it does not use): seed that for the call, then restore it.
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        point, ci = library.get_interval_estimates(scores, stats, reps=reps)
        prof, prof_ci = library.create_performance_profile(scores, taus, reps=reps)
    finally:
        np.random.set_state(saved)
    agg = {lab: {name: (float(point[lab][k]), float(ci[lab][0, k]), float(ci[lab][1, k]))
                 for k, name in enumerate(AGGREGATES)} for lab in labels}
    profiles = {lab: (taus, prof[lab], prof_ci[lab][0], prof_ci[lab][1]) for lab in labels}
    return agg, profiles, scores


def final_scores(runs: list[Run], labels: dict) -> tuple[dict, dict, dict]:
    """(runs grouped as task -> label -> runs in seed order, task -> metric, task -> label -> (seeds, final
    scores, final env steps)): each run's last evaluation, its win rate where every run of the task has one."""
    by_task: dict = {}
    for r in sorted(runs, key=lambda r: (r.task_key, labels[r.path], r.seed)):
        by_task.setdefault(r.task_key, {}).setdefault(labels[r.path], []).append(r)
    metric = {t: "win rate" if all(r.win_rate is not None for g in by.values() for r in g) else "return"
              for t, by in by_task.items()}
    finals = {task: {lab: ([r.seed for r in group], np.array([_metric_values(r, metric[task])[-1] for r in group]),
                           np.array([r.steps[-1] for r in group])) for lab, group in by_label.items()}
              for task, by_label in by_task.items()}
    return by_task, metric, finals


def build(root, reps: int = 2000, seed: int = 0) -> Report:
    """Read every run under ``root`` and compute every statistic of the report."""
    if reps < 100:
        raise ValueError(f"--reps must be >= 100 bootstrap resamples, got {reps}")
    runs, skipped = find_runs(root)
    labels = label_runs(runs)
    by_task, metric, finals = final_scores(runs, labels)
    from meharl.commands.plot import aggregate as common_steps
    curves = {}
    for task, by_label in by_task.items():
        curves[task] = {}
        for lab, group in by_label.items():
            steps, vals = common_steps([(r.steps, _metric_values(r, metric[task])) for r in group])
            curves[task][lab] = (steps, vals, [r.seed for r in group])
    norm = normalise(finals, metric)
    all_labels = sorted({lab for by in finals.values() for lab in by})
    shared = [t for t in finals if all(lab in finals[t] for lab in all_labels)]
    note_parts = []
    if len(shared) < len(finals):
        note_parts.append("left out (not every algorithm has runs there): "
                          + ", ".join(t for t in finals if t not in shared))
    agg, profiles = {}, {}
    counts = {lab: {len(finals[t][lab][0]) for t in shared} for lab in all_labels}
    uneven = [lab for lab in all_labels if len(counts[lab]) > 1]
    if not shared:
        note_parts.insert(0, "no task has runs of every algorithm: no aggregate")
    elif uneven:
        note_parts.insert(0, f"no aggregate: {', '.join(uneven)} have different numbers of seeds on different "
                          f"tasks (rliable needs a runs x tasks matrix per algorithm)")
    else:
        agg, profiles, _ = aggregate_scores(norm, shared, all_labels, reps, seed)
    note = "; ".join(note_parts)
    return Report(Path(root), runs, skipped, labels, metric, curves, finals, norm, agg, shared, note, profiles)


# --------------------------------------------------------------------------- tables
def _fmt(x: float) -> str:
    return f"{x:.4g}"


def final_table(report: Report) -> list[dict]:
    """One row per task and algorithm: seeds, final steps, mean with its 95% t-interval, median, std."""
    rows = []
    for task, by_label in report.finals.items():
        for lab, (seeds, vals, steps) in by_label.items():
            mean, lo, hi = (float(v[0]) for v in t_band(vals[:, None]))
            rows.append({"task": task, "algorithm": lab, "metric": report.metric[task], "seeds": seeds,
                         "env_steps": [int(steps.min()), int(steps.max())], "mean": mean, "ci95": [lo, hi],
                         "median": float(np.median(vals)), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                         "normalised_mean": float(report.normalised[task][lab].mean())})
    return rows


def _markdown_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def table1_data(finals: dict, metric: dict) -> dict:
    """Table 1 from final scores (:func:`final_scores`): ``maps`` (the paper's in its order, then others),
    ``algorithms`` (the paper's six, then others) and ``cells[map][algorithm]``: ``seeds``, ``win_rates`` (%,
    each run's final evaluation), ``median`` and ``std`` (sample standard deviation over seeds, ddof 1; 0 for
    one seed) or None where there are no runs, and ``paper``: the paper's (median, std) or None; plus
    ``missing_maps``: the paper's maps without runs."""
    maps = {t.split(":", 1)[1]: t for t in finals if t.startswith("smac:") and metric[t] == "win rate"}
    algos = list(TABLE1_ALGOS) + sorted({lab for t in maps.values() for lab in finals[t]} - set(TABLE1_ALGOS))
    order = [*TABLE1, *sorted(set(maps) - set(TABLE1))]
    cells = {}
    for m in order:
        cells[m] = {}
        for k, algo in enumerate(algos):
            got = finals[maps[m]].get(algo) if m in maps else None
            paper = list(TABLE1[m][k]) if m in TABLE1 and k < len(TABLE1_ALGOS) else None
            if got is None:
                cells[m][algo] = {"seeds": [], "win_rates": [], "median": None, "std": None, "paper": paper}
                continue
            pct = 100 * got[1]
            cells[m][algo] = {"seeds": list(got[0]), "win_rates": pct.tolist(), "median": float(np.median(pct)),
                              "std": float(pct.std(ddof=1)) if len(pct) > 1 else 0.0, "paper": paper}
    return {"maps": order, "algorithms": algos, "cells": cells, "missing_maps": [m for m in TABLE1 if m not in maps]}


def table1_cell(cell: dict) -> str:
    """``median (std) [paper median (std)]``, or ``no runs``."""
    text = "no runs" if cell["median"] is None else f"{cell['median']:.1f} ({cell['std']:.1f})"
    return text + (" [paper {:.1f} ({:.1f})]".format(*cell["paper"]) if cell["paper"] else "")


def table1(report: Report) -> tuple[str | None, list[str]]:
    """Table 1's layout (maps x algorithms: median final win rate % (std over seeds)) from the SMAC runs, each
    cell beside the paper's value, and the maps without runs.  ``None`` when no SMAC run has a win rate."""
    data = table1_data(report.finals, report.metric)
    if len(data["missing_maps"]) == len(TABLE1) and not set(data["maps"]) - set(TABLE1):
        return None, list(TABLE1)
    rows = [[m, *(table1_cell(data["cells"][m][a]) for a in data["algorithms"])] for m in data["maps"]
            if m not in data["missing_maps"]]
    return _markdown_table(["map", *data["algorithms"]], rows), data["missing_maps"]


# --------------------------------------------------------------------------- figures
def _colour(label: str, order: list[str]) -> str:
    import matplotlib
    base = label.split(" ", 1)[0]
    if base in ALGO_COLOURS and label == base:
        return ALGO_COLOURS[base]
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return cycle[order.index(label) % len(cycle)]


def _panel(ax, report: Report, task: str, title: str, order: list[str]) -> None:
    for lab, (steps, vals, seeds) in report.curves[task].items():
        mean, lo, hi = t_band(vals)
        colour = _colour(lab, order)
        ax.plot(steps, mean, color=colour, lw=1.6, label=f"{lab} ({len(seeds)})")
        ax.fill_between(steps, lo, hi, color=colour, alpha=0.2, lw=0)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("Environment steps", fontsize=8)
    ax.set_ylabel("Win rate" if report.metric[task] == "win rate" else "Episode return", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    ax.grid(alpha=0.3)


def _grid(report: Report, panels: list, n_rows: int, title: str, path: Path) -> None:
    from meharl.figures import plt, save_png
    order = sorted({lab for by in report.curves.values() for lab in by})
    n_cols = math.ceil(len(panels) / n_rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, 2.9 * n_rows), squeeze=False)
    for ax, (name, task) in zip(axes.ravel(), panels):
        if task in report.curves:
            _panel(ax, report, task, name, order)
        else:
            ax.text(0.5, 0.5, f"no runs\n({task})", ha="center", va="center", fontsize=8, transform=ax.transAxes)
            ax.set_title(name, fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    handles = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab.rsplit(" (", 1)[0], h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(handles), 6), fontsize=8,
               bbox_to_anchor=(0.5, -0.04), frameon=False)
    fig.suptitle(f"{title} (mean and 95% confidence band over seeds)", fontsize=10)
    fig.tight_layout()
    save_png(fig, path)


def _aggregate_figures(report: Report, out: Path) -> list[Path]:
    from meharl.figures import plt, save_png
    labels = sorted(report.aggregate)
    order = sorted({lab for by in report.curves.values() for lab in by})
    fig, axes = plt.subplots(1, len(AGGREGATES), figsize=(3.2 * len(AGGREGATES), 1.4 + 0.45 * len(labels)),
                             squeeze=False)
    for ax, name in zip(axes[0], AGGREGATES):
        for y, lab in enumerate(labels):
            p, lo, hi = report.aggregate[lab][name]
            ax.barh(y, hi - lo, left=lo, height=0.6, color=_colour(lab, order), alpha=0.75)
            ax.vlines(p, y - 0.3, y + 0.3, color="k", lw=1.5)
        ax.set_yticks(range(len(labels)), labels if name == AGGREGATES[0] else [""] * len(labels), fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("normalised score", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle("Aggregates over tasks: point estimate and 95% stratified-bootstrap CI", fontsize=10)
    fig.tight_layout()
    p1 = out / "aggregate_intervals.png"
    save_png(fig, p1)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for lab in labels:
        taus, frac, lo, hi = report.profiles[lab]
        colour = _colour(lab, order)
        ax.plot(taus, frac, color=colour, label=lab)
        ax.fill_between(taus, lo, hi, color=colour, alpha=0.2, lw=0)
    ax.set_xlabel(r"normalised score $\tau$")
    ax.set_ylabel(r"fraction of runs with score > $\tau$")
    ax.set_title("Performance profiles (95% bootstrap bands)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    p2 = out / "performance_profiles.png"
    save_png(fig, p2)
    return [p1, p2]


# --------------------------------------------------------------------------- the page
def finite_or_null(x):
    """``x`` with every NaN or infinite float as None: JSON has no such numbers."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite_or_null(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_null(v) for v in x]
    return x


def write(report: Report, out) -> list[str]:
    """Write the figures, ``summary.json`` and ``index.md`` into ``out``; returns the page's notes on missing
    paper figures and skipped runs (also printed on it)."""
    from tabular._io import atomic_write_text
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = list(report.curves)
    md = [f"# Report: {len(report.runs)} runs under `{report.root}`", ""]
    notes = [f"skipped {p}: {why}" for p, why in report.skipped]
    md += ["## Runs", "", _markdown_table(["task", "algorithm", "seeds", "final env steps"], [
        [t, lab, ", ".join(map(str, s)), "-".join(sorted({str(int(x)) for x in st}, key=int))]
        for t, by in report.finals.items() for lab, (s, _, st) in by.items()]), ""]
    _grid(report, [(t, t) for t in tasks], max(1, math.ceil(len(tasks) / 4)), "Learning curves", out / "curves.png")
    md += ["## Learning curves", "", "Mean over seeds at the environment steps every seed evaluated, with a 95% "
           "Student-t confidence band.", "", "![learning curves](curves.png)", ""]
    rows = final_table(report)
    md += ["## Final performance", "", "Each run's last evaluation; mean with its 95% t-interval over seeds, median "
           "and standard deviation (ddof 1); normalised as for the aggregates.", "",
           _markdown_table(["task", "algorithm", "metric", "n", "mean", "95% CI", "median", "std", "normalised"],
                           [[r["task"], r["algorithm"], r["metric"], len(r["seeds"]), _fmt(r["mean"]),
                             f"[{_fmt(r['ci95'][0])}, {_fmt(r['ci95'][1])}]", _fmt(r["median"]), _fmt(r["std"]),
                             _fmt(r["normalised_mean"])] for r in rows]), ""]
    md += ["## Aggregates across tasks (rliable)", "",
           "Normalisation per task: win rates as they are; returns min-max normalised between the lowest and the "
           "highest final return of any run on the task (0 = worst run seen there, 1 = best). IQM, median, mean and "
           "optimality gap over all runs x tasks, with 95% stratified-bootstrap confidence intervals.", ""]
    if report.aggregate:
        md += [f"Tasks: {', '.join(report.aggregate_tasks)}.", "",
               _markdown_table(["algorithm", *AGGREGATES], [
                   [lab, *(f"{_fmt(p)} [{_fmt(lo)}, {_fmt(hi)}]" for p, lo, hi in
                           (report.aggregate[lab][a] for a in AGGREGATES))] for lab in sorted(report.aggregate)]),
               "", "![aggregates](aggregate_intervals.png)", "", "![performance profiles](performance_profiles.png)",
               ""]
        _aggregate_figures(report, out)
    if report.aggregate_note:
        md += [f"Note: {report.aggregate_note}.", ""]
    md += ["## The paper's figures", ""]
    for key, (title, n_rows, panels) in PAPER_FIGURES.items():
        have = [name for name, task in panels if task in report.curves]
        missing = [f"{name} ({task})" for name, task in panels if task not in report.curves]
        if have:
            _grid(report, panels, n_rows, title, out / f"{key}.png")
            md += [f"### {title}", "", f"![{key}]({key}.png)", ""]
        else:
            md += [f"### {title}", "", "No runs for any panel.", ""]
        if missing:
            notes.append(f"{title.split(':')[0]}: missing " + ", ".join(missing))
            md += ["Missing panels: " + ", ".join(missing) + ".", ""]
    t1, missing_maps = table1(report)
    md += ["### Table 1: SMAC, median final win rate % (std over seeds)", ""]
    md += [t1, ""] if t1 else ["No SMAC runs with a win rate.", ""]
    if missing_maps:
        notes.append("Table 1: missing maps " + ", ".join(missing_maps))
        md += ["Missing maps: " + ", ".join(missing_maps) + ".", ""]
    if report.skipped:
        md += ["## Skipped directories", "", *[f"- `{p}`: {why}" for p, why in report.skipped], ""]
    summary = {"root": str(report.root), "final": rows, "aggregate_tasks": report.aggregate_tasks,
               "aggregate": report.aggregate, "aggregate_note": report.aggregate_note, "notes": notes}
    atomic_write_text(out / "summary.json", json.dumps(finite_or_null(summary), indent=2, default=str,
                                                         allow_nan=False) + "\n")
    atomic_write_text(out / "index.md", "\n".join(md))
    return notes
