"""Sweeps: every (algorithm, task, seed) of a grid as one run directory, scheduled as Ray tasks.

Each run is the directory ``meharl train`` would make (``deep.run.start`` on the config ``deep.configure.resolve``
gives), named ``ROOT/<env>_<task>_<label>_seed<seed>``; its output goes to ``ROOT/logs/<name>.log``.  The root
also holds ``sweep.yaml`` (the grid) and ``sweep_status.json`` (the runs finished so far, written by the driver
after each one).  Re-running the same sweep on the same root skips finished runs, resumes the others from their
checkpoints (``deep.run.resume``: the same run, so a killed sweep loses at most one checkpoint interval per run)
and restarts runs killed before their first checkpoint from scratch.

Everything that can be refused is refused before Ray starts: unknown algorithms, tasks or config keys,
algorithm / task pairs whose action spaces the algorithm does not support (``deep.algos.base.check_supported``),
and run directories holding a different config.  Ray (``ray==2.60.0``): without an address a local instance
with ``num_cpus`` CPUs and no dashboard; with one, the existing cluster (the root must then be a path every node
sees).  Each run asks for ``cpus_per_run`` CPUs (and ``gpus_per_run`` GPUs; give ``--set device=cuda`` with them)
and uses that many torch threads.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import yaml

STATUS = "sweep_status.json"
SPEC = "sweep.yaml"
#: keys of a sweep file
FILE_KEYS = ("algos", "tasks", "seeds", "set", "root", "cpus_per_run", "gpus_per_run")
#: Ray's smallest object store (75 MiB): runs pass nothing but small summaries through it
OBJECT_STORE_BYTES = 75 * 1024 * 1024
#: the longest the driver waits on Ray before it looks for a SIGTERM (seconds)
STOP_CHECK_S = 0.5
#: the most seeds one sweep may list
MAX_SEEDS = 10_000


@dataclass(frozen=True)
class Variant:
    """An algorithm and its extra ``--set`` overrides, shown as ``label``."""

    label: str
    algo: str
    overrides: tuple = ()


@dataclass(frozen=True)
class RunSpec:
    name: str
    env: str
    task: str
    variant: Variant
    seed: int
    cfg: dict = field(repr=False, compare=False)


@dataclass
class Sweep:
    variants: list
    tasks: list           #: (env, task)
    seeds: list
    overrides: list       #: --set for every run
    root: Path
    cpus_per_run: int = 1
    gpus_per_run: float = 0.0


# --------------------------------------------------------------------------- parsing
def parse_seeds(text) -> list[int]:
    """``"0-4"`` (inclusive), ``"0,2,5"``, ``"3"`` or a list of integers."""
    if isinstance(text, int) and not isinstance(text, bool):
        return [text]
    if isinstance(text, list):
        items = text
    else:
        items = []
        for part in str(text).split(","):
            part = part.strip()
            lo, sep, hi = part.partition("-")
            if sep and lo.isdigit() and hi.isdigit() and int(lo) <= int(hi):
                if int(hi) - int(lo) + 1 + len(items) > MAX_SEEDS:
                    raise ValueError(f"bad seeds {text!r}: more than {MAX_SEEDS} seeds")
                items += list(range(int(lo), int(hi) + 1))
            elif part.isdigit():
                items.append(int(part))
            else:
                raise ValueError(f"bad seeds {text!r}: use e.g. 0-4, 0,2,5 or 3")
    if len(items) > MAX_SEEDS:
        raise ValueError(f"bad seeds: {len(items)} seeds, more than {MAX_SEEDS}")
    if not items or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in items):
        raise ValueError(f"bad seeds {text!r}: seeds are integers >= 0")
    if len(set(items)) != len(items):
        raise ValueError(f"seed listed twice in {text!r}")
    return list(items)


def parse_task(text: str) -> tuple[str, str]:
    env, sep, task = str(text).partition(":")
    if not sep or not env or not task:
        raise ValueError(f"bad task {text!r}: use ENV:TASK, e.g. mpe:simple_spread_v3")
    return env, task


def parse_variant(item) -> Variant:
    """A name (``"hasac"``) or a mapping ``{label: ..., algo: ..., set: [key=value, ...]}``."""
    if isinstance(item, str) and item:
        return Variant(item, item)
    if isinstance(item, dict) and set(item) <= {"label", "algo", "set"} and isinstance(item.get("algo"), str):
        sets = item.get("set") or []
        if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
            raise ValueError(f"algorithm entry {item!r}: set must be a list of key=value strings")
        return Variant(str(item.get("label") or item["algo"]), item["algo"], tuple(sets))
    raise ValueError(f"bad algorithm entry {item!r}: a name, or a mapping with algo, and optionally label and set")


def make_sweep(file=None, algos=None, tasks=None, seeds=None, overrides=(), root=None, cpus_per_run=None,
               gpus_per_run=None) -> Sweep:
    """A sweep from a YAML sweep file (keys :data:`FILE_KEYS`) and/or command-line values (which win); ``algos``
    and ``tasks`` are comma-separated strings or lists (of names or :func:`parse_variant` mappings)."""
    spec = {}
    if file is not None:
        from deep.config import load_yaml
        spec = load_yaml(file, "a sweep file")
        unknown = sorted(set(spec) - set(FILE_KEYS))
        if unknown:
            raise ValueError(f"{file}: unknown key(s) {', '.join(unknown)} (valid: {', '.join(FILE_KEYS)})")
        _check_file_types(file, spec)
    algo_items = (algos.split(",") if isinstance(algos, str) else algos) or spec.get("algos")
    task_items = (tasks.split(",") if isinstance(tasks, str) else tasks) or spec.get("tasks")
    seed_items = seeds if seeds is not None else spec.get("seeds")
    for what, val in (("algorithms (--algos)", algo_items), ("tasks (--tasks)", task_items),
                      ("seeds (--seeds)", seed_items)):
        if not val:
            raise ValueError(f"a sweep needs {what}")
    variants = [parse_variant(v) for v in algo_items]
    if len({v.label for v in variants}) != len(variants):
        raise ValueError(f"two algorithm entries share a label: {', '.join(v.label for v in variants)}")
    cpus = cpus_per_run if cpus_per_run is not None else spec.get("cpus_per_run", 1)
    gpus = gpus_per_run if gpus_per_run is not None else spec.get("gpus_per_run", 0)
    if not (_is_int(cpus) and cpus >= 1):
        raise ValueError(f"cpus_per_run must be an integer >= 1, got {cpus!r}")
    if not (_is_number(gpus) and gpus >= 0):
        raise ValueError(f"gpus_per_run must be a number >= 0, got {gpus!r}")
    task_pairs = [parse_task(t) for t in task_items]
    twice = sorted({f"{e}:{t}" for e, t in task_pairs if task_pairs.count((e, t)) > 1})
    if twice:
        raise ValueError(f"task listed twice: {', '.join(twice)}")
    return Sweep(variants, task_pairs, parse_seeds(seed_items), list(spec.get("set") or []) + list(overrides),
                 Path(root or spec.get("root") or "runs/sweep"), cpus, float(gpus))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_file_types(file, spec: dict) -> None:
    """A ValueError naming the sweep file and the key whose value has the wrong type."""
    strings = lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)  # noqa: E731
    kinds = {"algos": ("a list", lambda v: isinstance(v, list)),
             "tasks": ("a list of ENV:TASK strings", strings),
             "seeds": ("an integer, a list of integers or a string such as 0-4",
                       lambda v: _is_int(v) or isinstance(v, str) or (isinstance(v, list) and all(map(_is_int, v)))),
             "set": ("a list of KEY=VALUE strings", strings),
             "root": ("a folder path (a string)", lambda v: isinstance(v, str) and v != ""),
             "cpus_per_run": ("an integer >= 1", lambda v: _is_int(v) and v >= 1),
             "gpus_per_run": ("a number >= 0", lambda v: _is_number(v) and v >= 0)}
    for key, value in spec.items():
        what, ok = kinds[key]
        if value is not None and not ok(value):
            raise ValueError(f"{file}: {key} must be {what}, got {value!r}")


# --------------------------------------------------------------------------- planning (nothing started yet)
def run_name(env: str, task: str, label: str, seed: int) -> str:
    task_part = Path(task).stem if env == "tabular" and Path(task).suffix else task
    return f"{env}_{task_part}_{label}_seed{seed}".replace("/", "_").replace(" ", "_")


def check_pairs(runs: list[RunSpec]) -> None:
    """Refuse algorithm / task pairs whose action spaces the algorithm does not support, by name: one
    environment copy per distinct (env, task, env_options) is built for its spec."""
    from deep.algos.base import check_supported
    from deep.envs.registry import make_env
    by_env: dict = {}
    for r in runs:
        key = (r.env, r.task, json.dumps(r.cfg.get("env_options") or {}, sort_keys=True))
        by_env.setdefault(key, set()).add(r.variant.algo)
    for (env, task, options), algos in by_env.items():
        e = make_env(env, task, 1, seed=0, **json.loads(options))
        try:
            for algo in sorted(algos):
                check_supported(algo, e.spec)
        finally:
            e.close()


def plan(sweep: Sweep) -> list[RunSpec]:
    """Every run of the grid with its resolved config; refuses what cannot run (module docstring)."""
    from deep.configure import resolve
    runs = []
    base = ["train.progress=false", f"threads={sweep.cpus_per_run}"]
    for env, task in sweep.tasks:
        for v in sweep.variants:
            for seed in sweep.seeds:
                cfg = resolve(env, task, seed, [*base, *sweep.overrides, *v.overrides], algo=v.algo)
                runs.append(RunSpec(run_name(env, task, v.label, seed), env, task, v, seed, cfg))
    seen: dict = {}
    for r in runs:
        other = seen.setdefault(r.name, r)
        if other is not r:
            raise ValueError(f"runs {other.env}:{other.task} and {r.env}:{r.task} ({r.variant.label}, seed {r.seed}) "
                             f"would share the run directory {sweep.root / r.name}; rename one of the game files")
    check_pairs(runs)
    for r in runs:
        _check_existing(sweep.root / r.name, r.cfg)
    return runs


def _differences(saved, wanted, prefix="") -> list[str]:
    """Keys where a saved config differs from the wanted one (``null`` wanted: filled in by the run, e.g. a
    tabular game's own discount)."""
    if isinstance(saved, dict) and isinstance(wanted, dict):
        return [d for k in sorted(set(saved) | set(wanted))
                for d in _differences(saved.get(k), wanted.get(k), f"{prefix}{k}.")]
    return [] if wanted is None or saved == wanted else [prefix.rstrip(".")]


def _check_existing(run_dir: Path, cfg: dict) -> None:
    path = run_dir / "config.yaml"
    if path.exists():
        from deep.config import load_yaml
        diff = _differences(load_yaml(path, "a run's config"), cfg)
        if diff:
            raise ValueError(f"{run_dir} holds a run with a different config ({', '.join(diff)}); use another "
                             f"--root or remove it")


# --------------------------------------------------------------------------- one run (in a Ray worker)
def execute(cfg: dict, run_dir: str, log_path: str) -> dict:
    """Start or resume one run, its output appended to ``log_path``; returns its final counters.  A run
    stopped by a signal (its checkpoint saved) raises a RuntimeError: it is not finished."""
    import deep.run
    from deep.run.rundir import CHECKPOINT
    from safeio import open_append
    run_dir = Path(run_dir)
    with open_append(log_path) as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        print(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: ", end="")
        try:
            if (run_dir / CHECKPOINT).exists():
                print(f"resuming {run_dir}")
                run = deep.run.resume(run_dir)
            else:
                print(f"starting {run_dir}")
                # overwrite: replace the logs of an attempt killed before its first checkpoint
                run = deep.run.start(cfg, run_dir, overwrite=True)
            try:
                last = run.run()
            finally:
                run.close()
        except BaseException:
            traceback.print_exc()
            raise
        if last["interrupted"]:
            print(f"stopped by {last['interrupted']} at {run.counters['env_steps']} env steps (checkpoint saved)")
            raise RuntimeError(f"stopped by {last['interrupted']} at {run.counters['env_steps']} env steps; "
                               f"re-run the sweep to resume it")
        ev = last["eval"]
        print(f"finished at {run.counters['env_steps']} env steps"
              + (f", evaluation return {ev['eval_return']:.4g}" if ev else ""))
        return {"env_steps": int(run.counters["env_steps"]),
                "eval_return": None if ev is None else float(ev["eval_return"])}


# --------------------------------------------------------------------------- the driver
def _load_status(root: Path) -> dict:
    path = root / STATUS
    if not path.exists():
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            status = json.load(fh)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        status = None
    if not isinstance(status, dict):
        raise ValueError(f"{path} is damaged; remove it (the sweep then resumes every run from its checkpoint)")
    return status


def _steps_done(run_dir: Path) -> int:
    """Environment steps of the run's last progress.csv row (0 if none yet)."""
    path = run_dir / "progress.csv"
    if not path.exists():
        return 0
    with open(path, "rb") as fh:
        lines = fh.read().splitlines()
    try:
        return int(float(lines[-1].split(b",", 1)[0])) if len(lines) > 1 else 0
    except ValueError:
        return 0


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"


class Progress:
    """Counts and an ETA from the environment steps the runs have logged since the sweep started."""

    def __init__(self, runs, root: Path, out=None):
        self.root, self.out = root, out
        self.total = {r.name: r.cfg["train"]["total_steps"] for r in runs}
        self.start_steps = {n: min(_steps_done(root / n), t) for n, t in self.total.items()}
        self.t0 = time.time()

    def line(self, done: int, running: int, failed: list, queued: int) -> str:
        """The status line; the steps of ``failed`` runs count neither as done nor as left."""
        total = {n: t for n, t in self.total.items() if n not in failed}
        steps = {n: min(_steps_done(self.root / n), t) for n, t in total.items()}
        frac = sum(steps.values()) / max(sum(total.values()), 1)
        gained = sum(steps.values()) - sum(self.start_steps[n] for n in total)
        left = sum(total.values()) - sum(steps.values())
        eta = _duration(left * (time.time() - self.t0) / gained) if gained > 0 and left > 0 else "-"
        return (f"[sweep {_duration(time.time() - self.t0)}] {done} done, {running} running, {queued} queued, "
                f"{len(failed)} failed; {100 * frac:.0f}% of env steps, ETA {eta}")

    def say(self, text: str) -> None:
        print(text, file=self.out or sys.stdout, flush=True)


def run_sweep(sweep: Sweep, address: str | None = None, num_cpus: int | None = None,
              poll_s: float = 10.0, out=None) -> int:
    """Plan, then run every unfinished run as a Ray task; returns 0 if every run succeeded, 1 otherwise."""
    from safeio import atomic_write_text
    runs = plan(sweep)
    root = sweep.root.absolute()   # the runs may execute on other nodes, in other directories
    root.mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    atomic_write_text(root / SPEC, yaml.safe_dump(
        {"algos": [{"label": v.label, "algo": v.algo, "set": list(v.overrides)} for v in sweep.variants],
         "tasks": [f"{e}:{t}" for e, t in sweep.tasks], "seeds": sweep.seeds, "set": sweep.overrides,
         "cpus_per_run": sweep.cpus_per_run, "gpus_per_run": sweep.gpus_per_run}, sort_keys=False))
    status = _load_status(root)
    from deep.run.rundir import CHECKPOINT
    todo = [r for r in runs if status.get(r.name) != "done" or not (root / r.name / CHECKPOINT).exists()]
    progress = Progress(runs, root, out)
    progress.say(f"sweep of {len(runs)} runs under {root}: {len(runs) - len(todo)} finished before, "
                 f"{len(todo)} to run")
    failures = {}
    if todo:
        import ray
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     object_store_memory=OBJECT_STORE_BYTES, logging_level="ERROR")
        stop: list = []  # SIGTERM: end the sweep between two waits (raising inside ray.wait would break it)
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))  # after ray.init's
        try:
            remote = ray.remote(execute).options(num_cpus=sweep.cpus_per_run, num_gpus=sweep.gpus_per_run,
                                                 max_retries=0)
            logs = {r.name: root / "logs" / f"{r.name}.log" for r in todo}
            sizes = {n: p.stat().st_size if p.exists() else 0 for n, p in logs.items()}
            pending = {remote.remote(r.cfg, str(root / r.name), str(logs[r.name])): r for r in todo}
            done_now, last_line = 0, 0.0
            while pending and not stop:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=min(poll_s, STOP_CHECK_S))
                for ref in ready:
                    r = pending.pop(ref)
                    try:
                        res = ray.get(ref)
                    except Exception as exc:  # the run's traceback is in its log
                        failures[r.name] = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
                        progress.say(f"FAILED {r.name}: {failures[r.name]} (log: {logs[r.name]})")
                        continue
                    status[r.name] = "done"
                    atomic_write_text(root / STATUS, json.dumps(status, indent=1, sort_keys=True))
                    done_now += 1
                    ret = "" if res["eval_return"] is None else f", evaluation return {res['eval_return']:.4g}"
                    progress.say(f"done {r.name}: {res['env_steps']} env steps{ret}")
                if ready or time.time() - last_line >= poll_s:
                    running = sum(1 for r in pending.values() if logs[r.name].exists()
                                  and logs[r.name].stat().st_size > sizes[r.name])
                    progress.say(progress.line(len(runs) - len(todo) + done_now, running, list(failures),
                                               len(pending) - running))
                    last_line = time.time()
            if stop:
                progress.say(f"sweep stopped by SIGTERM with {len(pending)} run(s) unfinished; re-run it to resume "
                             f"them")
                return 128 + signal.SIGTERM
        finally:
            signal.signal(signal.SIGTERM, previous)
            ray.shutdown()
    if failures:
        progress.say(f"{len(failures)} of {len(runs)} runs failed:")
        for name, msg in failures.items():
            progress.say(f"  {name}: {msg}\n    log: {root / 'logs' / (name + '.log')}")
        return 1
    progress.say(f"all {len(runs)} runs finished under {root}")
    return 0
