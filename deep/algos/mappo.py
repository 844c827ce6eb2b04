"""MAPPO (Yu et al. 2022): every agent takes PPO-clip steps at once against the same centralised ``V(s)``.

Per update, on the rollout's GAE advantages ``A`` (normalised), each agent ``i`` independently runs
``ppo_epochs`` passes of minibatch steps on

    L^i = -E[min(rho^i A, clip(rho^i, 1 - eps, 1 + eps) A)] - c_ent * H(pi^i),     rho^i = pi^i / pi^i_old

(eq. 13 of the paper with the clip; simultaneous: no agent sees another's new policy).  With
``share_params`` one network acts for every agent and minimises the mean of their losses (the reference
code's parameter sharing: all agents' samples in one batch).  Then the critic (see
:mod:`deep.algos.on_policy_base`).
"""
from __future__ import annotations

import numpy as np

from .base import register
from .on_policy_base import OnPolicyAlgorithm, PPOClipParams


@register("mappo")
class MAPPO(OnPolicyAlgorithm):
    Params = PPOClipParams

    def update_actors(self, d: dict, rng: np.random.Generator) -> dict:
        agents = range(len(self.actors))
        if self.params.share_params:
            return self.ppo_epochs(list(agents), d, rng)
        stats = {}
        for k in agents:
            stats.update(self.ppo_epochs([k], d, rng))
        return stats
