"""Critics: the twin centralised soft Q critic ``Q_phi(s, a)`` (docs/mathematics.md, HASAC) and the on-policy
algorithms' state-value critic ``V(s)``."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .mlp import Autocastable, mlp, normed_body, orthogonal, set_precision


class TwinCritic(Autocastable, nn.Module):
    """Two independent Q networks on ``[global state, joint action]``; the actor uses their minimum.

    The actors' phase of an update (eq. 10) evaluates ``min(Q1, Q2)`` of a frozen critic several times on
    the same states, differentiating only with respect to one agent's action.  The first layer is linear in
    the joint action, so its pre-activation is a sum of a state part (:meth:`state_features`) and one part
    per agent's action block (:meth:`action_features`), each computed once and reused while it is unchanged;
    :meth:`frozen_min_q` adds the last block and back-propagates each sample through the network that attains
    the minimum only (the other one's gradient is zero there), and only to that block: the same values and
    action gradients as ``min_q`` with far less arithmetic.

    ``precision="bf16"`` runs the hidden layers' matrix products under bf16 autocast (:class:`~.mlp.MLP`):
    the forward passes, their autograd backward and ``frozen_min_q``'s hand-written backward; the output
    layer, weights, gradients, Q values and the first layer's state and action parts stay float32.
    The two networks stay separate modules: stacking them as ``(2, in, out)`` weights evaluated by
    ``torch.baddbmm`` was slower per update on a CPU (benchmarks/README.md, "Deep algorithms").
    """

    def __init__(self, state_dim: int, action_dim: int, hidden: Sequence[int], precision: str = "fp32"):
        super().__init__()
        self.state_dim = state_dim
        self.q1 = mlp(state_dim + action_dim, hidden, 1)
        self.q2 = mlp(state_dim + action_dim, hidden, 1)
        set_precision(self, precision)   # the two networks and this critic's own fast paths

    def forward(self, state: torch.Tensor, joint_action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Q1(s, a), Q2(s, a)`` in the weights' dtype (float32 under bf16 too)."""
        x = torch.cat([state, joint_action], dim=-1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)

    def min_q(self, state: torch.Tensor, joint_action: torch.Tensor) -> torch.Tensor:
        q1, q2 = self(state, joint_action)
        return torch.minimum(q1, q2)

    def loss(self, state: torch.Tensor, joint_action: torch.Tensor, y: torch.Tensor, kind: str = "mse",
             huber_delta: float = 10.0) -> tuple[torch.Tensor, dict]:
        """Both networks' regression loss to the targets ``y`` (``0.5 * squared error`` or Huber), and
        statistics of Q1 and of the targets."""
        q1, q2 = self(state, joint_action)
        if kind == "huber":
            loss = F.huber_loss(q1, y, delta=huber_delta) + F.huber_loss(q2, y, delta=huber_delta)
        else:
            loss = 0.5 * ((q1 - y).pow(2).mean() + (q2 - y).pow(2).mean())
        return loss, {"q1_mean": q1.mean(), "q1_min": q1.min(), "q1_max": q1.max(), "target_mean": y.mean()}

    def _linears(self):
        return [[m for m in q if isinstance(m, nn.Linear)] for q in (self.q1, self.q2)]

    @torch.no_grad()
    def state_features(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each network's first-layer pre-activation without the action part: ``W_s s + b`` (no gradient; float32
        like :meth:`action_features`, which are added to it: one product per update, and sums of one dtype)."""
        return tuple(torch.addmm(l[0].bias, state, l[0].weight[:, :self.state_dim].t()) for l in self._linears())

    @torch.no_grad()
    def action_features(self, action: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Each network's first-layer share of one block of the joint action, ``action`` at columns
        ``start:start + action.shape[-1]`` of it: ``W_a action`` (no gradient; float32, a small product)."""
        cols = slice(self.state_dim + start, self.state_dim + start + action.shape[-1])
        return tuple(action @ l[0].weight[:, cols].t() for l in self._linears())

    def frozen_min_q(self, features, action: torch.Tensor, start: int = 0) -> torch.Tensor:
        """``min(Q1, Q2)(s, a)`` from ``features``, the first layer's pre-activation without ``action``, the
        block of the joint action at columns ``start:start + action.shape[-1]`` (``state_features(s)`` and
        the whole joint action by default; add other blocks' :meth:`action_features` to leave them out);
        gradients reach ``action`` only.

        The critic's parameters are constants here (eq. 10 improves the actor against a fixed critic).  Where
        ``Q1 == Q2`` the gradient is Q1's (``torch.minimum`` would split it; ties have probability zero).
        """
        return _FrozenMinQ.apply(action, features[0], features[1], self._linears(), self.state_dim + start,
                                 self.bf16)

    @torch.no_grad()
    def min_q_each_action(self, features, start: int, n: int) -> torch.Tensor:
        """``min(Q1, Q2)`` with the block of ``n`` columns at ``start`` of the joint action set to each one-hot
        action in turn, (B, n), from ``features`` as for :meth:`frozen_min_q` (no gradient).

        A one-hot action adds one column of the first layer's weights to the features, so the first layer is a
        sum, without a matrix product or a copy of the features per action; one action at a time, the
        activations of its B rows stay in the cache through the layers."""
        qs = []
        for f, lins in zip(features, self._linears()):
            w = lins[0].weight[:, self.state_dim + start:self.state_dim + start + n]
            qs.append(torch.stack([_rest((f + w[:, k]).relu_(), lins, self.autocast(f))[0] for k in range(n)], -1))
        return torch.minimum(*qs)


class ValueCritic(nn.Module):
    """Centralised ``V(s)`` on the global state (its output is in normalised units when the algorithm uses
    :class:`~deep.nets.value_norm.ValueNorm`)."""

    def __init__(self, state_dim: int, hidden: Sequence[int], feature_norm: bool = True):
        super().__init__()
        self.body = normed_body(state_dim, hidden, feature_norm)
        self.out = orthogonal(nn.Linear(hidden[-1], 1), 1.0)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(state)).squeeze(-1)


@torch.no_grad()
def polyak_(target: nn.Module, source: nn.Module, rate: float) -> None:
    """``target <- (1 - rate) target + rate source``, parameter by parameter (Polyak averaging)."""
    tp = list(target.parameters())
    torch._foreach_mul_(tp, 1.0 - rate)
    torch._foreach_add_(tp, list(source.parameters()), alpha=rate)


def _rest(h: torch.Tensor, lins, autocast) -> tuple[torch.Tensor, list]:
    """A Q network's value (B,) from its first layer's activation ``h``, and its hidden layers' activations
    (``h`` first): the hidden layers under ``autocast`` (MLP's precision), the output layer in float32."""
    hs = [h]
    with autocast:
        for lin in lins[1:-1]:
            h = torch.addmm(lin.bias, h, lin.weight.t()).relu_()
            hs.append(h)
    out = lins[-1]
    return torch.addmm(out.bias, h.to(out.weight.dtype), out.weight.t()).squeeze(-1), hs


class _FrozenMinQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, action, f1, f2, nets, start, bf16):
        autocast = torch.autocast(action.device.type, dtype=torch.bfloat16, enabled=bf16)
        cols = slice(start, start + action.shape[1])        # the action's columns of the first layer
        qs, hidden = [], []
        for f, lins in zip((f1, f2), nets):
            with autocast:
                h = torch.addmm(f, action, lins[0].weight[:, cols].t()).relu_()
            q, hs = _rest(h, lins, autocast)
            qs.append(q)
            hidden.append(hs)
        first = qs[0] <= qs[1]
        ctx.nets, ctx.hidden, ctx.first, ctx.cols, ctx.autocast = nets, hidden, first, cols, autocast
        return torch.where(first, qs[0], qs[1])

    @staticmethod
    def backward(ctx, grad_q):
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            raise RuntimeError("frozen_min_q does not differentiate through the features")
        grad_action = None
        if ctx.needs_input_grad[0]:
            weights_in = [lins[0].weight[:, ctx.cols] for lins in ctx.nets]
            grad_action = weights_in[0].new_empty(grad_q.shape[0], weights_in[0].shape[1])
            for rows, lins, hs, w_in in zip((ctx.first, ~ctx.first), ctx.nets, ctx.hidden, weights_in):
                idx = rows.nonzero().squeeze(1)
                if idx.numel() == 0:
                    continue
                g = grad_q[idx, None] * lins[-1].weight            # d q / d h_last
                for j in range(len(hs) - 1, -1, -1):
                    g = g * (hs[j][idx] > 0)                       # through the ReLU
                    with ctx.autocast:
                        g = g @ (lins[j].weight if j else w_in)    # through the linear layer
                grad_action[idx] = g.to(grad_action.dtype)
        return grad_action, None, None, None, None, None
