"""Value estimators: the discount and the targets an algorithm computes from what its storage returns.

An algorithm owns its estimator (built from its settings) and storage keeps raw per-step data, so the discount
has one owner.  :class:`NStepReturn` turns replay windows (:meth:`deep.storage.replay.ReplayBuffer.sample`)
into n-step soft targets' terms and :class:`GAE` a rollout's rewards and values
(:meth:`deep.storage.rollout.Rollout.finish`) into advantages and returns, both in float64;
:class:`OneStepTD` (QMIX) and :class:`SoftTDLambda` (FOP) make targets over sampled whole episodes from the
bootstrap values the algorithm computes with its target networks, in the tensors' dtype.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class NStepReturn:
    """n-step soft targets' terms from replay windows of ``steps`` steps.

    A window starts at a sampled step ``t`` and its chain runs for ``m <= steps`` steps, stopping at the first
    episode end (``alive``).  The batch gets

    * ``reward_sum``: ``R = sum_{k<m} gamma^k r_{t+k}``;
    * ``logp_sum``: ``L_i = sum_{1<=k<m} gamma^k log mu^i(a^i_{t+k}|o_{t+k})``, agent i's log-probabilities,
      recorded when acting, of the intermediate steps.  A soft target subtracts ``alpha_i L_i`` only with
      ``n_step_entropy`` (docs/settings.md, "n-step soft targets"; by default, as in the reference code, the
      entropy term enters at the bootstrap alone);
    * ``disc``: ``gamma^m``, or 0 if the chain ended in a true termination (a truncation bootstraps).
    """

    gamma: float
    steps: int

    def __call__(self, windows: dict) -> dict:
        """The batch of :meth:`ReplayBuffer.sample`'s ``windows`` with their raw ``reward`` (B, n), ``logp``
        (B, n, agents), ``alive`` (B, n) and ``terminal`` (B,) replaced by float32 ``reward_sum``, ``logp_sum``
        and ``disc``."""
        rest = {k: v for k, v in windows.items() if k not in ("reward", "logp", "alive", "terminal")}
        alive, reward, logp = windows["alive"].numpy(), windows["reward"].numpy(), windows["logp"].numpy()
        w = alive * self.gamma ** np.arange(self.steps, dtype=np.float64)
        R = (w * reward).sum(1)
        L = (w[:, 1:, None] * logp[:, 1:]).sum(1)
        m = alive.sum(1)                                  # chain length
        disc = np.where(windows["terminal"].numpy(), 0.0, self.gamma ** m.astype(np.float64))
        f = torch.from_numpy
        return {"state": rest.pop("state"), "reward_sum": f(R.astype(np.float32)),
                "logp_sum": f(L.astype(np.float32)), "disc": f(disc.astype(np.float32)), **rest}


def gae(reward, value, next_value, terminated, done, gamma: float, lam: float):
    """Advantages and returns, each (T, E), from arrays of shape (T, E) (:class:`GAE`); ``next_value``'s
    entries at terminated steps are ignored.  Computed in float64."""
    reward, value, next_value = (np.asarray(x, np.float64) for x in (reward, value, next_value))
    carry = gamma * lam * (1.0 - np.asarray(done, np.float64))
    delta = reward + gamma * np.where(np.asarray(terminated, bool), 0.0, next_value) - value
    adv = np.zeros_like(delta)
    last = np.zeros(delta.shape[1:])
    for t in range(delta.shape[0] - 1, -1, -1):
        last = delta[t] + carry[t] * last
        adv[t] = last
    return adv, adv + value


@dataclass(frozen=True)
class GAE:
    """Generalised advantage estimation (Schulman et al. 2016) with proper time limits, per copy, backwards:

        delta_t = r_t + gamma * (1 - terminated_t) * V_next_t - V(s_t)
        A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},      return_t = A_t + V(s_t)

    where ``V_next_t`` is ``V(s_{t+1})`` inside an episode and, at a *truncation* (a time limit), ``V`` of the
    last state of the finished episode.  A *termination* does not bootstrap; either end stops the recursion
    (``done_t``).  The reference code instead zeroes the advantage of a truncated step; bootstrapping from the
    final state is the estimator without that bias."""

    gamma: float
    lam: float

    def __call__(self, reward, value, next_value, terminated, done):
        """``(advantages, returns)`` (:func:`gae`)."""
        return gae(reward, value, next_value, terminated, done, self.gamma, self.lam)


@dataclass(frozen=True)
class OneStepTD:
    """``y_t = r_t + gamma (1 - terminated_t) V_{t+1}`` over whole episodes."""

    gamma: float

    def __call__(self, reward: torch.Tensor, terminated: torch.Tensor, next_value: torch.Tensor) -> torch.Tensor:
        """(B, L) rewards, termination flags and bootstrap values -> (B, L) targets."""
        return reward + self.gamma * (1 - terminated.float()) * next_value


@dataclass(frozen=True)
class SoftTDLambda:
    """The soft TD(lambda) return over whole episodes, backwards in time:
    ``G_t = r_t + gamma (1 - terminated_t) [(1 - lam) U_{t+1} + lam (G_{t+1} + H_{t+1})]``, with ``U_{t+1}`` the
    bootstrap soft value and ``H_{t+1}`` the entropy term of the action taken at ``t+1``; a step whose episode
    ends after it (no filled step ``t+1``) bootstraps from ``U_{t+1}`` alone."""

    gamma: float
    lam: float

    def __call__(self, reward, terminated, filled, u, ent_taken) -> torch.Tensor:
        """(B, L) rewards, termination flags, filled-step mask and bootstrap values ``u`` (``U_{t+1}`` at
        column ``t``), (B, L-1) entropy terms ``ent_taken`` (``H_{t+1}`` at column ``t``) -> (B, L) returns."""
        cont = 1.0 - terminated.float()
        more = filled[:, 1:].float()      # step t+1 is a step of the same episode
        g = torch.zeros_like(reward)
        after = torch.zeros_like(reward[:, 0])
        for t in reversed(range(reward.shape[1])):
            if t + 1 < reward.shape[1]:
                blend = (1 - self.lam) * u[:, t] + self.lam * (after + ent_taken[:, t])
                nxt_value = more[:, t] * blend + (1 - more[:, t]) * u[:, t]
            else:
                nxt_value = u[:, t]
            g[:, t] = reward[:, t] + self.gamma * cont[:, t] * nxt_value
            after = g[:, t]
        return g
