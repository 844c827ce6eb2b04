"""What the off-policy actor-critic algorithms (HASAC, SAC, HATD3, deterministic HASAC) share: their common
settings (:class:`OffPolicyParams`) and the fused Adam optimiser."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from deep.config import choice, flag, integer, number, sizes
from deep.nets.mlp import precision_setting


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
    n_step: int = integer(20, "steps of the n-step targets (deep/storage/replay.py)")
    polyak: float = number(0.005, "Polyak averaging rate of the target networks", lo=0, hi=1, lo_open=True)
    batch_size: int = integer(1000, "transitions per gradient update")
    critic_loss: str = choice("mse", "critics' loss on the Bellman residual: squared or Huber", "mse", "huber")
    huber_delta: float = number(10.0, "Huber loss threshold", lo=0, lo_open=True)
    precision: str = precision_setting("actors' and critics' hidden-layer matrix products")


def fused_adam(params, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel (one pass over the parameters; about 6x faster than the default on a CPU)."""
    return torch.optim.Adam(params, lr=lr, fused=True)
