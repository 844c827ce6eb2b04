"""Theorem 1 (Appendix D): the stationary point of an agent's MaxEnt problem is the Boltzmann policy.

For one agent at one state with expected action values ``q_b = E_{a^-i ~ pi^-i}[Q(s, b, a^-i)]`` (symbols)
the objective is ``f(p) = sum_b p_b q_b + alpha H(p)`` on the simplex.  sympy solves the stationarity
conditions of the Lagrangian ``f + lambda (sum p - 1)`` and checks the solution is
``exp(q_b / alpha) / sum exp(q / alpha)``, and proves ``f`` strictly concave on the simplex: every leading
principal minor of ``-Hessian`` (in the free coordinates) is positive for all positive probabilities.
The broken variant flips the sign of the entropy term.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ._sym import residual_size
from .registry import PAPER, Finding, claim


def _objective(k: int, entropy_sign: int):
    q = sp.symbols(f"q1:{k + 1}", real=True)
    p = sp.symbols(f"p1:{k + 1}", positive=True)
    alpha = sp.Symbol("alpha", positive=True)
    f = sum(pi * qi for pi, qi in zip(p, q)) - entropy_sign * alpha * sum(pi * sp.log(pi) for pi in p)
    return f, p, q, alpha


def _sampler(q, alpha):
    def sample(rng: np.random.Generator) -> dict:
        vals = {qi: sp.Rational(int(v), 4) for qi, v in zip(q, rng.integers(-8, 9, size=len(q)))}
        vals[alpha] = sp.Rational(int(rng.integers(1, 9)), 4)
        return vals
    return sample


def boltzmann_residual(k: int, entropy_sign: int) -> float:
    """Largest deviation of the Lagrangian's stationary point from the Boltzmann policy (0 = identical)."""
    f, p, q, alpha = _objective(k, entropy_sign)
    lam = sp.Symbol("lambda", real=True)
    L = f + lam * (sum(p) - 1)
    stationary = []
    for pi in p:
        sol = sp.solve(sp.diff(L, pi), pi)
        if len(sol) != 1:
            return float("inf")
        stationary.append(sol[0])
    lam_sol = sp.solve(sp.Eq(sum(stationary), 1), lam)
    if len(lam_sol) != 1:
        return float("inf")
    Z = sum(sp.exp(qi / alpha) for qi in q)
    residual = sum(sp.Abs(sp.simplify(s.subs(lam, lam_sol[0]) - sp.exp(qi / alpha) / Z))
                   for s, qi in zip(stationary, q))
    return residual_size(residual, _sampler(q, alpha), simplify=True)


def concavity_violation(k: int, entropy_sign: int) -> float:
    """0 when sympy proves ``-Hessian`` positive definite on the simplex; else the largest Hessian eigenvalue
    found at sampled points (inf if none is positive but no proof was found either)."""
    f, p, q, alpha = _objective(k, entropy_sign)
    x = sp.symbols(f"x1:{k}", positive=True)
    on_simplex = {p[j]: x[j] for j in range(k - 1)} | {p[-1]: 1 - sum(x)}
    H = sp.hessian(f.subs(on_simplex), x)
    # The same Hessian through the chain rule with every probability a positive symbol: J^T diag(f'') J.
    J = sp.Matrix.vstack(sp.eye(k - 1), -sp.ones(1, k - 1))
    H_p = J.T * sp.diag(*[sp.diff(f, pi, 2) for pi in p]) * J
    if sp.simplify(H - H_p.subs(on_simplex)) != sp.zeros(k - 1, k - 1):
        return float("inf")
    minors = [sp.factor(sp.together((-H_p)[:m, :m].det())) for m in range(1, k)]
    if all(m.is_positive for m in minors):
        return 0.0
    rng = np.random.default_rng(k)
    worst = -np.inf
    for _ in range(20):
        w = rng.dirichlet(np.ones(k))
        vals = {pi: float(wi) for pi, wi in zip(p, w)} | {alpha: float(rng.uniform(0.1, 3.0))}
        Hn = np.array(H_p.subs(vals).evalf(), dtype=float)
        worst = max(worst, float(np.linalg.eigvalsh(Hn).max()))
    return worst if worst > 0 else float("inf")


@claim("theorem-1", title="Theorem 1: QRE policies are Boltzmann in E[Q]; agent objective strictly concave",
       reference="Thm 1, App. D", method="symbolic", tolerance=0.0,
       broken=[("entropy-sign-flip", "objective E[Q] - alpha H(p): entropy term with the wrong sign")])
def check_theorem_1(variant: str, quick: bool) -> Finding:
    sign = 1 if variant == PAPER else -1
    sizes = (2, 3) if quick else (2, 3, 4)
    worst_b, worst_c = 0.0, 0.0
    for k in sizes:
        worst_b = max(worst_b, boltzmann_residual(k, sign))
        worst_c = max(worst_c, concavity_violation(k, sign))
    note = (f"|A^i| in {sizes}: stationary-point residual {worst_b:.3g}, "
            f"concavity violation {worst_c:.3g}")
    return Finding(2 * len(sizes), max(worst_b, worst_c), note)
