"""What the off-policy actor-critic algorithms (HASAC, SAC, HATD3, deterministic HASAC) share: their common
settings (:class:`OffPolicyParams`) and their base class (:class:`OffPolicyAlgorithm`: what each asks of the
replay and the estimator of its targets, warm-up actions, checkpoints from declared parts)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from deep.config import choice, flag, integer, number, sizes
from deep.nets.mlp import precision_setting
from deep.storage.replay import ReplaySpec

from ._checkpoint import Checkpointed
from .base import ACTION_KINDS, Acted, Algorithm
from .estimators import NStepReturn


def n_step_entropy_setting():
    """The soft actor-critics' choice of n-step target (docs/settings.md, "n-step soft targets"): the default
    sums rewards only along the chain and puts the entropy term at the bootstrap alone, as the reference code
    does; ``true`` also subtracts ``alpha log pi`` of the chain's intermediate (behaviour) actions."""
    return flag(False, "n-step targets also subtract alpha log pi of the chain's intermediate actions "
                       "(default: rewards only, as the reference code)")


@dataclass(frozen=True)
class OffPolicyParams:
    """Hyper-parameters every off-policy actor-critic has (the replay loop's are ``deep.run.off_policy``'s
    ``Train``).  Defaults: HASAC's, docs/settings.md common settings and the MPE row (the paper's Tables 8-10
    and the reference code's tuned configs); an algorithm whose reference differs redeclares the field with
    ``deep.config.setting_like`` and says where its default comes from."""

    hidden: tuple = sizes((256, 256), "hidden layer sizes of every actor and critic MLP")
    actor_lr: float = number(5e-4, "actors' Adam learning rate", lo=0, lo_open=True)
    critic_lr: float = number(5e-4, "critics' Adam learning rate", lo=0, lo_open=True)
    gamma: float = number(0.99, "discount", lo=0, hi=1, hi_open=True,
                          allow_none="for a tabular game's own discount")
    n_step: int = integer(20, "steps of the n-step targets (deep/algos/estimators.py)")
    polyak: float = number(0.005, "Polyak averaging rate of the target networks", lo=0, hi=1, lo_open=True)
    batch_size: int = integer(1000, "transitions per gradient update")
    critic_loss: str = choice("mse", "critics' loss on the Bellman residual: squared or Huber", "mse", "huber")
    huber_delta: float = number(10.0, "Huber loss threshold", lo=0, lo_open=True)
    precision: str = precision_setting("actors' and critics' hidden-layer matrix products")


class OffPolicyAlgorithm(Checkpointed, Algorithm):
    """Base of the replay-buffer actor-critics: each declares its checkpoint parts (``state_parts``) and has
    ``actors`` (one per agent, each able to draw uniform ``random`` actions) unless it overrides
    :meth:`random_act`, and a ``critic_target`` unless it overrides :meth:`target_params`."""

    on_policy = False
    supports = frozenset(ACTION_KINDS)

    def __init__(self, spec, params, *, device: str = "cpu"):
        super().__init__(spec, params, device=device)
        self.replay = ReplaySpec(params.batch_size, params.n_step)   #: the windows each update samples
        self.returns = NStepReturn(params.gamma, params.n_step)      #: makes a batch's targets of its windows
        self.updates = 0   #: gradient updates made

    @property
    def n_agents(self) -> int:
        return self.spec.n_agents

    def random_act(self, avail: Sequence, num: int, rng: np.random.Generator) -> Acted:
        """Uniform warm-up actions over the available ones, per agent, with their log densities."""
        samples = [actor.random(num, avail[i], rng) for i, actor in enumerate(self.actors)]
        return Acted([s.env.numpy() for s in samples], [s.stored.numpy() for s in samples],
                     [s.logp.numpy() for s in samples])

    def target_params(self) -> list[torch.nn.Parameter]:
        return list(self.critic_target.parameters())
