r"""Joint soft policy evaluation (eq. 4-6, Lemma 4.1) and multi-agent soft Q / advantages (eq. 7, Def. 6).

For a joint policy :math:`\pi` and temperature :math:`\alpha \ge 0`

.. math::
    Q_\pi(s,a) = r(s,a) + \gamma\, \mathbb{E}_{s'}[V_\pi(s')], \qquad
    V_\pi(s) = \mathbb{E}_{a\sim\pi}[Q_\pi(s,a)] + \alpha \sum_i H(\pi^i(\cdot|s)),

so :math:`V_\pi = (I - \gamma P_\pi)^{-1}(r_\pi + \alpha H_\pi)` (``method="exact"``: a dense LU solve, or
for sparse games a sparse LU / a Krylov solve polished to machine precision) or the limit of the soft
Bellman backup :math:`V \leftarrow r_\pi + \alpha H_\pi + \gamma P_\pi V`, a :math:`\gamma`-contraction
(``method="iterative"``).  :math:`J(\pi) = \mathbb{E}_{s\sim d}[V_\pi(s)]`.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .games import GameError, MarkovGame
from .policy import JointPolicy

#: Sparse games with at most this many states are solved by sparse LU; larger ones by GMRES.
SPARSE_DIRECT_MAX_STATES = 3000


@dataclass(frozen=True)
class SoftEvaluation:
    """Result of :func:`soft_evaluate`: soft ``V`` (S,), soft ``Q`` (S, |A^1|, ..., |A^n|) and ``J``.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> ev = T.soft_evaluate(game, pi, alpha=0.0)
    >>> round(ev.J, 4), ev.Q.shape, ev.method
    (-8.2, (1, 3, 3), 'exact')
    """

    V: np.ndarray
    Q: np.ndarray
    J: float
    alpha: float
    method: str
    nit: int
    residual: float  #: max |V - (r_pi + alpha H_pi + gamma P_pi V)| of the returned V


def _check_alpha(alpha) -> float:
    a = float(alpha)
    if not (a >= 0.0) or not np.isfinite(a):
        raise GameError(f"temperature alpha must be a finite number >= 0, got {alpha!r}")
    return a


def policy_kernel(game: MarkovGame, pi_joint: np.ndarray):
    """``P_pi(s'|s) = sum_a pi(a|s) P(s'|s,a)``.

    Parameters
    ----------
    game : MarkovGame
        The game.
    pi_joint : ndarray
        The joint policy, shape ``(S, |A^1|, ..., |A^n|)`` (:meth:`JointPolicy.joint`).

    Returns
    -------
    ndarray or scipy.sparse.csr_matrix
        Dense ``(S, S)``, or for a sparse game a CSR matrix that shares ``P``'s column indices (see
        :func:`tabular.games.mix_rows`).

    Examples
    --------
    >>> from tabular.evaluation import policy_kernel
    >>> game = T.random_markov_game(4, (2, 2), seed=0)
    >>> P_pi = policy_kernel(game, T.JointPolicy.uniform(game).joint())
    >>> P_pi.shape, np.round(P_pi.sum(axis=1), 4)
    ((4, 4), array([1., 1., 1., 1.]))
    """
    return game.transition_under(pi_joint.reshape(game.n_states, 1, -1))


def policy_operator(game: MarkovGame, pi_joint: np.ndarray) -> spla.LinearOperator:
    """``v -> P_pi v = sum_a pi(a|s) (P v)(s, a)`` without forming ``P_pi``.

    One product with ``P`` per call and no memory per non-zero: the form used for sparse games too large for a
    direct solve.

    Parameters
    ----------
    game : MarkovGame
        The game.
    pi_joint : ndarray
        The joint policy, shape ``(S, |A^1|, ..., |A^n|)``.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        Shape ``(S, S)``.

    Examples
    --------
    >>> from tabular.evaluation import policy_kernel, policy_operator
    >>> game = T.random_markov_game(4, (2, 2), seed=0)
    >>> pi = T.JointPolicy.uniform(game).joint()
    >>> v = np.arange(4.0)
    >>> bool(np.allclose(policy_operator(game, pi) @ v, policy_kernel(game, pi) @ v))
    True
    """
    S = game.n_states
    w = pi_joint.reshape(S, -1)

    def matvec(v):
        return np.einsum("sa,sa->s", w, (game.P @ np.ravel(v)).reshape(S, -1))
    return spla.LinearOperator((S, S), matvec=matvec, dtype=float)


def matrix_free(game: MarkovGame) -> bool:
    """Whether values of ``game`` are solved for matrix-free (GMRES) rather than by a direct factorisation.

    Parameters
    ----------
    game : MarkovGame
        The game.

    Returns
    -------
    bool
        True for sparse games with more than ``SPARSE_DIRECT_MAX_STATES`` states.

    Examples
    --------
    >>> from tabular.evaluation import matrix_free
    >>> matrix_free(T.random_markov_game(10, (2,), seed=0))
    False
    >>> matrix_free(T.random_markov_game(5000, (2,), n_successors=3, sparse=True, seed=0))
    True
    """
    return game.is_sparse and game.n_states > SPARSE_DIRECT_MAX_STATES


def _kernel(game: MarkovGame, pi_joint: np.ndarray):
    """``P_pi`` in the form :func:`solve_values` handles best for this game."""
    if matrix_free(game):
        return policy_operator(game, pi_joint)
    return policy_kernel(game, pi_joint)


def solve_values(P_pi, c: np.ndarray, gamma: float, x0: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Solve ``(I - gamma P_pi) V = c`` exactly.

    Parameters
    ----------
    P_pi : ndarray, scipy.sparse matrix or scipy.sparse.linalg.LinearOperator
        The state kernel, shape ``(S, S)``: a dense array (LU), a sparse matrix (sparse LU up to
        ``SPARSE_DIRECT_MAX_STATES`` states, GMRES above) or a linear operator (GMRES).
    c : ndarray
        The right-hand side, shape ``(S,)``.
    gamma : float
        The discount.
    x0 : ndarray, optional
        A starting guess for GMRES.

    Returns
    -------
    V : ndarray
        The solution, shape ``(S,)``.
    solver : str
        ``"exact"`` (``gamma = 0``), ``"exact-lu"``, ``"exact-splu"`` or ``"exact-gmres"``.

    Examples
    --------
    >>> from tabular.evaluation import solve_values
    >>> V, how = solve_values(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1.0, 0.0]), 0.5)
    >>> np.round(V, 4), how
    (array([1.3333, 0.6667]), 'exact-lu')
    """
    S, g = c.shape[0], gamma
    if g == 0.0:
        return c.copy(), "exact"
    if isinstance(P_pi, np.ndarray):
        return sla.solve(np.eye(S) - g * P_pi, c), "exact-lu"
    if sp.issparse(P_pi) and S <= SPARSE_DIRECT_MAX_STATES:
        return spla.spsolve((sp.identity(S, format="csr") - g * P_pi).tocsc(), c), "exact-splu"
    # Large sparse kernels: a direct factorisation fills in (random successor structure), so use GMRES,
    # which converges fast because I - gamma P_pi is well conditioned, and polish to machine precision.
    scale = max(1.0, float(np.max(np.abs(c))) / (1.0 - g))
    V = _deflated_gmres(P_pi, c, g, x0, 1e-14, 1e-15 * scale)
    for _ in range(3):  # iterative refinement: each pass costs one mat-vec
        res = c - V + g * (P_pi @ V)
        if np.max(np.abs(res)) <= 1e-13 * scale:
            break
        V = V + _deflated_gmres(P_pi, res, g, None, 1e-12, 0.0)
    return V, "exact-gmres"


def _deflated_gmres(P_pi, c: np.ndarray, g: float, x0, rtol: float, atol: float) -> np.ndarray:
    """GMRES on ``(I - g P_pi) V = c`` with the constant vector deflated.

    ``P_pi`` is row-stochastic, so ``P_pi 1 = 1`` and ``1 - g`` is an eigenvalue of ``I - g P_pi``, the one that
    lies apart from the rest.  Writing ``V = y + g / (1 - g) mean(y)`` turns the system into
    ``(I - g (P_pi - 1 mean)) y = c``, whose eigenvalue there is 1 and the others unchanged, so GMRES spends no
    iterations on it; the residual (of ``y`` and of ``V``) is the same, so ``rtol`` and ``atol`` keep their
    meaning."""
    S = c.shape[0]

    def matvec(y):
        y = np.ravel(y)
        return y - g * (P_pi @ y - y.mean())
    A = spla.LinearOperator((S, S), matvec=matvec, dtype=float)
    y0 = None if x0 is None else x0 - g * float(np.mean(x0))
    y = spla.gmres(A, c, x0=y0, rtol=rtol, atol=atol, restart=60, maxiter=200)[0]
    return y + g / (1.0 - g) * float(y.mean())


def soft_evaluate(game: MarkovGame, policy: JointPolicy, alpha: float, *, method: str = "exact",
                  tol: float = 1e-12, max_iter: int = 100_000, V0: np.ndarray | None = None) -> SoftEvaluation:
    """Evaluate ``policy`` in the MaxEnt objective with temperature ``alpha`` (eq. 4-6).

    Arrays of the size of ``Q`` are made only where needed (``pi``, ``Q`` and one product with ``P``), so that
    on large sparse games memory stays close to that of ``P``.

    Parameters
    ----------
    game : MarkovGame
        The game (a :class:`MatrixGame` too).
    policy : JointPolicy
        The joint policy to evaluate.
    alpha : float
        Temperature ``>= 0``; ``0`` is the standard (entropy-free) objective.
    method : {"exact", "iterative"}, optional
        ``"exact"`` solves the linear system; ``"iterative"`` iterates the soft Bellman backup from ``V0``
        (zeros by default) until successive values differ by at most ``tol`` (sup norm).
    tol : float, optional
        Stopping tolerance of ``"iterative"``.
    max_iter : int, optional
        Most backups of ``"iterative"``.
    V0 : ndarray, optional
        Start of ``"iterative"``, or GMRES's starting guess for large sparse games.

    Returns
    -------
    SoftEvaluation
        ``V``, ``Q``, ``J = E_{s ~ d}[V(s)]`` and the residual of the returned ``V``.

    Raises
    ------
    GameError
        For a negative temperature, an unknown method or a policy that does not fit the game.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> round(T.soft_evaluate(game, pi, alpha=0.0).J, 4)  # Appendix B's V
    -8.2
    >>> round(T.soft_evaluate(game, pi, alpha=1.0).J, 4)  # plus both agents' entropy
    -6.2995
    """
    alpha = _check_alpha(alpha)
    if method not in ("exact", "iterative"):
        raise GameError(f"unknown evaluation method {method!r}; use 'exact' or 'iterative'")
    policy.check_game(game)
    S = game.n_states
    pi = policy.joint()
    pi_rows = pi.reshape(S, -1)
    r_pi = np.einsum("sa,sa->s", pi_rows, game.r.reshape(S, -1))
    c = r_pi + alpha * policy.entropy_sum() if alpha else r_pi
    nit = 1
    if game.gamma == 0.0:
        V, how = c, "exact"
    elif method == "exact":
        V, how = solve_values(_kernel(game, pi), c, game.gamma, V0)
    else:
        P_pi = _kernel(game, pi)
        V = np.zeros(S) if V0 is None else np.asarray(V0, dtype=float).copy()
        how = "iterative"
        for nit in range(1, max_iter + 1):
            V_new = c + game.gamma * (P_pi @ V)
            delta = float(np.max(np.abs(V_new - V)))
            V = V_new
            if delta <= tol:
                break
        else:
            raise RuntimeError(f"soft Bellman backup did not reach tol={tol} in {max_iter} iterations")
    V = np.asarray(V, dtype=float)
    Q = soft_q(game, V)
    residual = float(np.max(np.abs(V - c - (np.einsum("sa,sa->s", pi_rows, Q.reshape(S, -1)) - r_pi))))
    return SoftEvaluation(V=V, Q=Q, J=float(game.d @ V), alpha=alpha, method=how, nit=nit, residual=residual)


def soft_q(game: MarkovGame, V: np.ndarray) -> np.ndarray:
    """``Q(s, a) = r(s, a) + gamma E_{s'}[V(s')]``, as one fresh array.

    Parameters
    ----------
    game : MarkovGame
        The game.
    V : ndarray
        Values per state, shape ``(S,)``.

    Returns
    -------
    ndarray
        Shape ``(S, |A^1|, ..., |A^n|)``.

    Examples
    --------
    >>> from tabular.evaluation import soft_q
    >>> game = T.MatrixGame([[1.0, 0.0], [0.0, 2.0]])
    >>> soft_q(game, np.zeros(1))
    array([[[1., 0.],
            [0., 2.]]])
    """
    if not game.gamma:
        return game.r.copy()
    Q = game.expected_next(V)  # a fresh array: scaled and shifted in place
    Q *= game.gamma
    Q += game.r
    return Q


# --------------------------------------------------------------------------- eq. 7 and Def. 6
def expect_over(Q: np.ndarray, policies: Sequence[np.ndarray], keep: Sequence[int]) -> np.ndarray:
    """Average ``Q`` over every agent not in ``keep``, each with its policy.

    Parameters
    ----------
    Q : ndarray
        Shape ``(S, |A^1|, ..., |A^n|)``.
    policies : sequence of ndarray
        ``policies[j]`` has shape ``(S, |A^j|)``; only read for agents that are averaged out.
    keep : sequence of int
        The agents whose action axes are kept, in the order wanted.

    Returns
    -------
    ndarray
        The state axis first, then the kept agents' action axes in the order of ``keep``.

    Raises
    ------
    GameError
        When ``keep`` repeats an agent or names one that does not exist.

    Examples
    --------
    >>> from tabular.evaluation import expect_over
    >>> Q = np.array([[[1.0, 0.0], [0.0, 2.0]]])
    >>> expect_over(Q, [np.array([[0.5, 0.5]]), np.array([[0.25, 0.75]])], [0])  # agent 1 averaged out
    array([[0.25, 1.5 ]])
    """
    n = Q.ndim - 1
    keep = list(keep)
    if len(set(keep)) != len(keep) or any(not 0 <= i < n for i in keep):
        raise GameError(f"agent subset {keep} must list distinct agents among 0..{n - 1}")
    L = string.ascii_letters[1:]
    operands, specs = [Q], ["a" + L[:n]]
    for j in range(n):
        if j not in keep:
            operands.append(policies[j])
            specs.append("a" + L[j])
    out = "a" + "".join(L[i] for i in keep)
    return np.einsum(",".join(specs) + "->" + out, *operands, optimize=len(operands) > 2)


def multiagent_q(evaluation: SoftEvaluation, policy: JointPolicy, agents: Sequence[int]) -> np.ndarray:
    """Multi-agent soft Q over the ordered subset ``agents`` (eq. 7).

    ``Q^{i_{1:m}}(s, a^{i_{1:m}}) = E_{a^{-i_{1:m}} ~ pi}[Q(s, a)] + alpha * sum_{j not in i_{1:m}} H(pi^j(.|s))``;
    with all agents it is ``Q``, with none it is ``V``.

    Parameters
    ----------
    evaluation : SoftEvaluation
        :func:`soft_evaluate` of ``policy``.
    policy : JointPolicy
        The policy that was evaluated.
    agents : sequence of int
        The subset ``i_{1:m}``, in order.

    Returns
    -------
    ndarray
        Axes: state, then ``agents`` in order.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> ev = T.soft_evaluate(game, pi, alpha=0.0)
    >>> T.multiagent_q(ev, pi, [0])  # agent 1's Q against agent 2's (0.6, 0.2, 0.2)
    array([[ -5., -14., -12.]])
    """
    agents = list(agents)
    q = expect_over(evaluation.Q, policy, agents)
    others = [j for j in range(len(policy)) if j not in agents]
    if evaluation.alpha and others:
        h = policy.entropies()[others].sum(axis=0)
        q = q + evaluation.alpha * h.reshape((-1,) + (1,) * len(agents))
    return q


def multiagent_advantage(evaluation: SoftEvaluation, policy: JointPolicy, agents: Sequence[int],
                         given: Sequence[int] = ()) -> np.ndarray:
    """Multi-agent soft advantage ``A^{i_{1:m}}(s, a^{j_{1:k}}, a^{i_{1:m}})`` (Def. 6).

    ``= Q^{j_{1:k}, i_{1:m}}(s, a^{j_{1:k}}, a^{i_{1:m}}) - Q^{j_{1:k}}(s, a^{j_{1:k}})``.

    Parameters
    ----------
    evaluation : SoftEvaluation
        :func:`soft_evaluate` of ``policy``.
    policy : JointPolicy
        The policy that was evaluated.
    agents : sequence of int
        The agents ``i_{1:m}`` whose advantage is taken.
    given : sequence of int, optional
        The agents ``j_{1:k}`` whose actions are given; disjoint from ``agents``.

    Returns
    -------
    ndarray
        Axes: state, then ``given``, then ``agents``.

    Raises
    ------
    GameError
        When ``agents`` and ``given`` overlap.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> ev = T.soft_evaluate(game, pi, alpha=0.0)
    >>> np.round(T.multiagent_advantage(ev, pi, [0]), 4)  # MAPPO's first expected update (Appendix B)
    array([[ 3.2, -5.8, -3.8]])
    """
    given, agents = list(given), list(agents)
    if set(given) & set(agents):
        raise GameError(f"agents {agents} and given agents {given} must not overlap")
    q_full = multiagent_q(evaluation, policy, given + agents)
    q_given = multiagent_q(evaluation, policy, given)
    return q_full - q_given.reshape(q_given.shape + (1,) * len(agents))
