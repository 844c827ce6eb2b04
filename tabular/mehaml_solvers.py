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
    """``KL(p || p_old)``; ``inf`` when ``p`` puts mass where ``p_old`` has none."""
    if np.any((p > 0) & (p_old <= 0)):
        return float("inf")
    m = p > 0
    return float(np.sum(xlogy(p[m], p[m]) - p[m] * np.log(p_old[m])))


# --------------------------------------------------------------------------- drift functionals (HADF)
@dataclass(frozen=True)
class ZeroDrift:
    """``D = 0``: with the whole simplex this is HASPI (eq. 8)."""

    kl_weight = 0.0
    l2_weight = 0.0

    def __call__(self, p, p_old) -> float:
        return 0.0


@dataclass(frozen=True)
class KLDrift:
    """``D = weight * KL(p || p_old)``: zero with zero Gateaux derivative at ``p = p_old`` (Definition 2)."""

    weight: float

    def __post_init__(self):
        object.__setattr__(self, "weight", _check_nonneg(self.weight, "KLDrift weight"))

    @property
    def kl_weight(self) -> float:
        return self.weight

    l2_weight = 0.0

    def __call__(self, p, p_old) -> float:
        return self.weight * kl(np.asarray(p), np.asarray(p_old)) if self.weight else 0.0


@dataclass(frozen=True)
class L2Drift:
    """``D = weight * ||p - p_old||_2^2``: a smooth drift without a closed-form mirror step."""

    weight: float

    def __post_init__(self):
        object.__setattr__(self, "weight", _check_nonneg(self.weight, "L2Drift weight"))

    kl_weight = 0.0

    @property
    def l2_weight(self) -> float:
        return self.weight

    def __call__(self, p, p_old) -> float:
        return self.weight * float(np.sum((np.asarray(p) - np.asarray(p_old)) ** 2))


# --------------------------------------------------------------------------- neighbourhood operators
@dataclass(frozen=True)
class Simplex:
    """``U(pi) = `` the whole simplex."""

    radius = float("inf")

    def distance(self, p, p_old) -> float:
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
    """``U(pi) = {p : KL(p || pi) <= radius}``."""

    def distance(self, p, p_old) -> float:
        return kl(np.asarray(p), np.asarray(p_old))


@dataclass(frozen=True)
class TVBall(_Ball):
    """``U(pi) = {p : 0.5 ||p - pi||_1 <= radius}`` (total variation)."""

    def distance(self, p, p_old) -> float:
        return 0.5 * float(np.sum(np.abs(np.asarray(p) - np.asarray(p_old))))


DRIFTS = (ZeroDrift, KLDrift, L2Drift)
NEIGHBOURHOODS = (Simplex, KLBall, TVBall)


def mirror_objective(q, p, p_old, alpha: float, drift) -> float:
    """The per-state MaxEnt HA mirror objective ``<p, q> + alpha H(p) - D(p | p_old)`` (Definition 2)."""
    p = np.asarray(p, dtype=float)
    return float(p @ np.asarray(q) + alpha * entropy(p) - drift(p, np.asarray(p_old)))


# --------------------------------------------------------------------------- the per-state step
def check_components(drift, neighbourhood) -> None:
    """Raise :class:`GameError` unless ``drift`` is a callable ``D(p, p_old)`` and ``neighbourhood`` has
    ``distance(p, p_old)`` and ``radius`` (the built-ins, or user-defined ones for :func:`generic_step`)."""
    if not callable(drift):
        raise GameError(f"drift must be ZeroDrift(), KLDrift(weight), L2Drift(weight) or a callable D(p, p_old); "
                        f"got {drift!r}")
    if not (callable(getattr(neighbourhood, "distance", None)) and hasattr(neighbourhood, "radius")):
        raise GameError(f"neighbourhood must be Simplex(), KLBall(radius), TVBall(radius) or an object with "
                        f"distance(p, p_old) and radius; got {neighbourhood!r}")


def generic_step(q, p_old, alpha: float, drift, neighbourhood) -> np.ndarray:
    """Mirror step for user-defined drifts or neighbourhoods: SLSQP from ``p_old`` and from the unconstrained
    entropic maximiser, then verified: the answer is feasible and scores at least ``p_old``'s objective (which
    is all Theorem 3's monotonic improvement needs); otherwise ``p_old`` itself is returned."""
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
    """Row ``s`` of the result maximises ``<p, q[s]> + alpha H(p) - D(p | p_old[s])`` over the simplex intersected
    with ``neighbourhood(p_old[s])`` (one agent, every state; Algorithm 1's inner step).  ``q`` and ``p_old`` have
    shape ``(S, K)``.  Exact for the built-in drifts and neighbourhoods, :func:`generic_step` for user-defined ones."""
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
    """:func:`mirror_steps` for one state: ``q`` and ``p_old`` are vectors of the same length."""
    q, p_old = np.asarray(q, dtype=float), np.asarray(p_old, dtype=float)
    if q.ndim != 1 or q.shape != p_old.shape:
        raise GameError(f"q and p_old must be vectors of the same length; got shapes {q.shape} and {p_old.shape}")
    return mirror_steps(q[None], p_old[None], alpha, drift, neighbourhood)[0]
