"""Running algorithms: the loops on one run directory (:mod:`.rundir`), seeding, evaluation.

An algorithm's ``loop`` (a module name), or else its ``on_policy`` flag, picks its loop
(:func:`deep.configure.loop_class`): the module's ``LOOP``, a :class:`.rundir.Run` subclass.
"""
from __future__ import annotations

from pathlib import Path

from ..configure import loop_class

__all__ = ["loop_class", "resume", "start"]


def start(cfg: dict, run_dir, *, overwrite: bool = False):
    """A new run of the (resolved) config ``cfg`` in ``run_dir``, on its algorithm's loop (``overwrite``:
    replace a run or logs already there)."""
    from ..algos.base import algo_class
    return loop_class(algo_class(cfg["algo_name"]))(cfg, run_dir, overwrite=overwrite)


def resume(run_dir, total_steps: int | None = None, *, truncate_logs: bool = True):
    """The run of ``run_dir`` rebuilt from its checkpoint, on its algorithm's loop (see ``Run.resume``)."""
    from ..algos.base import algo_class
    from .rundir import read_config
    cfg = read_config(Path(run_dir))
    return loop_class(algo_class(cfg.get("algo_name", "hasac"))).resume(run_dir, total_steps,
                                                                      truncate_logs=truncate_logs)
