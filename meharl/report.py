"""Reports over many runs: learning curves, final-performance tables, rliable aggregates and the paper's figures.

A *run* is a directory written by ``meharl train`` (or ``meharl sweep``): ``config.yaml`` names its env, task,
algorithm (``algo_name``) and seed; ``eval.csv`` holds its deterministic evaluations (``env_steps``,
``eval_return`` and, on tasks that have one, a win-rate column ``eval_win_rate``; other columns are ignored).

Statistics, and where they come from:

- Learning curves: per task and algorithm, the mean over seeds at every environment step all its seeds
  evaluated, with a 95% bootstrap percentile confidence band of that mean (resampling seeds).  A percentile
  band lies between the lowest and the highest seed, so it stays inside the metric's range (a win rate's
  [0, 1]), where a Student-t band need not.
- Final performance: each run's last evaluation (return, or win rate where the task has one), its mean over
  seeds with the same bootstrap interval.
- Aggregates across tasks (Agarwal et al., NeurIPS 2021, with their library ``rliable``): the interquartile mean
  (IQM) and the mean of normalised final scores over all runs and tasks, the median of the per-task means and
  the optimality gap (mean shortfall below 1), with 95% stratified-bootstrap
  confidence intervals (percentile method), and performance profiles (the fraction of runs whose normalised
  score exceeds ``tau``). Normalisation, per task: a win rate is already in [0, 1] and is used as it is; a
  return is min-max normalised, ``(x - lo) / (hi - lo)`` with ``lo`` and ``hi`` the lowest and highest final
  return of any run (every algorithm and seed) on that task, so 0 is the worst and 1 the best run seen there
  (every run scores 1 if all tie).
  Aggregates are over every task, of the algorithms whose runs cover every task (an algorithm with one
  setting per task counts once, as its algorithm); the page lists the settings left out.
- Labels: a run is labelled by its algorithm and the settings in which its config differs from the config
  ``meharl train`` ships for that algorithm and task (:func:`shipped_config`), e.g. ``hasac (algo.alpha=5)``;
  settings of a run's length and logging (:data:`IGNORED`) are not named, nor keys a run's config lacks.
- Simulators: every task is named with the simulator that produced its numbers (:func:`simulator`): several
  families stand in for the paper's benchmark (SMAX for StarCraft II, MuJoCo for Isaac Gym, ...).
- Exclusion: a run directory holding a file :data:`EXCLUDE_MARKER` (its text says why), or below a folder
  holding one, or matching an ``--exclude`` pattern, is listed as skipped and not used.
"""
from __future__ import annotations

import base64
import csv
import fnmatch
import html
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
#: settings of a run's length and logging: runs differing only in these are curves of one setting (a resumed,
#: longer run beside shorter ones is drawn on the steps they share)
RUN_LENGTH = {"train.total_steps", "train.eval_interval", "train.checkpoint_interval", "train.log_interval",
              "train.final_eval"}
#: config keys never named in a label
IGNORED = NOT_HYPERPARAMETERS | RUN_LENGTH
CONFIDENCE = 0.95
#: a file that keeps a run (or every run below its folder) out of reports; its text says why
EXCLUDE_MARKER = "EXCLUDE"
#: family -> the simulator that produces its numbers, in a few words that say how it stands to the paper's
#: benchmark (each family's docstring lists its departures)
SIMULATORS = {
    "tabular": "exact matrix game",
    "mpe": "MPE of mpe2",
    "mamujoco": "MAMuJoCo on gymnasium v5 models",
    "smax": "SMAX (JaxMARL), not StarCraft II",
    "smac-sc2": "StarCraft II (SMAC)",
    "aircombat": "JSBSim, meharl's autopilot (not LAG)",
    "football": "Google Research Football",
}
#: the bimanual family's simulators, by its ``env_options.backend``
BIMANUAL_SIMULATORS = {"mujoco": "Bi-DexHands on MuJoCo, not Isaac Gym", "isaacgym": "Bi-DexHands on Isaac Gym"}
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
    labels: dict                  #: run path -> algorithm label (name, plus the settings that differ from shipped)
    metric: dict                  #: task -> "return" or "win rate"
    simulators: dict              #: task -> the simulator that produced its numbers (:func:`simulator`)
    curves: dict                  #: task -> label -> (steps, values (n_seeds, n_steps), seeds)
    bands: dict                   #: task -> label -> (mean, lo, hi) over seeds at the curve's steps
    finals: dict                  #: task -> label -> (seeds, final scores, final env steps)
    normalised: dict              #: task -> label -> normalised final scores (seed order of ``finals``)
    aggregate: dict               #: entry -> statistic -> (point, lo, hi); empty if not computable
    aggregate_tasks: list         #: the tasks the aggregate is over
    aggregate_members: dict       #: entry -> task -> the label whose runs it aggregates there
    aggregate_note: str
    profiles: dict                #: entry -> (taus, fraction, lo, hi)
    reps: int = 2000              #: bootstrap resamples of every interval
    seed: int = 0                 #: seed of every bootstrap


# --------------------------------------------------------------------------- reading
def read_run_config(path: Path) -> dict:
    """A run directory's ``config.yaml``; a ValueError naming the file unless it names env, task and an
    integer seed."""
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


def simulator(cfg: dict) -> str:
    """The simulator a run's numbers come from (:data:`SIMULATORS`); an unknown family by its name."""
    from deep.envs.registry import family_name
    env = family_name(str(cfg["env"]))
    if env == "bimanual":
        backend = (cfg.get("env_options") or {}).get("backend", "mujoco")
        return BIMANUAL_SIMULATORS.get(backend, f"bimanual ({backend})")
    return SIMULATORS.get(env, env)


def _excluded(d: Path, root: Path, exclude) -> str | None:
    """Why run directory ``d`` is left out: an :data:`EXCLUDE_MARKER` in it or in a folder between it and
    ``root``, or an ``exclude`` pattern (fnmatch) matching its path relative to ``root``; None if it is used."""
    folder = d
    while folder != root and root in folder.parents:
        marker = folder / EXCLUDE_MARKER
        if marker.is_file():
            why = marker.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            return f"excluded by {marker}" + (f": {why[0]}" if why else "")
        folder = folder.parent
    rel = d.relative_to(root).as_posix()
    hit = next((p for p in exclude if fnmatch.fnmatch(rel, p)), None)
    return None if hit is None else f"excluded by --exclude {hit}"


def find_runs(root, exclude=()) -> tuple[list[Run], list[tuple[Path, str]]]:
    """Every run directory under ``root`` (``config.yaml`` beside a non-empty ``eval.csv``), and those skipped
    (among them those excluded: :func:`_excluded`)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    runs, skipped = [], []
    for cfg_path in sorted(root.rglob("config.yaml")):
        d = cfg_path.parent
        why = _excluded(d, root, exclude)
        if why:
            skipped.append((d, why))
            continue
        if not (d / "eval.csv").exists():
            skipped.append((d, "no eval.csv yet"))
            continue
        try:  # one damaged directory is listed as skipped; it does not stop the report
            cfg = read_run_config(cfg_path)
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
            out[key] = v
    return out


def _same(a, b) -> bool:
    """Config values equal as settings: numbers by value (1 == 1.0), anything else exactly."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return float(a) == float(b) if number(a) and number(b) else json.dumps(a) == json.dumps(b)


def shipped_config(env: str, task: str, algo: str) -> dict | None:
    """The config ``meharl train`` ships for ``algo`` on ``env``/``task`` (the layers of
    :func:`deep.configure.resolve`, read from its YAML files, so no algorithm is imported), or None where the
    project ships none (an unknown family, task or algorithm)."""
    from deep import config as C
    from deep.envs.registry import config_name
    algo_yaml = C.CONFIG_DIR / "algos" / f"{algo}.yaml"
    try:
        task_yaml = C.task_config_path(env, task, folder=config_name(env))
    except ValueError:
        return None
    if not algo_yaml.exists():
        return None
    cfg = C.merge(C.merge(C.defaults_of(C.RunSettings), C.load_yaml(algo_yaml)), C.load_yaml(task_yaml))
    paper = C.paper_config_path(algo, env, task, config_name(env))
    if paper.exists():
        cfg = C.merge(cfg, C.load_yaml(paper))
    return {**cfg, "env": env, "task": task, "algo_name": algo}


def config_labels(configs: dict, ignore=IGNORED) -> dict:
    """Run path -> label, from ``{path: config}`` (configs as ``meharl train`` saves them): the algorithm name,
    plus ``key=value`` for every config key (apart from those in ``ignore``) in which the run differs from the
    shipped config of its algorithm and task (:func:`shipped_config`); where none is shipped, the keys in which
    the runs of that algorithm on that task differ.  A key that a run's config lacks is not named."""
    flat = {p: {k: v for k, v in _flatten(c).items() if k not in ignore} for p, c in configs.items()}
    groups: dict = {}
    for p, c in configs.items():
        groups.setdefault((str(c["env"]), task_name(c), str(c.get("algo_name", "hasac"))), []).append(p)
    labels = {}
    for (env, task, algo), members in groups.items():
        ref = shipped_config(env, str(configs[members[0]]["task"]), algo)
        if ref is not None:
            ref = _flatten(ref)
            differ = {p: [k for k in flat[p] if k in ref and not _same(flat[p][k], ref[k])] for p in members}
        else:
            keys = {k for p in members for k in flat[p]}
            varying = sorted(k for k in keys if len({json.dumps(flat[p].get(k)) for p in members}) > 1)
            differ = {p: [k for k in varying if k in flat[p]] for p in members}
        for p in members:
            parts = [f"{k}={flat[p][k]}" for k in sorted(differ[p])]
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
def common_steps(curves) -> tuple[np.ndarray, np.ndarray]:
    """Curves ``(steps, values)`` -> (shared steps, values of shape (n_runs, n_steps)); steps every run logged."""
    common = curves[0][0]
    for steps, _ in curves[1:]:
        common = np.intersect1d(common, steps)
    if common.size == 0:
        raise ValueError("the runs share no logged environment step; they cannot be averaged")
    return common, np.stack([vals[np.searchsorted(steps, common)] for steps, vals in curves])


def mean_band(values: np.ndarray, reps: int, seed: int, confidence: float = CONFIDENCE):
    """Mean over axis 0 (the seeds) and its bootstrap percentile confidence band (``reps`` resamples of the
    seeds, seeded); with one seed the band is the mean itself."""
    from scipy import stats
    values = np.asarray(values, dtype=float)
    mean = values.mean(axis=0)
    if values.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    res = stats.bootstrap((values,), np.mean, axis=0, vectorized=True, n_resamples=reps, batch=100,
                          confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    return mean, res.confidence_interval.low, res.confidence_interval.high


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


def aggregate_scores(normalised: dict, members: dict, reps: int, seed: int):
    """rliable's point estimates and 95% stratified-bootstrap CIs of :data:`AGGREGATES` and performance
    profiles, for each entry of ``members`` (entry -> task -> label), over its tasks; every entry must have the
    same number of runs on every task (rliable's (runs x tasks) matrices)."""
    from rliable import library, metrics
    scores = {e: np.stack([normalised[t][lab] for t, lab in by_task.items()], axis=1) for e, by_task in members.items()}

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
    agg = {e: {name: (float(point[e][k]), float(ci[e][0, k]), float(ci[e][1, k]))
               for k, name in enumerate(AGGREGATES)} for e in members}
    profiles = {e: (taus, prof[e], prof_ci[e][0], prof_ci[e][1]) for e in members}
    return agg, profiles, scores


def aggregate_entries(finals: dict) -> tuple[dict, list]:
    """(entry -> task -> label for the entries whose runs cover every task, the labels left out).  An
    algorithm with exactly one label on every task is one entry (named by its label if that is the same on
    every task, else by the algorithm); otherwise each of its labels is an entry of its own."""
    from meharl.style import algorithm
    tasks = list(finals)
    by_algo: dict = {}
    for t in tasks:
        for lab in finals[t]:
            by_algo.setdefault(algorithm(lab), {}).setdefault(t, []).append(lab)
    entries, left_out = {}, []
    for algo, on in sorted(by_algo.items()):
        if len(on) == len(tasks) and all(len(labs) == 1 for labs in on.values()):
            members = {t: on[t][0] for t in tasks}
            entries[members[tasks[0]] if len(set(members.values())) == 1 else algo] = members
            continue
        for lab in sorted({lab for labs in on.values() for lab in labs}):
            if all(lab in on.get(t, ()) for t in tasks):
                entries[lab] = {t: lab for t in tasks}
            else:
                left_out.append(lab)
    return entries, left_out


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


def build(root, reps: int = 2000, seed: int = 0, exclude=()) -> Report:
    """Read every run under ``root`` (but those excluded: :func:`find_runs`) and compute every statistic of
    the report."""
    if reps < 100:
        raise ValueError(f"--reps must be >= 100 bootstrap resamples, got {reps}")
    runs, skipped = find_runs(root, exclude)
    labels = label_runs(runs)
    by_task, metric, finals = final_scores(runs, labels)
    sims = {t: " / ".join(sorted({simulator(r.config) for g in by.values() for r in g})) for t, by in by_task.items()}
    curves, bands = {}, {}
    for task, by_label in by_task.items():
        curves[task], bands[task] = {}, {}
        for lab, group in by_label.items():
            steps, vals = common_steps([(r.steps, _metric_values(r, metric[task])) for r in group])
            curves[task][lab] = (steps, vals, [r.seed for r in group])
            bands[task][lab] = mean_band(vals, reps, seed)
    norm = normalise(finals, metric)
    entries, left_out = aggregate_entries(finals)
    # rliable needs a runs x tasks matrix per entry: one with different numbers of seeds per task is left out
    uneven = [e for e, m in entries.items() if len({len(finals[t][lab][0]) for t, lab in m.items()}) > 1]
    entries = {e: m for e, m in entries.items() if e not in uneven}
    note_parts = [f"left out (no runs on every task): {', '.join(left_out)}"] if left_out else []
    if uneven:
        note_parts.append(f"left out (different numbers of seeds on different tasks): {', '.join(uneven)}")
    mixed = [f"{e} = {', '.join(f'{lab} on {t}' for t, lab in m.items())}" for e, m in entries.items()
             if len(set(m.values())) > 1]
    if mixed:
        note_parts.append("with different settings per task: " + "; ".join(mixed))
    agg, profiles = {}, {}
    if entries:
        agg, profiles, _ = aggregate_scores(norm, entries, reps, seed)
    else:
        note_parts.insert(0, "no aggregate: no algorithm has the same number of runs on every task")
    note = "; ".join(note_parts)
    return Report(Path(root), runs, skipped, labels, metric, sims, curves, bands, finals, norm, agg,
                  list(finals) if agg else [], entries if agg else {}, note, profiles, reps, seed)


# --------------------------------------------------------------------------- tables
def _fmt(x: float) -> str:
    return f"{x:.4g}"


def final_table(report: Report) -> list[dict]:
    """One row per task and algorithm: simulator, seeds, final steps, mean with its 95% bootstrap interval,
    median, std."""
    rows = []
    for task, by_label in report.finals.items():
        for lab, (seeds, vals, steps) in by_label.items():
            mean, lo, hi = (float(v[0]) for v in mean_band(vals[:, None], report.reps, report.seed))
            rows.append({"task": task, "simulator": report.simulators[task], "algorithm": lab,
                         "metric": report.metric[task], "seeds": seeds,
                         "env_steps": [int(steps.min()), int(steps.max())], "mean": mean, "ci95": [lo, hi],
                         "median": float(np.median(vals)), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                         "normalised_mean": float(report.normalised[task][lab].mean())})
    return rows


def _markdown_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def table1_data(finals: dict, metric: dict) -> dict:
    """Table 1 from final scores (:func:`final_scores`) of runs in the ``smac`` (SMAX) or ``smac-sc2``
    (StarCraft II) family: ``maps`` (the paper's in its order, then others; a map with runs in both families
    is two rows, ``MAP (smac-sc2)`` the second), ``simulators[map]`` (:data:`SIMULATORS`), ``algorithms``
    (columns: the paper's six, then others; an algorithm with several settings on a map has a column per
    setting label) and ``cells[map][column]``: ``label`` (the runs' label, or None), ``seeds``, ``win_rates``
    (%, each run's final evaluation), ``median`` and ``std`` (sample standard deviation over seeds, ddof 1; 0
    for one seed) or None where there are no runs, and ``paper``: the paper's (median, std) on StarCraft II, or
    None; plus ``missing_maps``: the paper's maps without runs."""
    from meharl.style import algorithm
    from deep.envs.registry import family_name
    tasks = [t for t in finals if family_name(t.split(":", 1)[0]) in ("smax", "smac-sc2") and metric[t] == "win rate"]
    maps = {}
    for t in sorted(tasks, key=lambda t: t.startswith("smac-sc2:")):  # SMAX rows keep the map's name
        env, m = t.split(":", 1)
        maps[m if m not in maps else f"{m} ({env})"] = t
    column = {}  # map -> column -> label: an algorithm's column holds its one label on the map
    for m, t in maps.items():
        algos_here = [algorithm(lab) for lab in finals[t]]
        column[m] = {algorithm(lab) if algos_here.count(algorithm(lab)) == 1 else lab: lab for lab in finals[t]}
    algos = list(TABLE1_ALGOS) + sorted({c for cols in column.values() for c in cols} - set(TABLE1_ALGOS))
    order = [*TABLE1, *sorted(set(maps) - set(TABLE1))]
    cells = {}
    for m in order:
        cells[m] = {}
        paper_row = TABLE1.get(maps[m].split(":", 1)[1] if m in maps else m)
        for col in algos:
            label = column.get(m, {}).get(col)
            k = TABLE1_ALGOS.index(algorithm(col)) if algorithm(col) in TABLE1_ALGOS else None
            paper = list(paper_row[k]) if paper_row and k is not None else None
            if label is None:
                cells[m][col] = {"label": None, "seeds": [], "win_rates": [], "median": None, "std": None,
                                 "paper": paper}
                continue
            seeds, wins, _ = finals[maps[m]][label]
            pct = 100 * wins
            cells[m][col] = {"label": label, "seeds": list(seeds), "win_rates": pct.tolist(),
                             "median": float(np.median(pct)), "std": float(pct.std(ddof=1)) if len(pct) > 1 else 0.0,
                             "paper": paper}
    return {"maps": order, "simulators": {m: SIMULATORS[family_name(t.split(":", 1)[0])] for m, t in maps.items()},
            "algorithms": algos, "cells": cells, "missing_maps": [m for m in TABLE1 if m not in maps]}


def table1_cell(cell: dict, column: str) -> str:
    """``median (std)``, then the settings of the runs' label where the column does not name them, then
    ``[paper median (std)]``; or ``no runs``."""
    text = "no runs" if cell["median"] is None else f"{cell['median']:.1f} ({cell['std']:.1f})"
    if cell["label"] and cell["label"] != column:
        text += " " + cell["label"][len(column):].strip()
    return text + (" [paper {:.1f} ({:.1f})]".format(*cell["paper"]) if cell["paper"] else "")


def table1(report: Report) -> tuple[dict | None, list[str]]:
    """Table 1's layout (maps x algorithms: median final win rate % (std over seeds)) from the SMAC runs, each
    cell beside the paper's value, with the simulator of each row: (header, rows) and the maps without runs;
    ``None`` when no SMAC run has a win rate."""
    data = table1_data(report.finals, report.metric)
    if not data["simulators"]:
        return None, list(TABLE1)
    rows = [[m, data["simulators"][m], *(table1_cell(data["cells"][m][a], a) for a in data["algorithms"])]
            for m in data["maps"] if m in data["simulators"]]
    return (["map", "simulator", *data["algorithms"]], rows), data["missing_maps"]


# --------------------------------------------------------------------------- figures
def _panel(ax, report: Report, task: str, title: str, style: dict) -> None:
    from meharl.style import step_axis
    for lab, (steps, _, seeds) in report.curves[task].items():
        mean, lo, hi = report.bands[task][lab]
        ax.plot(steps, mean, lw=1.6, label=lab, **style[lab])
        ax.fill_between(steps, lo, hi, color=style[lab]["color"], alpha=0.2, lw=0)
    ax.set_title(f"{title}\n{report.simulators[task]}", fontsize=8)
    step_axis(ax)
    ax.set_ylabel("Win rate" if report.metric[task] == "win rate" else "Episode return")
    if report.metric[task] == "win rate":
        ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)


def _grid(report: Report, panels: list, n_rows: int, title: str, path: Path) -> None:
    from meharl.figures import plt, save_png
    from meharl.style import legend_below, styles
    style = styles(lab for by in report.curves.values() for lab in by)
    n_cols = math.ceil(len(panels) / n_rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, 1.0 + 2.6 * n_rows), squeeze=False,
                             layout="constrained")
    for ax, (name, task) in zip(axes.ravel(), panels):
        if task in report.curves:
            _panel(ax, report, task, name, style)
        else:
            ax.text(0.5, 0.5, f"no runs\n({task})", ha="center", va="center", fontsize=8, transform=ax.transAxes)
            ax.set_title(name, fontsize=8)
            ax.set_xticks([]), ax.set_yticks([])
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    handles = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    order = sorted(handles, key=lambda lab: list(style).index(lab))
    legend_below(fig, [handles[lab] for lab in order], order, ncol=4 if n_cols > 2 else 2)
    fig.suptitle(f"{title} (mean over seeds, 95% bootstrap confidence band)", fontsize=10)
    save_png(fig, path)


def _aggregate_figures(report: Report, out: Path) -> list[Path]:
    from meharl.figures import plt, save_png
    from meharl.style import legend_below, styles
    entries = sorted(report.aggregate)
    style = styles(entries)
    fig, axes = plt.subplots(1, len(AGGREGATES), figsize=(2.6 * len(AGGREGATES), 1.2 + 0.4 * len(entries)),
                             squeeze=False, sharey=True, layout="constrained")
    for ax, name in zip(axes[0], AGGREGATES):
        for y, e in enumerate(entries):
            p, lo, hi = report.aggregate[e][name]
            ax.barh(y, hi - lo, left=lo, height=0.6, color=style[e]["color"], alpha=0.75)
            ax.vlines(p, y - 0.3, y + 0.3, color="k", lw=1.5)
        ax.set_yticks(range(len(entries)), entries)
        ax.set_xlim(-0.02, 1.02)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("normalised score")
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle("Aggregates over tasks: point estimate and 95% stratified-bootstrap CI", fontsize=10)
    p1 = out / "aggregate_intervals.png"
    save_png(fig, p1)
    fig, ax = plt.subplots(figsize=(5.5, 4.2), layout="constrained")
    for e in entries:
        taus, frac, lo, hi = report.profiles[e]
        ax.plot(taus, frac, label=e, **style[e])
        ax.fill_between(taus, lo, hi, color=style[e]["color"], alpha=0.2, lw=0)
    ax.set_xlabel(r"normalised score $\tau$")
    ax.set_ylabel(r"fraction of runs with score > $\tau$")
    ax.set_xlim(0, 1), ax.set_ylim(0, 1.02)
    ax.set_title("Performance profiles (95% bootstrap bands)", fontsize=10)
    ax.grid(alpha=0.3)
    legend_below(fig, *ax.get_legend_handles_labels(), ncol=2)
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


def _markdown(blocks: list) -> str:
    out = []
    for kind, *a in blocks:
        if kind == "h":
            out += ["#" * a[0] + " " + a[1], ""]
        elif kind == "p":
            out += [a[0], ""]
        elif kind == "list":
            out += [f"- {item}" for item in a[0]] + [""]
        elif kind == "table":
            out += [_markdown_table(*a), ""]
        else:  # "img"
            out += [f"![{a[0]}]({a[1]})", ""]
    return "\n".join(out)


def _inline(text: str) -> str:
    """Escape ``text`` for HTML, with Markdown's `code` spans as <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if k % 2 else p for k, p in enumerate(parts))


HTML_STYLE = ("body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}"
              "table{border-collapse:collapse;margin:0.5rem 0 1rem;font-size:0.9rem}"
              "th,td{border:1px solid #ccc;padding:0.25rem 0.5rem;text-align:left}th{background:#f3f3f3}"
              "img{max-width:100%;height:auto}code{background:#f3f3f3;padding:0 0.2rem}")


def _html(blocks: list, title: str, out: Path) -> str:
    """The page as one self-contained HTML file: the figures embedded as PNG data URIs."""
    body = []
    for kind, *a in blocks:
        if kind == "h":
            body.append(f"<h{a[0]}>{_inline(a[1])}</h{a[0]}>")
        elif kind == "p":
            body.append(f"<p>{_inline(a[0])}</p>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in a[0]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{_inline(str(c))}</th>" for c in a[0])
            rows = "".join("<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in r) + "</tr>" for r in a[1])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        else:
            data = base64.b64encode((out / a[1]).read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{html.escape(a[0])}" src="data:image/png;base64,{data}"></figure>')
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<style>{HTML_STYLE}</style></head><body>\n' + "\n".join(body) + "\n</body></html>\n")


def write(report: Report, out) -> list[str]:
    """Write the figures, ``summary.json``, ``index.md`` and the same page as one self-contained
    ``index.html`` into ``out``; returns the page's notes on missing paper figures and skipped runs (also
    printed on it)."""
    from safeio import atomic_write_text
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = list(report.curves)
    title = f"Report: {len(report.runs)} runs under `{report.root}`"
    doc = [("h", 1, title)]
    notes = [f"skipped {p}: {why}" for p, why in report.skipped]
    doc += [("h", 2, "Runs"), ("table", ["task", "simulator", "algorithm", "seeds", "final env steps"], [
        [t, report.simulators[t], lab, ", ".join(map(str, s)), "-".join(sorted({str(int(x)) for x in st}, key=int))]
        for t, by in report.finals.items() for lab, (s, _, st) in by.items()]),
        ("p", "An algorithm's label names the settings in which its runs differ from the config `meharl train` "
              "ships for it on that task (settings of a run's length and logging aside).")]
    _grid(report, [(t, t) for t in tasks], max(1, math.ceil(len(tasks) / 4)), "Learning curves", out / "curves.png")
    doc += [("h", 2, "Learning curves"),
            ("p", "Mean over seeds at the environment steps every seed evaluated, with a 95% bootstrap percentile "
                  "confidence band of the mean (resampling seeds; it stays within the metric's range)."),
            ("img", "learning curves", "curves.png")]
    rows = final_table(report)
    doc += [("h", 2, "Final performance"),
            ("p", "Each run's last evaluation; mean over seeds with its 95% bootstrap percentile interval, median "
                  "and standard deviation (ddof 1); normalised as for the aggregates."),
            ("table", ["task", "algorithm", "metric", "n", "mean", "95% CI", "median", "std", "normalised"],
             [[r["task"], r["algorithm"], r["metric"], len(r["seeds"]), _fmt(r["mean"]),
               f"[{_fmt(r['ci95'][0])}, {_fmt(r['ci95'][1])}]", _fmt(r["median"]), _fmt(r["std"]),
               _fmt(r["normalised_mean"])] for r in rows])]
    doc += [("h", 2, "Aggregates across tasks (rliable)"),
            ("p", "Normalisation per task: win rates as they are; returns min-max normalised between the lowest and "
                  "the highest final return of any run on the task (0 = worst run seen there, 1 = best). IQM, "
                  "median, mean and optimality gap over all runs x tasks of each algorithm with runs on every task, "
                  "with 95% stratified-bootstrap confidence intervals.")]
    if report.aggregate:
        doc += [("p", f"Tasks: {', '.join(report.aggregate_tasks)}."),
                ("table", ["algorithm", *AGGREGATES], [
                    [e, *(f"{_fmt(p)} [{_fmt(lo)}, {_fmt(hi)}]" for p, lo, hi in
                          (report.aggregate[e][a] for a in AGGREGATES))] for e in sorted(report.aggregate)]),
                ("img", "aggregates", "aggregate_intervals.png"), ("img", "performance profiles",
                                                                   "performance_profiles.png")]
        _aggregate_figures(report, out)
    if report.aggregate_note:
        doc += [("p", f"Note: {report.aggregate_note}.")]
    doc += [("h", 2, "The paper's figures")]
    for key, (fig_title, n_rows, panels) in PAPER_FIGURES.items():
        have = [name for name, task in panels if task in report.curves]
        missing = [f"{name} ({task})" for name, task in panels if task not in report.curves]
        doc += [("h", 3, fig_title)]
        if have:
            _grid(report, panels, n_rows, fig_title, out / f"{key}.png")
            doc += [("img", key, f"{key}.png")]
        else:
            doc += [("p", "No runs for any panel.")]
        if missing:
            notes.append(f"{fig_title.split(':')[0]}: missing " + ", ".join(missing))
            doc += [("p", "Missing panels: " + ", ".join(missing) + ".")]
    t1, missing_maps = table1(report)
    doc += [("h", 3, "Table 1: SMAC, median final win rate % (std over seeds)")]
    if t1:
        doc += [("p", "Each row names the simulator of its runs; the paper's values, in brackets, are StarCraft "
                      "II's, so a SMAX row is not a reproduction of them."), ("table", *t1)]
    else:
        doc += [("p", "No SMAC runs with a win rate.")]
    if missing_maps:
        notes.append("Table 1: missing maps " + ", ".join(missing_maps))
        doc += [("p", "Missing maps: " + ", ".join(missing_maps) + ".")]
    if report.skipped:
        doc += [("h", 2, "Skipped directories"), ("list", [f"`{p}`: {why}" for p, why in report.skipped])]
    summary = {"root": str(report.root), "final": rows, "aggregate_tasks": report.aggregate_tasks,
               "aggregate": report.aggregate, "aggregate_members": report.aggregate_members,
               "aggregate_note": report.aggregate_note, "notes": notes}
    atomic_write_text(out / "summary.json", json.dumps(finite_or_null(summary), indent=2, default=str,
                                                         allow_nan=False) + "\n")
    atomic_write_text(out / "index.md", _markdown(doc))
    atomic_write_text(out / "index.html", _html(doc, title.replace("`", ""), out))
    return notes
