"""The optimisers' side of the algorithms: the fused Adam and the one gradient step every update takes."""
from __future__ import annotations

from typing import Iterable

import torch


def fused_adam(params, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel: one pass over the parameters, faster than the default on a CPU
    (benchmarks/README.md, "Deep algorithms")."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def gradient_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params: Iterable | None = None,
                  max_norm: float | None = None) -> torch.Tensor | None:
    """One step of ``opt`` on ``loss``: gradients reset, back-propagated, their norm over ``params`` clipped to
    ``max_norm`` if given, then the step.  Returns the norm before clipping (None without clipping)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = None if max_norm is None else torch.nn.utils.clip_grad_norm_(params, max_norm)
    opt.step()
    return norm
