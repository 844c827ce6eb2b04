"""The batching engine shared by the simulator adapters: ``num_envs`` copies stepped in one Python loop.

Copies live in this process (no subprocesses: worker processes spinning against torch's OpenMP threads
for the same cores slow training down; benchmarks/README.md).  This module owns everything the adapters have
in common: action checking, the time limit (truncation), auto-reset with ``final_*`` rows, per-episode
return/length bookkeeping and exact save/restore of the whole batch (``get_state`` / ``set_state``, or
:class:`UnsavableEnv` for simulators that cannot be saved).  An adapter supplies only how to reset, step,
snapshot and restore one copy.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any, Sequence

import numpy as np
from gymnasium.spaces import Box, Discrete, MultiDiscrete

from .base import BatchedMultiAgentEnv, EnvSpec, Reset, Step, copy_seeds


def check_actions(actions: Sequence[Any], spaces: Sequence[Any], num_envs: int) -> list[np.ndarray]:
    """Validate one batch of actions per agent; Box actions are cast to the space's dtype and clipped to
    its bounds (as PettingZoo's ClipOutOfBoundsWrapper does), Discrete ones must be in range."""
    if len(actions) != len(spaces):
        raise ValueError(f"need one action array per agent ({len(spaces)}), got {len(actions)}")
    out = []
    for i, (a, space) in enumerate(zip(actions, spaces)):
        a = np.asarray(a)
        if isinstance(space, Discrete):
            a = a.reshape(-1) if a.ndim == 2 and a.shape[1] == 1 else a
            if a.shape != (num_envs,) or not np.issubdtype(a.dtype, np.integer):
                raise ValueError(f"agent {i}'s Discrete({space.n}) actions must be {num_envs} integers, "
                                 f"got {a.dtype} array of shape {a.shape}")
            if a.min() < space.start or a.max() >= space.start + space.n:
                bad = a[(a < space.start) | (a >= space.start + space.n)]
                raise ValueError(f"agent {i}'s actions must lie in {space.start}..{space.start + space.n - 1}, "
                                 f"got {bad.tolist()}")
        elif isinstance(space, MultiDiscrete):
            if a.shape != (num_envs, *space.shape) or not np.issubdtype(a.dtype, np.integer):
                raise ValueError(f"agent {i}'s MultiDiscrete({space.nvec.tolist()}) actions must be integers of "
                                 f"shape {(num_envs, *space.shape)}, got {a.dtype} array of shape {a.shape}")
            if (a < 0).any() or (a >= space.nvec).any():
                raise ValueError(f"agent {i}'s actions must lie in 0..nvec-1 for nvec {space.nvec.tolist()}, "
                                 f"got rows {a[((a < 0) | (a >= space.nvec)).any(axis=1)].tolist()}")
        elif isinstance(space, Box):
            if a.shape != (num_envs, *space.shape):
                raise ValueError(f"agent {i}'s Box actions must have shape {(num_envs, *space.shape)}, "
                                 f"got {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"agent {i}'s actions contain NaN or infinity")
            a = np.clip(a, space.low, space.high).astype(space.dtype, copy=False)
        else:
            raise ValueError(f"agent {i} has an unsupported action space {space}")
        out.append(a)
    return out


def check_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int, or a ValueError naming ``name`` if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class LoopedEnv(BatchedMultiAgentEnv):
    """``num_envs`` copies of one simulator; subclasses implement the four ``_copy`` hooks (or
    ``_step_batch`` in place of ``_step_copy``, and ``_reset_batch`` to reset several copies at once).

    Hooks write the observation of copy ``k`` into row ``k`` of ``self._obs`` (per agent) and
    ``self._state``.  Beyond the interface, ``Step.info`` holds ``episode_return`` and ``episode_length``
    (valid on rows where ``done``) and, on rows that did not end, ``final_*`` equal the returned
    ``obs``/``state``/``avail`` so a replay buffer may always store ``final_*`` as the next observation.
    A copy that terminates on its last allowed step is ``terminated`` only (no bootstrap).
    """

    def __init__(self, spec: EnvSpec, num_envs: int, seed: int | None, discrete_avail: Sequence[bool]):
        self.spec, self.num_envs = spec, check_int(num_envs, "num_envs")
        self._seed = seed
        n = self.num_envs
        self._obs = [np.zeros((n, d), np.float32) for d in spec.obs_dims]
        self._state = np.zeros((n, spec.state_dim), np.float32)
        # every action of these simulators is always available: constant all-True masks
        self._avail = [np.ones((n, sp.n), bool) if disc else None
                       for sp, disc in zip(spec.action_spaces, discrete_avail)]
        self._t = np.zeros(n, np.int64)
        self._return = np.zeros(n, np.float64)
        self._started = False

    # ---------------------------------------------------------------- per-copy hooks
    @abstractmethod
    def _reset_copy(self, k: int, seed: int | None) -> None:
        """Start a new episode in copy ``k`` (seeding it when ``seed`` is given); write its observation."""

    def _step_copy(self, k: int, actions: list[np.ndarray]) -> tuple[float, bool]:
        """Advance copy ``k`` by one step; write its observation; return (shared reward, terminated).
        Required unless :meth:`_step_batch` is overridden."""
        raise NotImplementedError

    def _reset_batch(self, ks: Sequence[int], seeds: Sequence[int | None]) -> None:
        """Reset copies ``ks`` (``seeds`` alongside).  By default one ``_reset_copy`` each; adapters whose
        copies live in worker processes override this to reset them in parallel."""
        for k, seed in zip(ks, seeds):
            self._reset_copy(int(k), seed)

    def _step_batch(self, actions: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        """Advance every copy by one step; return (shared reward, terminated) per copy, and optionally a third
        array: the copies whose simulator truncated the episode itself (besides ``episode_limit``).  By default
        one ``_step_copy`` per copy; adapters that vectorise across copies override this instead."""
        reward = np.zeros(self.num_envs, np.float64)
        terminated = np.zeros(self.num_envs, bool)
        for k in range(self.num_envs):
            reward[k], terminated[k] = self._step_copy(k, [a[k] for a in actions])
        return reward, terminated

    @abstractmethod
    def _get_copy(self, k: int) -> Any:
        """A plain snapshot (numbers, strings, numpy arrays, lists, dicts: no pickled objects) of copy ``k``'s
        simulator and RNG from which it continues exactly (its observation rows are saved alongside by
        :meth:`get_state`)."""

    @abstractmethod
    def _set_copy(self, k: int, snapshot: Any) -> None:
        """Restore copy ``k``'s simulator and RNG from ``_get_copy``'s snapshot."""

    def _episode_info(self, done: np.ndarray) -> dict:
        """Extra per-episode ``Step.info`` entries of the copies that end this step (rows where ``done``),
        read before they reset; none by default."""
        return {}

    # ---------------------------------------------------------------- interface
    def _view(self) -> Reset:
        return Reset(obs=[o.copy() for o in self._obs], state=self._state.copy(),
                     avail=[None if m is None else m.copy() for m in self._avail])

    def reset(self, seed: int | None = None) -> Reset:
        """Reset every copy; copy ``k`` is seeded with ``copy_seeds(seed, num_envs)[k]``.  Without ``seed`` the
        first reset uses the constructor's seed (if any) and later ones continue each copy's random stream."""
        if seed is None:
            seed, self._seed = self._seed, None
        seeds = [None] * self.num_envs if seed is None else copy_seeds(seed, self.num_envs)
        self._reset_batch(range(self.num_envs), seeds)
        self._t[:] = 0
        self._return[:] = 0.0
        self._started = True
        return self._view()

    def step(self, actions: Sequence[np.ndarray]) -> Step:
        if not self._started:
            raise ValueError("call reset() (or set_state()) before the first step()")
        acts = check_actions(actions, self.spec.action_spaces, self.num_envs)
        reward, terminated, *own = self._step_batch(acts)
        self._t += 1
        self._return += reward
        truncated = ~terminated & ((self._t >= self.spec.episode_limit) | (own[0] if own else False))
        done = terminated | truncated
        final = self._view()
        info = {"episode_return": np.where(done, self._return, np.nan),
                "episode_length": np.where(done, self._t, 0), **self._episode_info(done)}
        ended = np.flatnonzero(done)
        self._reset_batch(ended, [None] * len(ended))
        self._t[done] = 0
        self._return[done] = 0.0
        view = self._view()
        return Step(obs=view.obs, state=view.state, avail=view.avail, reward=reward.astype(np.float32),
                    terminated=terminated, truncated=truncated, final_obs=final.obs,
                    final_state=final.state, final_avail=final.avail, info=info)

    # ---------------------------------------------------------------- exact resume (checkpoints)
    def get_state(self) -> dict:
        """Everything needed to continue these episodes exactly, as plain values (used by checkpoints)."""
        return {"copies": [self._get_copy(k) for k in range(self.num_envs)], "t": self._t.copy(),
                "return": self._return.copy(), "obs": [o.copy() for o in self._obs], "state": self._state.copy()}

    def set_state(self, state: dict) -> Reset:
        """Restore a :meth:`get_state` snapshot; returns the observation the batch is at."""
        if len(state["copies"]) != self.num_envs:
            raise ValueError(f"snapshot holds {len(state['copies'])} copies, this batch has {self.num_envs}")
        for k, snap in enumerate(state["copies"]):
            self._set_copy(k, snap)
        self._t, self._return = np.array(state["t"]), np.array(state["return"])
        self._obs = [np.array(o, np.float32) for o in state["obs"]]
        self._state = np.array(state["state"], np.float32)
        self._seed, self._started = None, True
        return self._view()


class UnsavableEnv(LoopedEnv):
    """A :class:`LoopedEnv` whose simulator cannot be saved mid-episode: :meth:`get_state` returns None, so a
    resumed training run restarts its episodes (``deep.run.loop.Run.episodes_cut``).  ``cannot_save`` is the
    refusal of any attempt to restore one."""

    cannot_save: str

    def get_state(self) -> None:
        return None

    def set_state(self, state):
        raise ValueError(self.cannot_save)

    def _get_copy(self, k: int):
        raise ValueError(self.cannot_save)

    def _set_copy(self, k: int, snapshot) -> None:
        raise ValueError(self.cannot_save)
