"""Deterministic HASAC, the paper's ablation of stochastic policies (Section 5.3, Fig. 4a): HASAC's critic and
sequential update with deterministic actors and fixed Gaussian exploration noise, maximising the standard
objective (no entropy).

One gradient update is HASAC's (:mod:`deep.algos.hasac`) at ``alpha = 0`` with deterministic actors:

1. the critic: both networks regress on the n-step target ``y = R + disc * min Q_target(s', mu(o'))``, the
   bootstrap actions being the *current* actors' (as HASAC's fresh samples; no target actors, no smoothing);
2. a fresh random permutation; agent ``i_m`` maximises ``min(Q1, Q2)(s, a^{i_{1:m-1}}_new, mu^{i_m}(o), a^{-i_{1:m}}_old)``
   (eq. 10 without the entropy term) against the fixed critic, at every update (no delay);
3. Polyak averaging of the target critics.

Everything else (actors, exploration noise, the sequential loop, checkpoints) is shared with HATD3
(:class:`~deep.algos.deterministic_base.DeterministicActorCritic`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from deep.config import setting_like

from .base import register
from .deterministic_base import DeterministicActorCritic
from .hatd3 import HATD3Params
from .off_policy_base import OffPolicyParams


@dataclass(frozen=True)
class HASACDetParams(OffPolicyParams):
    """The common off-policy settings (:class:`~deep.algos.off_policy_base.OffPolicyParams`, HASAC's defaults:
    docs/settings.md common settings and MPE row) and the reference code's exploration noise of its
    deterministic actors (HATD3's ``expl_noise``); the paper gives no value for the ablation's noise."""

    expl_noise: float = setting_like(HATD3Params, "expl_noise")


@register("hasac-det")
class HASACDet(DeterministicActorCritic):
    Params = HASACDetParams
    target_actors = False

    def next_actions(self, batch) -> list[torch.Tensor]:
        """The current actors' deterministic actions at the next observations (no target actors, no noise)."""
        return [a.rep_of(a.act(batch["next_obs"][i], batch["next_avail"][i]).stored)
                for i, a in enumerate(self.actors)]

    def actor_value(self, state: torch.Tensor, joint: torch.Tensor) -> torch.Tensor:
        """``min(Q1, Q2)(s, a)`` of the fixed critic, as HASAC's actors see it (``TwinCritic.frozen_min_q``)."""
        return self.critic.frozen_min_q(self.critic.state_features(state), joint)

    def actors_due(self) -> bool:
        return True
