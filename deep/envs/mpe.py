"""MPE (the ``mpe2`` package) as a batched environment: simple_spread_v3, simple_reference_v3 and
simple_speaker_listener_v4, with continuous (Box(0, 1)) or discrete actions.

Each copy is an unwrapped ``mpe2`` ``raw_env`` driven one joint action at a time (its own world step,
rewards and observations, without the AEC turn-taking around them, which doubles the cost).  As in the
reference code: the shared reward is the sum of the agents' rewards, the global state is ``env.state()``
(the agents' observations concatenated) and an episode is truncated after ``episode_limit`` steps
(mpe2's ``max_cycles``, 25); it terminates early only where the scenario says so (``terminate_on_success``).
"""
from __future__ import annotations

import copy
import importlib
import inspect
from typing import Any

import numpy as np
from gymnasium.spaces import Discrete

from ._batch import LoopedEnv, check_int
from .base import EnvSpec

TASKS = ("simple_spread_v3", "simple_reference_v3", "simple_speaker_listener_v4")
# rendering and benchmark info are not part of the batch; a curriculum would need a way to advance it;
# max_cycles is offered as ``episode_limit``, the name every env of the registry uses
_NOT_OPTIONS = {"render_mode", "dynamic_rescaling", "benchmark_data", "curriculum", "max_cycles"}


def _raw_env_class(task: str):
    if task not in TASKS:
        raise ValueError(f"unknown MPE task {task!r}; valid tasks: {', '.join(TASKS)}")
    return importlib.import_module(f"mpe2.{task}").raw_env


def task_options(task: str) -> tuple[str, ...]:
    """The options this task accepts: ``episode_limit`` and ``mpe2`` constructor arguments such as
    ``continuous_actions``, ``local_ratio`` or ``N``."""
    params = inspect.signature(_raw_env_class(task)).parameters
    return ("episode_limit",) + tuple(p for p in params if p not in _NOT_OPTIONS)


def make(task: str, num_envs: int, seed: int | None = None, **options) -> "MPEEnv":
    """The registry's entry (the options are checked against the task's constructor)."""
    from .registry import check_task
    check_task("mpe", task)
    return MPEEnv(task, num_envs=num_envs, seed=seed, **options)


class MPEEnv(LoopedEnv):
    """``num_envs`` copies of the MPE ``task``; ``options`` go to the ``mpe2`` constructor."""

    def __init__(self, task: str, num_envs: int = 1, seed: int | None = None, *, episode_limit: int = 25,
                 **options: Any):
        cls = _raw_env_class(task)
        num_envs = check_int(num_envs, "num_envs")
        unknown = sorted(set(options) - set(task_options(task)))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)} for MPE task {task}; "
                             f"valid: {', '.join(task_options(task))}")
        episode_limit = check_int(episode_limit, "episode_limit")
        try:
            self._envs = [cls(max_cycles=episode_limit, **options) for _ in range(num_envs)]
        except (AssertionError, TypeError) as exc:  # mpe2 checks its arguments with asserts
            raise ValueError(f"bad option for MPE task {task} {options}: {exc}") from None
        e = self._envs[0]
        agents = e.possible_agents
        obs_dims = tuple(e.observation_spaces[a].shape[0] for a in agents)
        spaces = tuple(e.action_spaces[a] for a in agents)
        spec = EnvSpec(name=f"mpe:{task}", n_agents=len(agents), obs_dims=obs_dims, state_dim=sum(obs_dims),
                       action_spaces=spaces, episode_limit=int(e.max_cycles))
        super().__init__(spec, num_envs, seed, [isinstance(s, Discrete) for s in spaces])
        # the global state is the concatenation of the observations: column ranges per agent
        ends = np.cumsum(obs_dims)
        self._cols = [slice(int(b - d), int(b)) for b, d in zip(ends, obs_dims)]

    def _write_obs(self, k: int) -> None:
        e = self._envs[k]
        for i, agent in enumerate(e.world.agents):
            o = e.scenario.observation(agent, e.world)
            self._obs[i][k] = o
            self._state[k, self._cols[i]] = o

    def _reset_copy(self, k: int, seed: int | None) -> None:
        self._envs[k].reset(seed=seed)
        self._write_obs(k)

    def _step_copy(self, k: int, actions: list[np.ndarray]) -> tuple[float, bool]:
        e = self._envs[k]
        e.current_actions = actions
        e._execute_world_step()
        self._write_obs(k)
        return float(sum(e.rewards.values())), bool(e.scenario.is_terminal(e.world))

    def _get_copy(self, k: int) -> dict:
        e = self._envs[k]
        return {"world": copy.deepcopy(e.world), "scenario": copy.deepcopy(e.scenario),
                "rng": copy.deepcopy(e.np_random.bit_generator.state)}

    def _set_copy(self, k: int, snapshot: dict) -> None:
        e = self._envs[k]
        e.world, e.scenario = copy.deepcopy(snapshot["world"]), copy.deepcopy(snapshot["scenario"])
        e.np_random.bit_generator.state = copy.deepcopy(snapshot["rng"])

    def close(self) -> None:
        for e in self._envs:
            e.close()
