"""Multilayer perceptrons, the body of every actor and critic, and their arithmetic precision."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

#: a network's arithmetic: float32 throughout, or bf16 autocast of its matrix products (fp32 master weights)
PRECISIONS = ("fp32", "bf16")


class MLP(nn.Sequential):
    """A ReLU MLP.  With ``bf16`` set its hidden layers' matrix products (and so their autograd backward) run
    under bf16 autocast; the output layer (a few columns, a negligible share of the arithmetic) runs in the
    weights' dtype, so the output is not rounded to bf16's 8 significant bits and what follows it
    (log-probabilities, entropies, losses) is float32.  Weights, gradients and optimiser state stay float32."""

    bf16 = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.bf16:
            return super().forward(x)
        *hidden, out = self
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            for layer in hidden:
                x = layer(x)
        return out(x.to(out.weight.dtype))


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int) -> MLP:
    """ReLU MLP ``in_dim -> hidden... -> out_dim`` (linear output)."""
    layers, d = [], in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, out_dim))
    return MLP(*layers)


def check_precision(precision: str) -> bool:
    """True for ``"bf16"``, False for ``"fp32"``; a ValueError naming the valid values otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    return precision == "bf16"


def set_precision(module: nn.Module, precision: str) -> nn.Module:
    """Every :class:`MLP` inside ``module`` computes in ``precision`` (see :data:`PRECISIONS`)."""
    bf16 = check_precision(precision)
    for m in module.modules():
        if isinstance(m, MLP):
            m.bf16 = bf16
    return module
