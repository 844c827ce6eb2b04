"""Numerically stable building blocks: entropies, soft maxima and Boltzmann policies.

Everything here works for any temperature ``alpha >= 0`` and any finite payoff scale: exponentials
are always taken of ``(q - max q) / alpha`` (log-sum-exp), so ``alpha = 1e-3`` with ``|q| = 1e6``
neither overflows nor produces NaN.  ``alpha = 0`` means the hard maximum.
"""
from __future__ import annotations

import numpy as np
from scipy.special import xlogy

#: Relative tolerance under which two action values count as tied for ``alpha = 0``.
TIE_RTOL = 1e-12


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy ``-sum p log p`` (natural log) along ``axis``; ``0 log 0 = 0``.

    Parameters
    ----------
    p : ndarray
        Probabilities; each slice along ``axis`` is one distribution.
    axis : int, optional
        The axis that holds the distributions (the last by default).

    Returns
    -------
    ndarray
        The entropies, with ``axis`` removed.

    Examples
    --------
    >>> from tabular._math import entropy
    >>> round(float(entropy(np.array([0.5, 0.5]))), 4)  # log 2
    0.6931
    >>> np.round(entropy(np.array([[0.9, 0.1], [0.25, 0.75]])), 4)
    array([0.3251, 0.5623])
    """
    return -xlogy(p, p).sum(axis=axis)


def argmax_policy(q: np.ndarray) -> np.ndarray:
    """One-hot greedy policy along the last axis (the ``alpha = 0`` limit of :func:`boltzmann`).

    Tie-break, documented and deterministic: among actions whose value is within
    ``TIE_RTOL * max(1, |max q|)`` of the maximum, the lowest action index is chosen.

    Parameters
    ----------
    q : array_like
        Action values; the last axis is the action axis.

    Returns
    -------
    ndarray
        Same shape as ``q``: 1 at the chosen action, 0 elsewhere.

    Examples
    --------
    >>> from tabular._math import argmax_policy
    >>> argmax_policy([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    array([[0., 1., 0.],
           [1., 0., 0.]])
    """
    q = np.asarray(q, dtype=float)
    top = q.max(axis=-1, keepdims=True)
    near = q >= top - TIE_RTOL * np.maximum(1.0, np.abs(top))
    choice = near.argmax(axis=-1)  # first True = lowest index among the near-maxima
    out = np.zeros_like(q)
    np.put_along_axis(out, choice[..., None], 1.0, axis=-1)
    return out


def boltzmann(q: np.ndarray, alpha: float) -> np.ndarray:
    """Soft best response ``exp(q / alpha) / sum exp(q / alpha)`` along the last axis (eq. 8).

    Parameters
    ----------
    q : array_like
        Action values; the last axis is the action axis.
    alpha : float
        Temperature ``>= 0``; ``0`` gives :func:`argmax_policy`.

    Returns
    -------
    ndarray
        Probabilities of the shape of ``q``, summing to 1 along the last axis.

    Examples
    --------
    >>> from tabular._math import boltzmann
    >>> np.round(boltzmann(np.array([0.0, np.log(3.0)]), 1.0), 4)
    array([0.25, 0.75])
    >>> boltzmann(np.array([0.0, 1.0]), 0.0)
    array([0., 1.])
    """
    if alpha == 0:
        return argmax_policy(q)
    z = (np.asarray(q, dtype=float) - np.max(q, axis=-1, keepdims=True)) / alpha
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def soft_max_value(q: np.ndarray, alpha: float) -> np.ndarray:
    """``max_p E_p[q] + alpha H(p) = alpha log sum exp(q / alpha)`` along the last axis.

    Parameters
    ----------
    q : array_like
        Action values; the last axis is the action axis.
    alpha : float
        Temperature ``>= 0``; ``0`` gives the hard maximum.

    Returns
    -------
    ndarray
        The soft maxima, with the last axis removed.

    Examples
    --------
    >>> from tabular._math import soft_max_value
    >>> round(float(soft_max_value(np.array([0.0, 0.0]), 1.0)), 4)  # log 2
    0.6931
    >>> float(soft_max_value(np.array([1.0, 2.0]), 0.0))
    2.0
    """
    q = np.asarray(q, dtype=float)
    top = q.max(axis=-1)
    if alpha == 0:
        return top
    return top + alpha * np.log(np.exp((q - top[..., None]) / alpha).sum(axis=-1))
