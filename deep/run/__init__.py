"""Running algorithms: the two loops on one run directory (:mod:`.rundir`), seeding, evaluation.

An algorithm's ``on_policy`` flag picks its loop: the module :data:`LOOP_MODULES` names, whose ``LOOP`` is a
:class:`.rundir.Run` subclass.
"""
from __future__ import annotations

import importlib
from pathlib import Path

LOOP_MODULES = {False: "off_policy", True: "on_policy"}


def loop_class(algo_cls):
    """The :class:`.rundir.Run` subclass that trains ``algo_cls`` (a registered algorithm class)."""
    return importlib.import_module(f"{__name__}.{LOOP_MODULES[bool(algo_cls.on_policy)]}").LOOP


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
