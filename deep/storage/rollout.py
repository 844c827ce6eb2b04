"""On-policy rollouts: ``num_envs`` environment copies x ``T`` steps, finished into a batch by the algorithm's
advantage estimator (:class:`deep.algos.estimators.GAE`) with proper time limits: at a *truncation* (a time
limit) the value to bootstrap from is ``V`` of the last state of the finished episode (``Step.final_state``:
the environments auto-reset within the step, so ``s_{t+1}`` already belongs to the next episode).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RolloutBatch:
    """A finished rollout, flattened to ``N = T * num_envs`` rows (time-major)."""

    state: np.ndarray                  #: (N, state_dim)
    obs: list[np.ndarray]              #: per agent (N, obs_dim)
    avail: list[np.ndarray | None]     #: per agent (N, K) bool or None
    actions: list[np.ndarray]          #: per agent, the stored actions
    log_prob: np.ndarray               #: (N, n_agents): each agent's log pi_old of its action
    value: np.ndarray                  #: (N,) V(s) when the rollout finished (return units)
    advantage: np.ndarray              #: (N,) GAE
    returns: np.ndarray                #: (N,) advantage + value: the critic's targets

    def __len__(self) -> int:
        return self.value.shape[0]


class Rollout:
    """Fixed-size storage for one rollout; fill with :meth:`add` T times, then :meth:`finish`."""

    def __init__(self, T: int, num_envs: int, state_dim: int, obs_dims, action_shapes, action_dtypes,
                 avail_dims):
        if T < 1 or num_envs < 1:
            raise ValueError(f"a rollout needs T >= 1 and num_envs >= 1, got T={T}, num_envs={num_envs}")
        self.T, self.E, n = int(T), int(num_envs), len(obs_dims)
        shape = (self.T, self.E)
        self.state = np.zeros(shape + (state_dim,), np.float32)
        self.obs = [np.zeros(shape + (d,), np.float32) for d in obs_dims]
        self.avail = [None if k is None else np.ones(shape + (k,), bool) for k in avail_dims]
        self.actions = [np.zeros(shape + tuple(s), dt) for s, dt in zip(action_shapes, action_dtypes)]
        self.log_prob = np.zeros(shape + (n,), np.float32)
        self.reward = np.zeros(shape, np.float32)
        self.terminated = np.zeros(shape, bool)
        self.truncated = np.zeros(shape, bool)
        self.final_state = np.zeros(shape + (state_dim,), np.float32)  #: meaningful on truncated rows
        self.t = 0

    def add(self, state, obs, avail, actions, log_prob, reward, terminated, truncated, final_state):
        """One vector step: what was seen and done at ``s_t`` and what the step returned (``final_state``:
        the step's ``Step.final_state``; only its truncated rows are used)."""
        if self.t >= self.T:
            raise ValueError(f"the rollout is full ({self.T} steps); call finish() first")
        t = self.t
        self.state[t] = state
        for i in range(len(self.obs)):
            self.obs[i][t] = obs[i]
            if self.avail[i] is not None:
                self.avail[i][t] = avail[i]
            self.actions[i][t] = actions[i]
        self.log_prob[t] = np.stack(log_prob, axis=1)
        self.reward[t] = reward
        self.terminated[t], self.truncated[t] = terminated, truncated
        if np.any(truncated):
            self.final_state[t] = final_state
        self.t += 1

    def finish(self, value_fn, last_state, advantages) -> RolloutBatch:
        """The batch, with ``value_fn(states (B, state_dim)) -> (B,)`` the critic's ``V`` (one batched call over
        the rollout's states, the truncated episodes' final states and ``last_state``, the states the next
        rollout starts from) and ``advantages(reward, value, next_value, terminated, done) -> (advantages,
        returns)``, each (T, E) (:class:`deep.algos.estimators.GAE`); resets the storage."""
        if self.t != self.T:
            raise ValueError(f"the rollout holds {self.t} of {self.T} steps")
        N, E = self.T * self.E, self.E
        trunc = self.truncated.reshape(N)
        states = np.concatenate([self.state.reshape(N, -1), np.asarray(last_state, np.float32),
                                 self.final_state.reshape(N, -1)[trunc]])
        v = np.asarray(value_fn(states), np.float32)
        value = v[:N].reshape(self.T, E)
        next_value = np.concatenate([value[1:], v[N:N + E][None]], axis=0).reshape(N)
        next_value[trunc] = v[N + E:]
        adv, ret = advantages(self.reward, value, next_value.reshape(self.T, E), self.terminated,
                              self.terminated | self.truncated)
        flat = lambda x: x.reshape((N,) + x.shape[2:])  # noqa: E731
        self.t = 0
        return RolloutBatch(state=flat(self.state).copy(), obs=[flat(o).copy() for o in self.obs],
                            avail=[None if m is None else flat(m).copy() for m in self.avail],
                            actions=[flat(a).copy() for a in self.actions], log_prob=flat(self.log_prob).copy(),
                            value=value.reshape(N), advantage=adv.reshape(N).astype(np.float32),
                            returns=ret.reshape(N).astype(np.float32))
