"""``make_env``: one entry point from (env, task, options) to a batched environment.

An environment family is one module of this package, named in :data:`FAMILIES`, that defines ``TASKS`` (the
valid task names, shown in errors) and ``make(task, num_envs, seed, **options)`` (which checks the task and
its options and raises ``ValueError`` naming the valid ones).  Family modules, and with them the simulator
packages, are imported only when their environment is asked for, so ``import deep.envs`` stays cheap and
an environment whose package is missing fails only when asked for.
"""
from __future__ import annotations

import importlib

from .base import BatchedMultiAgentEnv

#: family name (or alias) -> module of this package that builds it
FAMILIES = {"tabular": "tabular_env", "mpe": "mpe", "mamujoco": "mamujoco", "smax": "smac", "smac": "smac",
            "smac-sc2": "smac_sc2", "aircombat": "aircombat", "bimanual": "bimanual", "football": "football",
            "pettingzoo": "pettingzoo"}
#: alias -> the family it names.  ``smac`` is the first name of ``smax``: SMAC's maps and conventions on SMAX,
#: JaxMARL's re-implementation of the battles, not StarCraft II (that is ``smac-sc2``).  An alias builds the
#: same environment, and a config or run directory keeps the name it was given.
ALIASES = {"smac": "smax"}
ENVS = tuple(FAMILIES)
#: family -> the name its config files keep (``deep/configs/tasks/<name>/``,
#: ``deep/configs/paper/<algo>/<name>_<task>.yaml``): ``smax``'s are under its first name
CONFIG_NAMES = {"smax": "smac"}


def family_name(env: str) -> str:
    """The family ``env`` names: itself, or the family an alias stands for (``smac`` -> ``smax``)."""
    return ALIASES.get(env, env)


def config_name(env: str) -> str:
    """The name of the config files of ``env`` (a family or an alias): the same files under every name."""
    family = family_name(env)
    return CONFIG_NAMES.get(family, family)


def family_list() -> str:
    """The family names for help texts, each alias marked as such."""
    return ", ".join(f"{env} (alias of {ALIASES[env]})" if env in ALIASES else env for env in ENVS)


def family_module(env: str):
    """The module that builds ``env`` (a family or an alias), or a ValueError naming the valid families."""
    if env not in FAMILIES:
        raise ValueError(f"unknown env {env!r}; valid envs: {', '.join(ENVS)}")
    return importlib.import_module(f"{__package__}.{FAMILIES[env]}")


def env_tasks(env: str) -> tuple[str, ...]:
    """The valid task names of ``env``."""
    return tuple(family_module(env).TASKS)


def check_options(options: dict, allowed, where: str) -> None:
    """A ValueError naming every option of ``options`` not in ``allowed``."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for {where}; valid: {', '.join(allowed)}")


def check_task(env: str, task: str) -> None:
    """A ValueError if ``task`` is not one of ``env``'s :data:`TASKS`."""
    tasks = env_tasks(env)
    if task not in tasks:
        raise ValueError(f"unknown {env} task {task!r}; valid tasks: {', '.join(tasks)}")


def make_env(env: str, task: str, num_envs: int, seed: int | None = None, **options) -> BatchedMultiAgentEnv:
    """``num_envs`` copies of ``task`` in ``env`` (a key of :data:`FAMILIES`: a family or an alias), seeded
    with ``seed``.
    Unknown envs, tasks or options raise ``ValueError`` naming the valid ones.  Options per env:

    - tabular: ``episode_limit``; task "paper-matrix" or the path of a cooperative game file (JSON or .nfg);
    - mpe: ``episode_limit`` (mpe2's max_cycles) and the ``mpe2`` constructor's arguments, e.g.
      ``continuous_actions`` (default False, as in mpe2), ``local_ratio``;
    - mamujoco: ``obs_mode`` ("full+id" or "khop"), ``k`` (k-hop depth), ``episode_limit``;
    - aircombat: ``control`` ("hierarchical" or "direct"), ``episode_limit``;
    - bimanual: ``episode_limit``, ``backend`` ("mujoco", or "isaacgym" for the original Bi-DexHands);
    - smax (SMAC's maps on SMAX; alias ``smac``): ``episode_limit`` (SMAC's per map), ``obs_agent_id``,
      ``obs_last_action``, ``state_last_action`` (all True), ``reward`` ("smac": scaled to 20 per win, or
      "smax"), ``edge`` ("smac": moves off the map masked and the edge harmless, or "smax": SMAX's lethal
      walls);
    - smac-sc2 (StarCraft II through SMAC): ``obs_agent_id``, ``obs_last_action``, ``state_last_action``,
      ``difficulty``;
    - football: ``n_agents`` (controlled players; the task's default as in the reference code), ``workers``
      (processes stepping the copies; 0: in this process);
    - pettingzoo (task ``module:factory`` returning a PettingZoo ParallelEnv): ``episode_limit`` (default: the
      environment's ``max_cycles``), ``workers``, ``team_reward`` ("sum" or "mean"),
      ``global_state`` ("env" or "observations"); every other option is a keyword argument of the factory
      (e.g. ``max_cycles``).
    """
    return family_module(env).make(str(task), num_envs, seed, **options)
