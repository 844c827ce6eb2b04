"""Why HATRPO's actors stay float32 under ``precision=bf16``: the accuracy and symmetry of its Fisher-vector
products (the double backward of the mean KL, deep/algos/hatrpo.py) with the policy body under bf16 autocast.

For a 128x128 policy (HARL's MPE size) on 4000 random 18-feature observations, Discrete(5) and Box(3) actions,
it prints the relative error of ``H v`` against float64 and the asymmetry ``|w^T H v - v^T H w| / |w^T H v|``
for two random vectors, in fp32 and in bf16 (conjugate gradient assumes a symmetric ``H``).

    python benchmarks/hatrpo_fvp_precision.py
"""
import copy

import torch
from gymnasium.spaces import Box, Discrete
from torch.nn.utils import parameters_to_vector

from deep.nets.distributions import make_policy
from deep.nets.mlp import set_precision


def fisher_vector_products(policy, obs, dtype, n_vectors=2):
    """``H v`` of the mean ``KL(pi_old || pi)`` at ``pi = pi_old`` for fixed random ``v``, as HATRPO computes it."""
    policy = copy.deepcopy(policy).to(dtype)
    params, x = list(policy.parameters()), obs.to(dtype)
    with torch.no_grad():
        old = policy.dist(x)
    kl = torch.distributions.kl_divergence(old, policy.dist(x)).mean()
    kl_grad = parameters_to_vector(torch.autograd.grad(kl, params, create_graph=True))
    gen = torch.Generator().manual_seed(1)
    vs = [torch.randn(kl_grad.numel(), generator=gen, dtype=torch.float64) for _ in range(n_vectors)]
    hvs = [parameters_to_vector(torch.autograd.grad(kl_grad @ v.to(dtype), params, retain_graph=True)).double()
           for v in vs]
    return hvs, vs


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    obs = torch.randn(4000, 18)
    for space in (Discrete(5), Box(-1, 1, (3,))):
        policy = make_policy(18, space, [128, 128])
        with torch.no_grad():   # away from the near-uniform initial head (gain 0.01), so the KL has curvature
            for p in policy.parameters():
                p.add_(0.05 * torch.randn_like(p))
        ref, vs = fisher_vector_products(policy, obs, torch.float64)
        for precision in ("fp32", "bf16"):
            hv, _ = fisher_vector_products(set_precision(copy.deepcopy(policy), precision), obs, torch.float32)
            err = max(float((a - r).norm() / r.norm()) for a, r in zip(hv, ref))
            asym = abs(float(vs[1] @ hv[0] - vs[0] @ hv[1])) / abs(float(vs[1] @ ref[0]))
            print(f"{type(space).__name__:8s} {precision}: relative error of H v {err:.2e}, "
                  f"asymmetry |w'Hv - v'Hw| / |w'Hv| {asym:.2e}")


if __name__ == "__main__":
    main()
