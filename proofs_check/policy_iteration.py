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
        g = game.gamma
        dist = float(np.max(np.abs(Q1 - Q2)))
        ratio_excess = 0.0
        if dist > 0:
            ratio = float(np.max(np.abs(soft_backup(game, pi, alpha, Q1, variant) -
                                        soft_backup(game, pi, alpha, Q2, variant)))) / dist
            ratio_excess = ratio - g
        Q_pi = soft_evaluate(game, pi, alpha).Q
        Q, err0 = Q1, float(np.max(np.abs(Q1 - Q_pi)))
        for _ in range(BACKUP_STEPS):
            Q = soft_backup(game, pi, alpha, Q, variant)
        errK = float(np.max(np.abs(Q - Q_pi)))
        scale = 1.0 + float(np.max(np.abs(Q_pi)))
        rate_excess = (errK - g ** BACKUP_STEPS * err0) / scale
        # the engine's own iterative evaluation must land on its exact solve (stopping rule: step <= 1e-13,
        # so the distance to the fixed point is at most gamma / (1 - gamma) * 1e-13)
        V_it = soft_evaluate(game, pi, alpha, method="iterative", tol=1e-13).V if variant == PAPER else None
        engine_excess = 0.0 if V_it is None else (
            float(np.max(np.abs(V_it - soft_evaluate(game, pi, alpha).V))) - 1e-13 / (1 - g)) / scale
        return max(ratio_excess, rate_excess, engine_excess), (
            f"{game!r}, alpha={alpha:.3g}: contraction ratio - gamma {ratio_excess:.3g}, error after "
            f"{BACKUP_STEPS} backups {errK:.3g}")
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
        return max(drops), f"{game!r}, alpha={alpha:.3g}, order {order}: J {old.J:.6g} -> {new.J:.6g}"
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
            return max(res.qre_gap, J_drop), (f"{game!r}, alpha={alpha:.3g}: {res.message}, "
                                              f"QRE gap {res.qre_gap:.3g}")
        _, gap = simultaneous_iteration(game, alpha, pi)
        return gap, f"{game!r}, alpha={alpha:.3g}: simultaneous iteration ends with QRE gap {gap:.3g}"
    return measure


@claim("theorem-2", title="Theorem 2: HASPI converges to a QRE (QRE gap -> 0, J monotone)",
       reference="Thm 2, App. E.4", method="numeric", tolerance=1e-8,
       broken=[("simultaneous", "simultaneous soft policy iteration (all agents update against old policies)")])
def check_theorem_2(variant: str, quick: bool) -> Finding:
    return search(_convergence_cases(), _convergence_measure(variant), max_examples=15 if quick else 120, seed=2)
