"""``make_env``: one entry point from (env, task, options) to a batched environment.

Simulator packages are imported only when their environment is made, so ``import deep.envs`` stays cheap
and an environment whose package is missing fails only when asked for.
"""
from __future__ import annotations

import os

from .base import BatchedMultiAgentEnv

ENVS = ("tabular", "mpe", "mamujoco")
TABULAR_TASKS = ("paper-matrix", "<path to a saved game .json>")


def env_tasks(env: str) -> tuple[str, ...]:
    """The valid task names of ``env``."""
    if env == "tabular":
        return TABULAR_TASKS
    if env == "mpe":
        from .mpe import TASKS
        return TASKS
    if env == "mamujoco":
        from .mamujoco import TASKS
        return tuple(TASKS)
    raise ValueError(f"unknown env {env!r}; valid envs: {', '.join(ENVS)}")


def _check_options(options: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for {where}; valid: {', '.join(allowed)}")


def _tabular(task: str, num_envs: int, seed: int | None, options: dict) -> BatchedMultiAgentEnv:
    from tabular import load_game
    from tabular.paper import paper_matrix_game

    from .tabular_env import TabularGameEnv
    _check_options(options, ("episode_limit",), "env tabular")
    if task == "paper-matrix":
        game = paper_matrix_game()
    elif task.endswith(".json") and os.path.isfile(task):
        game = load_game(task)
    else:
        raise ValueError(f"unknown tabular task {task!r}; valid tasks: paper-matrix, or the path of an "
                         f"existing game .json file")
    return TabularGameEnv(game, num_envs=num_envs, seed=seed, **options)


def make_env(env: str, task: str, num_envs: int, seed: int | None = None, **options) -> BatchedMultiAgentEnv:
    """``num_envs`` copies of ``task`` in ``env`` ("tabular", "mpe" or "mamujoco"), seeded with ``seed``
    (for mpe and mamujoco, copy k gets ``seed + k`` at the first reset).  Unknown envs, tasks or options
    raise ``ValueError`` naming the valid ones.  Options per env:

    - tabular: ``episode_limit``; task "paper-matrix" or the path of a game saved as JSON;
    - mpe: ``episode_limit`` (mpe2's max_cycles) and the ``mpe2`` constructor's arguments, e.g.
      ``continuous_actions`` (default False, as in mpe2), ``local_ratio``;
    - mamujoco: ``obs_mode`` ("full+id" or "khop"), ``k`` (k-hop depth), ``episode_limit``.
    """
    if env not in ENVS:
        raise ValueError(f"unknown env {env!r}; valid envs: {', '.join(ENVS)}")
    if env == "tabular":
        return _tabular(str(task), num_envs, seed, options)
    if task not in env_tasks(env):
        raise ValueError(f"unknown {env} task {task!r}; valid tasks: {', '.join(env_tasks(env))}")
    if env == "mpe":
        from .mpe import MPEEnv
        return MPEEnv(task, num_envs=num_envs, seed=seed, **options)
    from .mamujoco import MaMuJoCoEnv
    _check_options(options, ("obs_mode", "k", "episode_limit"), "env mamujoco")
    return MaMuJoCoEnv(task, num_envs=num_envs, seed=seed, **options)
