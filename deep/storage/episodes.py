"""Episode replay (QMIX's, as in pymarl's ``EpisodeBatch`` / ``ReplayBuffer``): whole episodes, padded to the
episode limit ``T``, with a mask of the steps that happened.

Agents are stacked (parameter sharing): observations padded with zeros to the largest observation size
``D`` and available-action masks padded with False to the largest action count ``A`` (an agent without a
mask has all its own actions available).  One episode of length ``L <= T`` holds ``state``, ``obs`` and
``avail`` at steps ``0..L`` (step ``L``: the final observation, from which a truncated episode bootstraps),
``act``, ``reward`` and ``terminated`` at steps ``0..L-1`` and ``filled`` (True at ``0..L-1``).  Steps past
the end are zeros, with every action available so that maxima over them stay finite (they are masked out of
any loss).  Each environment copy's episode is staged as it is played and stored when it ends.
"""
from __future__ import annotations

import numpy as np
import torch

from . import check_fits

KEYS = ("state", "obs", "avail", "act", "reward", "term", "filled")


def stack_obs(obs, D: int) -> np.ndarray:
    """Per-agent (E, d_i) observations as one (E, n, D) array, zero-padded."""
    out = np.zeros((obs[0].shape[0], len(obs), D), np.float32)
    for i, o in enumerate(obs):
        out[:, i, :o.shape[1]] = o
    return out


def stack_avail(avail, n_actions, A: int, E: int) -> np.ndarray:
    """Per-agent (E, n_i) masks (or None: all of the agent's ``n_actions[i]`` actions) as one (E, n, A) array."""
    out = np.zeros((E, len(avail), A), bool)
    for i, (m, k) in enumerate(zip(avail, n_actions)):
        out[:, i, :k] = True if m is None else m
    return out


class EpisodeBuffer:
    """A ring of ``capacity`` padded episodes and ``num_envs`` episodes being played (see the module docstring)."""

    def __init__(self, capacity: int, num_envs: int, T: int, n_agents: int, state_dim: int, D: int, A: int):
        self.capacity, self.E, self.T = int(capacity), int(num_envs), int(T)
        shapes = {"state": ((T + 1, state_dim), np.float32), "obs": ((T + 1, n_agents, D), np.float32),
                  "avail": ((T + 1, n_agents, A), bool), "act": ((T, n_agents), np.int64),
                  "reward": ((T,), np.float32), "term": ((T,), bool), "filled": ((T,), bool)}
        check_fits([((self.capacity, *s), dt) for s, dt in shapes.values()],
                   f"the episode buffer (train.buffer_episodes={capacity})")
        self.store = {k: np.zeros((self.capacity, *s), dt) for k, (s, dt) in shapes.items()}
        self.stage = {k: np.zeros((self.E, *s), dt) for k, (s, dt) in shapes.items()}
        self.stage["avail"][:] = True
        self.t = np.zeros(self.E, np.int64)
        self.ptr = self.size = 0

    def add(self, state, obs, avail, act, reward, terminated, done, final_state, final_obs, final_avail) -> int:
        """One vector step (agents stacked: ``obs`` (E, n, D), ``avail`` (E, n, A), ``act`` (E, n)); returns
        the number of episodes that ended and were stored."""
        e, t, st = np.arange(self.E), self.t, self.stage
        st["state"][e, t], st["obs"][e, t], st["avail"][e, t] = state, obs, avail
        st["act"][e, t], st["reward"][e, t], st["term"][e, t], st["filled"][e, t] = act, reward, terminated, True
        ended = np.flatnonzero(done)
        for k in ended:
            L = t[k] + 1
            st["state"][k, L], st["obs"][k, L], st["avail"][k, L] = final_state[k], final_obs[k], final_avail[k]
            for key, arr in self.store.items():
                arr[self.ptr] = st[key][k]
                st[key][k] = True if key == "avail" else 0
            self.ptr = (self.ptr + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)
        self.t = np.where(done, 0, t + 1)
        return len(ended)

    def drop_staged(self) -> None:
        """Forget the episodes being played (cut before their end: they are not stored)."""
        for key, arr in self.stage.items():
            arr[:] = key == "avail"
        self.t[:] = 0

    def sample(self, batch: int, rng: np.random.Generator) -> dict:
        """``batch`` stored episodes drawn uniformly (with replacement), cut to the longest one's length, as
        torch tensors: ``state`` (B, L+1, S), ``obs`` (B, L+1, n, D), ``avail`` (B, L+1, n, A), ``act``
        (B, L, n), ``reward``, ``term``, ``filled`` (B, L)."""
        if self.size == 0:
            raise ValueError("the episode buffer is empty")
        idx = rng.integers(0, self.size, size=batch)
        L = int(self.store["filled"][idx].sum(1).max())
        return {k: torch.from_numpy(v[idx, :L + 1] if k in ("state", "obs", "avail") else v[idx, :L])
                for k, v in self.store.items()}

    # -------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return {"ptr": self.ptr, "size": self.size, "t": torch.from_numpy(self.t.copy()),
                "store": {k: torch.from_numpy(v[:self.size]) for k, v in self.store.items()},
                "stage": {k: torch.from_numpy(v) for k, v in self.stage.items()}}

    def load_state_dict(self, sd: dict) -> None:
        if sd["stage"]["obs"].shape != self.stage["obs"].shape:
            raise ValueError(f"checkpoint episode buffer has staging shape {tuple(sd['stage']['obs'].shape)}, "
                             f"this run {self.stage['obs'].shape}")
        for k in KEYS:
            self.store[k][:len(sd["store"][k])] = sd["store"][k].numpy()
            self.stage[k][:] = sd["stage"][k].numpy()
        self.ptr, self.size, self.t = int(sd["ptr"]), int(sd["size"]), sd["t"].numpy().copy()
