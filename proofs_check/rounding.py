"""Rounding bounds: how far a correct floating-point computation may stray from exact arithmetic.

Every numeric claim subtracts the rounding error its computation may commit from the excess it measures
before comparing with the claim's tolerance, so rounding cannot make a correct engine fail, while a genuine
break (many orders of magnitude above these bounds; see each claim's broken variants) still shows.

The bounds are the standard leading-order ones (Higham, *Accuracy and Stability of Numerical Algorithms*,
2nd ed.): a sum or dot product of ``n`` terms of size at most ``m`` is off by at most ``n u m`` with
``u = eps / 2`` (Lemma 3.1, eq. 3.4), and a linear solve with a backward-stable method (LU with partial
pivoting, GMRES polished by refinement: the engine's ``solve_values``) is off by at most its backward error
times the condition number (Thm 7.2).  For a discounted evaluation ``V = (I - gamma P_pi)^{-1} c`` that
condition number in the sup norm is at most ``(1 + gamma) / (1 - gamma)``: ``||I - gamma P_pi|| <= 1 + gamma``
and ``||(I - gamma P_pi)^{-1}|| <= sum_k gamma^k = 1 / (1 - gamma)`` for a stochastic ``P_pi``; the same factor
bounds the rounding accumulated by iterated backups (each step's error is contracted by ``gamma``).
"""
from __future__ import annotations

import numpy as np

EPS = float(np.finfo(float).eps)
#: Factor over the leading-order bound: it covers the few operations each count of terms leaves out (the
#: products with policy probabilities and discount, the added rewards and entropies, the final subtraction of
#: two computed quantities) and the second-order terms.  Even with it the bounds stay below 1e-11 on the
#: claims' games (|Q| <= 300, at most 30 terms, gamma <= 0.9), far under every tolerance.
SAFETY = 16.0


def rounding_bound(magnitude: float, terms: int = 1, gamma: float = 0.0) -> float:
    """Largest rounding error of a quantity computed by sums of at most ``terms`` terms of size at most
    ``magnitude``; with ``gamma`` > 0, inside a ``gamma``-discounted evaluation (factor ``(1+gamma)/(1-gamma)``)."""
    return SAFETY * max(int(terms), 1) * EPS * float(magnitude) * (1.0 + gamma) / (1.0 - gamma)


def evaluation_terms(game) -> int:
    """Longest sum in a soft evaluation or backup of ``game``: the expectation over joint actions plus the
    one over successor states."""
    return game.n_joint_actions + game.n_states


def largest(*arrays) -> float:
    """The largest absolute entry of the given arrays or numbers."""
    return max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)


def evaluation_error(game, *values) -> float:
    """Rounding bound of one exact soft evaluation of ``game`` (``Q``, ``V``, ``J`` or anything solved the same
    way, such as a best-response value), given the computed values it produced (``Q`` and ``V``: together
    they bound every term the evaluation sums)."""
    return rounding_bound(largest(*values), evaluation_terms(game), game.gamma)
