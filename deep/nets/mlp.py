"""Multilayer perceptrons, the body of every actor and critic."""
from __future__ import annotations

from typing import Sequence

from torch import nn


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    """ReLU MLP ``in_dim -> hidden... -> out_dim`` (linear output)."""
    layers, d = [], in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)
