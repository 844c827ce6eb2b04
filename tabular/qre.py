r"""Logit quantal response equilibria: solve at one precision, trace the principal branch, enumerate.

A profile is a logit QRE at precision ``lambda = 1/alpha`` when every agent plays
``pi^i = softmax(lambda E_{a^-i}[u_i])`` (normal-form games, general sum) or, in a cooperative Markov game,
``pi^i(.|s) = softmax(E_{a^-i}[Q_pi(s, .)] / alpha)`` with the soft ``Q`` of eq. 4-6, which contains the future
entropy (Theorem 1).  Methods:

* ``"branch"``: follow the principal branch from uniform play at ``lambda = 0`` (:mod:`tabular.qre_path`); the
  same equilibrium as Gambit's ``logit_solve_lambda``.  The points on the way are corrected to ``GUIDE_TOL``
  only, the answer to rounding level.
* ``"newton"``: ``scipy.optimize.root`` (MINPACK hybrid Newton) on the logit equations with their analytic
  Jacobian (:mod:`tabular.qre_system`), from any start; which QRE it finds depends on the start.
* ``"fixed-point"``: sequential soft best responses (HASPI, Theorem 2, for cooperative games; Gauss-Seidel
  logit responses for general-sum ones) or damped simultaneous logit iteration.

Every result carries its residual: the largest ``|pi^i(a|s) - softmax(...)(a|s)|`` over agents, states, actions.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import root

from ._math import boltzmann
from .evaluation import soft_evaluate
from .games import GameError, MarkovGame, MatrixGame
from .haspi import haspi, order_sampler
from .policy import JointPolicy
from .qre_path import (QREBranch, ascent_directions, build_branch, describe, krylov_solve, newton_fixed,
                       trace_branch)
from .qre_system import MarkovSystem, NormalFormSystem, _log_softmax, make_system

METHODS = ("branch", "newton", "fixed-point")
#: A candidate from Newton counts as a QRE when its residual is at most this (the target is 1e-12).
ACCEPT_RESIDUAL = 1e-10
#: A branch can be traced from a profile whose residual is at most this (it is polished by Newton first).
START_RESIDUAL = 1e-6
#: Corrector tolerance at the intermediate points of a ``"branch"`` solve: they only guide the trace (the answer
#: is polished to rounding level by Newton at exactly the target lambda), so they need not be at rounding
#: level; :func:`qre_branch`, which returns its points, keeps the tracer's default of 1e-12.
GUIDE_TOL = 1e-8


@dataclass(frozen=True)
class QREResult:
    """A computed QRE and how it was obtained (from :func:`logit_qre`).

    Examples
    --------
    >>> game = T.MatrixGame(np.eye(2))  # two agents, two actions, a payoff of 1 for matching
    >>> res = T.logit_qre(game, lam=3.0, method="newton", start=[[[0.9, 0.1]], [[0.9, 0.1]]])
    >>> res.converged, res.residual < 1e-12, np.round(res.policy[0], 4), round(res.J, 4)
    (True, True, array([[0.9293, 0.0707]]), 1.0389)
    """

    policy: JointPolicy
    residual: float        #: max violation of the logit equations (probabilities)
    method: str
    lam: float             #: precision lambda = 1/alpha
    alpha: float
    converged: bool
    nit: int               #: function evaluations (newton) / sweeps (fixed-point) / accepted points (branch)
    message: str
    J: float               #: MaxEnt objective (eq. 2) of a cooperative game; NaN for general-sum ones
    values: np.ndarray = field(repr=False)  #: per-agent MaxEnt objective at the result
    branch: str | None = None               #: for method="branch": which branch was followed


@dataclass(frozen=True)
class QRERecord:
    """One equilibrium found by :func:`enumerate_qre`.

    Examples
    --------
    >>> game = T.MatrixGame(np.eye(2))  # two agents, two actions, a payoff of 1 for matching
    >>> best = T.enumerate_qre(game, lam=3.0)[0]
    >>> np.round(best.policy[0], 4), round(best.J, 4), best.ascent_directions
    (array([[0.9293, 0.0707]]), 1.0389, 0)
    """

    policy: JointPolicy
    J: float                 #: MaxEnt objective (cooperative games); NaN for general-sum ones
    values: np.ndarray       #: per-agent MaxEnt objective
    residual: float
    ascent_directions: int   #: directions that raise J (0: a local maximum); -1 where not computed


def _precision(alpha, lam) -> tuple[float, float]:
    if (alpha is None) == (lam is None):
        raise GameError("give exactly one of alpha (temperature) and lam (precision lambda = 1/alpha)")
    if lam is None:
        a = float(alpha)
        if not (np.isfinite(a) and a > 0):
            raise GameError(f"temperature alpha must be a finite number > 0 (alpha = 0 is Nash, not a QRE), "
                            f"got {alpha!r}")
        return 1.0 / a, a
    lv = float(lam)
    if not (np.isfinite(lv) and lv >= 0):
        raise GameError(f"precision lam must be a finite number >= 0, got {lam!r}")
    return lv, (math.inf if lv == 0 else 1.0 / lv)


def _assess(system, policy: JointPolicy, lam: float, alpha: float) -> tuple[float, np.ndarray]:
    """The residual of ``policy`` at ``lam`` and its per-agent MaxEnt objective (eq. 2):
    ``E[u_i] + alpha sum_j H(pi^j)`` for a normal-form game, ``J`` for a cooperative Markov game (the same for
    every agent); NaN at ``alpha = inf``."""
    if isinstance(system, MarkovSystem):
        res = system.residual(policy, lam)
        J = soft_evaluate(system.game, policy, alpha).J if math.isfinite(alpha) else math.nan
        return res, np.full(system.n_agents, J)
    res, payoffs, entropy = system.assess(policy, lam)
    return res, (payoffs + alpha * entropy if math.isfinite(alpha) else np.full(system.n_agents, math.nan))


def _objective(system, values: np.ndarray) -> float:
    """``J`` for a cooperative game (every agent's value is the same objective), NaN for a general-sum one."""
    return float(values[0]) if system.common else math.nan


def _result(system, x_or_policy, lam, alpha, method, converged, nit, message, **extra) -> QREResult:
    """Package a solution; ``converged`` is also required to have residual <= ACCEPT_RESIDUAL."""
    pol = x_or_policy if isinstance(x_or_policy, JointPolicy) else system.to_policy(x_or_policy)
    res, vals = _assess(system, pol, lam, alpha)
    ok = converged and res <= ACCEPT_RESIDUAL
    message = f"{message}; residual {res:.3g}" + ("" if res <= ACCEPT_RESIDUAL else
                                                  f" (not a QRE: above {ACCEPT_RESIDUAL:g})")
    return QREResult(policy=pol, residual=res, method=method, lam=lam, alpha=alpha, converged=ok, nit=nit,
                     message=message, J=_objective(system, vals), values=vals, **extra)


def _start_x(system, start) -> np.ndarray:
    pol = JointPolicy.uniform(system) if start is None else start
    if not isinstance(pol, JointPolicy):
        pol = JointPolicy(pol)
    pol.check_game(system)
    return system.to_x(pol, floor=1e-12)


def _newton(system, x0: np.ndarray, lam: float, xtol: float = 1e-12):
    """scipy's hybrid Newton (MINPACK hybrj) with the analytic Jacobian, then plain Newton steps to polish
    the last digits (quadratic convergence from hybrj's answer)."""
    if getattr(system, "matrix_free", False):  # no dense Jacobian for hybrj: a globalised Newton-Krylov
        return _newton_krylov(system, x0, lam)
    sol = root(lambda x: system.jacobian(x, lam)[:2], x0, jac=True, method="hybr", options={"xtol": xtol})
    how = f"scipy.optimize.root(method='hybr'): {sol.message.strip()}"
    x, ok = newton_fixed(system, sol.x, lam)[:2] if np.all(np.isfinite(sol.x)) else (sol.x, False)
    if ok:
        how += "; polished by plain Newton steps"
    else:  # hybrj can stall at a local minimum of |F|; full Newton steps from the start often do not
        x2, ok2, _ = newton_fixed(system, x0, lam, max_iter=100)
        if ok2:
            x, how = x2, how + "; stalled, so plain Newton steps from the start were used"
    return x, int(sol.nfev), how


def _newton_krylov(system, x: np.ndarray, lam: float, max_iter: int = 200):
    """Newton steps with GMRES solves (:func:`tabular.qre_path.krylov_solve`), each shortened by backtracking
    until ``max |F|`` decreases (Armijo's rule with halving: full steps diverge from far starts, as undamped
    Newton does on these equations), then plain Newton steps to polish once full steps are accepted."""
    F = system.equations(x, lam)
    for nit in range(1, max_iter + 1):
        size = float(np.max(np.abs(F)))
        if size <= 1e-13:
            break
        dx = krylov_solve(system.jacobian(x, lam)[1], -F)
        if dx is None:
            return x, nit, "Newton-Krylov: GMRES failed (singular Jacobian?)"
        step = 1.0
        while step >= 1e-6:
            F_new = system.equations(x + step * dx, lam)
            if np.all(np.isfinite(F_new)) and np.max(np.abs(F_new)) <= (1 - 1e-4 * step) * size:
                break
            step *= 0.5
        else:
            return x, nit, "Newton-Krylov: no step decreases the residual (a local minimum of |F|)"
        x, F = x + step * dx, F_new
    x, ok, _ = newton_fixed(system, x, lam)
    return x, nit, ("Newton with preconditioned GMRES solves and backtracking, polished by plain Newton steps"
                    + ("" if ok else " (no convergence)"))


def _fixed_point(game, system, lam, alpha, start, kind, damping, order, seed, tol, max_iter):
    """Sequential soft best responses or damped simultaneous logit iteration.

    Returns ``(policy, sweeps, converged, description)``; converged means no probability moved by more than
    ``tol`` in the last sweep.
    """
    if kind == "sequential" and system.common:
        mg = game if isinstance(game, MarkovGame) else MatrixGame(system.game.payoffs[0])
        init = None if start is None else (start if isinstance(start, JointPolicy) else JointPolicy(start))
        res = haspi(mg, alpha, init=init, order=order, seed=seed, tol=tol, max_iter=max_iter, compute_gap=False)
        return res.policy, res.nit, res.converged, "HASPI (sequential soft best responses, Theorem 2)"
    x = _start_x(system, start)
    p = [np.exp(xi) for xi in system.split(x)]
    draw = order_sampler(order, system.n_agents, seed)
    for nit in range(1, max_iter + 1):
        old = [pi.copy() for pi in p]
        if kind == "sequential":
            for i in draw():  # each agent's logit response to the current others, in turn
                p[i] = boltzmann(system.logits(_logs(p), lam)[i], 1.0)
        else:
            p = [(1 - damping) * pi + damping * boltzmann(qi, 1.0) for pi, qi in zip(p, system.logits(_logs(p), lam))]
        if max(float(np.max(np.abs(a - b))) for a, b in zip(p, old)) <= tol:
            return JointPolicy(p), nit, True, _fp_name(kind, damping)
    return JointPolicy(p), max_iter, False, _fp_name(kind, damping)


def _logs(p) -> np.ndarray:
    """Stacked logarithms of per-agent probability arrays (0 maps to log 1e-300, weight 0 either way)."""
    return np.concatenate([np.log(np.maximum(pi, 1e-300)).ravel() for pi in p])


def _fp_name(kind, damping):
    return ("sequential logit responses (Gauss-Seidel)" if kind == "sequential"
            else f"damped simultaneous logit iteration (damping {damping:g})")


def logit_qre(game, alpha: float | None = None, lam: float | None = None, method: str = "branch", start=None, *,
              tol: float = 1e-14, max_iter: int = 100_000, fixed_point: str = "sequential", damping: float = 0.5,
              order="random", seed=None) -> QREResult:
    """A logit QRE of ``game`` at temperature ``alpha`` or precision ``lam = 1/alpha`` (give exactly one).

    Parameters
    ----------
    game : NormalFormGame, MatrixGame or MarkovGame
        A general-sum normal-form game, or a cooperative one (soft QRE of Theorem 1 for a Markov game).
    alpha : float, optional
        Temperature ``> 0``.
    lam : float, optional
        Precision ``>= 0``.
    method : {"branch", "newton", "fixed-point"}, optional
        Follow the principal branch from uniform play at ``lambda = 0`` (Gambit's ``logit_solve_lambda``), run
        Newton from ``start``, or iterate logit responses from ``start``.
    start : JointPolicy or sequence of array_like, optional
        Initial profile of ``"newton"`` and ``"fixed-point"`` (uniform by default).
    tol : float, optional
        Stopping tolerance of ``"fixed-point"`` (largest change of a probability in a sweep).
    max_iter : int, optional
        Most sweeps of ``"fixed-point"``.
    fixed_point : {"sequential", "simultaneous"}, optional
        Sequential soft best responses (HASPI for cooperative games) or damped simultaneous logit iteration.
    damping : float, optional
        In ``(0, 1]``, for ``"simultaneous"``.
    order, seed
        The sequential order, as in :func:`tabular.haspi`.

    Returns
    -------
    QREResult
        The profile, its residual (largest violation of the logit equations), ``J`` for cooperative games and
        ``converged`` (true only when the residual is at most ``ACCEPT_RESIDUAL``).

    Raises
    ------
    GameError
        For bad arguments (both or neither of ``alpha`` and ``lam``, an unknown method, ...).

    Examples
    --------
    Matching pennies: the only QRE is uniform play.

    >>> u = np.array([[1.0, -1.0], [-1.0, 1.0]])
    >>> res = T.logit_qre(T.NormalFormGame([u, -u]), lam=2.0)
    >>> res.policy[0], res.converged
    (array([[0.5, 0.5]]), True)

    The paper's matrix game at ``alpha = 5``: the principal branch ends near (C, C).

    >>> from tabular.paper import paper_matrix_game
    >>> res = T.logit_qre(paper_matrix_game(), alpha=5.0)
    >>> np.round(res.policy[0], 4), round(res.J, 4)
    (array([[3.000e-04, 3.000e-04, 9.993e-01]]), 20.0067)
    """
    lam, alpha = _precision(alpha, lam)
    if method not in METHODS:
        raise GameError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    system = make_system(game)
    if method == "branch":
        if start is not None:
            raise GameError("method='branch' starts from uniform play at lambda = 0; start is only for "
                            "'newton' and 'fixed-point'")
        tr = trace_branch(system, lam, corrector_tol=GUIDE_TOL)
        return _result(system, tr.xs[-1], lam, alpha, "branch", True, len(tr.lams),
                       f"principal branch traced to lambda = {lam:g} in {len(tr.lams)} points",
                       branch=describe(tr))
    if method == "newton":
        x, nfev, msg = _newton(system, _start_x(system, start), lam)
        if not np.all(np.isfinite(x)):
            raise RuntimeError(f"Newton diverged from the given start ({msg})")
        return _result(system, x, lam, alpha, "newton", True, nfev, msg)
    if fixed_point not in ("sequential", "simultaneous"):
        raise GameError(f"fixed_point must be 'sequential' or 'simultaneous', got {fixed_point!r}")
    if not 0 < damping <= 1:
        raise GameError(f"damping must lie in (0, 1], got {damping!r}")
    if not np.isfinite(alpha):
        raise GameError("the fixed-point methods need lam > 0 (alpha finite)")
    pol, nit, conv, name = _fixed_point(game, system, lam, alpha, start, fixed_point, damping, order, seed, tol,
                                        max_iter)
    msg = (f"{name}: converged (change <= {tol:g}) after {nit} sweeps" if conv
           else f"{name}: no convergence in {max_iter} sweeps")
    return _result(system, pol, lam, alpha, "fixed-point", conv, nit, msg)


def qre_branch(game, lam_max: float, start=None, start_lam: float | None = None, **options) -> QREBranch:
    """A branch of logit QRE over lambda, for plotting: by default the principal one, from ``lambda = 0``.

    Parameters
    ----------
    game : NormalFormGame, MatrixGame or MarkovGame
        As in :func:`logit_qre`.
    lam_max : float
        Where the trace ends.
    start : JointPolicy or sequence of array_like, optional
        A QRE at ``start_lam`` (e.g. one from :func:`enumerate_qre`): the branch through it is followed towards
        ``lam_max``, up or down in lambda, and stops at whichever end of the interval it reaches first (a branch
        may fold back).
    start_lam : float, optional
        The precision at which ``start`` is a QRE.
    **options
        Passed to :func:`tabular.qre_path.trace_branch`; ``max_step=0.1`` gives a densely sampled branch for
        smooth plots.

    Returns
    -------
    QREBranch
        Every accepted point (``lam``, ``policies``, ``residuals``), the folds and bifurcation points crossed, and
        in ``branch`` which branch was followed.

    Raises
    ------
    GameError
        When ``start`` and ``start_lam`` do not come together, or ``start`` is not a QRE at ``start_lam``.

    Examples
    --------
    In the symmetric 2x2 coordination game uniform play stays a QRE for every lambda; other branches split off at
    ``lambda = 2``, and the principal branch goes straight through.

    >>> game = T.MatrixGame(np.eye(2))  # two agents, two actions, a payoff of 1 for matching
    >>> branch = T.qre_branch(game, 4.0)
    >>> float(branch.lam[-1]), branch.probabilities(agent=0)[-1], len(branch.bifurcations)
    (4.0, array([0.5, 0.5]), 1)
    """
    system = make_system(game)
    if start is None:
        if start_lam is not None:
            raise GameError("start_lam needs a start profile (the principal branch starts at lambda = 0)")
        return build_branch(system, trace_branch(system, lam_max, **options))
    if start_lam is None:
        raise GameError("a start profile needs start_lam, the precision at which it is a QRE")
    x0 = _start_x(system, start)
    res = system.residual(system.probabilities(x0), float(start_lam))
    if not res <= START_RESIDUAL:
        raise GameError(f"start is not a QRE at lambda = {start_lam:g}: its residual is {res:.3g} "
                        f"(at most {START_RESIDUAL:g} is needed; Newton polishes it)")
    return build_branch(system, trace_branch(system, lam_max, start=x0, start_lam=start_lam, **options))


def _starts(system, n_random: int, rng, max_subsets: int = 256):
    """Uniform play, then (for small normal-form games) play uniform on every product of action subsets,
    then Dirichlet draws; each mixed with 5% uniform so its logarithm is finite."""
    uni = JointPolicy.uniform(system)
    yield uni
    if isinstance(system, NormalFormSystem):
        subsets = [[s for r in range(1, k + 1) for s in itertools.combinations(range(k), r)] for k in system.counts]
        if math.prod(len(s) for s in subsets) <= max_subsets:
            for combo in itertools.product(*subsets):
                rows = []
                for k, sub in zip(system.counts, combo):
                    row = np.zeros(k)
                    row[list(sub)] = 1.0 / len(sub)
                    rows.append(0.95 * row + 0.05 / k)
                yield JointPolicy.from_rows(system, rows)
    for _ in range(n_random):
        pol = JointPolicy.random(system, seed=rng)
        yield JointPolicy([0.95 * np.asarray(p) + 0.05 / p.shape[1] for p in pol])


def _start_points(system, lam, n_random, rng):
    """Each start profile as log-probabilities, and also its logit response (which puts a start near a pure
    profile close to the nearby QRE, whose tiny probabilities the start itself cannot resolve)."""
    for start in _starts(system, n_random, rng):
        x = system.to_x(start)
        yield x
        yield np.concatenate([_log_softmax(q)[0].ravel() for q in system.logits(x, lam)])


def enumerate_qre(game, alpha: float | None = None, lam: float | None = None, *, n_random: int = 32, seed=0,
                  distinct: float = 1e-6) -> list[QRERecord]:
    """Distinct QRE found by multistart Newton (analytic Jacobian), each with its MaxEnt value ``J``.

    Starts: uniform play, play uniform on each product of action subsets (normal-form games with at most 256 such
    products) and ``n_random`` seeded Dirichlet draws; Newton runs from each start and from its logit response.
    A multistart search: it cannot prove that no other QRE exists.

    Parameters
    ----------
    game : NormalFormGame, MatrixGame or MarkovGame
        As in :func:`logit_qre`.
    alpha, lam : float, optional
        Temperature or precision (give exactly one).
    n_random : int, optional
        Number of random starts.
    seed : int or numpy.random.Generator, optional
        Seed of the random starts.
    distinct : float, optional
        Two QRE are the same when no probability differs by more than this.

    Returns
    -------
    list of QRERecord
        Candidates with residual at most 1e-10, sorted by ``J`` (by the sum of the agents' values for
        general-sum games), best first.

    Examples
    --------
    >>> game = T.MatrixGame(np.eye(2))  # two agents, two actions, a payoff of 1 for matching
    >>> for r in T.enumerate_qre(game, lam=3.0):  # agent 1's policy, J, ascent directions
    ...     print(np.round(r.policy[0][0], 4), round(r.J, 4), r.ascent_directions)
    [0.9293 0.0707] 1.0389 0
    [0.0707 0.9293] 1.0389 0
    [0.5 0.5] 0.9621 1
    """
    lam, alpha = _precision(alpha, lam)
    system = make_system(game)
    rng = np.random.default_rng(seed)
    found: list[QRERecord] = []
    monitor = isinstance(system, NormalFormSystem) and system.common
    for x0 in _start_points(system, lam, n_random, rng):
        x, _, _ = _newton(system, x0, lam)
        if not np.all(np.isfinite(x)):
            continue
        pol = system.to_policy(x)
        res = system.residual(pol, lam)
        if res > ACCEPT_RESIDUAL or any(pol.max_abs_diff(r.policy) <= distinct for r in found):
            continue
        vals = _assess(system, pol, lam, alpha)[1]
        J = _objective(system, vals)
        asc = ascent_directions(system, system.to_x(pol), lam) if monitor else -1
        found.append(QRERecord(policy=pol, J=J, values=vals, residual=res, ascent_directions=asc))
    return sorted(found, key=lambda r: -(r.J if not math.isnan(r.J) else float(np.sum(r.values))))
