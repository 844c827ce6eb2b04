"""Lemma A.2 (continuity of the soft Q in the policy), with the explicit bound from its proof.

For joint policies ``pi``, ``pi_hat`` (distance of Def. 7: the largest absolute difference over states and
joint actions) the proof gives

    ||Q_pi - Q_pi_hat|| <= gamma / (1 - gamma) * ( |A| (||Q_pi|| + alpha ||log pi||) ||pi - pi_hat||
                                                   + alpha ||log pi - log pi_hat|| ),

finite on eps-soft policies (Assumption 1); the proof's ``Q_max`` and ``log_max`` bound ``|Q_pi|`` and
``|log pi|``, which is all its steps use, so they are taken as those norms.  hypothesis draws eps-soft pairs
(far apart, close, and close on either side of a tie between two actions) and the bound is checked with the
engine's exact ``Q``.  Each case's ratio ``||Q_pi - Q_pi_hat|| / bound`` (the empirical Lipschitz estimate
against the proof's constant, after the rounding of both sides is allowed for) is the measure: the violation is
that ratio minus 1.  The broken variant
evaluates the greedy (most likely action) policy instead, which is discontinuous in pi.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tabular import JointPolicy, soft_evaluate
from tabular._math import argmax_policy

from .registry import Finding, claim
from .rounding import evaluation_error, largest, rounding_bound
from .search import search
from .strategies import games, policies, temperatures

#: Every probability of the drawn policies is at least this (Assumption 1's eps-softness).
EPS = 1e-3


@st.composite
def _pairs(draw):
    game = draw(games(gamma_min=0.3))  # with gamma = 0, Q = r does not depend on pi at all
    base = draw(policies(game, floor=EPS))
    alpha = draw(temperatures(0.0, 2.0))
    kind = draw(st.sampled_from(["far", "near", "near-tie"]))
    if kind == "near-tie":  # both policies close to a tie between an action and its neighbour, on either side
        swapped = [np.roll(p, 1, axis=1) for p in base]
        t = draw(st.floats(1e-9, 1e-3))
        pi = JointPolicy([(0.5 + t) * p + (0.5 - t) * o for p, o in zip(base, swapped)])
        pi_hat = JointPolicy([(0.5 - t) * p + (0.5 + t) * o for p, o in zip(base, swapped)])
        return game, pi, pi_hat, alpha
    other = draw(policies(game, floor=EPS))
    t = draw(st.floats(1e-9, 1e-3)) if kind == "near" else draw(st.floats(0.0, 1.0))
    return game, base, JointPolicy([(1 - t) * p + t * o for p, o in zip(base, other)]), alpha


def _q(game, policy, alpha, variant):
    if variant == "greedy-evaluation":
        policy = JointPolicy([argmax_policy(p) for p in policy])
    return soft_evaluate(game, policy, alpha).Q


def lipschitz_bound(game, pi: JointPolicy, pi_hat: JointPolicy, alpha: float, Q_pi: np.ndarray):
    """The proof's bound on ``||Q_pi - Q_pi_hat||`` and the rounding error of its computed value."""
    g = game.gamma
    joint, joint_hat = pi.joint(), pi_hat.joint()
    log_pi, log_hat = np.log(joint), np.log(joint_hat)
    d_pi = float(np.max(np.abs(joint - joint_hat)))
    d_log = float(np.max(np.abs(log_pi - log_hat)))
    A = game.n_joint_actions
    weight = A * (largest(Q_pi) + alpha * largest(log_pi))
    bound = g / (1 - g) * (weight * d_pi + alpha * d_log)
    # a joint probability is a product of n_agents factors and its log adds one more rounding: the distances
    # are off by at most these (the bound's other factors carry relative errors of a few ulps, negligible)
    n = game.n_agents + 1
    d_pi_error = rounding_bound(1.0, n)
    d_log_error = rounding_bound(1.0 + largest(log_pi, log_hat), n)
    return bound, g / (1 - g) * (weight * d_pi_error + alpha * d_log_error) + rounding_bound(bound, n)


def _measure(variant):
    def measure(case):
        game, pi, pi_hat, alpha = case
        Q, Q_hat = _q(game, pi, alpha, variant), _q(game, pi_hat, alpha, variant)
        gap = float(np.max(np.abs(Q - Q_hat)))
        bound, bound_error = lipschitz_bound(game, pi, pi_hat, alpha, soft_evaluate(game, pi, alpha).Q)
        # Q and Q_hat are two exact evaluations: their rounding comes off the measured gap, and the bound's own
        # rounding is added to it, so the ratio only exceeds 1 when the gap truly exceeds the bound
        excess = max(gap - 2 * evaluation_error(game, Q, Q_hat), 0.0)
        ratio = 0.0 if excess == 0 else excess / (bound + bound_error) if bound + bound_error > 0 else np.inf
        return ratio - 1.0, f"{game!r}, alpha={alpha:.3g}: |dQ| {gap:.3g} vs bound {bound:.3g} (ratio {ratio:.3g})"
    return measure


@claim("lemma-A.2", title="Lemma A.2: Q is continuous in pi, within the proof's explicit Lipschitz bound",
       reference="Lemma A.2, Def. 7, Cor. 1-2", method="numeric", tolerance=1e-6,
       broken=[("greedy-evaluation", "Q of the greedy (most likely action) policy: discontinuous in pi")])
def check_lemma_a2(variant: str, quick: bool) -> Finding:
    return search(_pairs(), _measure(variant), max_examples=40 if quick else 300, seed=7)
