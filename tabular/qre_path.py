r"""Principal-branch path following for logit QRE: from uniform play at ``lambda = 0`` to a target ``lambda``.

The solutions of ``F(x, lambda) = 0`` (see :mod:`tabular.qre_system`) form curves in ``(x, lambda)``; the one
through the uniform profile at ``lambda = 0`` is the principal branch.  It is traced by pseudo-arclength
continuation: a predictor along the unit tangent ``t`` (the null vector of ``[dF/dx, dF/dlambda]``), second
order once the curvature is known from two tangents, and Newton correctors on ``F = 0`` orthogonal to ``t``.
The step adapts to the size of the first correction; a step is rejected and halved when the corrector
contracts poorly, the tangent turns by more than ~25 degrees, or the new point is not ahead of the last one,
so the trace cannot jump across a fold onto another part of the curve.  The end point is found by Newton at
exactly the target ``lambda``, and the first time the branch reaches it is the answer (as in Gambit).

Bifurcations.  The tangent is oriented by continuity (``t_new . t_old > 0``), never by the sign of a
determinant, so at a branch point (e.g. a symmetric coordination game, where the uniform profile stays a QRE
for every ``lambda`` and other branches split off it) the trace goes straight through on the same smooth
branch instead of reversing.  Crossings are recorded: a sign change of ``det [dF/dx, dF/dlambda; t]`` that
persists down to steps of ``BIFURCATION_STEP`` marks a simple (odd-multiplicity) bifurcation (a jump between
parts of the curve would also flip it, but not at every step size); for common-payoff normal-form games the exact
count of ascent directions of the MaxEnt objective (eq. 2, from the inertia of its bordered Hessian) also
reveals even-multiplicity ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla

from .games import GameError
from .policy import JointPolicy
from .qre_system import KRYLOV_RTOL, NormalFormSystem

# LAPACK directly (no argument checking): these run thousands of times per trace on small matrices
_getrf, _getrs, _gesv = sla.lapack.dgetrf, sla.lapack.dgetrs, sla.lapack.dgesv

#: Newton corrections per predictor step before the step is halved.
MAX_CORRECTOR = 8
#: A step is rejected (and halved) when the tangent turns by more than arccos(MIN_COS) ~ 25 degrees across it,
#: or when the first Newton correction exceeds MAX_DISTANCE times the step (the curve bends within the step).
MIN_COS = 0.9
MAX_DISTANCE = 0.25
#: Step-size control aims at first corrections of this fraction of the step.
TARGET_DISTANCE = 0.1
#: GMRES restart length and number of restarts for the bordered systems of a matrix-free system.
KRYLOV_RESTART = 60
KRYLOV_RESTARTS = 20
#: Arclength step below which a persisting sign change of det [dF/dx, dF/dlambda; t] is accepted as a branch point.
BIFURCATION_STEP = 1e-5


@dataclass(frozen=True)
class BranchEvent:
    """A point passed while tracing: ``kind`` is ``"fold"`` (lambda turns back) or ``"bifurcation"``.

    Examples
    --------
    >>> game = T.MatrixGame(np.eye(2))  # two agents, two actions, a payoff of 1 for matching
    >>> event = T.qre_branch(game, 4.0).events[0]  # uniform play meets the branches that split off at 2
    >>> event.kind, round(event.lam, 3)
    ('bifurcation', 2.0)
    """

    kind: str
    lam: float          #: lambda at the first accepted point past the event
    bracket: tuple      #: (lambda before, lambda after): the event lies between these two accepted points
    detail: str


@dataclass(frozen=True)
class QREBranch:
    """A traced branch of logit QRE: ``lam[k]`` and the QRE ``policies[k]`` at each accepted point.

    Examples
    --------
    >>> game = T.MatrixGame(np.eye(2))  # two agents, two actions, a payoff of 1 for matching
    >>> branch = T.qre_branch(game, 1.0)
    >>> float(branch.lam[0]), float(branch.lam[-1]), bool(branch.residuals.max() < 1e-10)
    (0.0, 1.0, True)
    """

    lam: np.ndarray
    points: tuple = field(repr=False)  #: per point, the per-agent probability arrays (S, |A^i|)
    residuals: np.ndarray          #: max violation of the logit equations at each point
    ascent_directions: np.ndarray  #: per point, ascent directions of the MaxEnt objective (-1 if not computed)
    events: tuple                  #: folds and bifurcations crossed, in order
    branch: str                    #: which branch was followed, in words
    method: str = "branch"

    @cached_property
    def policies(self) -> tuple:
        """The QRE at each point as :class:`JointPolicy` objects (built on first use).

        Examples
        --------
        >>> T.qre_branch(T.MatrixGame(np.eye(2)), 1.0).policies[-1][0]
        array([[0.5, 0.5]])
        """
        return tuple(JointPolicy(p) for p in self.points)

    @property
    def bifurcations(self) -> tuple:
        """The bifurcation points crossed, in order.

        Examples
        --------
        >>> len(T.qre_branch(T.MatrixGame(np.eye(2)), 4.0).bifurcations)
        1
        """
        return tuple(e for e in self.events if e.kind == "bifurcation")

    @property
    def folds(self) -> tuple:
        """The folds crossed (where lambda turns back), in order.

        Examples
        --------
        >>> T.qre_branch(T.MatrixGame(np.eye(2)), 4.0).folds
        ()
        """
        return tuple(e for e in self.events if e.kind == "fold")

    def probabilities(self, agent: int, state: int = 0) -> np.ndarray:
        """Agent ``agent``'s action probabilities in ``state`` along the branch.

        Parameters
        ----------
        agent : int
            The agent.
        state : int, optional
            The state (0 for a normal-form game).

        Returns
        -------
        ndarray
            Shape ``(len(lam), |A^agent|)``.

        Examples
        --------
        >>> branch = T.qre_branch(T.MatrixGame(np.eye(2)), 1.0)
        >>> branch.probabilities(agent=1)[-1]
        array([0.5, 0.5])
        """
        return np.array([p[agent][state] for p in self.points])


class Trace(NamedTuple):
    """Raw output of :func:`trace_branch`: log-probabilities and lambda of every accepted point.

    Examples
    --------
    >>> from tabular.qre_path import trace_branch
    >>> from tabular.qre_system import make_system
    >>> trace = trace_branch(make_system(T.MatrixGame(np.eye(2))), 1.0)
    >>> float(trace.lams[-1]), trace.events
    (1.0, ())
    """

    xs: list
    lams: list
    ascent: list
    events: tuple
    origin: str   #: where the branch starts, in words


def _lu_sign(lu: np.ndarray, piv: np.ndarray, rows: np.ndarray) -> int:
    """Sign of the determinant from LAPACK's LU (0-based pivots; ``rows = arange(n)``): one flip per row swap,
    per negative pivot."""
    flips = np.count_nonzero(lu.diagonal() < 0) + np.count_nonzero(piv != rows)
    return -1 if flips % 2 else 1


def _absmax(v: np.ndarray) -> float:
    return float(np.maximum.reduce(np.abs(v)))


def ascent_directions(system, x: np.ndarray, lam: float) -> int:
    """For a common-payoff normal-form game: how many independent directions raise ``lam E[u] + sum_i H(pi^i)``.

    The Hessian on the product of simplices is ``lam M_ij`` off the diagonal blocks and ``-diag(1/p_i)`` on them;
    bordering it with the per-agent sum constraints and counting positive eigenvalues of its LDL^T factor
    (Sylvester's inertia) gives the count on the tangent space plus ``n``.

    Parameters
    ----------
    system : NormalFormSystem
        The logit system of the game (:func:`tabular.qre_system.make_system`).
    x : ndarray
        A QRE as stacked log-probabilities.
    lam : float
        Its precision.

    Returns
    -------
    int
        0 means a strict local maximum of the MaxEnt objective.

    Examples
    --------
    >>> from tabular.qre_path import ascent_directions
    >>> from tabular.qre_system import make_system
    >>> system = make_system(T.MatrixGame(np.eye(2)))
    >>> ascent_directions(system, system.uniform_x, 3.0)  # past lambda = 2 uniform play is a saddle
    1
    """
    n, off, N = system.n_agents, system.offsets, system.size
    B = np.zeros((N + n, N + n))
    B[:N, :N] = lam * system.offdiagonal(x)
    B[np.arange(N), np.arange(N)] = -np.exp(-x)  # -1/p at a root, where x = log p
    for i in range(n):
        B[off[i]:off[i + 1], N + i] = B[N + i, off[i]:off[i + 1]] = 1.0
    _, d, _ = sla.ldl(B)
    pos, k = 0, 0
    while k < N + n:  # d is block diagonal with 1x1 and 2x2 blocks
        if k + 1 < N + n and d[k + 1, k] != 0.0:
            a, b, c = d[k, k], d[k + 1, k], d[k + 1, k + 1]
            det, tr = a * c - b * b, a + c
            pos += 1 if det < 0 else (2 if tr > 0 else 0)
            k += 2
        else:
            pos += d[k, k] > 0
            k += 1
    return int(pos) - n


def krylov_solve(Jx, rhs: np.ndarray, Jl: np.ndarray | None = None, row: np.ndarray | None = None):
    """Solve ``dF/dx d = rhs``, or the bordered ``[dF/dx, dF/dlambda; row] d = rhs``, for a matrix-free ``dF/dx``.

    GMRES preconditioned with the per-state blocks of ``dF/dx``
    (:class:`tabular.qre_system.SparseMarkovSystem`).

    Parameters
    ----------
    Jx : scipy.sparse.linalg.LinearOperator
        ``dF/dx``, with its ``precondition`` operator.
    rhs : ndarray
        The right-hand side (length ``N``, or ``N + 1`` when bordered).
    Jl : ndarray, optional
        ``dF/dlambda``, to border the system with.
    row : ndarray, optional
        The bordering row (length ``N + 1``).

    Returns
    -------
    ndarray or None
        The solution, or ``None`` when GMRES does not get the residual below 1e-8 relative (treated like a
        singular matrix by the callers).

    Examples
    --------
    >>> from tabular.qre_path import krylov_solve
    >>> from tabular.qre_system import SparseMarkovSystem
    >>> system = SparseMarkovSystem(T.random_markov_game(40, (3, 3), n_successors=3, sparse=True, seed=0))
    >>> F, Jx, _ = system.jacobian(system.uniform_x, 1.0)
    >>> d = krylov_solve(Jx, -F)
    >>> d.shape, bool(np.abs(F + Jx @ d).max() < 1e-8)
    ((240,), True)
    """
    N = Jx.shape[0]
    P = Jx.precondition
    if Jl is None:
        A, M = Jx, P
    else:
        A = spla.LinearOperator((N + 1, N + 1), dtype=float,
                                matvec=lambda v: np.append(Jx @ v[:N] + Jl * v[N], row @ v))
        M = None if P is None else spla.LinearOperator((N + 1, N + 1), dtype=float,
                                                        matvec=lambda v: np.append(P @ v[:N], v[N]))
    size = _absmax(rhs)
    if size == 0.0:
        return np.zeros_like(rhs)
    d, _ = spla.gmres(A, rhs, M=M, rtol=KRYLOV_RTOL, atol=0.0, restart=KRYLOV_RESTART, maxiter=KRYLOV_RESTARTS)
    ok = np.all(np.isfinite(d)) and _absmax(rhs - A @ d) <= 1e-8 * size
    return d if ok else None


def newton_fixed(system, x: np.ndarray, lam: float, tol: float = 1e-14, max_iter: int = 30):
    """Plain Newton on ``F(., lam) = 0`` from a nearby point.

    Stops once the error left after a step, estimated from quadratic convergence as ``step^3 / prev^2``, is below
    ``tol`` (relative to ``max(1, |x|)``): one step fewer than waiting for a step at rounding level.

    Parameters
    ----------
    system : NormalFormSystem or MarkovSystem
        The logit system.
    x : ndarray
        The start, stacked log-probabilities.
    lam : float
        The precision.
    tol : float, optional
        Relative accuracy wanted.
    max_iter : int, optional
        Most Newton steps.

    Returns
    -------
    x : ndarray
        The last iterate.
    converged : bool
        Whether it is a root to ``tol``.
    jacobian : tuple
        ``(dF/dx, dF/dlambda)`` as last evaluated (one step before ``x``).

    Examples
    --------
    >>> from tabular.qre_path import newton_fixed
    >>> from tabular.qre_system import make_system
    >>> system = make_system(T.MatrixGame(np.eye(2)))
    >>> x, ok, _ = newton_fixed(system, np.log([0.9, 0.1, 0.9, 0.1]), 3.0)
    >>> ok, np.round(np.exp(x), 4)
    (True, array([0.9293, 0.0707, 0.9293, 0.0707]))
    """
    prev, jac = np.inf, None
    for _ in range(max_iter):
        F, Jx, Jl = system.jacobian(x, lam)
        jac = (Jx, Jl)
        if _absmax(F) <= 1e-15:  # already a root to rounding (also where dF/dx is singular)
            return x, True, jac
        if isinstance(Jx, np.ndarray):
            _, _, dx, info = _gesv(Jx, -F)
        else:
            dx = krylov_solve(Jx, -F)
            info = int(dx is None)
        if info > 0:  # exactly singular
            return x, False, jac
        x = x + dx
        step = _absmax(dx) / max(1.0, _absmax(x))
        if not math.isfinite(step):
            return x, False, jac
        if step <= tol or (step < 1e-8 and step ** 3 <= tol * prev ** 2):
            return x, True, jac
        prev = step
    F = system.equations(x, lam)
    return x, bool(np.max(np.abs(F)) <= 1e-12), jac


def trace_branch(system, lam_max: float, *, start: np.ndarray | None = None, start_lam: float = 0.0,
                 first_step: float = 1.0, max_step: float = 50.0, corrector_tol: float = 1e-12,
                 max_points: int = 20_000, monitor: bool | None = None):
    """Trace a branch of QRE until it first reaches ``lam_max`` (a :class:`Trace`).

    By default the principal branch, from uniform play at ``lambda = 0``.  With ``start`` (log-probabilities of
    a QRE at ``start_lam``) the branch through that QRE, heading towards ``lam_max`` (up or down); it stops at
    whichever end of the interval between ``start_lam`` and ``lam_max`` it reaches first, since a branch may
    fold back (a branch from a strict equilibrium at high ``lambda``, traced down, turns and comes back up).
    ``first_step`` and ``max_step`` bound the arclength steps in ``(log pi, lambda)``: pass a small
    ``max_step`` (e.g. 0.1) for a densely sampled branch to plot; the default takes the fewest steps that keep
    the corrector safe.  ``corrector_tol`` is the accuracy of the intermediate points (the end point, reached by
    Newton at exactly the end's lambda, is always polished to rounding level).  ``monitor`` computes the
    ascent-direction count at every point (default: on for common-payoff normal-form games, the only ones where
    it is defined here).

    Parameters
    ----------
    system : NormalFormSystem or SparseMarkovSystem
        The logit equilibrium system of a game (:func:`tabular.qre_system.make_system`).
    lam_max : float
        The precision ``lambda`` to trace to (finite, >= 0).
    start, start_lam : ndarray or None, float
        A QRE's stacked log-probabilities at ``start_lam`` to trace from, instead of uniform play at 0.
    first_step, max_step : float
        First and largest arclength step.
    corrector_tol : float
        Accuracy of the intermediate points.
    max_points : int
        Most points to accept before giving up.
    monitor : bool or None
        Count ascent directions at every point (common-payoff normal-form games only).

    Returns
    -------
    Trace
        The accepted points (``xs``, ``lams``), the ascent counts and the events met (bifurcations, folds).

    Raises
    ------
    GameError
        On a bad ``lam_max`` or ``start_lam``, or a ``start`` that is not close to a QRE.

    Examples
    --------
    >>> from tabular.qre_path import trace_branch
    >>> from tabular.qre_system import make_system
    >>> trace = trace_branch(make_system(T.MatrixGame(np.eye(2))), 1.0)
    >>> float(trace.lams[0]), float(trace.lams[-1])
    (0.0, 1.0)
    """
    lam_max, start_lam = float(lam_max), float(start_lam)
    for name, v in (("lam_max", lam_max), ("start_lam", start_lam)):
        if not (math.isfinite(v) and v >= 0):
            raise GameError(f"{name} must be a finite number >= 0, got {v!r}")
    common = isinstance(system, NormalFormSystem) and system.common
    monitor = common if monitor is None else bool(monitor and common)
    if start is None:
        if start_lam != 0.0:
            raise GameError("start_lam needs a start profile (the principal branch starts at lambda = 0)")
        x0 = system.uniform_x
    else:
        x0, ok, _ = newton_fixed(system, np.asarray(start, dtype=float), start_lam)
        if not ok:
            raise GameError(f"start is not (close to) a QRE at lambda = {start_lam:g}: Newton did not converge")
    tracer = _BranchTracer(system, x0, start_lam, lam_max, monitor, corrector_tol)
    tracer.run(first_step, max_step, max_points)
    origin = (f"branch through the given QRE at lambda = {start_lam:g}" if start is not None else
              "principal branch (the smooth solution curve through the uniform profile at lambda = 0)")
    return Trace(xs=tracer.xs, lams=tracer.lams, ascent=tracer.ascent, events=tuple(tracer.events),
                 origin=origin)


class _BranchTracer:
    """The state of one trace and its steps.

    ``y`` is the last accepted point (log-probabilities, then lambda), ``t`` its unit tangent and ``sign`` the
    sign of ``det [dF/dx, dF/dlambda; t]`` there (the orientation); ``xs``, ``lams``, ``ascent`` and ``events``
    collect the accepted points.  Only :meth:`accept` moves ``y``, ``t`` and ``sign``.  A matrix-free system
    (large Markov games) solves the bordered systems by GMRES and gets the determinant's sign from its
    structure (:class:`tabular.qre_system.SparseMarkovSystem`).
    """

    def __init__(self, system, x0: np.ndarray, lam0: float, lam_max: float, monitor: bool, corrector_tol: float):
        N = self.N = system.size
        self.system, self.monitor, self.lam_max = system, monitor, lam_max
        self.lo, self.hi = min(lam0, lam_max), max(lam0, lam_max)
        self.corrector_tol = corrector_tol
        self.quadratic = math.sqrt(corrector_tol)  # corrections below this are trusted to converge quadratically
        self.y = np.empty(N + 1)
        self.y[:N], self.y[N] = x0, lam0
        self.free = getattr(system, "matrix_free", False)
        self.A = None if self.free else np.empty((N + 1, N + 1))  # the augmented matrix, filled in place
        self.e_last = np.zeros(N + 1)
        self.e_last[N] = 1.0
        self.rows = np.arange(N + 1)
        self.rhs = np.zeros(N + 1)  # [-F, 0]: each correction keeps t . (z - y_pred) = 0
        _, Jx, Jl = system.jacobian(self.y[:N], lam0)
        self.sign = None
        heading = self.e_last if lam_max >= lam0 else -self.e_last
        self.t, self.sign = self.tangent(*self.factor(Jx, Jl, heading), heading)
        if self.t[N] * heading[N] <= 0:
            raise GameError(f"the branch through the start is vertical at lambda = {lam0:g} (a fold or branch "
                            f"point): start from a neighbouring lambda")
        self.xs, self.lams, self.events = [self.y[:N]], [lam0], []
        self.ascent = [ascent_directions(system, self.y[:N], lam0) if monitor else -1]

    # ------------------------------------------------------------------ linear algebra at a point
    def factor(self, Jx, Jl, row):
        """LU of the augmented matrix ``[dF/dx, dF/dlambda; row]`` (LAPACK getrf; info > 0: exactly singular);
        for a matrix-free system, the operator's pieces."""
        if self.free:
            return (Jx, Jl, row), None, 0
        N, A = self.N, self.A
        A[:N, :N], A[:N, N], A[N] = Jx, Jl, row
        return _getrf(A)

    def tangent(self, lu, piv, info, t_old):
        """Unit tangent with ``t_old . t > 0`` (continuity, never a determinant sign) and that determinant's sign."""
        if info > 0:  # landed exactly on a singular point: keep the last tangent
            return t_old, self.sign
        if self.free:  # det [dF/dx, dF/dlambda; row] = det(dF/dx) / tn[N] (Cramer's rule for tn[N])
            Jx, Jl, row = lu
            tn = krylov_solve(Jx, self.e_last, Jl, row)
            if tn is None:
                return t_old, self.sign
            det_sign = Jx.det_sign() * (1 if tn[self.N] > 0 else -1)
            return tn / math.sqrt(tn @ tn), (det_sign or self.sign)
        tn = _getrs(lu, piv, self.e_last)[0]
        return tn / math.sqrt(tn @ tn), _lu_sign(lu, piv, self.rows)

    # ------------------------------------------------------------------ accepting points
    def smooth_step(self, z, t_new, sign_new, h) -> bool:
        """Whether ``y -> z`` stays on one smooth piece of the curve: the tangent turns by less than
        arccos(MIN_COS), ``z`` lies ahead along both tangents, and the orientation (determinant sign) is kept,
        except across a branch point, which shows itself by a sign change that persists down to steps of
        ``BIFURCATION_STEP``."""
        ahead = z - self.y
        turned = float(t_new @ self.t) < MIN_COS or ahead @ self.t <= 0 or ahead @ t_new <= 0
        return not (turned or (sign_new != self.sign and (h > BIFURCATION_STEP or h == 0.0)))

    def accept(self, z, t_new, sign_new) -> float:
        """Record the accepted point ``z`` with its tangent and the folds and bifurcations crossed since the
        last one; returns the cosine of the angle the tangent turned by."""
        N, y, t = self.N, self.y, self.t
        here, bracket = [], (float(y[N]), float(z[N]))
        if t_new[N] * t[N] < 0:
            turn = "back" if t_new[N] < 0 else "forward"
            here.append(BranchEvent("fold", float(z[N]), bracket, f"lambda turns {turn}"))
        if sign_new != self.sign:
            here.append(BranchEvent("bifurcation", float(z[N]), bracket,
                                    "simple branch point (the augmented Jacobian's determinant changed sign)"))
        idx = self.ascent
        idx.append(ascent_directions(self.system, z[:N], z[N]) if self.monitor else -1)
        if idx[-1] != idx[-2] and not any(e.kind == "fold" for e in here):
            what = f"ascent directions of the MaxEnt objective changed {idx[-2]} -> {idx[-1]}"
            if here:
                here[-1] = BranchEvent("bifurcation", here[-1].lam, bracket, f"{here[-1].detail}; {what}")
            else:
                here.append(BranchEvent("bifurcation", float(z[N]), bracket, what))
        self.events.extend(here)
        cos = float(t_new @ t)
        self.y, self.t, self.sign = z, t_new, sign_new
        self.xs.append(z[:N].copy())
        self.lams.append(float(z[N]))
        return cos

    def land(self, target, x_guess, dist) -> bool:
        """Newton at fixed ``target`` from ``x_guess``; accepted only if it stays within ``dist`` of the guess
        (so it cannot jump to another solution at the same lambda)."""
        N = self.N
        x_end, conv, (Jx, Jl) = newton_fixed(self.system, x_guess, target)
        if not conv or _absmax(x_end - x_guess) > dist:
            return False
        z = np.empty(N + 1)
        z[:N], z[N] = x_end, target
        t_new, sign_new = self.tangent(*self.factor(Jx, Jl, self.t), self.t)
        if not self.smooth_step(z, t_new, sign_new, 0.0):
            return False
        self.accept(z, t_new, sign_new)
        return True

    # ------------------------------------------------------------------ predictor-corrector steps
    def land_ahead(self, h, curvature):
        """If a step ``h`` along the tangent would cross the end it heads for, try to land on that end by
        Newton from the predicted point; returns ``(landed, h)`` with ``h`` halved to short of the end when
        landing failed."""
        N, y, t = self.N, self.y, self.t
        target = self.hi if t[N] > 0 else self.lo
        if t[N] != 0 and (y[N] + h * t[N] - target) * t[N] >= 0:
            h_land = (target - y[N]) / t[N]
            guess = y + h_land * t
            if curvature is not None:
                guess += 0.5 * h_land ** 2 * curvature
                guess += (target - guess[N]) / t[N] * t  # back onto lambda = target along the tangent
            if h_land > 0 and self.land(target, guess[:N], 0.25 * h_land):
                return True, h
            h = 0.5 * h_land if h_land > 0 else h
        return False, h

    def correct(self, y_pred, h):
        """Newton corrections from ``y_pred`` on ``F = 0`` orthogonal to the tangent.  Returns ``(z, ok, lu,
        first)``: the corrected point, whether it converged, the last factorisation of ``[dF/dx, dF/dlambda;
        t]`` as ``(lu, piv, info)`` (kept for the tangent) and the size of the first correction.  Gives up
        (``ok`` False) when a correction is too far from the predictor or contracts poorly."""
        N, t, rhs, tol = self.N, self.t, self.rhs, self.corrector_tol
        z, prev, first = y_pred.copy(), np.inf, None
        lu = piv = info = None
        for it in range(MAX_CORRECTOR):
            F, Jx, Jl = self.system.jacobian(z[:N], z[N])
            np.negative(F, out=rhs[:N])
            if self.free:
                (lu, piv, info), dz = self.factor(Jx, Jl, t), krylov_solve(Jx, rhs, Jl, t)
                info = int(dz is None)
            else:
                A = self.A
                A[:N, :N], A[:N, N], A[N] = Jx, Jl, t
                lu, piv, dz, info = _gesv(A, rhs)  # LU of [dF/dx, dF/dlambda; t] and the solve
            if info > 0:
                break
            z += dz
            step = _absmax(dz)
            if not math.isfinite(step) or step > (MAX_DISTANCE * h if it == 0 else 0.5 * prev):
                break  # too far from the predictor, or poor contraction: the step was too long
            if it == 0:
                first = step
            # Quadratic convergence: the error left after this correction is about step^3 / prev^2.
            if step <= tol or (it and step ** 3 <= tol * prev ** 2 and step < self.quadratic):
                return z, True, (lu, piv, info), first
            prev = step
        return z, False, (lu, piv, info), first

    def next_step(self, z, t_new, sign_new, h, first, max_step):
        """Accept ``z`` and choose the next step: returns ``(h, curvature)``.  The step aims for a first
        correction of ``TARGET_DISTANCE * h``; the predictor error grows like ``h^3`` (``h^2`` for the first,
        first-order step), and the tangent should turn by a few degrees at most."""
        ahead = z - self.y
        t_old = self.t
        cos = self.accept(z, t_new, sign_new)
        curvature = (t_new - t_old) / math.sqrt(ahead @ ahead) if cos > 0.99 else None
        grow = (TARGET_DISTANCE * h / max(first, 1e-300)) ** (1 / 3 if curvature is not None else 1 / 2)
        h = min(max_step, h * min(4.0, max(0.5, grow)) * (0.5 if cos < 0.97 else 1.0))
        return h, curvature

    def run(self, first_step: float, max_step: float, max_points: int) -> None:
        """Step along the branch until it reaches an end of ``[lo, hi]`` (landed on exactly)."""
        N, lo, hi = self.N, self.lo, self.hi
        h, curvature = first_step, None
        while lo != hi:
            if len(self.lams) >= max_points:
                raise RuntimeError(f"branch tracing stopped after {max_points} points at lambda = "
                                   f"{self.lams[-1]:.6g} before reaching {self.lam_max:g}")
            landed, h = self.land_ahead(h, curvature)
            if landed:
                break
            y_pred = self.y + h * self.t
            if curvature is not None:  # second-order predictor: y(s) ~ y + s t + s^2/2 dt/ds
                y_pred += 0.5 * h * h * curvature
            z, ok, lu, first = self.correct(y_pred, h)
            if not ok:
                h *= 0.5
                if h < 1e-12:
                    raise RuntimeError(f"branch tracing failed to converge near lambda = {self.y[N]:.6g}")
                continue
            t_new, sign_new = self.tangent(*lu, self.t)  # from the last corrector factorisation: no extra work
            if not self.smooth_step(z, t_new, sign_new, h) and h > 1e-9:
                # The curve turns sharply within the step, or the corrector fell back behind the last point, or
                # the orientation flipped (a jump across a fold onto another part of the curve looks exactly
                # like a simple bifurcation): shorter steps until a sign change persists at step
                # BIFURCATION_STEP, which only a true branch point does; that also brackets it that tightly.
                h *= 0.5
                continue
            y = self.y
            crossed = hi if z[N] >= hi > y[N] else lo if z[N] <= lo < y[N] else None
            if crossed is not None:  # crossed an end: land on it from the secant between the two points
                w = (crossed - y[N]) / (z[N] - y[N])
                if self.land(crossed, (1 - w) * y[:N] + w * z[:N], np.max(np.abs(z[:N] - y[:N]))):
                    break
                h *= 0.5
                continue
            h, curvature = self.next_step(z, t_new, sign_new, h, first, max_step)


def describe(trace: Trace) -> str:
    """Which branch a trace followed, in words.

    Parameters
    ----------
    trace : Trace
        From :func:`trace_branch`.

    Returns
    -------
    str

    Examples
    --------
    >>> from tabular.qre_path import describe, trace_branch
    >>> from tabular.qre_system import make_system
    >>> describe(trace_branch(make_system(T.MatrixGame(np.eye(2))), 1.0))
    'principal branch (the smooth solution curve through the uniform profile at lambda = 0)'
    """
    bif = [e for e in trace.events if e.kind == "bifurcation"]
    desc = trace.origin
    if bif:
        desc += ("; passed straight through " + ", ".join(
            f"a branch point at lambda in [{e.bracket[0]:.6g}, {e.bracket[1]:.6g}]" for e in bif)
                 + " without switching to the branches that split off there")
    return desc


def build_branch(system, trace: Trace) -> QREBranch:
    """The public :class:`QREBranch` of a trace: policies and residuals at every accepted point.

    Parameters
    ----------
    system : NormalFormSystem or MarkovSystem
        The system that was traced.
    trace : Trace
        From :func:`trace_branch`.

    Returns
    -------
    QREBranch

    Examples
    --------
    >>> from tabular.qre_path import build_branch, trace_branch
    >>> from tabular.qre_system import make_system
    >>> system = make_system(T.MatrixGame(np.eye(2)))
    >>> build_branch(system, trace_branch(system, 1.0)).branch
    'principal branch (the smooth solution curve through the uniform profile at lambda = 0)'
    """
    lam = np.array(trace.lams)
    points, residuals = system.profiles(trace.xs, lam)
    return QREBranch(lam=lam, points=points, residuals=residuals, ascent_directions=np.array(trace.ascent),
                     events=trace.events, branch=describe(trace))
