"""PPO (Schulman et al. 2017) as the paper's single-agent baseline: one centralised agent acting on the joint
action from the concatenation of every agent's observation.

The joint action space is the product of the agents': a diagonal Gaussian over all agents' Box dimensions, or,
for discrete agents, a *factorised* head (a product of categoricals, one per Discrete agent / MultiDiscrete
component, all from the one network; available-action masks concatenated).  A mix of Box and discrete agents is
refused.  Because the joint distribution factorises over agents, each agent's share of the log-probability is
well defined and stored per agent like the other algorithms'; the ratio is the joint one.  The update is PPO-clip
on that single policy (``ppo_epochs`` x ``actor_minibatches`` steps with entropy bonus), then the critic
(:mod:`deep.algos.on_policy_base`).
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium.spaces import Box, Discrete, MultiDiscrete

from deep.nets.distributions import make_policy

from .base import register
from .on_policy_base import OnPolicyAlgorithm, PPOClipParams


def _width(space) -> int:
    """How many entries an agent's action has in the joint action (Box dims, 1, or MultiDiscrete components)."""
    if isinstance(space, Box):
        return int(np.prod(space.shape))
    return 1 if isinstance(space, Discrete) else len(np.asarray(space.nvec).ravel())


def joint_space(spaces):
    """The joint action space of the centralised agent (Box or MultiDiscrete)."""
    if all(isinstance(s, Box) for s in spaces):
        return Box(np.concatenate([np.ravel(s.low) for s in spaces]),
                   np.concatenate([np.ravel(s.high) for s in spaces]))
    if all(isinstance(s, (Discrete, MultiDiscrete)) for s in spaces):
        return MultiDiscrete(np.concatenate([[s.n] if isinstance(s, Discrete) else np.ravel(s.nvec)
                                             for s in spaces]))
    raise ValueError("ppo's joint action needs every agent's actions to be Box or every agent's to be discrete; "
                     f"got {[type(s).__name__ for s in spaces]}")


@register("ppo")
class PPO(OnPolicyAlgorithm):
    Params = PPOClipParams

    def build_actors(self) -> list:
        s, p = self.spec, self.params
        if p.share_params:
            raise ValueError("ppo has a single agent; share_params does not apply")
        self.space = joint_space(s.action_spaces)
        self.cuts = np.cumsum([0] + [_width(a) for a in s.action_spaces])
        return [make_policy(sum(s.obs_dims), self.space, list(p.hidden), p.feature_norm, p.init_std, p.std_max)]

    def policy_inputs(self, obs, avail):
        o = self._t(np.concatenate([np.asarray(x, np.float32) for x in obs], axis=-1))
        if all(m is None for m in avail):
            return [(o, None)]
        sizes = [int(sp.n) if isinstance(sp, Discrete) else int(np.sum(sp.nvec)) for sp in self.spec.action_spaces]
        n = o.shape[0]
        masks = [np.ones((n, k), bool) if m is None else np.asarray(m, bool) for m, k in zip(avail, sizes)]
        return [(o, self._t(np.concatenate(masks, axis=-1), torch.bool))]

    def policy_actions(self, actions, log_prob):
        if isinstance(self.space, Box):
            joint = np.concatenate([np.asarray(a, np.float32).reshape(len(a), -1) for a in actions], axis=-1)
        else:
            joint = np.concatenate([np.asarray(a, np.int64).reshape(len(a), -1) for a in actions], axis=-1)
        return [(self._t(joint, None), log_prob.sum(-1))]

    def to_agents(self, k, action, dist):
        if isinstance(self.space, Box):
            per_entry = dist.base_dist.log_prob(action)
        else:
            per_entry = torch.stack([p.log_prob(action[:, j]) for j, p in enumerate(dist.parts)], -1)
        stored, logps = [], []
        for i, sp in enumerate(self.spec.action_spaces):
            lo, hi = self.cuts[i], self.cuts[i + 1]
            a = action[:, lo:hi]
            stored.append((a[:, 0] if isinstance(sp, Discrete) else a).cpu().numpy())
            logps.append(per_entry[:, lo:hi].sum(-1).cpu().numpy())
        return stored, logps

    def action_probs(self, agent: int, obs: torch.Tensor, avail: torch.Tensor | None = None) -> torch.Tensor:
        """Agent ``agent``'s factor of the joint policy (a Discrete agent) at joint observations ``obs``, or at
        ``obs`` seen by every agent (tabular games: each agent observes the one-hot state)."""
        if not isinstance(self.spec.action_spaces[agent], Discrete):
            raise ValueError(f"agent {agent}'s actions are not Discrete")
        if obs.shape[-1] != sum(self.spec.obs_dims):
            obs = torch.cat([obs] * self.spec.n_agents, -1)
        with torch.no_grad():
            return self.actors[0].dist(obs.to(self.device), avail).parts[int(self.cuts[agent])].probs

    def env_actions(self, stored):
        return [np.clip(a, sp.low, sp.high) if isinstance(sp, Box) else a
                for a, sp in zip(stored, self.spec.action_spaces)]

    def update_actors(self, d: dict, rng: np.random.Generator) -> dict:
        return self.ppo_epochs([0], d, rng)
