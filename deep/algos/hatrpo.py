"""HATRPO (Kuba et al. 2022): HAPPO's sequential scheme with a KL trust region instead of ratio clipping.

Per update: a fresh random permutation ``i_{1:n}`` and ``M = 1``; agent ``i_m`` maximises the surrogate
``L(theta) = E[M rho^{i_m}(theta) A]`` subject to ``E[KL(pi_old(.|o) || pi_theta(.|o))] <= delta``
(``kl_threshold``) by one natural-gradient step:

1. ``g = grad L`` at the old parameters; ``x ~= H^-1 g`` by ``cg_iters`` conjugate-gradient iterations with
   Fisher-vector products ``(H + cg_damping I) v`` (``H`` the Hessian of the mean KL: Pearlmutter's trick);
2. the full step ``s = sqrt(2 delta / x^T H x) x`` (the step whose quadratic KL model equals ``delta``);
3. a backtracking line search over ``s, b s, b^2 s, ...`` (``backtrack``, ``ls_steps`` tries) accepting the first
   step whose *exact* mean KL is below ``delta``, whose surrogate improves, and whose improvement is at least
   ``accept_ratio`` times the linear prediction ``g^T s b^j``; if none is accepted the agent keeps its policy;
4. ``M <- M * pi^{i_m}_new / pi^{i_m}_old`` for the next agent (as in HAPPO).

The KL of a categorical policy is the exact one (the reference code uses an approximation on logits).  No
entropy bonus (as the reference code).  Then the critic (:mod:`deep.algos.on_policy_base`).

``precision="bf16"`` puts the critic only under bf16 autocast; the actors stay float32 (``autocast_actors``).
Conjugate gradient needs a symmetric Fisher-vector product, and under autocast the double backward that makes it
runs its products on the forward's bf16 activations, which leaves ``H v`` visibly off its float64 value and far
from symmetric (benchmarks/hatrpo_fvp_precision.py; benchmarks/README.md, "Deep algorithms"), while the line
search compares an exact KL of order ``kl_threshold`` that bf16's rounding of the hidden features perturbs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from deep.config import integer, number
from deep.nets.mlp import precision_setting

from .base import register
from .on_policy_base import OnPolicyAlgorithm, OnPolicyParams


@dataclass(frozen=True)
class HATRPOParams(OnPolicyParams):
    """HATRPO's trust-region settings (HARL tuned_configs/pettingzoo_mpe/*/hatrpo; HARL trpo_util for CG)."""

    kl_threshold: float = number(0.005, "trust region: mean KL(old || new) bound (HARL MPE kl_threshold: 0.005)",
                                 lo=0, lo_open=True)
    ls_steps: int = integer(10, "backtracking line-search tries (HARL ls_step: 10)")
    accept_ratio: float = number(0.5, "accept a step improving >= this x the linear prediction (HARL: 0.5)", lo=0)
    backtrack: float = number(0.8, "line-search step shrink factor (HARL backtrack_coeff: 0.8)", lo=0, hi=1,
                              lo_open=True, hi_open=True)
    cg_iters: int = integer(10, "conjugate-gradient iterations (HARL trpo_util: 10)")
    cg_damping: float = number(0.1, "Fisher-vector product damping (HARL trpo_util: 0.1)", lo=0)
    precision: str = precision_setting("the critic's network body (the actors stay float32: deep/algos/hatrpo.py)")


def conjugate_gradient(fvp, b: torch.Tensor, iters: int, tol: float = 1e-10) -> torch.Tensor:
    """Approximate ``H^-1 b`` for the symmetric positive-definite ``H`` given by ``fvp(v) = H v`` (stops early
    once the squared residual is below ``tol``; ``b = 0`` gives 0)."""
    x, r = torch.zeros_like(b), b.clone()
    p, rr = b.clone(), b @ b
    for _ in range(iters):
        if rr < tol:
            break
        hp = fvp(p)
        a = rr / (p @ hp)
        x += a * p
        r -= a * hp
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


@register("hatrpo")
class HATRPO(OnPolicyAlgorithm):
    Params = HATRPOParams
    shares = False
    autocast_actors = False   #: exact Fisher-vector products and KL: module docstring
    actor_stat_keys = ("kl", "improvement", "accepted")

    def surrogate(self, k: int, d: dict, factor=None) -> torch.Tensor:
        """``E[M rho A]`` of policy ``k`` on the whole batch (to be maximised)."""
        rho, _ = self.ratio(k, d)
        return ((1.0 if factor is None else factor) * rho * d["adv"]).mean()

    def actor_loss(self, k: int, d: dict) -> torch.Tensor:
        return -self.surrogate(k, d)

    def mean_kl(self, k: int, d: dict, old) -> torch.Tensor:
        o, m = d["inputs"][k]
        return self.actors[k].kl(old, o, m).mean()

    def trust_region_step(self, k: int, d: dict, factor) -> dict:
        pol = self.actors[k]
        params = [q for q in pol.parameters() if q.requires_grad]
        o, m = d["inputs"][k]
        with torch.no_grad():
            old = pol.dist(o, m)
        loss = self.surrogate(k, d, factor)
        g = parameters_to_vector(torch.autograd.grad(loss, params))

        # grad of the mean KL at theta_old, with its graph: every Fisher-vector product differentiates it again
        kl_grad = parameters_to_vector(torch.autograd.grad(self.mean_kl(k, d, old), params, create_graph=True))

        def fvp(v):
            hv = torch.autograd.grad(kl_grad @ v, params, retain_graph=True)
            return parameters_to_vector(hv).detach() + self.params.cg_damping * v

        x = conjugate_gradient(fvp, g, self.params.cg_iters)
        xhx = float(x @ fvp(x))
        no_step = {f"kl/{k}": 0.0, f"improvement/{k}": 0.0, f"accepted/{k}": 0.0}
        if not xhx > 0:  # a zero gradient (e.g. every advantage equal): nothing to step along
            return no_step
        full = (2.0 * self.params.kl_threshold / xhx) ** 0.5 * x
        theta0, base = parameters_to_vector(params).detach().clone(), loss.item()
        expected, frac, accept = float(g @ full), 1.0, self.params.accept_ratio
        with torch.no_grad():
            for _ in range(self.params.ls_steps):
                vector_to_parameters(theta0 + frac * full, params)
                improve = float(self.surrogate(k, d, factor)) - base
                kl = float(self.mean_kl(k, d, old))
                if kl <= self.params.kl_threshold and 0 < improve and improve > accept * expected * frac:
                    return {f"kl/{k}": kl, f"improvement/{k}": improve, f"accepted/{k}": 1.0}
                frac *= self.params.backtrack
            vector_to_parameters(theta0, params)
        return no_step

    def update_actors(self, d: dict, rng: np.random.Generator) -> dict:
        return self.sequential_turns(d, rng, lambda i, factor: self.trust_region_step(i, d, factor))
