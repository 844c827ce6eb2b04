"""Replay buffer of vector steps, sampled as windows of consecutive steps.

Transitions are kept as ``(time slot, env copy)`` so that a window follows one copy's episode.  For a sampled
start ``t`` a window holds the raw per-step rewards and log-probabilities (recorded when acting) of steps
``t..t+n-1``, which of them belong to the chain (it stops at the first episode end), whether the chain ended in
a true termination, and the bootstrap state ``s_{t+m}`` after its ``m`` steps (the final observation if the
episode ended).  The algorithm's estimator (:class:`deep.algos.estimators.NStepReturn`) makes targets of them.

Arrays are ``np.zeros`` (pages are committed only as they fill); only filled slots are checkpointed, as
tensors sharing the arrays' memory so that saving makes no copy of them.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from . import check_fits


class ReplaySpec(NamedTuple):
    """What an algorithm asks of the replay: windows per batch and steps per window."""

    batch: int
    steps: int


def _rows(arr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``arr`` (T, E, ...) at flat rows ``slot * E + copy`` (any index shape): one gather, faster than indexing
    with a slot array and a copy array."""
    return np.take(arr.reshape(-1, *arr.shape[2:]), rows, axis=0)


class ReplayBuffer:
    def __init__(self, capacity: int, num_envs: int, state_dim: int, obs_dims, action_shapes, action_dtypes,
                 avail_dims):
        self.E = int(num_envs)
        self.T = max(int(capacity) // self.E, 2)
        self.n_agents = len(obs_dims)
        T, E = self.T, self.E
        rows = [((T, E, d), np.float32) for d in (state_dim, *obs_dims)]
        rows += [((T, E, k), bool) for k in avail_dims if k is not None]
        check_fits([*rows, *rows, *[((T, E, *shp), dt) for shp, dt in zip(action_shapes, action_dtypes)],
                    ((T, E, self.n_agents), np.float32), ((T, E), np.float32), ((T, E), bool), ((T, E), bool)],
                   f"the replay buffer (train.buffer_size={capacity})")
        z = np.zeros
        self.state, self.final_state = z((T, E, state_dim), np.float32), z((T, E, state_dim), np.float32)
        self.obs = [z((T, E, d), np.float32) for d in obs_dims]
        self.final_obs = [z((T, E, d), np.float32) for d in obs_dims]
        self.avail = [None if k is None else z((T, E, k), bool) for k in avail_dims]
        self.final_avail = [None if k is None else z((T, E, k), bool) for k in avail_dims]
        self.act = [z((T, E, *shp), dt) for shp, dt in zip(action_shapes, action_dtypes)]
        self.logp = z((T, E, self.n_agents), np.float32)
        self.reward = z((T, E), np.float32)
        self.term = z((T, E), bool)
        self.done = z((T, E), bool)
        self.ptr = 0
        self.size = 0

    @classmethod
    def for_env(cls, capacity: int, spec, num_envs: int, avail) -> "ReplayBuffer":
        """A buffer for ``num_envs`` copies of ``spec``; ``avail``: a first observation's masks (sizes)."""
        from deep.nets.heads import stored_layout
        layouts = [stored_layout(s) for s in spec.action_spaces]
        return cls(capacity, num_envs, spec.state_dim, spec.obs_dims, [shp for shp, _ in layouts],
                   [dt for _, dt in layouts], [None if m is None else m.shape[-1] for m in avail])

    def __len__(self) -> int:
        return self.size * self.E

    def _fields(self):
        out = {"state": self.state, "final_state": self.final_state, "logp": self.logp, "reward": self.reward,
               "term": self.term, "done": self.done}
        for i in range(self.n_agents):
            out[f"obs{i}"], out[f"final_obs{i}"], out[f"act{i}"] = self.obs[i], self.final_obs[i], self.act[i]
            if self.avail[i] is not None:
                out[f"avail{i}"], out[f"final_avail{i}"] = self.avail[i], self.final_avail[i]
        return out

    def add(self, state, obs, avail, actions, logp, reward, terminated, truncated, final_state, final_obs,
            final_avail) -> None:
        """Store one vector step (per-agent lists; ``logp`` has shape (E, n_agents))."""
        p = self.ptr
        self.state[p], self.reward[p], self.logp[p] = state, reward, logp
        done = np.asarray(terminated) | np.asarray(truncated)
        self.term[p], self.done[p] = terminated, done
        for i in range(self.n_agents):
            self.obs[i][p], self.act[i][p] = obs[i], actions[i]
            if self.avail[i] is not None:
                self.avail[i][p] = avail[i]
        if done.any():
            self.final_state[p][done] = final_state[done]
            for i in range(self.n_agents):
                self.final_obs[i][p][done] = final_obs[i][done]
                if self.avail[i] is not None:
                    self.final_avail[i][p][done] = final_avail[i][done]
        self.ptr = (p + 1) % self.T
        self.size = min(self.size + 1, self.T)

    def truncate_last(self, final_state, final_obs, final_avail) -> None:
        """End the episode of every copy that had not ended at the last stored step, as a time limit would,
        with the observation it led to (the environments' episodes were cut there and restarted)."""
        if self.size == 0:
            return
        p = (self.ptr - 1) % self.T
        cut = ~self.done[p]
        self.done[p] = True
        self.final_state[p][cut] = final_state[cut]
        for i in range(self.n_agents):
            self.final_obs[i][p][cut] = final_obs[i][cut]
            if self.avail[i] is not None:
                self.final_avail[i][p][cut] = final_avail[i][cut]

    def can_sample(self, steps: int) -> bool:
        return self.size > steps

    def sample(self, batch: int, steps: int, rng: np.random.Generator) -> dict:
        """``batch`` windows of ``steps`` steps as torch tensors (see the module docstring): ``state``,
        ``obs``, ``act``, ``avail`` at their start; ``next_state``, ``next_obs``, ``next_avail`` to bootstrap
        from; per step ``reward`` (B, n), ``logp`` (B, n, agents) and ``alive`` (B, n; the step is part of the
        chain); ``terminal`` (B,): the chain ended in a true termination."""
        if not self.can_sample(steps):
            raise ValueError(f"the buffer holds {self.size} vector steps; n-step sampling needs more than {steps}")
        # Chain starts whose next n slots are all written: age (ptr-1-t) mod T >= steps.
        age = steps + rng.integers(0, self.size - steps, size=batch)
        t = (self.ptr - 1 - age) % self.T
        e = rng.integers(0, self.E, size=batch)
        # (slot, copy) pairs as flat row numbers slot * E + copy: one np.take per array and index set
        chain = (t[:, None] + np.arange(steps)) % self.T * self.E + e[:, None]   # (batch, n): the chain's rows
        done = _rows(self.done, chain)
        alive = np.ones((batch, steps), bool)             # step k belongs to the chain: no episode end before it
        alive[:, 1:] = ~np.logical_or.accumulate(done[:, :-1], axis=1)
        last = chain[np.arange(batch), alive.sum(1) - 1]  # row of the chain's last step
        ended = _rows(self.done, last)
        nxt = (last + self.E) % (self.T * self.E)         # the row of the same copy at the next slot
        start, cut = t * self.E + e, last[ended]

        def pick(arr, final):
            out = _rows(arr, nxt)
            out[ended] = _rows(final, cut)
            return out

        f = torch.from_numpy
        return {"state": f(_rows(self.state, start)), "reward": f(_rows(self.reward, chain)),
                "logp": f(_rows(self.logp, chain)), "alive": f(alive), "terminal": f(_rows(self.term, last)),
                "next_state": f(pick(self.state, self.final_state)),
                "obs": [f(_rows(o, start)) for o in self.obs], "act": [f(_rows(a, start)) for a in self.act],
                "next_obs": [f(pick(o, fo)) for o, fo in zip(self.obs, self.final_obs)],
                "avail": [None if a is None else f(_rows(a, start)) for a in self.avail],
                "next_avail": [None if a is None else f(pick(a, fa)) for a, fa in zip(self.avail, self.final_avail)]}

    # -------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return {"ptr": self.ptr, "size": self.size, "T": self.T, "E": self.E,
                # tensors sharing the arrays' memory: torch.save streams them without a pickled copy
                "arrays": {k: torch.from_numpy(v[:self.size]) for k, v in self._fields().items()}}

    def load_state_dict(self, sd: dict) -> None:
        if (sd["T"], sd["E"]) != (self.T, self.E):
            raise ValueError(f"checkpoint buffer has {sd['T']}x{sd['E']} slots, this run {self.T}x{self.E}")
        fields = self._fields()
        for k, v in sd["arrays"].items():
            fields[k][:len(v)] = v.numpy() if torch.is_tensor(v) else v
        self.ptr, self.size = int(sd["ptr"]), int(sd["size"])
