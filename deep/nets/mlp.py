"""Multilayer perceptrons, the body of every actor and critic, and their arithmetic precision."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import torch
from torch import nn

from deep.config import choice

#: a network's arithmetic: float32 throughout, bf16 autocast of its matrix products (fp32 master weights), or
#: ``auto``: bf16 on a CPU that multiplies bf16 natively (:func:`native_bf16`), else fp32
PRECISIONS = ("fp32", "bf16", "auto")


def precision_setting(networks: str, default: str = "fp32") -> dataclasses.Field:
    """The ``precision`` setting of an algorithm family, whose bf16 autocast covers ``networks``."""
    return choice(default, f"{networks}: float32, bf16 autocast with fp32 weights, optimiser state, outputs, "
                  "log-probabilities, targets and losses, or auto (bf16 on a CPU with native bf16, else fp32)",
                  *PRECISIONS)


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX, as torch's CPU probes report): there bf16
    matrix products of these sizes are faster than fp32's (benchmarks/README.md, "Deep algorithms"), elsewhere
    they are emulated."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


class Autocastable:
    """A network part whose matrix products run under bf16 autocast once :func:`set_precision` sets ``bf16``;
    what it returns is float32 either way."""

    bf16 = False

    def autocast(self, x: torch.Tensor):
        """bf16 autocast on ``x``'s device if ``bf16`` is set, else a no-op context."""
        return torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16)


class MLP(Autocastable, nn.Sequential):
    """A ReLU MLP.  With ``bf16`` set its hidden layers' matrix products (and so their autograd backward) run
    under bf16 autocast; the output layer (a few columns, a negligible share of the arithmetic) runs in the
    weights' dtype, so the output is not rounded to bf16's 8 significant bits and what follows it
    (log-probabilities, entropies, losses) is float32.  Weights, gradients and optimiser state stay float32.
    A tanh takes float32 (its input converted; it ends a trunk, whose output the output layer takes in
    float32 anyway): torch's CPU tanh and its backward are several times slower in bf16 than in float32."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.bf16:
            return super().forward(x)
        *hidden, out = self
        with self.autocast(x):
            for layer in hidden:
                x = layer(x.to(out.weight.dtype) if isinstance(layer, nn.Tanh) else x)
        return out(x.to(out.weight.dtype))


class AutocastSequential(Autocastable, nn.Sequential):
    """Layers without an output layer (a network body whose heads follow): with ``bf16`` set every layer runs
    under bf16 autocast (LayerNorm too: CPU autocast keeps its bf16 input, accumulating its statistics in
    float32) and the result is returned in the input's dtype, for heads computing in float32."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.bf16:
            return super().forward(x)
        with self.autocast(x):
            y = super().forward(x)
        return y.to(x.dtype)


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, *, tanh_trunk: bool = False) -> MLP:
    """ReLU MLP ``in_dim -> hidden... -> out_dim`` (linear output, PyTorch's default initialisation).  With
    ``tanh_trunk`` the last hidden layer's activation is tanh instead of ReLU (the reference code's
    ``final_activation_func: tanh`` of its squashed-Gaussian actor's trunk)."""
    layers, d = [], in_dim
    for k, h in enumerate(hidden):
        last = k == len(hidden) - 1
        layers += [nn.Linear(d, h), nn.Tanh() if (tanh_trunk and last) else nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, out_dim))
    return MLP(*layers)


def orthogonal(layer: nn.Linear, gain: float) -> nn.Linear:
    """``layer`` with orthogonal weights of gain ``gain`` and zero biases (the reference code's initialisation)."""
    nn.init.orthogonal_(layer.weight, gain=gain)
    nn.init.zeros_(layer.bias)
    return layer


def _normed_layers(in_dim: int, hidden: Sequence[int], feature_norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.LayerNorm(in_dim)] if feature_norm else []
    d, gain = in_dim, nn.init.calculate_gain("relu")
    for h in hidden:
        layers += [orthogonal(nn.Linear(d, h), gain), nn.ReLU(), nn.LayerNorm(h)]
        d = h
    return layers


def normed_body(in_dim: int, hidden: Sequence[int], feature_norm: bool = True) -> AutocastSequential:
    """The reference code's MLP body (PKU-MARL/HARL ``MLPBase``): ``[LayerNorm(in)] -> (Linear -> ReLU ->
    LayerNorm) x len(hidden)``, orthogonal weights with ReLU gain and zero biases; output size ``hidden[-1]``.
    LayerNorm of the input ("feature normalisation") matters where observations are not normalised (SMAC,
    GRF).  Under ``precision="bf16"`` it runs under bf16 autocast and returns float32 for the head that follows."""
    return AutocastSequential(*_normed_layers(in_dim, hidden, feature_norm))


def normed_mlp(in_dim: int, hidden: Sequence[int], out_dim: int, out_gain: float, feature_norm: bool = True) -> MLP:
    """:func:`normed_body` followed by a linear output layer with orthogonal weights of gain ``out_gain`` (the
    reference code's action layer: gain 0.01, so the first policy is close to uniform)."""
    return MLP(*_normed_layers(in_dim, hidden, feature_norm), orthogonal(nn.Linear(hidden[-1], out_dim), out_gain))


def check_precision(precision: str) -> bool:
    """Whether ``precision`` computes in bf16: ``"bf16"``, or ``"auto"`` where :func:`native_bf16`; a ValueError
    naming the valid values for anything else."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    return precision == "bf16" or (precision == "auto" and native_bf16())


def set_precision(module: nn.Module, precision: str) -> nn.Module:
    """Every :class:`Autocastable` part of ``module`` computes in ``precision`` (see :data:`PRECISIONS`)."""
    bf16 = check_precision(precision)
    for m in module.modules():
        if isinstance(m, Autocastable):
            m.bf16 = bf16
    return module
