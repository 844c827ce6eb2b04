"""The one batched multi-agent environment interface every adapter implements.

``num_envs`` copies step together.  Agents may see observations of different sizes; a global ``state``
feeds the centralised critic; one shared reward; ``terminated`` (a true end: no bootstrap) and
``truncated`` (a time limit: bootstrap) are kept apart; per-agent available-action masks (``None`` for
agents without discrete actions); per-agent gymnasium action spaces (Box, Discrete, MultiDiscrete).

Auto-reset happens within the same ``step``: a copy whose episode ended is reset at once and its returned
``obs``/``state``/``avail`` are those of the new episode, while the last observation of the finished
episode is in ``final_obs``/``final_state``/``final_avail`` (rows of copies that did not end are
meaningless there).  A replay buffer stores ``(obs, action, reward, final-or-next obs, terminated)``.

Optional, provided by every adapter in this package: ``get_state()`` / ``set_state(state)`` snapshot and
restore every copy mid-episode (so a resumed training run is the same run), and ``Step.info`` carries
``"episode_return"`` and ``"episode_length"``, valid on the rows where ``done``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class EnvSpec:
    name: str
    n_agents: int
    obs_dims: tuple[int, ...]          #: per agent, flat observation size
    state_dim: int                     #: flat global state size
    action_spaces: tuple[Any, ...]     #: per agent, a gymnasium.spaces.Box / Discrete / MultiDiscrete
    episode_limit: int                 #: steps after which an episode is truncated


@dataclass
class Reset:
    obs: list[np.ndarray]              #: per agent, (num_envs, obs_dims[i]) float32
    state: np.ndarray                  #: (num_envs, state_dim) float32
    avail: list[np.ndarray | None]     #: per agent, (num_envs, n_actions_i) bool, or None


@dataclass
class Step(Reset):
    reward: np.ndarray = None          #: (num_envs,) float32, the shared reward
    terminated: np.ndarray = None      #: (num_envs,) bool
    truncated: np.ndarray = None       #: (num_envs,) bool
    final_obs: list[np.ndarray] = None     #: per agent, last obs of episodes that ended this step
    final_state: np.ndarray = None         #: last state of episodes that ended this step
    final_avail: list[np.ndarray | None] = None
    info: dict = field(default_factory=dict)

    @property
    def done(self) -> np.ndarray:
        return self.terminated | self.truncated


def copy_seeds(seed: int, num_envs: int) -> list[int]:
    """One integer seed per environment copy, from independent streams of ``numpy.random.SeedSequence(seed)``:
    copy ``k`` is seeded by ``SeedSequence(seed).spawn(num_envs)[k]`` (whose stream does not depend on
    ``num_envs``), so runs with neighbouring seeds share no copy's stream (``seed + k`` would make seeds s and
    s + 1 share all copies but one)."""
    return [int(c.generate_state(1)[0]) for c in np.random.SeedSequence(int(seed)).spawn(num_envs)]


class BatchedMultiAgentEnv(ABC):
    spec: EnvSpec
    num_envs: int

    @abstractmethod
    def reset(self, seed: int | None = None) -> Reset:
        """Reset every copy; ``seed`` seeds copy k with ``copy_seeds(seed, num_envs)[k]`` (reproducible)."""

    @abstractmethod
    def step(self, actions: Sequence[np.ndarray]) -> Step:
        """``actions[i]`` has shape (num_envs,) int for Discrete, (num_envs, d) for Box / MultiDiscrete."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
