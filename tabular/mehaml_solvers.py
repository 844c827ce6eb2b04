r"""Drift functionals, neighbourhood operators and the exact per-state mirror step of MEHAML (Definition 2).

Agent :math:`i_m`'s step in Algorithm 1 separates over states: at each state it solves

.. math::
    \max_{p \in \Delta \cap U(p_{old})} \ \langle p, q \rangle + \alpha H(p) - D(p \,|\, p_{old}),

where ``q`` is its multi-agent soft Q (eq. 7) averaged over the already-updated agents (the eq. 8 argument).
Drifts: zero, ``beta KL(p || p_old)`` and ``w ||p - p_old||_2^2``; neighbourhoods: the whole simplex, the KL ball
``KL(p || p_old) <= delta`` and the total-variation ball ``0.5 ||p - p_old||_1 <= delta``.

The built-in components are solved exactly, for all states at once (:mod:`tabular.mehaml_exact`: closed forms,
or KKT conditions with one-dimensional root finds); zero drift on the simplex is eq. 8 and KL drift is
``p ∝ exp((q + beta log p_old) / (alpha + beta))``.

User-defined drifts (any callable ``D(p, p_old)`` vanishing at ``p_old``) and neighbourhoods (any object with
``distance(p, p_old)`` and ``radius``) are accepted too; they go to :func:`generic_step`, a verified SLSQP solve.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from ._math import boltzmann, entropy
from .games import GameError, check_distribution_rows
from .mehaml_exact import exact_steps


def _check_nonneg(x, what: str) -> float:
    v = float(x)
    if not np.isfinite(v) or v < 0:
        raise GameError(f"{what} must be a finite number >= 0, got {x!r}")
    return v


def kl(p: np.ndarray, p_old: np.ndarray) -> float:
    """``KL(p || p_old)``; ``inf`` when ``p`` puts mass where ``p_old`` has none.

    Parameters
    ----------
    p, p_old : ndarray
        Two distributions of the same length.

    Returns
    -------
    float

    Examples
    --------
    >>> from tabular.mehaml_solvers import kl
    >>> round(kl(np.array([0.5, 0.5]), np.array([0.25, 0.75])), 4)
    0.1438
    >>> kl(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
    inf
    """
    if np.any((p > 0) & (p_old <= 0)):
        return float("inf")
    m = p > 0
    return float(np.sum(xlogy(p[m], p[m]) - p[m] * np.log(p_old[m])))


# --------------------------------------------------------------------------- drift functionals (HADF)
@dataclass(frozen=True)
class ZeroDrift:
    """``D = 0``: with the whole simplex this is HASPI (eq. 8).

    Examples
    --------
    >>> T.ZeroDrift()(np.array([1.0, 0.0]), np.array([0.5, 0.5]))
    0.0
    """

    kl_weight = 0.0
    l2_weight = 0.0

    def __call__(self, p, p_old) -> float:
        return 0.0


@dataclass(frozen=True)
class KLDrift:
    """``D = weight * KL(p || p_old)``: zero with zero Gateaux derivative at ``p = p_old`` (Definition 2).

    Parameters
    ----------
    weight : float
        The drift's weight ``>= 0``.

    Examples
    --------
    >>> round(T.KLDrift(2.0)(np.array([0.5, 0.5]), np.array([0.25, 0.75])), 4)
    0.2877
    """

    weight: float

    def __post_init__(self):
        object.__setattr__(self, "weight", _check_nonneg(self.weight, "KLDrift weight"))

    @property
    def kl_weight(self) -> float:
        """The weight of ``KL(p || p_old)`` in the drift (for the exact solver).

        Examples
        --------
        >>> T.KLDrift(2.0).kl_weight
        2.0
        """
        return self.weight

    l2_weight = 0.0

    def __call__(self, p, p_old) -> float:
        return self.weight * kl(np.asarray(p), np.asarray(p_old)) if self.weight else 0.0


@dataclass(frozen=True)
class L2Drift:
    """``D = weight * ||p - p_old||_2^2``: a smooth drift without a closed-form mirror step.

    Parameters
    ----------
    weight : float
        The drift's weight ``>= 0``.

    Examples
    --------
    >>> T.L2Drift(1.0)(np.array([0.5, 0.5]), np.array([0.25, 0.75]))
    0.125
    """

    weight: float

    def __post_init__(self):
        object.__setattr__(self, "weight", _check_nonneg(self.weight, "L2Drift weight"))

    kl_weight = 0.0

    @property
    def l2_weight(self) -> float:
        """The weight of ``||p - p_old||_2^2`` in the drift (for the exact solver).

        Examples
        --------
        >>> T.L2Drift(0.5).l2_weight
        0.5
        """
        return self.weight

    def __call__(self, p, p_old) -> float:
        return self.weight * float(np.sum((np.asarray(p) - np.asarray(p_old)) ** 2))


# --------------------------------------------------------------------------- neighbourhood operators
@dataclass(frozen=True)
class Simplex:
    """``U(pi) = `` the whole simplex.

    Examples
    --------
    >>> T.Simplex().radius
    inf
    """

    radius = float("inf")

    def distance(self, p, p_old) -> float:
        """Always 0: every distribution is in the neighbourhood.

        Parameters
        ----------
        p, p_old : array_like
            Two distributions.

        Returns
        -------
        float

        Examples
        --------
        >>> T.Simplex().distance([1.0, 0.0], [0.0, 1.0])
        0.0
        """
        return 0.0


@dataclass(frozen=True)
class _Ball:
    """A neighbourhood ``{p : distance(p, pi) <= radius}`` with ``radius > 0`` (so it contains a ball around pi)."""

    radius: float

    def __post_init__(self):
        name = type(self).__name__
        r = _check_nonneg(self.radius, f"{name} radius")
        if r == 0:
            raise GameError(f"{name} radius must be > 0 (a neighbourhood must contain a ball around pi)")
        object.__setattr__(self, "radius", r)


@dataclass(frozen=True)
class KLBall(_Ball):
    """``U(pi) = {p : KL(p || pi) <= radius}``.

    Parameters
    ----------
    radius : float
        The ball's radius ``> 0``.

    Examples
    --------
    >>> T.KLBall(0.1)
    KLBall(radius=0.1)
    """

    def distance(self, p, p_old) -> float:
        """``KL(p || p_old)``.

        Parameters
        ----------
        p, p_old : array_like
            Two distributions.

        Returns
        -------
        float

        Examples
        --------
        >>> round(T.KLBall(0.1).distance([0.5, 0.5], [0.25, 0.75]), 4)
        0.1438
        """
        return kl(np.asarray(p), np.asarray(p_old))


@dataclass(frozen=True)
class TVBall(_Ball):
    """``U(pi) = {p : 0.5 ||p - pi||_1 <= radius}`` (total variation).

    Parameters
    ----------
    radius : float
        The ball's radius ``> 0``.

    Examples
    --------
    >>> T.TVBall(0.0)
    Traceback (most recent call last):
    ...
    tabular.games.GameError: TVBall radius must be > 0 (a neighbourhood must contain a ball around pi)
    """

    def distance(self, p, p_old) -> float:
        """``0.5 ||p - p_old||_1``.

        Parameters
        ----------
        p, p_old : array_like
            Two distributions.

        Returns
        -------
        float

        Examples
        --------
        >>> T.TVBall(0.1).distance([0.5, 0.5], [0.25, 0.75])
        0.25
        """
        return 0.5 * float(np.sum(np.abs(np.asarray(p) - np.asarray(p_old))))


DRIFTS = (ZeroDrift, KLDrift, L2Drift)
NEIGHBOURHOODS = (Simplex, KLBall, TVBall)


def mirror_objective(q, p, p_old, alpha: float, drift) -> float:
    """The per-state MaxEnt HA mirror objective ``<p, q> + alpha H(p) - D(p | p_old)`` (Definition 2).

    Parameters
    ----------
    q : array_like
        The agent's action values at the state.
    p, p_old : array_like
        The candidate and the current distribution.
    alpha : float
        Temperature ``>= 0``.
    drift : callable
        ``D(p, p_old)``.

    Returns
    -------
    float

    Examples
    --------
    >>> q, p_old = np.array([1.0, 0.0, 0.0]), np.full(3, 1 / 3)
    >>> round(T.mirror_objective(q, p_old, p_old, 1.0, T.ZeroDrift()), 4)  # 1/3 + log 3
    1.4319
    """
    p = np.asarray(p, dtype=float)
    return float(p @ np.asarray(q) + alpha * entropy(p) - drift(p, np.asarray(p_old)))


# --------------------------------------------------------------------------- the per-state step
def check_components(drift, neighbourhood) -> None:
    """Check that ``drift`` and ``neighbourhood`` can be used by the mirror step.

    Parameters
    ----------
    drift : object
        Must be a callable ``D(p, p_old)``.
    neighbourhood : object
        Must have ``distance(p, p_old)`` and ``radius`` (the built-ins, or user-defined ones for
        :func:`generic_step`).

    Raises
    ------
    GameError
        Naming what is accepted.

    Examples
    --------
    >>> from tabular.mehaml_solvers import check_components
    >>> check_components(T.KLDrift(1.0), T.TVBall(0.2))
    >>> check_components(0.5, T.Simplex())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tabular.games.GameError: drift must be ZeroDrift(), KLDrift(weight), ... or a callable D(p, p_old); got 0.5
    """
    if not callable(drift):
        raise GameError(f"drift must be ZeroDrift(), KLDrift(weight), L2Drift(weight) or a callable D(p, p_old); "
                        f"got {drift!r}")
    if not (callable(getattr(neighbourhood, "distance", None)) and hasattr(neighbourhood, "radius")):
        raise GameError(f"neighbourhood must be Simplex(), KLBall(radius), TVBall(radius) or an object with "
                        f"distance(p, p_old) and radius; got {neighbourhood!r}")


def generic_step(q, p_old, alpha: float, drift, neighbourhood) -> np.ndarray:
    """Mirror step for user-defined drifts or neighbourhoods.

    SLSQP from ``p_old`` and from the unconstrained entropic maximiser, then verified: the answer is feasible and
    scores at least ``p_old``'s objective (which is all Theorem 3's monotonic improvement needs); otherwise
    ``p_old`` itself is returned.

    Parameters
    ----------
    q : ndarray
        The agent's action values at one state.
    p_old : ndarray
        Its current distribution there.
    alpha : float
        Temperature ``>= 0``.
    drift : callable
        ``D(p, p_old)``, which must vanish at ``p = p_old``.
    neighbourhood : object
        With ``distance(p, p_old)`` and ``radius``.

    Returns
    -------
    ndarray
        The new distribution.

    Raises
    ------
    GameError
        When ``D(p_old | p_old) != 0``.

    Examples
    --------
    >>> from tabular.mehaml_solvers import generic_step
    >>> q, p_old = np.array([1.0, 0.0, 0.0]), np.full(3, 1 / 3)
    >>> cubic = lambda p, p_old: float(np.sum(np.abs(p - p_old) ** 3))
    >>> np.round(generic_step(q, p_old, 1.0, cubic, T.Simplex()), 2)
    array([0.54, 0.23, 0.23])
    """
    from scipy.optimize import minimize

    d0 = float(drift(p_old, p_old))
    if abs(d0) > 1e-12:
        raise GameError(f"drift {drift!r} must vanish at p = p_old (Definition 2), got D(p_old | p_old) = {d0:g}")
    radius = float(neighbourhood.radius)

    def feasible(p):
        return radius == np.inf or neighbourhood.distance(p, p_old) <= radius

    cons = [{"type": "eq", "fun": lambda x: x.sum() - 1.0}]
    if radius < np.inf:
        cons.append({"type": "ineq", "fun": lambda x: radius - neighbourhood.distance(np.clip(x, 0, 1), p_old)})
    best, best_val = p_old, mirror_objective(q, p_old, p_old, alpha, drift)
    for x0 in (p_old, boltzmann(q, alpha) if alpha else p_old):
        res = minimize(lambda x: -mirror_objective(q, np.clip(x, 0, 1), p_old, alpha, drift), x0, method="SLSQP",
                       bounds=[(0.0, 1.0)] * len(q), constraints=cons, options={"ftol": 1e-15, "maxiter": 500})
        p = np.clip(res.x, 0.0, 1.0)
        p = p / p.sum()
        val = mirror_objective(q, p, p_old, alpha, drift)
        if feasible(p) and val > best_val:
            best, best_val = p, val
    return np.array(best, dtype=float)


def mirror_steps(q, p_old, alpha: float, drift=ZeroDrift(), neighbourhood=Simplex()) -> np.ndarray:
    """Algorithm 1's inner step for one agent at every state.

    Row ``s`` of the result maximises ``<p, q[s]> + alpha H(p) - D(p | p_old[s])`` over the simplex intersected
    with ``neighbourhood(p_old[s])``.  Exact for the built-in drifts and neighbourhoods, :func:`generic_step` for
    user-defined ones.

    Parameters
    ----------
    q : array_like
        Shape ``(S, K)``: the agent's action values per state.
    p_old : array_like
        Shape ``(S, K)``: its current policy.
    alpha : float
        Temperature ``>= 0``.
    drift : callable, optional
        ``ZeroDrift()`` (default), ``KLDrift(w)``, ``L2Drift(w)`` or a user-defined ``D(p, p_old)``.
    neighbourhood : optional
        ``Simplex()`` (default), ``KLBall(r)``, ``TVBall(r)`` or a user-defined one.

    Returns
    -------
    ndarray
        Shape ``(S, K)``.

    Raises
    ------
    GameError
        For mismatched shapes, non-finite ``q``, rows of ``p_old`` that are not distributions, or bad components.

    Examples
    --------
    >>> np.round(T.mirror_steps([[1.0, 0.0], [0.0, 1.0]], np.full((2, 2), 0.5), 1.0), 4)
    array([[0.7311, 0.2689],
           [0.2689, 0.7311]])
    """
    q = np.asarray(q, dtype=float)
    p_old = np.asarray(p_old, dtype=float)
    if q.ndim != 2 or q.shape != p_old.shape:
        raise GameError(f"q and p_old must have the same shape (S, K); got {q.shape} and {p_old.shape}")
    if not np.all(np.isfinite(q)):
        raise GameError("q contains NaN or inf")
    check_distribution_rows(p_old, "p_old", lambda s: f"state {s}")
    alpha = _check_nonneg(alpha, "temperature alpha")
    check_components(drift, neighbourhood)
    if not (type(drift) in DRIFTS and type(neighbourhood) in NEIGHBOURHOODS):
        return np.stack([generic_step(q[s], p_old[s], alpha, drift, neighbourhood) for s in range(len(q))])
    ball = {Simplex: None, KLBall: "kl", TVBall: "tv"}[type(neighbourhood)]
    return exact_steps(q, np.clip(p_old, 0.0, None), alpha, drift.kl_weight, drift.l2_weight, ball,
                       neighbourhood.radius)


def mirror_step(q, p_old, alpha: float, drift=ZeroDrift(), neighbourhood=Simplex()) -> np.ndarray:
    """:func:`mirror_steps` for one state.

    Parameters
    ----------
    q, p_old : array_like
        Vectors of the same length: action values and the current distribution.
    alpha : float
        Temperature ``>= 0``.
    drift, neighbourhood : optional
        As in :func:`mirror_steps`.

    Returns
    -------
    ndarray
        The new distribution.

    Examples
    --------
    >>> q, p_old = np.array([1.0, 0.0, 0.0]), np.full(3, 1 / 3)
    >>> np.round(T.mirror_step(q, p_old, 1.0), 4)  # softmax(q)
    array([0.5761, 0.2119, 0.2119])
    >>> np.round(T.mirror_step(q, p_old, 1.0, drift=T.KLDrift(1.0)), 4)  # softmax((q + log p_old) / 2)
    array([0.4519, 0.2741, 0.2741])
    >>> np.round(T.mirror_step(q, p_old, 0.0, neighbourhood=T.TVBall(0.2)), 4)  # move 0.2 of mass to the best
    array([0.5333, 0.1333, 0.3333])
    """
    q, p_old = np.asarray(q, dtype=float), np.asarray(p_old, dtype=float)
    if q.ndim != 1 or q.shape != p_old.shape:
        raise GameError(f"q and p_old must be vectors of the same length; got shapes {q.shape} and {p_old.shape}")
    return mirror_steps(q[None], p_old[None], alpha, drift, neighbourhood)[0]
