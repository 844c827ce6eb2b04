"""Lemma 4.1 (soft policy evaluation), Lemma 4.2 (soft policy improvement) and Theorem 2 (HASPI -> QRE),
checked on the engine with hypothesis-drawn games.

* Lemma 4.1: the soft Bellman backup ``T Q = r + gamma P (E_pi[Q] + alpha sum_i H_i)`` is a gamma-contraction
  in the sup norm (``||T Q1 - T Q2|| <= gamma ||Q1 - Q2||``, equality for a constant shift) and its iterates
  approach the engine's exact ``Q_pi`` at rate gamma (``||Q_k - Q_pi|| <= gamma^k ||Q_0 - Q_pi||``).
* Lemma 4.2: after one Proposition 1 update (:func:`tabular.sequential_update`) ``Q``, ``V`` and ``J``
  do not decrease anywhere.
* Theorem 2: :func:`tabular.haspi` converges and its limit has QRE gap 0 (no agent gains by a unilateral
  soft best response, computed exactly by :func:`tabular.qre_gap`).

Broken variants: a backup without the discount, a backup with the entropy at the current state instead of
the next, and simultaneous (Jacobi) soft updates where every agent responds to the others' old policies.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tabular import JointPolicy, haspi, sequential_update, soft_evaluate
from tabular._math import boltzmann
from tabular.haspi import iterate_updates
from tabular.evaluation import expect_over

from .registry import PAPER, Finding, claim
from .rounding import evaluation_error, evaluation_terms, largest, rounding_bound
from .search import search
from .strategies import games, orders, policies, policies_or_mirrored, temperatures

#: Backup steps of the Lemma 4.1 convergence check.
BACKUP_STEPS = 40


def soft_backup(game, policy: JointPolicy, alpha: float, Q: np.ndarray, variant: str = PAPER) -> np.ndarray:
    """One soft Bellman backup of ``Q`` (eq. 17-18); the variants are deliberately broken."""
    pi = policy.joint()
    H = alpha * policy.entropy_sum()
    EQ = (pi * Q).reshape(game.n_states, -1).sum(axis=1)
    if variant == "current-state-entropy":
        return game.r + H.reshape((-1,) + (1,) * game.n_agents) + game.gamma * game.expected_next(EQ)
    gamma = 1.0 if variant == "no-discount" else game.gamma
    return game.r + gamma * game.expected_next(EQ + H)


@st.composite
def _evaluation_cases(draw):
    game = draw(games())
    pi = draw(policies(game))
    alpha = draw(temperatures(0.0, 2.0))
    Q1 = draw(hnp.arrays(float, game.joint_shape, elements=st.floats(-5.0, 5.0)))
    shift = draw(st.one_of(st.none(), st.floats(-5.0, 5.0).filter(lambda c: abs(c) > 1e-3)))
    Q2 = Q1 + shift if shift is not None else draw(hnp.arrays(float, game.joint_shape, elements=st.floats(-5.0, 5.0)))
    return game, pi, alpha, Q1, Q2


def _evaluation_measure(variant):
    def measure(case):
        game, pi, alpha, Q1, Q2 = case
        g, terms = game.gamma, evaluation_terms(game)
        H = alpha * pi.entropy_sum()
        # one backup sums at most ``terms`` terms bounded by |r| + |Q| + alpha H: its rounding bound, doubled for
        # the difference of two backups.  A ratio of two distances that rounding alone could produce (the two
        # tables a few ulps apart) is thereby never read as a failure of the contraction.
        backup_error = rounding_bound(largest(game.r) + largest(Q1, Q2) + largest(H), terms)
        dist = float(np.max(np.abs(Q1 - Q2)))
        ratio_excess = 0.0
        if dist > 0:
            diff = float(np.max(np.abs(soft_backup(game, pi, alpha, Q1, variant) -
                                       soft_backup(game, pi, alpha, Q2, variant))))
            ratio_excess = (diff - g * dist - 2 * backup_error) / dist
        exact = soft_evaluate(game, pi, alpha)
        Q_pi = exact.Q
        Q, err0 = Q1, float(np.max(np.abs(Q1 - Q_pi)))
        for _ in range(BACKUP_STEPS):
            Q = soft_backup(game, pi, alpha, Q, variant)
        errK = float(np.max(np.abs(Q - Q_pi)))
        scale = 1.0 + largest(Q_pi)
        # rounding of the exact solve plus that accumulated by the backups (contracted by gamma each step)
        rounding = evaluation_error(game, Q_pi, exact.V, Q1) + backup_error / (1 - g)
        rate_excess = (errK - g ** BACKUP_STEPS * err0 - rounding) / scale
        # the engine's own iterative evaluation must land on its exact solve (stopping rule: step <= tol, so the
        # distance to the fixed point is at most gamma / (1 - gamma) * tol <= tol / (1 - gamma)); tol scales
        # with |Q| so that it stays above the rounding floor of a backup step
        tol = 1e-13 * scale
        V_it = soft_evaluate(game, pi, alpha, method="iterative", tol=tol).V if variant == PAPER else None
        engine_excess = 0.0 if V_it is None else (
            float(np.max(np.abs(V_it - exact.V))) - tol / (1 - g) - rounding) / scale
        return max(ratio_excess, rate_excess, engine_excess), (
            f"{game!r}, alpha={alpha:.3g}: contraction ratio - gamma {ratio_excess:.3g} (|Q1 - Q2| {dist:.3g}), "
            f"error after {BACKUP_STEPS} backups {errK:.3g}")
    return measure


@claim("lemma-4.1", title="Lemma 4.1: the soft Bellman backup is a gamma-contraction converging to Q_pi",
       reference="Lemma 4.1, eq. 5, 17-18, App. E.1", method="numeric", tolerance=1e-10,
       broken=[("no-discount", "backup bootstraps with discount 1 instead of gamma"),
               ("current-state-entropy", "entropy bonus of the current state instead of the next state")])
def check_lemma_4_1(variant: str, quick: bool) -> Finding:
    return search(_evaluation_cases(), _evaluation_measure(variant), max_examples=40 if quick else 300, seed=41)


def simultaneous_update(game, policy: JointPolicy, alpha: float, evaluation=None) -> JointPolicy:
    """Broken: every agent's eq. 8 update against the OLD policies of all the others (Jacobi, not sequential)."""
    ev = soft_evaluate(game, policy, alpha) if evaluation is None else evaluation
    return JointPolicy([boltzmann(expect_over(ev.Q, policy, [i]), alpha) for i in range(game.n_agents)])


@st.composite
def _improvement_cases(draw):
    game = draw(games())
    return game, draw(policies_or_mirrored(game)), draw(temperatures(0.02, 2.0)), draw(orders(game.n_agents))


def _improvement_measure(variant):
    def measure(case):
        game, pi, alpha, order = case
        old = soft_evaluate(game, pi, alpha)
        new_pi = (sequential_update(game, pi, alpha, order, old) if variant == PAPER
                  else simultaneous_update(game, pi, alpha, old))
        new = soft_evaluate(game, new_pi, alpha)
        drops = [float(np.max(old.Q - new.Q)), float(np.max(old.V - new.V)), old.J - new.J]
        # each side is one exact evaluation: a drop within their two rounding bounds is no decrease
        rounding = 2 * evaluation_error(game, old.Q, old.V, new.Q, new.V)
        return max(drops) - rounding, (f"{game!r}, alpha={alpha:.3g}, order {order}: J {old.J:.6g} -> "
                                       f"{new.J:.6g}, largest drop {max(drops):.3g}")
    return measure


@claim("lemma-4.2", title="Lemma 4.2: Q_new >= Q_old pointwise and J_new >= J_old after the Prop. 1 update",
       reference="Lemma 4.2, eq. 22-23, App. E.3", method="numeric", tolerance=1e-9,
       broken=[("simultaneous", "simultaneous soft updates: every agent responds to the others' old policies")])
def check_lemma_4_2(variant: str, quick: bool) -> Finding:
    return search(_improvement_cases(), _improvement_measure(variant), max_examples=40 if quick else 300, seed=42)


def simultaneous_iteration(game, alpha, init, tol=1e-12, max_iter=300) -> tuple[JointPolicy, float]:
    """Broken: iterate :func:`simultaneous_update` with HASPI's loop (a few dozen sweeps on these games);
    returns the final policy and its QRE gap."""
    res = iterate_updates(game, alpha, lambda pi, _order, ev: simultaneous_update(game, pi, alpha, ev), init,
                          tuple(range(game.n_agents)), None, tol, max_iter)
    return res["policy"], res["qre_gap"]


@st.composite
def _convergence_cases(draw):
    game = draw(games(max_states=2, gamma_max=0.8))
    return game, draw(policies_or_mirrored(game)), draw(temperatures(0.1, 2.0)), draw(st.integers(0, 2 ** 16))


def _convergence_measure(variant):
    def measure(case):
        game, pi, alpha, seed = case
        if variant == PAPER:
            res = haspi(game, alpha, init=pi, seed=seed, tol=1e-12, max_iter=2000)
            J_drop = float(np.max(-np.diff(res.J_history), initial=0.0))
            excess, V, how = max(res.qre_gap, J_drop), res.evaluation.V, f"HASPI ({res.message})"
        else:
            policy, excess = simultaneous_iteration(game, alpha, pi)
            V, how = soft_evaluate(game, policy, alpha).V, "simultaneous iteration"
        # the gap is a best-response value minus V_pi and a J drop a difference of two J: two evaluations each
        # (the best-response value is at most |V| + the gap itself)
        rounding = 2 * evaluation_error(game, V, np.abs(V) + excess)
        return excess - rounding, f"{game!r}, alpha={alpha:.3g}: {how} ends with QRE gap / J drop {excess:.3g}"
    return measure


@claim("theorem-2", title="Theorem 2: HASPI converges to a QRE (QRE gap -> 0, J monotone)",
       reference="Thm 2, App. E.4", method="numeric", tolerance=1e-8,
       broken=[("simultaneous", "simultaneous soft policy iteration (all agents update against old policies)")])
def check_theorem_2(variant: str, quick: bool) -> Finding:
    return search(_convergence_cases(), _convergence_measure(variant), max_examples=15 if quick else 120, seed=2)
