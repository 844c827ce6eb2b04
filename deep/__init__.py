"""meharl's deep half: HASAC and baselines with neural approximators (PyTorch), on batched environments.

``make_env`` builds a batched environment by name, ``make_algo`` an algorithm (``ALGOS``) for its spec,
``train`` runs an algorithm on a task into a run directory and ``resume`` continues one.
"""
from .envs.registry import make_env


def __getattr__(name):
    """``ALGOS`` and ``make_algo`` import torch and every algorithm: only when asked for."""
    if name in ("ALGOS", "make_algo"):
        from . import algos
        return getattr(algos, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def train(env: str, task: str, run_dir, *, algo: str = "hasac", seed: int | None = None, overrides=()):
    """Train ``algo`` on ``env``/``task`` with its layered config (``deep.configure.resolve``); returns the
    finished run (its ``algo``, ``counters``, logs in ``run_dir``)."""
    from .configure import resolve
    from .run import start
    run = start(resolve(env, task, seed, overrides, algo=algo), run_dir)
    try:
        run.run()
    finally:
        run.close()
    return run


def resume(run_dir, total_steps: int | None = None):
    """Continue the run of ``run_dir`` from its checkpoint to its end."""
    from .run import resume as _resume
    run = _resume(run_dir, total_steps)
    try:
        run.run()
    finally:
        run.close()
    return run


__all__ = ["ALGOS", "make_algo", "make_env", "train", "resume"]
