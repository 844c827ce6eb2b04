"""Any PettingZoo ``ParallelEnv`` as a batched environment: the family ``pettingzoo``.

The task is an import path ``module:factory``: ``factory(**env_options)`` must return a
``pettingzoo.ParallelEnv`` (e.g. ``mpe2.simple_spread_v3:parallel_env`` with ``env_options.max_cycles=50``).
Four option names belong to this adapter and are not passed on: ``episode_limit``, ``workers``,
``team_reward`` and ``global_state``.  The module is imported with the current directory first on ``sys.path`` (as
``python -m`` would), so a file ``my_env.py`` in the directory a run starts from is found.

Conventions (how an arbitrary ParallelEnv becomes the batch interface of :mod:`deep.envs.base`):

- **agents**: ``possible_agents``, in that order, are the agents; an agent that leaves an episode early
  (terminated or truncated while others go on), or is absent at its start, is handled as SMAC's dead units
  are: zero observation, only action 0 available (of each component), its actions not sent to the
  environment.  An agent that joins an episode after its start (or is not in ``possible_agents``) is refused.
- **observations**: a Box of any shape, flattened (row-major, as ``numpy.ravel``) to float32 for the MLPs;
  or a Dict of an ``observation`` Box and an ``action_mask``.
- **actions**: Discrete and MultiDiscrete (any ``start``: the learner sees actions from 0, the environment gets
  them shifted back), Box with finite bounds (of any shape, flattened; reshaped for the environment).
- **action masks**: the observation's ``action_mask``, else ``info[agent]["action_mask"]``, else all actions;
  a MultiDiscrete agent's mask is its components' masks concatenated (``sum(nvec)`` entries).
- **global state**: ``env.state()`` flattened where the environment has a ``state_space`` (``global_state="env"``,
  the default), else, or with ``global_state="observations"`` (for a state too large for an MLP, e.g. a
  rendered screen), every agent's observation concatenated (a dead agent's block zero).
- **reward**: the shared reward is the sum of the agents' rewards at each step (``team_reward="sum"``), or
  that sum over the number of agents (``"mean"``: the per-agent scale of a team reward every agent receives).
- **episode ends**: an episode ends when no agent is left.  It is ``terminated`` unless an agent that left at
  its last step was truncated and not terminated, which makes it ``truncated`` (bootstrapped); ``episode_limit``
  (default: the environment's ``max_cycles``; required where it has none) truncates it too.  At the last step
  ``final_obs`` holds the observations the environment returned.
- **copies**: ``num_envs`` copies in this process (``workers=0``) or in ``workers`` processes
  (:mod:`deep.envs._workers`; the environment's module must then be importable in a fresh interpreter).  Copy
  ``k`` draws every episode's ``reset(seed=...)`` from its own stream, ``copy_seeds(seed, num_envs)[k]``:
  the same run seed gives the same episodes wherever the environment honours its reset seed.
- **resume**: a PettingZoo environment offers no way to save itself mid-episode as plain values, so
  :meth:`PettingZooEnv.get_state` returns None (:class:`deep.envs._batch.UnsavableEnv`): a resumed training run restores the networks, optimisers,
  replay buffer, random streams and counters exactly, but restarts every copy's episode (on a seed stream of
  its own, :meth:`deep.run.loop.Run.load_state_dict`).  The episodes in progress at the checkpoint are cut
  there (:meth:`deep.run.loop.Run.episodes_cut`: the replay buffer ends them as truncated, bootstrapping
  from the observation the checkpoint saved; the episode replay of ``qmix``/``fop`` drops them), so the
  resumed run is a valid continuation but not step for step the uninterrupted run.
"""
from __future__ import annotations

import functools
import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete, MultiDiscrete

from ._batch import UnsavableEnv, check_int
from ._workers import CopyPool
from .base import EnvSpec

TASKS = ("<module:factory returning a PettingZoo ParallelEnv>",)
OPTIONS = ("episode_limit", "workers", "team_reward", "global_state")  #: the adapter's (the rest: the factory's)
TEAM_REWARDS = ("sum", "mean")
GLOBAL_STATES = ("env", "observations")
_MAX_SEED = 2**31 - 1


def load_factory(task: str) -> Callable:
    """The callable named by ``module:factory`` (``factory`` may be dotted: ``module:Class.create``)."""
    module_name, sep, attr = str(task).partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"env pettingzoo: task {task!r} must be an import path module:factory, "
                         f"e.g. mpe2.simple_spread_v3:parallel_env")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"env pettingzoo: cannot import {module_name} (task {task}): {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"env pettingzoo: {module_name} has no {attr} (task {task})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"env pettingzoo: {task} is not callable")
    return obj


def make_parallel_env(task: str, options: dict):
    """``factory(**options)``, refused unless it is a ``pettingzoo.ParallelEnv``."""
    from pettingzoo import AECEnv, ParallelEnv
    factory = load_factory(task)
    try:
        env = factory(**options)
    except TypeError as exc:
        raise ValueError(f"env pettingzoo: bad env_options {options} for {task}: {exc}") from None
    if not isinstance(env, ParallelEnv):
        hint = (" (an AEC environment: use the module's parallel_env, or "
                "pettingzoo.utils.conversions.aec_to_parallel)" if isinstance(env, AECEnv) else "")
        raise ValueError(f"env pettingzoo: {task} returned a {type(env).__name__}, not a PettingZoo "
                         f"ParallelEnv{hint}")
    return env


# ---------------------------------------------------------------- one agent's spaces, as the learner sees them
@dataclass(frozen=True)
class AgentIO:
    """How one agent's observations and actions are converted between the environment and the learner."""

    obs_shape: tuple[int, ...]
    mask_in_obs: bool                  #: a Dict observation of ``observation`` and ``action_mask``
    space: Any                         #: the learner's action space: Discrete / MultiDiscrete from 0, flat Box
    env_space: Any                     #: the environment's

    @property
    def obs_dim(self) -> int:
        return int(np.prod(self.obs_shape, dtype=np.int64))

    @property
    def components(self) -> list[int]:
        """The sizes of the discrete components of an action (none for a Box agent)."""
        if isinstance(self.space, Discrete):
            return [int(self.space.n)]
        return [int(k) for k in self.space.nvec] if isinstance(self.space, MultiDiscrete) else []

    @property
    def mask_size(self) -> int:
        """Entries of the availability mask: the components' masks concatenated (0: a Box agent has none)."""
        return sum(self.components)

    @classmethod
    def of(cls, agent, obs_space, act_space) -> "AgentIO":
        mask_in_obs = isinstance(obs_space, Dict)
        if mask_in_obs:
            if set(obs_space.spaces) != {"observation", "action_mask"}:
                raise ValueError(f"env pettingzoo: agent {agent}'s Dict observation space must hold exactly "
                                 f"'observation' and 'action_mask', got {', '.join(obs_space.spaces)}")
            obs_space = obs_space["observation"]
        if not isinstance(obs_space, Box):
            raise ValueError(f"env pettingzoo: agent {agent}'s observation space {obs_space} is not a Box "
                             f"(or a Dict of an 'observation' Box and an 'action_mask')")
        if isinstance(act_space, Discrete):
            space = Discrete(int(act_space.n))
        elif isinstance(act_space, MultiDiscrete):
            space = MultiDiscrete(np.ravel(act_space.nvec))
        elif isinstance(act_space, Box):
            if not (np.all(np.isfinite(act_space.low)) and np.all(np.isfinite(act_space.high))):
                raise ValueError(f"env pettingzoo: agent {agent}'s Box actions have infinite bounds; the "
                                 f"algorithms need finite ones")
            space = Box(np.ravel(act_space.low).astype(np.float32), np.ravel(act_space.high).astype(np.float32))
        else:
            raise ValueError(f"env pettingzoo: agent {agent}'s action space {act_space} is not a Box, Discrete "
                             f"or MultiDiscrete")
        return cls(tuple(int(d) for d in obs_space.shape), mask_in_obs, space, act_space)

    def to_env(self, action: np.ndarray):
        """The learner's action in the environment's space."""
        sp = self.env_space
        if isinstance(sp, Discrete):
            return int(action) + int(sp.start)
        if isinstance(sp, MultiDiscrete):
            return (np.asarray(action, np.int64).reshape(sp.shape) + sp.start).astype(sp.dtype)
        return np.asarray(action, sp.dtype).reshape(sp.shape)

    def dead_mask(self) -> np.ndarray | None:
        """A dead agent's availability: action 0 only (of each component); None for a Box agent."""
        if not self.mask_size:
            return None
        mask = np.zeros(self.mask_size, bool)
        mask[np.cumsum([0, *self.components[:-1]])] = True
        return mask


@dataclass(frozen=True)
class Layout:
    """What the batch needs to know of an environment, read from one copy."""

    agents: tuple
    io: tuple[AgentIO, ...]
    state_dim: int | None          #: of ``env.state()``, or None: the observations concatenated
    max_cycles: int | None

    @classmethod
    def of(cls, env, env_state: bool) -> "Layout":
        """``env``'s layout; its ``state()`` is the global state if it has a Box ``state_space`` and ``env_state``."""
        agents = tuple(getattr(env, "possible_agents", None) or ())
        if not agents:
            raise ValueError("env pettingzoo: the environment lists no possible_agents; the algorithms need the "
                             "fixed set of agents it can have")
        if len(set(agents)) != len(agents):
            raise ValueError(f"env pettingzoo: possible_agents lists an agent twice: {list(agents)}")
        io = tuple(AgentIO.of(a, env.observation_space(a), env.action_space(a)) for a in agents)
        state_space = getattr(env, "state_space", None) if env_state else None
        state_dim = int(np.prod(state_space.shape)) if isinstance(state_space, Box) else None
        cycles = getattr(env.unwrapped, "max_cycles", None)
        return cls(agents, io, state_dim, int(cycles) if isinstance(cycles, (int, np.integer)) else None)


# ---------------------------------------------------------------- one copy (in this process or a worker)
class ParallelCopy:
    """One ParallelEnv; its ``reset`` and ``step`` return the learner's rows: (obs per agent, masks per agent,
    state) and, after a step, (shared reward, terminated, truncated)."""

    def __init__(self, task: str, options: dict, team_reward: str, global_state: str):
        self.env = make_parallel_env(task, options)
        self.layout = Layout.of(self.env, global_state == "env")
        self._scale = 1.0 / len(self.layout.agents) if team_reward == "mean" else 1.0
        self._rng = np.random.default_rng()
        self._alive: set = set()

    def reset(self, seed: int | None):
        """Start an episode (re-seeding this copy's stream when ``seed`` is given)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        out = self.env.reset(seed=int(self._rng.integers(_MAX_SEED)))
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError("env pettingzoo: reset() must return (observations, infos), as PettingZoo >= 1.23")
        obs, infos = out
        self._alive = self._agents(set(self.layout.agents), "at a reset without being in possible_agents")
        return self._rows(obs, infos, self._alive)

    def step(self, actions: list[np.ndarray]):
        lay = self.layout
        joint = {a: io.to_env(act) for a, io, act in zip(lay.agents, lay.io, actions) if a in self._alive}
        obs, rewards, terminations, truncations, infos = self.env.step(joint)
        reward = self._scale * float(sum(float(r) for r in rewards.values()))
        left = {a for a in self._alive if terminations.get(a) or truncations.get(a)}
        now = self._agents(self._alive, "an episode after its start") - left
        gone = self._alive - now
        over = not now
        truncated = over and any(truncations.get(a) and not terminations.get(a) for a in gone)
        rows = self._rows(obs, infos, self._alive if over else now)
        self._alive = now
        return (*rows, reward, over and not truncated, truncated)

    def _agents(self, allowed: set, joining: str) -> set:
        """The agents in ``env.agents``; any not in ``allowed`` is refused (``joining`` says when it joined)."""
        now = set(self.env.agents)
        joined = sorted(map(str, now - allowed))
        if joined:
            raise ValueError(f"env pettingzoo: agent(s) {', '.join(joined)} joined {joining}; the algorithms "
                             f"train a fixed set of agents, of which some may leave (as SMAC's dead units)")
        return now

    def _rows(self, obs: dict, infos: dict, alive: set):
        out_obs, out_mask = [], []
        for a, io in zip(self.layout.agents, self.layout.io):
            if a not in alive:
                out_obs.append(np.zeros(io.obs_dim, np.float32))
                out_mask.append(io.dead_mask())
                continue
            if a not in obs:
                raise ValueError(f"env pettingzoo: the environment returned no observation for agent {a}, which "
                                 f"is in env.agents")
            o, mask = obs[a], None
            if io.mask_in_obs:
                o, mask = o["observation"], o["action_mask"]
            elif isinstance(infos.get(a), dict):
                mask = infos[a].get("action_mask")
            out_obs.append(np.asarray(o, np.float32).reshape(io.obs_dim))
            out_mask.append(self._mask(a, io, mask))
        if self.layout.state_dim is None:
            state = np.concatenate(out_obs)
        else:
            state = np.asarray(self.env.state(), np.float32).reshape(self.layout.state_dim)
        return out_obs, out_mask, state

    @staticmethod
    def _mask(agent, io: AgentIO, mask) -> np.ndarray | None:
        if not io.mask_size:
            return None
        if mask is None:
            return np.ones(io.mask_size, bool)
        mask = np.asarray(mask).astype(bool).reshape(-1)
        if mask.size != io.mask_size:
            raise ValueError(f"env pettingzoo: agent {agent}'s action mask has {mask.size} entries, its action "
                             f"space {io.env_space} needs {io.mask_size}")
        if not all(block.any() for block in np.split(mask, np.cumsum(io.components[:-1]))):
            raise ValueError(f"env pettingzoo: agent {agent}'s action mask allows no action (of a component)")
        return mask

    def close(self) -> None:
        self.env.close()


def _make_copy(task: str, options: dict, team_reward: str, global_state: str, k: int) -> ParallelCopy:
    return ParallelCopy(task, options, team_reward, global_state)


# ---------------------------------------------------------------- the batch
def make(task: str, num_envs: int, seed: int | None = None, **options) -> "PettingZooEnv":
    """The registry's entry: ``options`` other than :data:`OPTIONS` are the factory's keyword arguments."""
    return PettingZooEnv(task, num_envs=num_envs, seed=seed, **options)


class PettingZooEnv(UnsavableEnv):
    """``num_envs`` copies of the ParallelEnv ``factory(**factory_options)`` named by ``task`` (module docstring)."""

    cannot_save = "env pettingzoo cannot save or restore an environment mid-episode"

    def __init__(self, task: str, num_envs: int = 1, seed: int | None = None, *, episode_limit: int | None = None,
                 workers: int = 0, team_reward: str = "sum", global_state: str = "env", **factory_options):
        num_envs = check_int(num_envs, "num_envs")
        workers = check_int(workers, "workers", minimum=0)
        if workers > num_envs:
            raise ValueError(f"workers must lie in 0..{num_envs} (num_envs), got {workers}")
        if team_reward not in TEAM_REWARDS:
            raise ValueError(f"unknown team_reward {team_reward!r}; valid: {', '.join(TEAM_REWARDS)}")
        if global_state not in GLOBAL_STATES:
            raise ValueError(f"unknown global_state {global_state!r}; valid: {', '.join(GLOBAL_STATES)}")
        probe = ParallelCopy(task, factory_options, team_reward, global_state)   # refusals here, in this process
        lay = probe.layout
        if episode_limit is None:
            if lay.max_cycles is None:
                probe.close()
                raise ValueError(f"env pettingzoo: {task} has no max_cycles; give env_options.episode_limit")
            episode_limit = lay.max_cycles
        episode_limit = check_int(episode_limit, "episode_limit")
        obs_dims = tuple(io.obs_dim for io in lay.io)
        spec = EnvSpec(name=f"pettingzoo:{task}", n_agents=len(lay.agents), obs_dims=obs_dims,
                       state_dim=sum(obs_dims) if lay.state_dim is None else lay.state_dim,
                       action_spaces=tuple(io.space for io in lay.io), episode_limit=episode_limit)
        super().__init__(spec, num_envs, seed, [False] * len(lay.agents))
        self._avail = [np.ones((num_envs, io.mask_size), bool) if io.mask_size else None for io in lay.io]
        make_copy = functools.partial(_make_copy, task, factory_options, team_reward, global_state)  # picklable
        if workers:
            probe.close()
            factory = make_copy
        else:   # the probe is copy 0
            factory = lambda k: probe if k == 0 else make_copy(k)   # noqa: E731
        self._pool = CopyPool(factory, num_envs, workers)

    @property
    def worker_pids(self) -> list[int]:
        """The worker processes' ids (empty with ``workers=0``)."""
        return self._pool.pids

    def _write(self, k: int, obs, masks, state) -> None:
        for i, (o, m) in enumerate(zip(obs, masks)):
            self._obs[i][k] = o
            if m is not None:
                self._avail[i][k] = m
        self._state[k] = state

    def _reset_batch(self, ks, seeds) -> None:
        for k, rows in self._pool.call("reset", {int(k): (s,) for k, s in zip(ks, seeds)}).items():
            self._write(k, *rows)

    def _reset_copy(self, k: int, seed: int | None) -> None:
        self._reset_batch([k], [seed])

    def _step_batch(self, acts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        results = self._pool.call("step", {k: ([a[k] for a in acts],) for k in range(self.num_envs)})
        reward = np.zeros(self.num_envs, np.float64)
        terminated = np.zeros(self.num_envs, bool)
        truncated = np.zeros(self.num_envs, bool)
        for k, (obs, masks, state, reward[k], terminated[k], truncated[k]) in results.items():
            self._write(k, obs, masks, state)
        return reward, terminated, truncated

    def close(self) -> None:
        self._pool.close()

