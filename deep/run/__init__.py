"""Running algorithms: the loop skeleton (:mod:`.loop`) and its loops, on one run directory (:mod:`.rundir`),
logged by :mod:`.logger`; seeding and evaluation.

An algorithm's ``loop`` (a module name), or else its ``on_policy`` flag, picks its loop
(:func:`deep.configure.loop_class`): the module's ``LOOP``, a :class:`.loop.Run` subclass.
"""
from __future__ import annotations

from pathlib import Path

from ..configure import loop_class

__all__ = ["loop_class", "resume", "start"]


def start(cfg: dict, run_dir, *, overwrite: bool = False):
    """A new run of ``cfg`` in ``run_dir``, on its algorithm's loop, ready to :meth:`~.loop.Run.run`.

    Parameters
    ----------
    cfg : dict
        A config, as :func:`deep.configure.resolve` makes it; checked here and never changed.
    run_dir : path
        The run directory, created if missing; it must not hold a run already.
    overwrite : bool
        Replace a run or logs already in ``run_dir``.

    Returns
    -------
    deep.run.loop.Run
        The run (a subclass for the algorithm's loop), holding ``run_dir``'s lock until :meth:`~.loop.Run.close`.

    Raises
    ------
    ValueError
        Naming the problem, before anything is written: a bad config, an algorithm that cannot act in the
        environment, a directory that holds a run or is in use.

    Examples
    --------
    >>> import tempfile
    >>> from deep.configure import resolve
    >>> cfg = resolve("tabular", "paper-matrix", overrides=["num_envs=2", "train.progress=false",
    ...                                                     "train.tensorboard=false"])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     run = start(cfg, f"{d}/run")
    ...     last = run.run(stop_after=3)  # three vector steps of the two copies
    ...     run.close()
    ...     print(run.counters["env_steps"], sorted(p.name for p in run.dir.iterdir()))
    6 ['config.yaml']
    """
    from ..algos.base import algo_class
    return loop_class(algo_class(cfg["algo_name"]))(cfg, run_dir, overwrite=overwrite)


def resume(run_dir, total_steps: int | None = None, *, truncate_logs: bool = True):
    """The run of ``run_dir`` rebuilt from its checkpoint, on its algorithm's loop, to continue it exactly.

    Parameters
    ----------
    run_dir : path
        A run directory with a checkpoint.
    total_steps : int, optional
        A new budget of environment steps (at least those already run); written to its ``config.yaml``.
    truncate_logs : bool
        Lock the directory and drop the log rows written after the checkpoint (they will be written again);
        False rebuilds the run only to evaluate it: nothing is written, nothing locked.

    Returns
    -------
    deep.run.loop.Run
        The run, at its checkpoint's step.

    Raises
    ------
    ValueError
        Naming the problem: no run directory or checkpoint, a damaged or foreign checkpoint, one that does
        not fit the config, a budget below the steps already run.

    Examples
    --------
    A run of 6 environment steps (it ends with a checkpoint), continued to 10:

    >>> import tempfile
    >>> from deep.configure import resolve
    >>> quiet = ["train.progress=false", "train.tensorboard=false", "num_envs=2", "eval_num_envs=2"]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     first = start(resolve("tabular", "paper-matrix", overrides=[*quiet, "train.total_steps=6"]), d)
    ...     _ = first.run()
    ...     first.close()
    ...     again = resume(d, total_steps=10)
    ...     again.close()
    ...     print(again.counters["env_steps"], again.cfg["train"]["total_steps"])
    6 10
    """
    from ..algos.base import algo_class
    from .rundir import read_config
    cfg = read_config(Path(run_dir))
    return loop_class(algo_class(cfg.get("algo_name", "hasac"))).resume(run_dir, total_steps,
                                                                      truncate_logs=truncate_logs)
