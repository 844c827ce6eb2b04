"""Deterministic HASAC, the paper's ablation of stochastic policies (Section 5.3, Fig. 4a): HASAC's critic and
sequential update with deterministic actors and fixed Gaussian exploration noise, maximising the standard
objective (no entropy).

One gradient update is HASAC's (:mod:`deep.algos.hasac`) at ``alpha = 0`` with deterministic actors:

1. the critic: both networks regress on the n-step target ``y = R + disc * min Q_target(s', mu(o'))``, the
   bootstrap actions being the *current* actors' (as HASAC's fresh samples; no target actors, no smoothing);
2. a fresh random permutation; agent ``i_m`` maximises ``min(Q1, Q2)(s, a^{i_{1:m-1}}_new, mu^{i_m}(o), a^{-i_{1:m}}_old)``
   (eq. 10 without the entropy term) against the fixed critic, at every update (no delay);
3. Polyak averaging of the target critics.

Everything else (actors, exploration noise, the sequential loop, checkpoints) is :class:`~deep.algos.hatd3.HATD3`'s.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from deep.config import choice, integer, number, sizes

from .base import register
from .hatd3 import HATD3


@dataclass(frozen=True)
class HASACDetParams:
    """Defaults: HASAC's (HASAC_SETTINGS.md common settings and MPE row, as ``deep.algos.hasac``), with the
    reference code's exploration noise of its deterministic actors (HATD3 / HADDPG ``expl_noise``); the paper
    gives no value for the ablation's noise."""

    hidden: tuple = sizes((256, 256), "hidden layer sizes of every actor and critic MLP")
    actor_lr: float = number(5e-4, "actors' Adam learning rate", lo=0, lo_open=True)
    critic_lr: float = number(5e-4, "critics' Adam learning rate", lo=0, lo_open=True)
    gamma: float = number(0.99, "discount", lo=0, hi=1, hi_open=True,
                          allow_none="for a tabular game's own discount")
    n_step: int = integer(20, "steps of the n-step targets (deep/storage/replay.py)")
    polyak: float = number(0.005, "Polyak averaging rate of the target critics", lo=0, hi=1, lo_open=True)
    batch_size: int = integer(1000, "transitions per gradient update")
    expl_noise: float = number(0.1, "std of the Gaussian exploration noise, in half action ranges", lo=0)
    critic_loss: str = choice("mse", "critic regression loss: squared or Huber", "mse", "huber")
    huber_delta: float = number(10.0, "Huber loss threshold", lo=0, lo_open=True)


@register("hasac-det")
class HASACDet(HATD3):
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
