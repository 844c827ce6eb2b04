"""Running normalisation of value targets (the reference code's ``ValueNorm``): critics regress targets in
normalised units and their outputs are denormalised wherever a value in return units is needed."""
from __future__ import annotations

import torch
from torch import nn


class ValueNorm(nn.Module):
    """Running mean and variance of the value targets, with Adam-style debiasing (as HARL's ``ValueNorm``):
    ``m <- beta m + (1 - beta) mean(x)``, ``m2`` likewise for ``x^2``, ``d <- beta d + (1 - beta)``; the
    statistics are ``m / d`` and ``m2 / d - (m / d)^2`` (variance floored at 1e-2)."""

    def __init__(self, beta: float = 0.99999, epsilon: float = 1e-5):
        super().__init__()
        self.beta, self.epsilon = float(beta), float(epsilon)
        for name in ("mean", "mean_sq", "debias"):
            self.register_buffer(name, torch.zeros((), dtype=torch.float64))

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.debias.clamp_min(self.epsilon)
        mean = self.mean / d
        return mean, (self.mean_sq / d - mean ** 2).clamp_min(1e-2)

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.double()
        self.mean.mul_(self.beta).add_((1 - self.beta) * x.mean())
        self.mean_sq.mul_(self.beta).add_((1 - self.beta) * (x ** 2).mean())
        self.debias.mul_(self.beta).add_(1 - self.beta)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, var = self.stats()
        return ((x.double() - mean) / var.sqrt()).to(x.dtype)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, var = self.stats()
        return (x.double() * var.sqrt() + mean).to(x.dtype)
