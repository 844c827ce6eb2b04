"""A run's directory: its files, the checkpoint format, the CSV logs and the lock (:class:`RunDir`).

A run directory holds ``config.yaml`` (the resolved config), ``progress.csv`` (training statistics every
``train.log_interval`` environment steps), ``eval.csv`` (deterministic evaluations), ``tb/`` (TensorBoard) and
``checkpoint.pt``.  The checkpoint holds everything the next step depends on: the algorithm's networks,
targets, optimiser states and temperatures, the loop's own state (a replay buffer), every RNG state, the
environments' state, the counters and the open logging window, so :meth:`Run.resume` continues the *same*
run: its final parameters and its logs (apart from wall-clock columns) equal an uninterrupted run's.
Checkpoints hold plain tensors and containers only and are written atomically (temporary file, fsync,
rename).  One process at a time trains in a directory: it holds ``.lock`` (:func:`lock_run_dir`), and a run
never writes through a symbolic link among its files.  The loop that fills it is :mod:`deep.run.loop`.
"""
from __future__ import annotations

import csv
import io
import os
import pickle
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import yaml

from safeio import DirLock, atomic_write, atomic_write_text, open_append

from ..config import thaw
from ..envs.registry import make_env
from .evaluate import OUTCOMES

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = "meharl-deep-2"  #: checkpoints written before the deep/ restructure have no such key


#: the columns of eval.csv: one per deterministic evaluation (an outcome rate is empty where the env has none)
EVAL_FIELDS = ("env_steps", "eval_return", "eval_return_std", "eval_episodes",
               *[f"eval_{rate}" for rate in OUTCOMES.values()], "qre_gap", "wall_time")


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
    ValueError naming the problem if the file is truncated, corrupted or not of this format.

    The tensors are memory-mapped from the file, not read into memory: the replay buffer they mostly hold is
    copied once, into the run's own buffer, instead of being held twice while it is (or not at all, for a run
    rebuilt only to evaluate it)."""
    try:
        sd = torch.load(path, weights_only=True, mmap=True)
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
        write_config(path, cfg)
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


def write_config(path: Path, cfg) -> None:
    """Write ``config.yaml`` of the run directory ``path`` (``cfg``: a config, plain or frozen)."""
    atomic_write_text(path / "config.yaml", yaml.safe_dump(thaw(cfg), sort_keys=False))


def build_env(cfg, num_envs: int, seed: int):
    """The environment copies ``cfg`` describes, seeded with ``seed``."""
    return make_env(cfg["env"], cfg["task"], num_envs, seed=seed, **(cfg.get("env_options") or {}))


class RunDir:
    """The directory of one run, held by this process while the run is open (see the module docstring)."""

    def __init__(self, path, lock: DirLock | None = None):
        self.path, self.lock = Path(path), lock

    @classmethod
    def probe_new(cls, path, overwrite: bool = False) -> None:
        """Refuse, before anything is built, a new run in ``path`` (:func:`check_new_run_dir`); another
        process training there is named first, before its files are."""
        path = Path(path)
        if path.is_dir() and os.access(path, os.W_OK | os.X_OK):
            lock_run_dir(path).release()
        check_new_run_dir(path, overwrite)

    @classmethod
    def create(cls, path, cfg, overwrite: bool = False) -> "RunDir":
        """A new run directory holding ``cfg`` (:func:`create_run_dir`), locked."""
        return cls(path, create_run_dir(Path(path), cfg, overwrite))

    @classmethod
    def open(cls, path, lock: bool = True) -> "RunDir":
        """The existing run directory ``path``, locked if ``lock`` and it exists; a ValueError if a file of
        the run is a symbolic link."""
        path = Path(path)
        run_dir = cls(path, lock_run_dir(path) if lock and path.is_dir() else None)
        try:
            check_no_links(path)
        except BaseException:
            run_dir.release()
            raise
        return run_dir

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    def read_config(self) -> dict:
        return read_config(self.path)

    def write_config(self, cfg) -> None:
        write_config(self.path, cfg)

    def load_checkpoint(self) -> dict:
        """The checkpoint's contents (:func:`load_checkpoint`); FileNotFoundError if there is none."""
        if not self.checkpoint.exists():
            raise FileNotFoundError(f"no checkpoint in {self.path} (expected {self.checkpoint})")
        return load_checkpoint(self.checkpoint)

    def misfit(self, exc: BaseException) -> ValueError:
        return misfit(self.checkpoint, self.path, exc)

    def save_checkpoint(self, state: Callable[[], dict]) -> None:
        """Stream ``state()`` into a temporary file beside the checkpoint, fsync, then rename it into place
        (atomic; no in-memory copy of the replay buffer); an OSError naming the file if the write fails."""
        try:
            atomic_write(self.checkpoint, lambda fh: torch.save(state(), fh))
        except (RuntimeError, OSError) as exc:  # a failed write (e.g. a full disk): torch wraps it in a RuntimeError
            # where its writer fails, the file object raises the OSError itself where Python's write does
            cause = exc if isinstance(exc, OSError) else exc.__context__
            why = cause.strerror if isinstance(cause, OSError) and cause.strerror else _first_line(exc)
            raise OSError(f"cannot write {self.checkpoint}: {why}") from None

    def append(self, name: str, row: dict, fields) -> None:
        """Append ``row`` to the CSV log ``name`` (:func:`csv_append`)."""
        csv_append(self.path / name, row, fields)

    def truncate_logs(self, max_steps: int) -> None:
        """Drop the log rows written after ``max_steps`` environment steps (:func:`csv_truncate`)."""
        for name in ("progress.csv", "eval.csv"):
            csv_truncate(self.path / name, max_steps)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
