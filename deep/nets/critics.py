"""Critics: the twin centralised soft Q critic ``Q_phi(s, a)`` (SPEC, HASAC)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .mlp import mlp


#: the critics' arithmetic: float32 throughout, or bf16 autocast of the matrix products (fp32 master weights)
PRECISIONS = ("fp32", "bf16")


class TwinCritic(nn.Module):
    """Two independent ReLU Q networks on ``[global state, joint action]``; the actor uses their minimum.

    Both networks are held as one batched network: layer ``l`` is a ``(2, in, out)`` weight and a
    ``(2, 1, out)`` bias, and a layer of both networks is one ``torch.baddbmm`` (one kernel, one autograd
    node, one fused Adam tensor instead of two).  Initialisation is that of two ``nn.Linear`` MLPs.

    The actors' phase of an update (eq. 10) evaluates ``min(Q1, Q2)`` of a frozen critic several times on
    the same states, differentiating only with respect to the joint action.  :meth:`state_features` computes
    the states' share of the first layer once, and :meth:`frozen_min_q` back-propagates each sample through
    the network that attains the minimum only (the other one's gradient is zero there), and only to the
    action inputs: the same values and action gradients as ``min_q`` with about 40% less arithmetic.
    """

    def __init__(self, state_dim: int, action_dim: int, hidden: Sequence[int], precision: str = "fp32"):
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self.state_dim = state_dim
        self.bf16 = precision == "bf16"
        nets = [[m for m in mlp(state_dim + action_dim, hidden, 1) if isinstance(m, nn.Linear)] for _ in range(2)]
        self.weights = nn.ParameterList(nn.Parameter(torch.stack([a.weight.detach().t(), b.weight.detach().t()]))
                                        for a, b in zip(*nets))
        self.biases = nn.ParameterList(nn.Parameter(torch.stack([a.bias.detach(), b.bias.detach()])[:, None, :])
                                       for a, b in zip(*nets))

    def _autocast(self, x: torch.Tensor):
        """bf16 autocast of the matrix products if ``precision == "bf16"`` (weights stay in their dtype)."""
        return torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def both(self, state: torch.Tensor, joint_action: torch.Tensor) -> torch.Tensor:
        """``(Q1, Q2)(s, a)`` as one ``(2, batch)`` tensor, in the weights' dtype."""
        with self._autocast(state):
            h = torch.cat([state, joint_action], dim=-1).expand(2, -1, -1)
            for w, b in zip(self.weights[:-1], self.biases[:-1]):
                h = torch.baddbmm(b, h, w).relu()
            q = torch.baddbmm(self.biases[-1], h, self.weights[-1]).squeeze(-1)
        return q.to(self.weights[0].dtype)

    def forward(self, state: torch.Tensor, joint_action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.both(state, joint_action)
        return q[0], q[1]

    def min_q(self, state: torch.Tensor, joint_action: torch.Tensor) -> torch.Tensor:
        return self.both(state, joint_action).amin(0)

    def q1_fixed(self, state: torch.Tensor, joint_action: torch.Tensor) -> torch.Tensor:
        """``Q1(s, a)`` with the parameters held constant: gradients reach the inputs only (TD3's actor)."""
        with self._autocast(state):
            h = torch.cat([state, joint_action], dim=-1)
            for w, b in zip(self.weights[:-1], self.biases[:-1]):
                h = torch.addmm(b[0].detach(), h, w[0].detach()).relu()
            q = torch.addmm(self.biases[-1][0].detach(), h, self.weights[-1][0].detach()).squeeze(-1)
        return q.to(self.weights[0].dtype)

    def loss(self, state: torch.Tensor, joint_action: torch.Tensor, y: torch.Tensor, kind: str = "mse",
             huber_delta: float = 10.0) -> tuple[torch.Tensor, dict]:
        """Both networks' regression loss to the targets ``y`` (``0.5 * squared error`` or Huber), and
        statistics of Q1 and of the targets, in the targets' precision whatever the forward pass's."""
        q = self.both(state, joint_action).to(y.dtype)
        q1, q2 = q[0], q[1]
        if kind == "huber":
            loss = F.huber_loss(q1, y, delta=huber_delta) + F.huber_loss(q2, y, delta=huber_delta)
        else:
            loss = 0.5 * ((q1 - y).pow(2).mean() + (q2 - y).pow(2).mean())
        return loss, {"q1_mean": q1.mean(), "q1_min": q1.min(), "q1_max": q1.max(), "target_mean": y.mean()}

    @torch.no_grad()
    def state_features(self, state: torch.Tensor) -> torch.Tensor:
        """Both networks' first-layer pre-activation without the action part, ``W_s s + b``: ``(2, batch, h)``
        (no gradient)."""
        with self._autocast(state):
            return torch.baddbmm(self.biases[0], state.expand(2, -1, -1), self.weights[0][:, :self.state_dim])

    def frozen_min_q(self, features: torch.Tensor, joint_action: torch.Tensor) -> torch.Tensor:
        """``min(Q1, Q2)(s, a)`` from ``state_features(s)``; gradients reach ``joint_action`` only.

        The critic's parameters are constants here (eq. 10 improves the actor against a fixed critic).  Where
        ``Q1 == Q2`` the gradient is Q1's (``torch.minimum`` would split it; ties have probability zero).
        """
        with self._autocast(joint_action):
            return _FrozenMinQ.apply(joint_action, features, list(self.weights), list(self.biases), self.state_dim)


@torch.no_grad()
def polyak_(target: nn.Module, source: nn.Module, rate: float) -> None:
    """``target <- (1 - rate) target + rate source``, parameter by parameter (Polyak averaging)."""
    tp = list(target.parameters())
    torch._foreach_mul_(tp, 1.0 - rate)
    torch._foreach_add_(tp, list(source.parameters()), alpha=rate)


class _FrozenMinQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, joint, features, weights, biases, state_dim):
        h = torch.baddbmm(features, joint.expand(2, -1, -1), weights[0][:, state_dim:]).relu()
        hidden = [h]
        for w, b in zip(weights[1:-1], biases[1:-1]):
            h = torch.baddbmm(b, h, w).relu()
            hidden.append(h)
        q = torch.baddbmm(biases[-1], h, weights[-1]).squeeze(-1)
        first = q[0] <= q[1]
        ctx.weights, ctx.hidden, ctx.first, ctx.state_dim = weights, hidden, first, state_dim
        return torch.where(first, q[0], q[1]).to(weights[0].dtype)   # the weights' dtype under autocast too

    @staticmethod
    def backward(ctx, grad_q):
        if ctx.needs_input_grad[1]:
            raise RuntimeError("frozen_min_q does not differentiate through the state features")
        grad_joint = None
        if ctx.needs_input_grad[0]:
            ws = ctx.weights
            grad_joint = ws[0].new_empty(grad_q.shape[0], ws[0].shape[1] - ctx.state_dim)
            for k, rows in enumerate((ctx.first, ~ctx.first)):   # each sample through its minimising network
                idx = rows.nonzero().squeeze(1)
                if idx.numel() == 0:
                    continue
                g = grad_q[idx, None] * ws[-1][k, :, 0]             # d q / d h_last
                for j in range(len(ctx.hidden) - 1, -1, -1):
                    g = g * (ctx.hidden[j][k, idx] > 0)              # through the ReLU
                    g = g @ (ws[j][k] if j else ws[0][k, ctx.state_dim:]).t()  # through the linear layer
                grad_joint[idx] = g
        return grad_joint, None, None, None, None
