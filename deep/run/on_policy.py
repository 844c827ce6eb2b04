"""The on-policy loop: collect a rollout of ``num_envs`` copies x ``rollout_length`` steps, GAE, one update."""
from __future__ import annotations

import numpy as np

from deep.storage.rollout import Rollout


def make_rollout(algo, env, first) -> Rollout:
    """Storage shaped for ``algo``'s stored actions on ``env`` (``first``: a Reset, for the masks' sizes)."""
    probe = algo.act(first.obs, first.avail)
    shapes = [a.shape[1:] for a in probe.stored]
    dtypes = [a.dtype for a in probe.stored]
    avail_dims = [None if m is None else m.shape[-1] for m in first.avail]
    return Rollout(algo.p.rollout_length, env.num_envs, env.spec.state_dim, env.spec.obs_dims, shapes, dtypes,
                   avail_dims)


def collect(algo, env, rollout: Rollout, current, on_step=None):
    """Fill ``rollout`` from ``current`` (the Reset/Step the copies are at); returns (batch, the last Step).
    ``on_step(step)`` is called after every vector step (episode bookkeeping)."""
    for _ in range(rollout.T):
        acted = algo.act(current.obs, current.avail)
        step = env.step(acted.env_actions)
        rollout.add(current.state, current.obs, current.avail, acted.stored, acted.log_prob, step.reward,
                    step.terminated, step.truncated, step.final_state)
        if on_step is not None:
            on_step(step)
        current = step
    return rollout.finish(algo.values, current.state, algo.p.gamma, algo.p.gae_lambda), current
