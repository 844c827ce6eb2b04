"""HAPPO (Kuba et al. 2022): agents take PPO-clip steps one by one, each seeing its predecessors' new policies.

Per update, on the rollout's GAE advantages ``A`` (normalised): draw a fresh random permutation ``i_{1:n}``;
with ``M = 1``, for ``m = 1..n`` agent ``i_m`` runs ``ppo_epochs`` passes of minibatch steps on

    L^{i_m} = -E[M min(rho^{i_m} A, clip(rho^{i_m}, 1 - eps, 1 + eps) A)] - c_ent * H(pi^{i_m}),

then ``M <- M * pi^{i_m}_new(a^{i_m}|o) / pi^{i_m}_old(a^{i_m}|o)`` on every sample (no gradient): the
heterogeneous-agent advantage decomposition (Lemma A.1) weights each agent's advantage by the product of the
already-updated agents' ratios (the objective of Appendix B, HAPPO).  Agents never share parameters (a shared
network would change the earlier agents' policies again).  Then the critic (:mod:`deep.algos.on_policy_base`).
"""
from __future__ import annotations

import numpy as np

from .base import register
from .on_policy_base import OnPolicyAlgorithm, PPOClipParams


@register("happo")
class HAPPO(OnPolicyAlgorithm):
    Params = PPOClipParams
    shares = False

    def update_actors(self, d: dict, rng: np.random.Generator) -> dict:
        return self.sequential_turns(d, rng, lambda i, factor: self.ppo_epochs([i], d, rng, factor))
