"""Theorem 3 (MEHAML) and Lemmas G.1-G.2 (the MEHAMO inequalities), for every drift x neighbourhood instance.

The MaxEnt HA mirror operator of agent ``i_m`` at state ``s`` (Definition 2), up to terms free of its policy:
``M(p) = <p, q> + alpha H(p) - D(p | pi_old)`` with ``q = E_{a^{i_{1:m-1}} ~ pi_new}[Q^{i_{1:m}}_{pi_old}]``.

* Lemma G.1: if ``M(pi_new^{i_m}) >= M(pi_old^{i_m})`` at every state for every m (eq. 25), then
  ``V_new >= V_old`` everywhere.  Candidates are partial mirror steps (mixtures of the old policy and the
  exact step), which meet eq. 25 by concavity; eq. 25 is verified before the conclusion is checked.
* Lemma G.2: the exact MEHAML step (:func:`tabular.mehaml.mehaml_update`) meets eq. 29 at every state.
* Theorem 3: (1) ``V`` (hence ``J``) never decreases along Algorithm 1; (2)-(4) the iterates converge, and the
  limit is a QRE (exact QRE gap 0) whose value equals that of the QRE reached by HASPI from it.

Broken variants: simultaneous steps (each agent's step against the preceding agents' OLD policies), and an L1
drift ``c ||p - pi_old||_1``, non-negative and zero at ``pi_old`` but with non-zero Gateaux derivatives there
(Definition 4 violated), which stalls at policies that are not QRE.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from scipy.optimize import brentq

from tabular import JointPolicy, MarkovGame, haspi, qre_gap, soft_evaluate
from tabular._math import entropy
from tabular.evaluation import expect_over
from tabular.mehaml import (KLBall, KLDrift, L2Drift, Simplex, TVBall, ZeroDrift, mehaml, mehaml_update,
                            mirror_step)

from .registry import PAPER, Finding, claim
from .rounding import evaluation_error, largest, rounding_bound
from .search import search
from .strategies import games, orders, policies_or_mirrored, temperatures

DRIFT_INSTANCES = (ZeroDrift(), KLDrift(0.2), L2Drift(0.2))
NEIGHBOURHOOD_INSTANCES = (Simplex(), KLBall(0.5), TVBall(0.3))
INSTANCES = tuple((d, u) for d in DRIFT_INSTANCES for u in NEIGHBOURHOOD_INSTANCES)
#: Every initial probability is at least this (Assumption 1: a KL drift cannot leave the old policy's support).
EPS = 1e-3
#: Weight of the broken L1 drift.
L1_WEIGHT = 1.0


def _label(instance) -> str:
    d, u = instance
    return f"{d!r} x {u!r}"


def mehamo(q: np.ndarray, p: np.ndarray, p_old: np.ndarray, alpha: float, drift) -> np.ndarray:
    """``<p, q> + alpha H(p) - D(p | p_old)`` at every state (rows)."""
    return np.array([float(pr @ qr) + alpha * float(entropy(pr)) - drift(pr, po) for qr, pr, po in zip(q, p, p_old)])


def agent_targets(ev, old: JointPolicy, new_rows: dict, agent: int, predecessors, sequential: bool) -> np.ndarray:
    """Agent ``agent``'s ``q`` (S, |A^i|): averaged over the preceding agents' new policies (or old ones)."""
    current = [new_rows[j] if (sequential and j in predecessors) else old[j] for j in range(len(old))]
    return expect_over(ev.Q, current, [agent])


def stepped_policy(game, old: JointPolicy, alpha, order, instance, sequential: bool, t: float = 1.0):
    """Each agent in ``order`` moves a fraction ``t`` of the way to its exact mirror step."""
    drift, nbhd = instance
    ev = soft_evaluate(game, old, alpha)
    new_rows = {}
    for m, i in enumerate(order):
        q = agent_targets(ev, old, new_rows, i, order[:m], sequential)
        step = np.array([mirror_step(q[s], old[i][s], alpha, drift, nbhd) for s in range(game.n_states)])
        new_rows[i] = (1 - t) * old[i] + t * step
    return JointPolicy([new_rows[i] for i in range(game.n_agents)]), ev


def eq25_slack(game, old, new, ev, alpha, order, drift, sequential: bool) -> tuple[float, float]:
    """Smallest ``M(new) - M(old)`` over agents and states (eq. 25 / 29 hold when it is >= 0), and the rounding
    bound of such a difference: each ``M`` sums ``|A^i|`` products of ``q`` and the same number of entropy
    terms, plus the drift, all bounded by the largest ``|q|``, ``|M|`` and ``alpha log |A^i|``."""
    new_rows = {i: new[i] for i in range(game.n_agents)}
    worst, rounding = np.inf, 0.0
    for m, i in enumerate(order):
        q = agent_targets(ev, old, new_rows, i, order[:m], sequential)
        m_new, m_old = mehamo(q, new[i], old[i], alpha, drift), mehamo(q, old[i], old[i], alpha, drift)
        worst = min(worst, float((m_new - m_old).min()))
        K = game.n_actions[i]
        rounding = max(rounding, 2 * rounding_bound(largest(q, m_new, m_old) + alpha * np.log(K), 2 * K))
    return worst, rounding


# ----------------------------------------------------------------------------------------- Lemma G.1
@st.composite
def _g1_cases(draw):
    game = draw(games(max_states=2, coordination_first=True))
    return (game, draw(policies_or_mirrored(game, EPS)), draw(temperatures(0.05, 2.0)), draw(orders(game.n_agents)),
            draw(st.sampled_from(INSTANCES)), draw(st.one_of(st.just(1.0), st.floats(0.05, 1.0))))


def _g1_measure(variant):
    sequential = variant == PAPER

    def measure(case):
        game, old, alpha, order, instance, t = case
        new, ev = stepped_policy(game, old, alpha, order, instance, sequential, t)
        slack, slack_rounding = eq25_slack(game, old, new, ev, alpha, order, instance[0], sequential)
        if slack < -slack_rounding:  # the lemma's hypothesis does not hold: nothing to check in this case
            return -np.inf, f"eq. 25 not met (slack {slack:.3g})"
        # the proof sums the per-state MEHAMO gains along the discounted future: a gain short of 0 by at most
        # its rounding lowers V by at most that over 1 - gamma; plus the rounding of the two evaluations
        ev_new = soft_evaluate(game, new, alpha)
        drop = float(np.max(ev.V - ev_new.V))
        allowed = (max(-slack, 0.0) / (1 - game.gamma)
                   + 2 * evaluation_error(game, ev.Q, ev.V, ev_new.Q, ev_new.V))
        return drop - allowed, f"{game!r}, alpha={alpha:.3g}, {_label(instance)}, t={t:.3g}: V drop {drop:.3g}"
    return measure


@claim("lemma-G.1", title="Lemma G.1: MEHAMO improvement at every state (eq. 25) implies V_new >= V_old",
       reference="Lemma G.1, eq. 25-27, App. G", method="numeric", tolerance=1e-9,
       broken=[("simultaneous", "eq. 25 met against the preceding agents' OLD policies (simultaneous steps)")])
def check_lemma_g1(variant: str, quick: bool) -> Finding:
    measure, unmet = _g1_measure(variant), [0]

    def counted(case):
        v, note = measure(case)
        unmet[0] += v == -np.inf
        return v, note
    f = search(_g1_cases(), counted, max_examples=80 if quick else 400, seed=71)
    return Finding(f.cases, f.worst, f"{f.note} ({unmet[0]} of {f.cases} cases did not meet eq. 25 and were skipped)")


# ----------------------------------------------------------------------------------------- Lemma G.2
@st.composite
def _g2_cases(draw):
    game = draw(games(max_states=2, coordination_first=True))
    return (game, draw(policies_or_mirrored(game, EPS)), draw(temperatures(0.05, 2.0)), draw(orders(game.n_agents)),
            draw(st.sampled_from(INSTANCES)), draw(st.sampled_from(["uniform", "visitation"])))


def _g2_measure(variant):
    def measure(case):
        game, old, alpha, order, instance, sampling = case
        drift, nbhd = instance
        if variant == PAPER:
            ev = soft_evaluate(game, old, alpha)
            new = mehaml_update(game, old, alpha, order, drift, nbhd, sampling, ev)
        else:
            new, ev = stepped_policy(game, old, alpha, order, instance, sequential=False)
        slack, rounding = eq25_slack(game, old, new, ev, alpha, order, drift, sequential=True)
        return -slack - rounding, (f"{game!r}, alpha={alpha:.3g}, {_label(instance)}, {sampling}: min MEHAMO "
                                   f"gain {slack:.3g}")
    return measure


@claim("lemma-G.2", title="Lemma G.2: the MEHAML step raises the MEHAMO at every state (eq. 29)",
       reference="Lemma G.2, eq. 28-29, App. G", method="numeric", tolerance=1e-9,
       broken=[("simultaneous", "each agent's exact step taken against the preceding agents' OLD policies")])
def check_lemma_g2(variant: str, quick: bool) -> Finding:
    return search(_g2_cases(), _g2_measure(variant), max_examples=40 if quick else 300, seed=72)


# ----------------------------------------------------------------------------------------- Theorem 3
def l1_drift_step(q: np.ndarray, p_old: np.ndarray, alpha: float, c: float = L1_WEIGHT) -> np.ndarray:
    """Exact maximiser of ``<p, q> + alpha H(p) - c ||p - p_old||_1`` on the simplex (``alpha > 0``).

    KKT: ``p_k = clip(p_old_k, e^{(q_k - c - nu)/alpha - 1}, e^{(q_k + c - nu)/alpha - 1})``; ``nu`` by Brent's
    method on ``sum p = 1`` (the sum decreases in ``nu``).
    """
    def p_of(nu):
        lo = np.exp((q - c - nu) / alpha - 1.0)
        hi = np.exp((q + c - nu) / alpha - 1.0)
        return np.minimum(np.maximum(p_old, lo), hi)

    lo, hi = float(q.min()) - c - alpha * 50.0, float(q.max()) + c + alpha * 50.0
    nu = brentq(lambda v: p_of(v).sum() - 1.0, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    p = p_of(nu)
    return p / p.sum()


def l1_mehaml(game, alpha, init: JointPolicy, seed: int, max_iter: int = 500, tol: float = 1e-12):
    """Broken: Algorithm 1 with the L1 drift (sequential, whole simplex)."""
    rng = np.random.default_rng(seed)
    pi, J = init, [soft_evaluate(game, init, alpha).J]
    for _ in range(max_iter):
        ev = soft_evaluate(game, pi, alpha)
        rows = list(pi)
        for i in rng.permutation(game.n_agents):
            q = expect_over(ev.Q, rows, [int(i)])
            rows[i] = np.array([l1_drift_step(q[s], pi[i][s], alpha) for s in range(game.n_states)])
        new = JointPolicy(rows)
        J.append(soft_evaluate(game, new, alpha).J)
        done = new.max_abs_diff(pi) <= tol
        pi = new
        if done:
            break
    return pi, np.array(J)


@st.composite
def _t3_cases(draw):
    game = draw(games(max_states=2, gamma_max=0.8, coordination_first=True))
    sampling = draw(st.sampled_from(["uniform", "visitation"]))
    if sampling == "visitation":  # a full-support d, so every state is visited and updated
        game = MarkovGame(game.P, game.r, game.gamma)
    return (game, draw(policies_or_mirrored(game, EPS)), draw(temperatures(0.2, 2.0)), draw(st.integers(0, 2 ** 16)),
            sampling)


def _improvement_measure(variant, instance, iterations: int):
    drift, nbhd = instance

    def measure(case):
        game, pi, alpha, seed, sampling = case
        rng = np.random.default_rng(seed)
        ev, worst = soft_evaluate(game, pi, alpha), -np.inf
        for _ in range(iterations):
            order = tuple(int(i) for i in rng.permutation(game.n_agents))
            if variant == PAPER:
                new = mehaml_update(game, pi, alpha, order, drift, nbhd, sampling, ev)
            else:
                new, _ = stepped_policy(game, pi, alpha, order, instance, sequential=False)
            ev_new = soft_evaluate(game, new, alpha)
            # a drop within the rounding of the two evaluations is no decrease
            rounding = 2 * evaluation_error(game, ev.Q, ev.V, ev_new.Q, ev_new.V)
            worst = max(worst, float(np.max(ev.V - ev_new.V)) - rounding)
            pi, ev = new, ev_new
        return worst, (f"{game!r}, alpha={alpha:.3g}, {sampling} sampling: largest V drop {worst:.3g} in "
                       f"{iterations} iterations")
    return measure


@claim("theorem-3-improvement", title="Theorem 3 (1): every MEHAML instance improves V (so J) monotonically",
       reference="Thm 3 (1), Alg. 1, App. G", method="numeric", tolerance=1e-9,
       broken=[("simultaneous", "simultaneous mirror steps, for every drift x neighbourhood instance "
                                "(caught only if caught for each instance)")])
def check_theorem_3_improvement(variant: str, quick: bool) -> Finding:
    per_instance = []
    for instance in INSTANCES:
        f = search(_t3_cases(), _improvement_measure(variant, instance, 4 if quick else 8),
                   max_examples=10 if quick else 60, seed=73)
        per_instance.append((f, instance))
    cases = sum(f.cases for f, _ in per_instance)
    # the paper variant must hold for every instance (max); the broken one must be caught in every instance (min)
    pick = max if variant == PAPER else min
    f, inst = pick(per_instance, key=lambda fi: fi[0].worst)
    caught = sum(fi.worst > 1e-9 for fi, _ in per_instance)
    return Finding(cases, f.worst, f"{len(INSTANCES)} instances, {caught} with a violation; "
                                   f"{'worst' if variant == PAPER else 'least caught'}: {_label(inst)}: {f.note}")


def _qre_measure(variant, instance):
    def measure(case):
        game, pi0, alpha, seed, sampling = case
        if variant == PAPER:
            res = mehaml(game, alpha, instance[0], instance[1], sampling, init=pi0, seed=seed, tol=1e-11,
                         max_iter=3000)
            final, J, gap, msg = res.policy, res.J_history, res.qre_gap, res.message
        else:
            final, J = l1_mehaml(game, alpha, pi0, seed)
            gap, msg = qre_gap(game, final, alpha), "L1-drift iteration"
        # properties 2-3: the limit value is a QRE value: HASPI started at the limit stays at the same value
        polished = haspi(game, alpha, init=final, order="random", seed=seed, tol=1e-12, compute_gap=False)
        V = soft_evaluate(game, final, alpha).V
        v_gap = float(np.max(np.abs(polished.evaluation.V - V)))
        J_drop = float(np.max(-np.diff(J), initial=0.0))
        # each of the three is a difference of two evaluations (a best-response value is at most |V| + the gap)
        excess = max(gap, v_gap, J_drop)
        rounding = 2 * evaluation_error(game, polished.evaluation.V, np.abs(V) + excess)
        return excess - rounding, (f"{game!r}, alpha={alpha:.3g}, {sampling} sampling: {msg}; "
                                   f"QRE gap {gap:.3g}, |V - V_QRE| {v_gap:.3g}")
    return measure


@claim("theorem-3-qre", title="Theorem 3 (2)-(4): every MEHAML instance converges to a QRE and its values",
       reference="Thm 3 (2)-(4), App. G steps 1-4", method="numeric", tolerance=1e-7,
       broken=[("l1-drift", f"drift {L1_WEIGHT:g} * ||p - p_old||_1: non-zero Gateaux derivative at p_old")])
def check_theorem_3_qre(variant: str, quick: bool) -> Finding:
    instances = INSTANCES if variant == PAPER else INSTANCES[:1]
    results = [(search(_t3_cases(), _qre_measure(variant, inst), max_examples=4 if quick else 25, seed=74), inst)
               for inst in instances]
    f, inst = max(results, key=lambda fi: fi[0].worst)
    return Finding(sum(fi.cases for fi, _ in results), f.worst, f"{len(instances)} instance(s); worst "
                                                               f"{_label(inst)}: {f.note}")
