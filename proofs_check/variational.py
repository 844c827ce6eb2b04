"""Appendix C: the evidence lower bound of the optimality model is the MaxEnt objective and
``log p(O) - ELBO = KL(q || p(tau | O))``, so ``ELBO <= log p(O)``.

The model (eq. 14): ``p(tau, O) = p(s_1) prod_t p(s_{t+1} | s_t, a_t) exp(sum_t r(s_t, a_t))`` with actions
under the counting measure; the variational distribution (eq. 15) keeps the dynamics and factorises the
actions over agents, ``q(a_t | s_t) = prod_m q^m_t(a^m_t | s_t)``; the bound (eq. 16) is
``E_q[sum_t r(s_t, a_t) - sum_m log q^m_t(a^m_t | s_t)]``.  For a horizon-2 game with 2 states and 2 agents
of 2 actions, sympy proves the gap identity with every reward, transition probability and policy entry a
symbol (rewards enter as ``w = exp(r)``); hypothesis then checks ``ELBO <= log p(O)`` and the identity in
floating point on random horizon-2 games.  The broken variant counts the entropy twice.
"""
from __future__ import annotations

import itertools

import numpy as np
import sympy as sp
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import logsumexp

from ._sym import residual_size, sample_simplex
from .registry import PAPER, Finding, claim
from .rounding import largest, rounding_bound
from .search import search

HORIZON = 2


def _rows(name, n_rows, k):
    return [list(sp.symbols(f"{name}{j}_0:{k}", positive=True)) for j in range(n_rows)]


def symbolic_gap_residual(entropy_weight: int) -> float:
    """``log p(O) - ELBO - KL(q || p(tau|O))`` for a symbolic 2-state, 2-agent x 2-action, horizon-2 game."""
    S, n, k = 2, 2, 2
    acts = list(itertools.product(range(k), repeat=n))
    d = _rows("d", 1, S)
    P = _rows("P", S * len(acts), S)              # P[s * |A| + a][s']
    w = _rows("w", S, len(acts))                  # w[s][a] = exp(r(s, a))
    q = {(t, m): _rows(f"q{t}{m}", S, k) for t in range(HORIZON) for m in range(n)}   # q[t, m][s][a^m]
    trajectories = list(itertools.product(range(S), range(len(acts)), range(S), range(len(acts))))

    def p_joint(tau):          # p(tau, O), eq. 14 (the transition after the last step sums to one)
        s1, a1, s2, a2 = tau
        return d[0][s1] * P[s1 * len(acts) + a1][s2] * w[s1][a1] * w[s2][a2]

    def q_traj(tau):           # eq. 15
        s1, a1, s2, a2 = tau
        pol = sp.Mul(*[q[0, m][s1][acts[a1][m]] * q[1, m][s2][acts[a2][m]] for m in range(n)])
        return d[0][s1] * P[s1 * len(acts) + a1][s2] * pol

    evidence = sum(p_joint(tau) for tau in trajectories)
    log_pO = sp.log(evidence)
    elbo, kl = 0, 0
    for tau in trajectories:
        s1, a1, s2, a2 = tau
        qt = q_traj(tau)
        log_q_actions = sum(sp.log(q[0, m][s1][acts[a1][m]]) + sp.log(q[1, m][s2][acts[a2][m]]) for m in range(n))
        elbo += qt * (sp.log(w[s1][a1]) + sp.log(w[s2][a2]) - entropy_weight * log_q_actions)   # eq. 16
        kl += qt * sp.expand_log(sp.log(qt) - sp.log(p_joint(tau)), force=False) + qt * log_pO
    simplex = {}
    for rows in [d, P, *q.values()]:
        for row in rows:
            simplex[row[-1]] = 1 - sum(row[:-1])
    residual = (log_pO - elbo - kl).xreplace(simplex)
    groups = [d, P, *q.values()]

    def sample(rng):
        vals = {}
        for rows in groups:
            vals |= sample_simplex(rows, rng)
        vals |= {x: sp.Rational(int(v), 4) for row in w for x, v in zip(row, rng.integers(1, 12, len(row)))}
        return vals
    return residual_size(residual, sample, points=2)


@st.composite
def horizon2_games(draw):
    """``(S, action counts, r (S, |A|), P (S, |A|, S), d, q[t][m] (S, |A^m|))`` with positive probabilities."""
    S = draw(st.integers(1, 3))
    counts = tuple(draw(st.integers(2, 3)) for _ in range(draw(st.integers(1, 3))))
    A = int(np.prod(counts))
    r = draw(hnp.arrays(float, (S, A), elements=st.floats(-3.0, 3.0)))
    rows = lambda shape: draw(hnp.arrays(float, shape, elements=st.floats(0.0, 1.0))) + 1e-3  # noqa: E731
    P = rows((S, A, S))
    P /= P.sum(-1, keepdims=True)
    d = rows((S,))
    d /= d.sum()
    q = [[rows((S, k)) for k in counts] for _ in range(HORIZON)]
    q = [[x / x.sum(-1, keepdims=True) for x in qt] for qt in q]
    return S, counts, r, P, d, q


def bound_terms(case, entropy_weight: float = 1.0):
    """``(log p(O), ELBO, KL(q || posterior))`` by enumerating every horizon-2 trajectory."""
    S, counts, r, P, d, q = case
    acts = list(itertools.product(*[range(k) for k in counts]))
    rew, dyn, log_pol = [], [], []
    for s1, a1, s2, a2 in itertools.product(range(S), range(len(acts)), range(S), range(len(acts))):
        rew.append(r[s1, a1] + r[s2, a2])
        dyn.append(np.log(d[s1]) + np.log(P[s1, a1, s2]))
        log_pol.append(sum(np.log(q[0][m][s1, acts[a1][m]]) + np.log(q[1][m][s2, acts[a2][m]])
                           for m in range(len(counts))))
    rew, dyn, log_pol = np.array(rew), np.array(dyn), np.array(log_pol)
    log_joint, log_q = dyn + rew, dyn + log_pol          # log p(tau, O) (eq. 14) and log q(tau) (eq. 15)
    qt = np.exp(log_q)
    log_pO = float(logsumexp(log_joint))
    elbo = float(qt @ (rew - entropy_weight * log_pol))   # eq. 16
    kl = float(qt @ (log_q - (log_joint - log_pO)))
    return log_pO, elbo, kl


def _measure(entropy_weight: float):
    def measure(case):
        log_pO, elbo, kl = bound_terms(case, entropy_weight)
        S, counts, r, P, d, q = case
        # ELBO and KL are q-weighted sums (weights summing to 1) over every trajectory of terms made of two
        # rewards, HORIZON * n_agents policy logs (times the entropy weight), two dynamics logs and log p(O):
        # their rounding is that of sums of that many terms of that size
        n_trajectories = (S * int(np.prod(counts))) ** 2
        logs = largest(np.log(d), np.log(P), *[np.log(x) for qt in q for x in qt])
        magnitude = (2 * largest(r) + (max(entropy_weight, 1) * HORIZON * len(counts) + 2) * logs
                     + abs(log_pO))
        rounding = rounding_bound(magnitude, n_trajectories)
        violation = max(elbo - log_pO, abs((log_pO - elbo) - kl)) - rounding
        return violation, f"log p(O) = {log_pO:.6g}, ELBO = {elbo:.6g}, KL = {kl:.6g}"
    return measure


@claim("appendix-C", title="Appendix C: ELBO <= log p(O), with gap KL(q || p(tau|O)) (horizon 2)",
       reference="App. C, eq. 14-16, eq. 2", method="symbolic+numeric", tolerance=1e-9,
       broken=[("entropy-twice", "bound with the policy entropy counted twice (weight 2, likelihood exp(r))")])
def check_appendix_c(variant: str, quick: bool) -> Finding:
    weight = 1 if variant == PAPER else 2
    sym = symbolic_gap_residual(weight)
    num = search(horizon2_games(), _measure(weight), max_examples=30 if quick else 300, seed=3)
    note = f"symbolic gap-identity residual {sym:.3g}; numeric worst at {num.note}"
    return Finding(1 + num.cases, max(sym, num.worst), note)
