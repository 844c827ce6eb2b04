"""Lemma A.1 (advantage decomposition) and Proposition 1 (joint soft policy decomposition), with sympy.

Multi-agent soft Q over an ordered subset (eq. 7) and the soft advantage (Def. 6) are built from symbolic
``Q(a)``, policies and entropies.  Lemma A.1 is checked for every ordered agent subset and joint action;
Proposition 1 as two identities on the simplex (``KL`` is eq. 9's objective, ``L_m`` the m-th agent's
expected advantage plus its entropy, ``KL_m`` eq. 8's objective)::

    alpha KL(pi || exp(Q_old / alpha) / Z) + sum_m L_m(pi)  ==  alpha log Z - V_old          (a)
    d/d pi^{i_m} [ L_m(pi) + alpha KL_m(pi^{i_m}; pi^{i_{1:m-1}}) ]  ==  0                  (b)

so eq. 9's joint KL is, up to terms free of the agent being updated, the sum of the per-agent eq. 8
objectives, and minimising them in sequence minimises eq. 9.  A numeric twin checks the engine's
``multiagent_advantage`` against Lemma A.1 on hypothesis-drawn games.
"""
from __future__ import annotations

import itertools

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from tabular import multiagent_advantage, soft_evaluate

from ._sym import entropy, joint_actions, policy_symbols, residual_size, sample_simplex, simplex_subs
from .registry import PAPER, Finding, claim
from .rounding import largest, rounding_bound
from .search import search
from .strategies import markov_games, policies, temperatures


class SymbolicGame:
    """Symbolic ``Q(a)``, temperature and a multi-agent soft Q (eq. 7) for one state."""

    def __init__(self, n_actions):
        self.n_actions = tuple(n_actions)
        self.n = len(n_actions)
        self.actions = joint_actions(n_actions)
        self.Q = {a: sp.Symbol("Q_" + "".join(str(x + 1) for x in a), real=True) for a in self.actions}
        self.alpha = sp.Symbol("alpha", positive=True)

    def multiagent_q(self, pi, H, agents, acts):
        """``Q^{agents}(acts)``: average Q over the other agents with ``pi``, plus alpha times their entropies."""
        others = [j for j in range(self.n) if j not in agents]
        total = 0
        for rest in itertools.product(*[range(self.n_actions[j]) for j in others]):
            a = [0] * self.n
            for i, x in zip(agents, acts):
                a[i] = x
            weight = 1
            for j, x in zip(others, rest):
                a[j] = x
                weight *= pi[j][x]
            total += weight * self.Q[tuple(a)]
        return total + self.alpha * sum(H[j] for j in others)

    def advantage(self, pi, H, agents, acts, given=(), given_acts=()):
        """Def. 6: ``Q^{given, agents} - Q^{given}``."""
        return (self.multiagent_q(pi, H, list(given) + list(agents), list(given_acts) + list(acts))
                - self.multiagent_q(pi, H, list(given), list(given_acts)))

    def sample(self, p, rng):
        vals = sample_simplex(p, rng)
        vals.update({q: sp.Rational(int(v), 3) for q, v in zip(self.Q.values(), rng.integers(-9, 10, len(self.Q)))})
        vals[self.alpha] = sp.Rational(int(rng.integers(1, 7)), 3)
        return vals


# ----------------------------------------------------------------------------------------- Lemma A.1
def advantage_decomposition(n_actions, conditioned: bool) -> tuple[int, float]:
    """Check A^{i_{1:m}}(a) == sum_j A^{i_j}(a^{i_{1:j-1}}, a^{i_j}) for every ordered subset and action.

    The entropies ``H(pi^i)`` enter as free symbols: they do not depend on actions, so this is more general.
    """
    g = SymbolicGame(n_actions)
    p = policy_symbols("p", n_actions)
    H = sp.symbols(f"H1:{g.n + 1}", real=True)

    def sample(rng):
        return g.sample(p, rng) | {h: sp.Rational(int(rng.integers(0, 9)), 4) for h in H}
    identities, worst = 0, 0.0
    for m in range(1, g.n + 1):
        for agents in itertools.permutations(range(g.n), m):
            for acts in itertools.product(*[range(n_actions[i]) for i in agents]):
                lhs = g.advantage(p, H, agents, acts)
                rhs = sum(g.advantage(p, H, [agents[j]], [acts[j]],
                                      given=agents[:j] if conditioned else (),
                                      given_acts=acts[:j] if conditioned else ())
                          for j in range(m))
                worst = max(worst, residual_size(lhs - rhs, sample, points=2))
                identities += 1
    return identities, worst


@claim("lemma-A.1", title="Lemma A.1: the joint soft advantage is the sum of sequential per-agent advantages",
       reference="Lemma A.1, eq. 12", method="symbolic", tolerance=0.0,
       broken=[("unconditioned", "per-agent advantages A^{i_j}(a^{i_j}) ignoring the preceding agents' "
                                 "actions (MAPPO-style independent advantages)")])
def check_lemma_a1(variant: str, quick: bool) -> Finding:
    shapes = [(2, 3), (2, 2, 2)] if quick else [(2, 3), (3, 3), (2, 2, 2), (2, 3, 2)]
    total, worst = 0, 0.0
    for shape in shapes:
        k, w = advantage_decomposition(shape, conditioned=(variant == PAPER))
        total, worst = total + k, max(worst, w)
    return Finding(total, worst, f"{total} identities (every ordered subset and joint action) for |A| in {shapes}")


@st.composite
def _engine_cases(draw):
    game = draw(markov_games())
    pi = draw(policies(game))
    alpha = draw(temperatures(0.0, 2.0))
    m = draw(st.integers(1, game.n_agents))
    agents = draw(st.permutations(list(range(game.n_agents))))[:m]
    return game, pi, alpha, tuple(agents)


def _engine_measure(variant: str):
    def measure(case):
        game, pi, alpha, agents = case
        ev = soft_evaluate(game, pi, alpha)
        joint = multiagent_advantage(ev, pi, list(agents))
        S = game.n_states
        total = np.zeros_like(joint)
        for j, i in enumerate(agents):
            given = list(agents[:j]) if variant == PAPER else []
            term = multiagent_advantage(ev, pi, [i], given=given)
            # place axes (s, given..., i) into the joint array's (s, agents...) layout by broadcasting
            shape = [S] + [game.n_actions[a] if (a in given or a == i) else 1 for a in agents]
            total = total + term.reshape(shape)
        gap = float(np.max(np.abs(joint - total)))
        # the identity is algebraic in Q (the same table on both sides): only the arithmetic of the advantages
        # rounds, each a difference of two expectations over at most |A| joint actions of Q plus entropies, and
        # the sum adds m of them
        H = alpha * float(np.max(pi.entropy_sum()))
        rounding = rounding_bound(largest(ev.Q) + H, (len(agents) + 1) * game.n_joint_actions)
        return gap - rounding, f"{game!r}, alpha={alpha:.3g}, subset {agents}: |joint - sum| {gap:.3g}"
    return measure


@claim("lemma-A.1-engine", title="Lemma A.1 on the engine's multiagent_advantage (random games)",
       reference="Lemma A.1, eq. 7, Def. 6", method="numeric", tolerance=1e-9,
       broken=[("unconditioned", "per-agent advantages computed without conditioning on preceding agents")])
def check_lemma_a1_engine(variant: str, quick: bool) -> Finding:
    return search(_engine_cases(), _engine_measure(variant), max_examples=25 if quick else 200, seed=11)


# ----------------------------------------------------------------------------------------- Proposition 1
def proposition_1_residual(n_actions, order, sequential: bool) -> float:
    """Largest residual of identities (a) and (b) for one game shape and agent order (0 = both exact)."""
    g = SymbolicGame(n_actions)
    x = policy_symbols("x", n_actions)    # the policy being optimised (pi_new)
    o = policy_symbols("o", n_actions)    # pi_old, whose Q the update uses
    Ho = [entropy(row) for row in o]
    Hx = [entropy(row) for row in x]
    alpha, Z = g.alpha, sum(sp.exp(q / g.alpha) for q in g.Q.values())
    # eq. 9: KL(pi || exp(Q/alpha)/Z) for the product policy pi = prod_i x^i
    kl_joint = 0
    for a in g.actions:
        prob = sp.Mul(*[x[i][a[i]] for i in range(g.n)])
        kl_joint += prob * (sum(sp.log(x[i][a[i]]) for i in range(g.n)) - g.Q[a] / alpha + sp.log(Z))
    V_old = g.multiagent_q(o, Ho, [], [])
    pred_policy = x if sequential else o   # the broken variant draws the preceding agents from pi_old
    L_total, derivative_residuals = 0, []
    for m, i in enumerate(order):
        before = list(order[:m])
        L_m, KL_m_inner = 0, {}
        for acts in itertools.product(*[range(n_actions[j]) for j in before]):
            w = sp.Mul(*[pred_policy[j][aj] for j, aj in zip(before, acts)])
            for b in range(n_actions[i]):
                KL_m_inner[b] = KL_m_inner.get(b, 0) + w * g.multiagent_q(o, Ho, before + [i], list(acts) + [b])
            L_m -= w * g.multiagent_q(o, Ho, before, list(acts))
        L_m += sum(x[i][b] * KL_m_inner[b] for b in range(n_actions[i])) + alpha * Hx[i]
        Z_m = sum(sp.exp(KL_m_inner[b] / alpha) for b in range(n_actions[i]))
        kl_m = sum(x[i][b] * (sp.log(x[i][b]) - KL_m_inner[b] / alpha + sp.log(Z_m)) for b in range(n_actions[i]))
        inner = sp.expand((L_m + alpha * kl_m).xreplace(simplex_subs(x)))
        derivative_residuals += [sp.diff(inner, v) for v in x[i][:-1]]
        L_total += L_m
    identity_a = sp.expand((alpha * kl_joint + L_total - (alpha * sp.log(Z) - V_old)).xreplace(simplex_subs(x)))
    sample = lambda rng: g.sample(x, rng) | g.sample(o, rng)  # noqa: E731
    return max(residual_size(r, sample, points=3) for r in [identity_a, *derivative_residuals])


@claim("proposition-1", title="Proposition 1: eq. 9's joint KL decomposes into the sequential eq. 8 objectives",
       reference="Prop. 1, eq. 8-9, App. E.2", method="symbolic", tolerance=0.0,
       broken=[("simultaneous", "agent i_m's objective averages over the preceding agents' OLD policies "
                                "(simultaneous instead of sequential update)")])
def check_proposition_1(variant: str, quick: bool) -> Finding:
    cases = [((2, 2), (0, 1)), ((2, 3), (1, 0))]
    if not quick:
        cases += [((2, 2, 2), (0, 1, 2)), ((2, 2, 2), (2, 0, 1))]
    worst = max(proposition_1_residual(shape, order, variant == PAPER) for shape, order in cases)
    return Finding(len(cases), worst, f"identities (a), (b) for (|A|, order) in {cases}")
