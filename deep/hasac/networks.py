"""Multilayer perceptrons and the twin centralised soft Q critic ``Q_phi(s, a)`` (SPEC, HASAC)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    """ReLU MLP ``in_dim -> hidden... -> out_dim`` (linear output)."""
    layers, d = [], in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class TwinCritic(nn.Module):
    """Two independent Q networks on ``[global state, joint action]``; the actor uses their minimum."""

    def __init__(self, state_dim: int, action_dim: int, hidden: Sequence[int]):
        super().__init__()
        self.q1 = mlp(state_dim + action_dim, hidden, 1)
        self.q2 = mlp(state_dim + action_dim, hidden, 1)

    def forward(self, state: torch.Tensor, joint_action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([state, joint_action], dim=-1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)

    def min_q(self, state: torch.Tensor, joint_action: torch.Tensor) -> torch.Tensor:
        q1, q2 = self(state, joint_action)
        return torch.minimum(q1, q2)
