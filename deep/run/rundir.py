"""A run and its directory, shared by the off- and on-policy loops.

A run directory holds ``config.yaml`` (the resolved config), ``progress.csv`` (training statistics every
``train.log_interval`` environment steps), ``eval.csv`` (deterministic evaluations), ``tb/`` (TensorBoard) and
``checkpoint.pt``.  The checkpoint holds everything the next step depends on: the algorithm's networks,
targets, optimiser states and temperatures, the loop's own state (a replay buffer), every RNG state, the
environments' state, the counters and the open logging window, so :meth:`Run.resume` continues the *same*
run: its final parameters and its logs (apart from wall-clock columns) equal an uninterrupted run's.
Checkpoints hold plain tensors and containers only and are written atomically (temporary file, fsync,
rename).  One process at a time trains in a directory: it holds ``.lock`` (:func:`lock_run_dir`), and a run
never writes through a symbolic link among its files.

:class:`Run` is the loop skeleton; a loop (:mod:`deep.run.off_policy`, :mod:`deep.run.on_policy`) subclasses
it with its ``Train`` settings and the hooks :meth:`Run.collect` (act and step the environments, reporting
each vector step to :meth:`Run.observe`), :meth:`Run.ready_to_train`, :meth:`Run.train` (update the algorithm,
reporting each update's statistics to :meth:`Run.record_update`) and :meth:`Run.loop_state` /
:meth:`Run.load_loop_state` (and :meth:`Run.episodes_cut`, for environments that cannot save their state: a
resume restarts their episodes).  Environment steps count every transition, warm-up included.
"""
from __future__ import annotations

import csv
import io
import math
import os
import pickle
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import yaml

from safeio import DirLock, atomic_write, atomic_write_text, open_append

from ..algos.base import Algorithm, check_device, check_supported, make_algo
from ..config import build_settings, flag, integer
from ..configure import validate
from ..envs.base import Reset
from ..envs.registry import make_env
from .evaluate import OUTCOMES, episode_outcomes, evaluate, qre_gap
from .seeding import seeds

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = "meharl-deep-2"  #: checkpoints written before the deep/ restructure have no such key


#: the columns of eval.csv: one per deterministic evaluation (an outcome rate is empty where the env has none)
EVAL_FIELDS = ("env_steps", "eval_return", "eval_return_std", "eval_episodes",
               *[f"eval_{rate}" for rate in OUTCOMES.values()], "qre_gap", "wall_time")


@dataclass(frozen=True)
class TrainSettings:
    """The ``train`` section common to every loop (budget, evaluation, logs, checkpoints)."""

    total_steps: int = integer(10_000_000, "environment steps of the run")
    eval_interval: int = integer(200_000, "environment steps between evaluations (0: none during training)",
                                 minimum=0)
    eval_episodes: int = integer(40, "episodes per evaluation, spread evenly over the evaluation copies")
    final_eval: bool = flag(True, "evaluate at the end of the run (whatever eval_interval)")
    log_interval: int = integer(10_000, "environment steps between progress.csv rows")
    checkpoint_interval: int = integer(200_000, "environment steps between checkpoints (0: only at the end)",
                                       minimum=0)
    progress: bool = flag(True, "show a progress bar")
    tensorboard: bool = flag(True, "write TensorBoard logs to tb/")


# -------------------------------------------------------------------- plain checkpoint values
def to_plain(x):
    """``x`` with numpy arrays as tensors and numpy scalars as numbers (what ``weights_only`` loads)."""
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, dict):
        return {k: to_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_plain(v) for v in x)
    if x is None or isinstance(x, (bool, int, float, str, torch.Tensor)):
        return x
    raise TypeError(f"a checkpoint cannot hold a {type(x).__name__}")


def from_plain(x):
    """Inverse of :func:`to_plain`: tensors back to numpy arrays."""
    if isinstance(x, torch.Tensor):
        return x.numpy()
    if isinstance(x, dict):
        return {k: from_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(from_plain(v) for v in x)
    return x


# -------------------------------------------------------------------- CSV logs
def csv_append(path: Path, row: dict, fields: list) -> None:
    """Append ``row``; a file already there keeps its own header (a run begun by an older meharl, resumed,
    drops the columns that header lacks)."""
    with open_append(path) as fh:
        header = next(csv.reader([fh.readline()]), None)
        w = csv.DictWriter(fh, fieldnames=header or fields, extrasaction="ignore")
        if not header:
            w.writeheader()
        w.writerow(row)


def csv_truncate(path: Path, max_steps: int) -> None:
    """Drop rows logged after the checkpoint a run is resumed from (they will be logged again)."""
    if not path.exists():
        return
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            fields = reader.fieldnames
        if not rows:
            return
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields)
        w.writeheader()
        w.writerows(r for r in rows if float(r["env_steps"]) <= max_steps)
    except (UnicodeDecodeError, csv.Error, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is damaged ({type(exc).__name__}: {exc}); move it away to resume "
                         f"without it") from None
    atomic_write_text(path, buf.getvalue())


def load_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, loaded weights-only (a run directory from elsewhere cannot run code);
    ValueError naming the problem if the file is truncated, corrupted or not of this format."""
    try:
        sd = torch.load(path, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # a pickled object, not damage
            raise ValueError(f"{path} holds objects other than plain tensors and containers: it was written "
                             f"by meharl before the deep/ restructure, or not by meharl; it cannot be loaded "
                             f"(start a new run)") from None
        raise ValueError(f"{path} is truncated or corrupted ({_first_line(exc)})") from None
    except (RuntimeError, EOFError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise ValueError(f"{path} is truncated or corrupted ({_first_line(exc)})") from None
    if not isinstance(sd, dict) or sd.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} was written by an older meharl (before the deep/ restructure) or is not a "
                         f"meharl checkpoint; it cannot be loaded (start a new run)")
    return sd


#: what loading a checkpoint into objects of other shapes or kinds raises
MISFIT = (KeyError, RuntimeError, TypeError, IndexError, ValueError)


def misfit(ck: Path, run_dir: Path, exc: BaseException) -> ValueError:
    """The error for a checkpoint ``ck`` that does not fit the run ``run_dir``'s config describes."""
    return ValueError(f"{ck} does not fit the run that {run_dir / 'config.yaml'} describes ({_first_line(exc)})")


def load_algo_state(algo, sd: dict, ck: Path, run_dir: Path) -> None:
    """Load a checkpoint's networks into ``algo``; a ValueError (:func:`misfit`) if they do not fit."""
    try:
        algo.load_state_dict(sd["algo"])
    except MISFIT as exc:
        raise misfit(ck, run_dir, exc) from None


def _first_line(exc: BaseException) -> str:
    """The first sentence of an exception's message (torch's go on for a paragraph)."""
    text = str(exc).strip().splitlines()
    return text[0].split(". ")[0].rstrip(".") if text else type(exc).__name__


def read_config(run_dir: Path) -> dict:
    """The ``config.yaml`` of a run directory, or a ValueError naming the problem."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no config.yaml in {run_dir}: not a run directory")
    try:
        with open(path, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML ({_first_line(exc)})") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("train"), dict):
        raise ValueError(f"{path} does not hold a run config")
    return cfg


RUN_FILES = ("config.yaml", "progress.csv", "eval.csv", "tb", CHECKPOINT)  #: what a run writes into its directory


def check_new_run_dir(path: Path, overwrite: bool = False) -> None:
    """A ValueError, before anything is built or written, if a new run cannot go into ``path``: it lies under
    a regular file, or it holds a run (continue it with ``meharl resume``) or the logs of one that stopped
    before its first checkpoint; ``overwrite`` lets a new run replace those files."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"cannot create run directory {path}: {existing} is a regular file")
    if existing == path and not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write into run directory {path}: permission denied")
    if overwrite or existing != path:
        return
    if os.path.lexists(path / CHECKPOINT):
        raise ValueError(f"{path} already holds a run: continue it with `meharl resume {path}`, train into "
                         f"another directory, or pass --overwrite to replace it")
    present = [f for f in RUN_FILES if os.path.lexists(path / f)]
    if present:
        raise ValueError(f"{path} holds logs ({', '.join(present)}) of a run that stopped before its first "
                         f"checkpoint, so it cannot be resumed: train into another directory, or pass "
                         f"--overwrite to replace them")


def lock_run_dir(path: Path) -> DirLock:
    """The lock of the run directory ``path``: one process at a time trains in it (ValueError naming the
    holder otherwise)."""
    return DirLock(path, "run directory")


def check_no_links(path: Path) -> None:
    """A ValueError if a file of :data:`RUN_FILES` in ``path`` is a symbolic link (a run writes only inside
    its directory)."""
    links = [f for f in RUN_FILES if (path / f).is_symlink()]
    if links:
        raise ValueError(f"{path}: symbolic link(s) {', '.join(links)}; a run writes only inside its directory "
                         f"(remove the link)")


def create_run_dir(path: Path, cfg: dict, overwrite: bool = False) -> DirLock:
    """Create and lock ``path``, check it again under the lock (:func:`check_new_run_dir`), replace the files
    of :data:`RUN_FILES` (links are removed, never followed) and write ``config.yaml``; returns the lock.  On
    an OSError remove the directories it created and raise a ValueError naming the problem."""
    created = []
    parent = path
    while not parent.exists() and parent != parent.parent:
        created.append(parent)
        parent = parent.parent
    lock = None
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = lock_run_dir(path)
        check_new_run_dir(path, overwrite)
        for name in RUN_FILES:
            f = path / name
            if f.is_dir() and not f.is_symlink():
                shutil.rmtree(f)
            elif os.path.lexists(f):
                f.unlink()
        atomic_write_text(path / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
        return lock
    except BaseException as exc:
        if lock is not None:
            lock.release()
        for d in created:
            if d.exists():
                d.rmdir()
        if isinstance(exc, OSError):
            raise ValueError(f"cannot write run directory {path}: {exc.strerror or exc}") from None
        raise


def resolve_gamma(cfg: dict, env) -> None:
    """``algo.gamma: null`` takes a tabular game's own discount; a tabular run must use the game's discount."""
    if "gamma" not in cfg["algo"]:
        return
    game = getattr(env, "game", None)
    g = cfg["algo"]["gamma"]
    if g is None:
        if game is None:
            raise ValueError("algo.gamma=null is only allowed for tabular games (it takes the game's discount)")
        cfg["algo"]["gamma"] = float(game.gamma)
    elif game is not None and not math.isclose(g, game.gamma, abs_tol=1e-12):
        raise ValueError(f"algo.gamma={g} differs from the tabular game's discount {game.gamma}; the deep "
                         f"objective would not be the engine's (use algo.gamma=null)")


def build_env(cfg: dict, num_envs: int, seed: int):
    return make_env(cfg["env"], cfg["task"], num_envs, seed=seed, **(cfg.get("env_options") or {}))


# -------------------------------------------------------------------- the run
class Run:
    """One run: ``Loop(cfg, run_dir).run()`` or ``Loop.resume(run_dir).run()`` for a loop subclass."""

    Train: ClassVar[type] = TrainSettings
    #: the loop's own timing columns of progress.csv (seconds per logging window)
    time_fields: ClassVar[tuple[str, ...]] = ("time_env", "time_act")

    def __init__(self, cfg: dict, run_dir, *, overwrite: bool = False, _resuming: bool = False):
        self.cfg = validate(cfg)
        self.dir = Path(run_dir)
        self._lock = None
        if not _resuming:
            if self.dir.is_dir() and os.access(self.dir, os.W_OK | os.X_OK):
                lock_run_dir(self.dir).release()  # another process trains here: say so, before its files do
            check_new_run_dir(self.dir, overwrite)
        check_device(cfg["device"])
        self.train_cfg = build_settings(self.Train, cfg["train"], "train")
        torch.set_num_threads(cfg["threads"])
        self.seeds = seeds(cfg["seed"])
        self.seeds.seed_torch()
        self.env = build_env(cfg, cfg["num_envs"], self.seeds.env_seed)
        check_supported(cfg["algo_name"], self.env.spec)  # before the evaluation copies and the networks
        resolve_gamma(self.cfg, self.env)
        self.eval_env = build_env(cfg, cfg["eval_num_envs"], self.seeds.eval_seed)
        self.algo: Algorithm = make_algo(cfg["algo_name"], self.env.spec, cfg["algo"], device=cfg["device"])
        self.rng = self.seeds.sampling()
        self.obs = self.env.reset(seed=self.seeds.env_seed)
        self.setup()
        t = self.train_cfg
        self.counters = {"env_steps": 0, "vector_steps": 0, "updates": 0, "episodes": 0,
                         "next_log": t.log_interval, "next_eval": t.eval_interval or math.inf,
                         "next_ckpt": t.checkpoint_interval or math.inf, "wall_time": 0.0}
        self.ep_ret = np.zeros(self.env.num_envs)
        self._reset_window()
        rates = list(OUTCOMES.values())
        self.progress_fields = (["env_steps", "updates", "episodes", "episode_return", *rates, "env_steps_per_s",
                                 "updates_per_s", *self.time_fields, *self.algo.stat_names(), "wall_time"])
        self.eval_fields = list(EVAL_FIELDS)
        self._writer = None
        self._start = time.time()
        if not _resuming:
            self._lock = create_run_dir(self.dir, self.cfg, overwrite)

    # ---------------------------------------------------------------- hooks of a loop
    def setup(self) -> None:
        """Build the loop's own state (called once the algorithm and the first observation exist)."""

    def collect(self) -> None:
        """Act and step the environments (one or more vector steps, each reported to :meth:`observe`)."""
        raise NotImplementedError

    def ready_to_train(self) -> bool:
        return True

    def train(self) -> None:
        """Update the algorithm (each update's statistics reported to :meth:`record_update`)."""
        raise NotImplementedError

    def loop_state(self) -> dict:
        """The loop's own checkpoint state (plain tensors and containers)."""
        return {}

    def load_loop_state(self, sd: dict) -> None:
        pass

    def episodes_cut(self, last: Reset) -> None:
        """The environments' episodes were cut at the observation ``last`` and restarted (a resume of an
        environment that cannot save its state): drop or end whatever the loop keeps of them."""

    # ---------------------------------------------------------------- bookkeeping for the hooks
    def observe(self, step) -> None:
        """Count one vector step ``step`` of the training environments and the episodes it ended."""
        self.ep_ret += step.reward
        got = episode_outcomes(step)
        for k in np.flatnonzero(step.done):
            self.win["returns"].append(float(self.ep_ret[k]))
            for key, v in got.items():
                self.win["outcomes"].setdefault(key, []).append(float(v[k]))
            self.ep_ret[k] = 0.0
            self.counters["episodes"] += 1
        self.obs = step
        self.counters["vector_steps"] += 1
        self.counters["env_steps"] += self.env.num_envs

    def record_update(self, stats: dict) -> None:
        """Add one update's statistics to the logging window (``time_*`` summed, the others averaged)."""
        self.counters["updates"] += 1
        self.win["n_updates"] += 1
        for k, v in stats.items():
            self.win["stats"][k] = self.win["stats"].get(k, 0.0) + v

    def add_time(self, key: str, seconds: float) -> None:
        self.win["stats"][key] = self.win["stats"].get(key, 0.0) + seconds

    # ---------------------------------------------------------------- checkpoints and resume
    @classmethod
    def resume(cls, run_dir, total_steps: int | None = None, *, truncate_logs: bool = True) -> "Run":
        """Rebuild the run of ``run_dir`` from its checkpoint to continue it: the directory is locked (see
        :func:`lock_run_dir`) and log rows written after the checkpoint are dropped.  ``truncate_logs=False``
        rebuilds it only to evaluate it (nothing is written, nothing locked)."""
        run_dir = Path(run_dir)
        lock = lock_run_dir(run_dir) if truncate_logs and run_dir.is_dir() else None
        try:
            check_no_links(run_dir)
            cfg = read_config(run_dir)
            ck = run_dir / CHECKPOINT
            if not ck.exists():
                raise FileNotFoundError(f"no checkpoint in {run_dir} (expected {ck})")
            sd = load_checkpoint(ck)
            if total_steps is not None:
                cfg["train"]["total_steps"] = int(total_steps)
            run = cls(cfg, run_dir, _resuming=True)
            run._lock, lock = lock, None
        finally:
            if lock is not None:
                lock.release()
        try:
            run.load_state_dict(sd)
            fits = None
        except MISFIT as exc:
            fits = misfit(ck, run_dir, exc)
        done = run.counters.get("env_steps", 0)
        if fits is None and total_steps is not None and total_steps < done:
            fits = ValueError(f"--total-steps {total_steps} is below the {done} env steps {run_dir} has already "
                              f"run; give at least {done}")
        if fits is not None:
            run.close()
            raise fits
        if total_steps is not None:
            atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(run.cfg, sort_keys=False))
        for name in ("progress.csv", "eval.csv") if truncate_logs else ():
            csv_truncate(run_dir / name, run.counters["env_steps"])
        return run

    def state_dict(self) -> dict:
        self.counters["wall_time"] = time.time() - self._start
        win = dict(self.win, elapsed=time.perf_counter() - self.win["t0"])
        del win["t0"]
        env_state = self.env.get_state() if hasattr(self.env, "get_state") else None
        obs = Reset(self.obs.obs, self.obs.state, self.obs.avail)
        return {"format": CHECKPOINT_FORMAT, "algo": self.algo.state_dict(), "loop": self.loop_state(),
                "counters": to_plain(self.counters), "window": to_plain(win),
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "env": to_plain(env_state), "obs": to_plain(vars(obs)), "ep_ret": to_plain(self.ep_ret)}

    def load_state_dict(self, sd: dict) -> None:
        self.algo.load_state_dict(sd["algo"])
        self.load_loop_state(sd["loop"])
        self.counters = dict(sd["counters"])
        self._start = time.time() - float(self.counters["wall_time"])
        win = from_plain(sd["window"])
        win.setdefault("outcomes", {})  # a checkpoint from before outcome rates were logged
        win["t0"] = time.perf_counter() - win.pop("elapsed")
        self.win = win
        self.rng.bit_generator.state = sd["rng"]
        torch.set_rng_state(sd["torch_rng"])
        if sd["env"] is not None and hasattr(self.env, "set_state"):
            self.env.set_state(from_plain(sd["env"]))
            self.obs, self.ep_ret = Reset(**from_plain(sd["obs"])), from_plain(sd["ep_ret"]).copy()
        else:  # an environment without state capture restarts its episodes, on a stream of its own
            self.episodes_cut(Reset(**from_plain(sd["obs"])))
            restart = np.random.SeedSequence((self.seeds.env_seed, self.counters["vector_steps"]))
            self.obs = self.env.reset(seed=int(restart.generate_state(1)[0]))

    def save_checkpoint(self) -> None:
        """Stream the checkpoint into a temporary file beside it, fsync, then rename it into place (atomic;
        no in-memory copy of the replay buffer)."""
        try:
            atomic_write(self.dir / CHECKPOINT, lambda fh: torch.save(self.state_dict(), fh))
        except (RuntimeError, OSError) as exc:  # a failed write (e.g. a full disk): torch wraps it in a RuntimeError
            # where its writer fails, the file object raises the OSError itself where Python's write does
            cause = exc if isinstance(exc, OSError) else exc.__context__
            why = cause.strerror if isinstance(cause, OSError) and cause.strerror else _first_line(exc)
            raise OSError(f"cannot write {self.dir / CHECKPOINT}: {why}") from None

    # ---------------------------------------------------------------- logs
    def _reset_window(self):
        self.win = {"returns": [], "outcomes": {}, "stats": {}, "n_updates": 0, "t0": time.perf_counter(),
                    "steps0": self.counters["env_steps"], "updates0": self.counters["updates"]}

    @property
    def writer(self):
        if self._writer is None and self.train_cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            self._writer = SummaryWriter(str(self.dir / "tb"), purge_step=self.counters["env_steps"] or None)
        return self._writer

    def _log(self) -> dict:
        w, c = self.win, self.counters
        dt = max(time.perf_counter() - w["t0"], 1e-9)
        row = {"env_steps": c["env_steps"], "updates": c["updates"], "episodes": c["episodes"],
               "episode_return": float(np.mean(w["returns"])) if w["returns"] else "",
               "env_steps_per_s": (c["env_steps"] - w["steps0"]) / dt,
               "updates_per_s": (c["updates"] - w["updates0"]) / dt, "wall_time": time.time() - self._start}
        for key, rate in OUTCOMES.items():
            got = w.get("outcomes", {}).get(key)
            row[rate] = float(np.mean(got)) if got else ""
        for k in self.time_fields:
            row[k] = w["stats"].get(k, 0.0)
        for k, v in w["stats"].items():
            if k not in self.time_fields:
                row[k] = v if k.startswith("time_") else v / max(w["n_updates"], 1)
        csv_append(self.dir / "progress.csv", row, self.progress_fields)
        if self.writer is not None:
            for k, v in row.items():
                if k != "env_steps" and v != "":
                    self.writer.add_scalar(f"train/{k}", v, c["env_steps"])
        self._reset_window()
        return row

    def run_evaluation(self, episodes: int | None = None) -> dict:
        """Deterministic-policy episodes on the evaluation copies (and the QRE gap on a tabular game)."""
        episodes = episodes or self.train_cfg.eval_episodes
        outcomes: dict = {}
        rets = evaluate(self.algo, self.eval_env, episodes, self.seeds.eval_seed, outcomes)
        row = {"env_steps": self.counters["env_steps"], "eval_return": float(rets.mean()),
               "eval_return_std": float(rets.std()), "eval_episodes": len(rets), "qre_gap": "",
               "wall_time": time.time() - self._start}
        for key, rate in OUTCOMES.items():
            row[f"eval_{rate}"] = float(outcomes[key].mean()) if key in outcomes else ""
        if hasattr(self.env, "game") and self.algo.temperature() is not None:
            row["qre_gap"] = qre_gap(self.algo, self.env)
        return row

    def _eval_and_log(self) -> dict:
        row = self.run_evaluation()
        csv_append(self.dir / "eval.csv", row, self.eval_fields)
        if self.writer is not None:
            self.writer.add_scalar("eval/return", row["eval_return"], row["env_steps"])
            for rate in OUTCOMES.values():
                if row[f"eval_{rate}"] != "":
                    self.writer.add_scalar(f"eval/{rate}", row[f"eval_{rate}"], row["env_steps"])
            if row["qre_gap"] != "":
                self.writer.add_scalar("eval/qre_gap", row["qre_gap"], row["env_steps"])
        return row

    # ---------------------------------------------------------------- the loop
    def run(self, stop_after: int | None = None) -> dict:
        """Train until ``train.total_steps`` (or ``stop_after`` more :meth:`collect` calls); returns the last
        progress and evaluation rows, and ``interrupted``: the name of the signal (SIGINT, SIGTERM) that
        stopped the run, after a checkpoint was saved (``meharl resume`` continues it), or None."""
        from tqdm import tqdm
        t, c = self.train_cfg, self.counters
        total = t.total_steps
        last = {"progress": None, "eval": None, "interrupted": None}
        bar = tqdm(total=total, initial=min(c["env_steps"], total), unit="step", dynamic_ncols=True,
                   disable=not t.progress, desc=f"{self.cfg['algo_name']} {self.cfg['env']}:{self.cfg['task']}")
        stop: list[int] = []
        handlers = {}
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            handlers = {sig: signal.signal(sig, lambda signum, frame: stop.append(signum))
                        for sig in (signal.SIGINT, signal.SIGTERM)}
        done = 0
        try:
            while c["env_steps"] < total and (stop_after is None or done < stop_after) and not stop:
                before = c["env_steps"]
                self.collect()
                done += 1
                bar.update(c["env_steps"] - before)
                if self.ready_to_train():
                    self.train()
                if c["env_steps"] >= c["next_log"]:
                    last["progress"] = self._log()
                    c["next_log"] = _next(c["next_log"], c["env_steps"], t.log_interval)
                    if last["progress"]["episode_return"] != "":
                        bar.set_postfix(ret=f"{last['progress']['episode_return']:.3g}")
                if c["env_steps"] >= c["next_eval"]:
                    last["eval"] = self._eval_and_log()
                    c["next_eval"] = _next(c["next_eval"], c["env_steps"], t.eval_interval)
                if c["env_steps"] >= c["next_ckpt"]:
                    c["next_ckpt"] = _next(c["next_ckpt"], c["env_steps"], t.checkpoint_interval)
                    self.save_checkpoint()
            if stop and c["env_steps"] < total:
                self.save_checkpoint()
                last["interrupted"] = signal.Signals(stop[0]).name
            elif c["env_steps"] >= total and done:
                if t.final_eval and (last["eval"] is None or last["eval"]["env_steps"] != c["env_steps"]):
                    last["eval"] = self._eval_and_log()
                self.save_checkpoint()
        finally:
            for sig, h in handlers.items():
                signal.signal(sig, h)
            bar.close()
            if self._writer is not None:
                self._writer.flush()
        return last

    def close(self):
        self.env.close()
        self.eval_env.close()
        if self._writer is not None:
            self._writer.close()
        if self._lock is not None:
            self._lock.release()


def _next(threshold: int, steps: int, interval: int) -> int:
    """The first multiple of ``interval`` past ``threshold`` that lies above ``steps``."""
    return threshold + interval * math.ceil((steps - threshold + 1) / interval)
