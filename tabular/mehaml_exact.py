r"""Exact mirror steps for the built-in drifts and neighbourhoods, vectorised over states.

Each row (state) solves ``max <p, q> + alpha H(p) - beta KL(p || p_old) - w ||p - p_old||^2`` over the simplex,
optionally inside ``KL(p || p_old) <= delta`` or ``0.5 ||p - p_old||_1 <= delta``.  For ball multipliers
``mu >= 0`` the Lagrangian maximiser satisfies the KKT conditions

.. math::
    a \log p_k + 2 w p_k = z_k - \nu \mp \mu_{TV}/2, \qquad a = \alpha + \beta + \mu_{KL},\
    z_k = q_k + (\beta + \mu_{KL}) \log p_{old,k} - a + 2 w p_{old,k},

with a dead zone ``p_k = p_old,k`` for the TV subgradient.  The left side is increasing in ``p_k``: its inverse is
``exp(z / a)`` (``w = 0``), ``(a / 2w) W(2w e^{z/a} / a)`` with Lambert's ``W`` (``a, w > 0``) or ``max(z, 0) / 2w``
(``a = 0``).  ``w = 0`` without a TV multiplier is the closed form (eq. 8 for ``beta = 0``; for the KL drift
``p ∝ exp((q + beta log p_old) / (alpha + beta))``).  Otherwise the normaliser ``nu`` solves ``sum p = 1`` and the
ball multiplier solves ``dist(p(mu)) = delta`` (decreasing in ``mu``), both by bracketed Illinois regula falsi to
machine precision; the multiplier is taken on the feasible side of its final bracket, so the step never leaves
the ball.  ``alpha = beta = w = 0`` inside a TV ball is linear and solved greedily.
"""
from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from ._math import argmax_policy

EPS = np.finfo(float).eps
#: Absolute accuracy of the root finds, relative to each row's scale.
ROOT_XTOL = 1e-15


def _w_exp(x: np.ndarray) -> np.ndarray:
    """Lambert ``W(exp(x))`` for finite ``x``: the ``u > 0`` with ``u + log u = x`` (Newton on ``t = log u``;
    ``g(t) = e^t + t - x`` is convex and increasing and the start lies right of the root, so it is monotone)."""
    t = np.where(x > 1.0, np.log(np.maximum(x, 1.0)), x)
    for _ in range(100):
        et = np.exp(t)
        step = (et + t - x) / (et + 1.0)
        t = t - step
        if np.all(np.abs(step) <= 4 * EPS * np.maximum(1.0, np.abs(t))):
            break
    return np.exp(t)


def _psi_inverse(z: np.ndarray, a: np.ndarray, w: float) -> np.ndarray:
    """Solve ``a log p + 2 w p = z`` for ``p >= 0`` elementwise (``a`` broadcasts; ``p = 0`` where ``z = -inf``)."""
    if w == 0.0:
        return np.exp(np.minimum(z / a, 700.0))  # the cap never binds at the root, where every p <= 1
    with np.errstate(divide="ignore", invalid="ignore"):
        zz = np.where(np.isneginf(z), 0.0, z)
        safe_a = np.where(a > 0, a, 1.0)
        curved = (safe_a / (2.0 * w)) * _w_exp(zz / safe_a + np.log(2.0 * w / safe_a))
        out = np.where(a > 0, curved, np.maximum(zz, 0.0) / (2.0 * w))
    return np.where(np.isneginf(z), 0.0, out)


def _expand(f, lo: np.ndarray, hi: np.ndarray):
    """Raise per-row upper ends ``hi`` (> 0) until ``f(hi) <= 0``; ``f(lo) >= 0`` is given."""
    for _ in range(2000):
        bad = f(hi) > 0
        if not bad.any():
            return lo, hi
        lo, hi = np.where(bad, hi, lo), np.where(bad, 2.0 * hi, hi)
    raise RuntimeError("could not bracket the ball multiplier of the mirror step")  # pragma: no cover


def _tight(lo, hi, xtol):
    """Rows whose bracket is down to ``xtol`` (plus a few ulps of its ends)."""
    return hi - lo <= xtol + 4 * EPS * np.maximum(np.abs(lo), np.abs(hi))


def _newton(fd, lo: np.ndarray, hi: np.ndarray, xtol: np.ndarray) -> np.ndarray:
    """Root of each row of a decreasing ``f`` bracketed by ``f(lo) >= 0 >= f(hi)``; ``fd(x)`` returns
    ``(f(x), f'(x))``.  Newton's method, bisecting whenever a step would leave the shrinking bracket."""
    x = 0.5 * (lo + hi)
    for _ in range(500):
        fx, dfx = fd(x)
        lo, hi = np.where(fx >= 0, x, lo), np.where(fx <= 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            nx = x - fx / dfx
        nx = np.where(np.isfinite(nx) & (nx > lo) & (nx < hi), nx, 0.5 * (lo + hi))
        done = (np.abs(nx - x) <= xtol + 4 * EPS * np.abs(x)) | _tight(lo, hi, xtol) | (fx == 0)
        x = np.where(fx == 0, x, nx)
        if done.all():
            break
    return x


def _illinois(f, lo: np.ndarray, hi: np.ndarray, xtol: np.ndarray):
    """Final brackets ``(lo, hi)`` around the root of each row of a decreasing ``f`` with ``f(lo) >= 0 >= f(hi)``:
    Illinois regula falsi, with a bisection every eighth step to bound the work."""
    flo, fhi = f(lo), f(hi)
    side = np.zeros(lo.shape)
    for it in range(1000):
        active = ~_tight(lo, hi, xtol)
        if not active.any():
            break
        mid = 0.5 * (lo + hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(flo > fhi, lo + flo / (flo - fhi) * (hi - lo), mid)
        x = np.where((it % 8 == 7) | ~((x > lo) & (x < hi)), mid, x)
        fx = f(np.where(active, x, lo))
        up, down = active & (fx >= 0), active & (fx < 0)
        fhi = np.where(up & (side > 0), 0.5 * fhi, fhi)  # Illinois: the same end moved twice
        flo = np.where(down & (side < 0), 0.5 * flo, flo)
        lo, flo = np.where(up, x, lo), np.where(up, fx, flo)
        hi, fhi = np.where(down | (up & (fx == 0)), x, hi), np.where(down, fx, fhi)
        side = np.where(up, 1.0, np.where(down, -1.0, side))
    return lo, hi


def _kl_rows(p, p_old):
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = xlogy(p, p) - np.where(p > 0, p * np.log(p_old), 0.0)
    return np.where(np.any((p > 0) & (p_old <= 0), axis=1), np.inf, terms.sum(axis=1))


def _tv_rows(p, p_old):
    return 0.5 * np.abs(p - p_old).sum(axis=1)


def _softmax_rows(c: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``exp(c / a)`` normalised per row, the hard maximum where ``a = 0`` (``a`` has shape ``(S, 1)``)."""
    top = c.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.exp((c - top) / np.where(a > 0, a, 1.0))
    soft = e / e.sum(axis=1, keepdims=True)
    return np.where(a > 0, soft, argmax_policy(c))


class _Lagrangian:
    """Row-wise maximiser over the simplex of ``<p,q> + alpha H - beta KL - w L2 - mu_kl KL - mu_tv TV``."""

    def __init__(self, q, p_old, alpha, beta, w):
        self.q, self.p_old, self.alpha, self.beta, self.w = q, p_old, alpha, beta, w
        with np.errstate(divide="ignore"):
            self.log_old = np.log(p_old)

    def rows(self, idx) -> "_Lagrangian":
        return _Lagrangian(self.q[idx], self.p_old[idx], self.alpha, self.beta, self.w)

    def solve(self, mu_kl: np.ndarray, mu_tv: np.ndarray) -> np.ndarray:
        kw = (self.beta + mu_kl)[:, None]
        a = self.alpha + kw
        with np.errstate(invalid="ignore"):
            c = np.where(kw > 0, np.where(self.p_old > 0, self.q + kw * self.log_old, -np.inf), self.q)
        if self.w == 0.0 and not np.any(mu_tv):
            return _softmax_rows(c, a)
        z = c - a + 2.0 * self.w * self.p_old
        half = 0.5 * mu_tv[:, None]
        K = z.shape[1]

        def p_and_slope(nu):
            base = z - nu[:, None]
            if not np.any(half):
                p = _psi_inverse(base, a, self.w)
                free = p > 0
            else:
                lo, hi = _psi_inverse(base - half, a, self.w), _psi_inverse(base + half, a, self.w)
                p = np.minimum(np.maximum(lo, self.p_old), hi)  # dead zone of the |p - p_old| subgradient
                free = ((lo > self.p_old) | (hi < self.p_old)) & (p > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = np.where(free, p / (a + 2.0 * self.w * p), 0.0)  # -dp/dnu = 1 / psi'(p)
            return p, slope

        def excess(nu):
            p, slope = p_and_slope(nu)
            return p.sum(axis=1) - 1.0, -slope.sum(axis=1)

        # Exact brackets: at nu_lo the best coordinate alone reaches 1, at nu_hi every coordinate is <= 1/K.
        with np.errstate(divide="ignore"):
            top = np.max(z, axis=1)
            nu_lo = top - 0.5 * mu_tv - 2.0 * self.w - 1.0  # psi(1) = 2w
            nu_hi = top + 0.5 * mu_tv - (a[:, 0] * np.log(1.0 / K) + 2.0 * self.w / K) + 1.0  # psi(1/K)
        scale = 1.0 + np.abs(nu_lo) + np.abs(nu_hi)
        nu = _newton(excess, nu_lo, nu_hi, ROOT_XTOL * scale)
        p = p_and_slope(nu)[0]
        return p / p.sum(axis=1, keepdims=True)


def _linear_tv(q: np.ndarray, p_old: np.ndarray, radius: float) -> np.ndarray:
    """``argmax <p, q>`` over ``TV(p, p_old) <= radius`` (one row): move up to ``radius`` mass from the worst
    actions to the best (lowest index on ties), optimal because the objective is linear."""
    best = int(argmax_policy(q).argmax())
    p = p_old.astype(float).copy()
    budget = min(radius, 1.0 - p[best])
    for k in np.argsort(q, kind="stable"):
        if budget <= 0.0 or q[k] >= q[best]:
            break
        take = min(p[k], budget)
        p[k] -= take
        p[best] += take
        budget -= take
    return p


def exact_steps(q: np.ndarray, p_old: np.ndarray, alpha: float, beta: float, w: float, ball: str | None,
                radius: float) -> np.ndarray:
    """Exact mirror steps for every row of ``q`` and ``p_old`` (the built-in drifts and neighbourhoods).

    Parameters
    ----------
    q, p_old : ndarray
        Shape ``(S, K)``: action values and current distributions.
    alpha : float
        Temperature ``>= 0``.
    beta, w : float
        Weights of the KL and the squared-L2 drift.
    ball : {None, "kl", "tv"}
        The neighbourhood: the whole simplex, a KL ball or a total-variation ball.
    radius : float
        The ball's radius (unused for ``None``).

    Returns
    -------
    ndarray
        Shape ``(S, K)``: each row the exact maximiser of the mirror objective.

    Examples
    --------
    >>> from tabular.mehaml_exact import exact_steps
    >>> q, p_old = np.array([[1.0, 0.0, 0.0]]), np.full((1, 3), 1 / 3)
    >>> np.round(exact_steps(q, p_old, 1.0, 0.0, 1.0, None, np.inf), 4)  # L2Drift(1.0)
    array([[0.4724, 0.2638, 0.2638]])
    >>> np.round(exact_steps(q, p_old, 1.0, 0.0, 0.0, "kl", 0.05), 4)  # KLBall(0.05)
    array([[0.4867, 0.2567, 0.2567]])
    """
    S = q.shape[0]
    if ball == "tv" and alpha == 0.0 and beta == 0.0 and w == 0.0:
        return np.stack([_linear_tv(q[s], p_old[s], radius) for s in range(S)])
    if ball == "kl":
        q = np.where(p_old > 0, q, -np.inf)  # a finite KL to p_old keeps p inside p_old's support
    lag = _Lagrangian(q, p_old, alpha, beta, w)
    zero = np.zeros(S)
    p = lag.solve(zero, zero)
    if ball is None:
        return p
    dist = _kl_rows if ball == "kl" else _tv_rows
    out = np.flatnonzero(dist(p, p_old) > radius)
    if out.size:
        sub, po, none = lag.rows(out), p_old[out], np.zeros(out.size)

        def solve(mu):
            return sub.solve(mu, none) if ball == "kl" else sub.solve(none, mu)

        def excess(mu):
            return dist(solve(mu), po) - radius

        qf = np.where(np.isfinite(sub.q), sub.q, np.nan)
        hi0 = 1.0 + np.nanmax(qf, axis=1) - np.nanmin(qf, axis=1) + alpha
        lo, hi = _expand(excess, none, hi0)
        _, hi = _illinois(excess, lo, hi, ROOT_XTOL * hi)
        p[out] = solve(hi)  # the feasible end of the final bracket
    return p
