r"""Exact expected-update dynamics for the standard objective (``alpha = 0``) that the paper contrasts with.

Appendix B analyses MAPPO and HAPPO in expectation: with the advantage :math:`A_{\pi_{old}}(s, a)` known
exactly, each agent maximises its expected surrogate (eq. 13)

.. math::
    L^i(\pi^i) = \mathbb{E}_{a \sim \pi_{old}}\big[\min(\rho^i M A,\ \mathrm{clip}(\rho^i, 1 \pm \epsilon) M A)\big],
    \qquad \rho^i = \pi^i(a^i|s) / \pi^i_{old}(a^i|s),

with ``M = 1`` for MAPPO (simultaneous update) and, for HAPPO (sequential update in a permutation), ``M`` the
product of the already-updated agents' ratios :math:`\pi^j_{new} / \pi^j_{old}`.  Without clipping ``L^i`` is
linear, ``sum_k p_k q_k`` with ``q_k = E[M A | a^i = k]`` (MAPPO's first update on the matrix game is
``argmax 3.2 p_A - 5.8 p_B - 3.8 p_C``); with clipping it is a separable concave piecewise-linear function of
``p = pi^i(.|s)`` whose exact maximiser over the simplex is found greedily (fill the steepest linear pieces
first).  The new policy is ``pi_old + step_size * (argmax - pi_old)``; ``step_size = 1`` is Appendix B's update.
Parameter-sharing MAPPO (``shared=True``) gives all agents one policy maximising the sum of their surrogates.

``algorithm="haspi"`` is the ``alpha -> 0`` limit of HASPI: the sequential update (eq. 8) with the greedy
best response in place of the Boltzmann one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._math import argmax_policy
from .evaluation import expect_over, soft_evaluate
from .games import GameError, MarkovGame
from .haspi import _check_order, order_sampler, sequential_update
from .policy import JointPolicy

ALGORITHMS = ("mappo", "happo", "haspi")


def _check_clip(clip):
    if clip is None:
        return None
    c = float(clip)
    if not (0.0 < c < 1.0):
        raise GameError(f"clip must be None or a ratio-clipping epsilon in (0, 1), got {clip!r}")
    return c


def _check_step(step_size) -> float:
    s = float(step_size)
    if not (0.0 < s <= 1.0):
        raise GameError(f"step_size must lie in (0, 1], got {step_size!r}")
    return s


def clipped_surrogate_argmax(q_pos: np.ndarray, q_neg: np.ndarray, p_old: np.ndarray, clip: float) -> np.ndarray:
    """The exact maximiser of one state's clipped expected surrogate over the simplex.

    The surrogate is ``sum_k q_pos[k] min(p_k, (1+clip) p_old[k]) - q_neg[k] max(p_k, (1-clip) p_old[k])``
    with ``q_pos, q_neg >= 0``.  Coordinate ``k`` has slopes ``q_pos``, ``q_pos - q_neg``, ``-q_neg`` on
    ``[0, (1-clip) p_old]``, ``[(1-clip) p_old, (1+clip) p_old]`` and beyond: non-increasing, so filling unit mass
    into the pieces in order of decreasing slope is optimal.  Ties go to the lowest action index, then the earliest
    piece.

    Parameters
    ----------
    q_pos, q_neg : ndarray
        ``E[A^+ | a^i = k]`` and ``E[A^- | a^i = k]``, shape ``(K,)``.
    p_old : ndarray
        The current distribution, shape ``(K,)``.
    clip : float
        The ratio-clipping epsilon in ``(0, 1)``.

    Returns
    -------
    ndarray
        The maximising distribution, shape ``(K,)``.

    Examples
    --------
    >>> from tabular.standard import clipped_surrogate_argmax
    >>> clipped_surrogate_argmax(np.array([3.0, 0.0]), np.array([0.0, 1.0]), np.array([0.5, 0.5]), 0.2)
    array([1., 0.])
    """
    K = len(p_old)
    lo, hi = (1.0 - clip) * p_old, (1.0 + clip) * p_old
    slopes = np.concatenate([q_pos, q_pos - q_neg, -q_neg])
    caps = np.concatenate([lo, hi - lo, np.full(K, np.inf)])
    owner = np.tile(np.arange(K), 3)
    piece = np.repeat(np.arange(3), K)
    p, left = np.zeros(K), 1.0
    for j in np.lexsort((piece, owner, -slopes)):
        take = min(caps[j], left)
        p[owner[j]] += take
        left -= take
        if left <= 0.0:
            break
    return p


def surrogate_coefficients(adv: np.ndarray, weights, agent: int) -> tuple[np.ndarray, np.ndarray]:
    """The coefficients of agent ``agent``'s expected surrogate: ``E[A^+ | a^i = k]`` and ``E[A^- | a^i = k]``.

    Parameters
    ----------
    adv : ndarray
        The joint advantage, shape ``(S, |A^1|, ..., |A^n|)``.
    weights : sequence of ndarray
        Per agent, the distribution its actions are averaged with (``pi_new`` for HAPPO's earlier agents,
        ``pi_old`` otherwise), shape ``(S, |A^j|)``.
    agent : int
        The updating agent.

    Returns
    -------
    q_pos, q_neg : ndarray
        Each of shape ``(S, |A^agent|)``, non-negative.

    Examples
    --------
    >>> from tabular.standard import surrogate_coefficients
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> ev = T.soft_evaluate(game, pi, alpha=0.0)
    >>> q_pos, q_neg = surrogate_coefficients(ev.Q - ev.V[:, None, None], pi, 0)
    >>> np.round(q_pos - q_neg, 4)  # MAPPO's first expected update (Appendix B)
    array([[ 3.2, -5.8, -3.8]])
    """
    return (expect_over(np.maximum(adv, 0.0), weights, [agent]), expect_over(np.maximum(-adv, 0.0), weights, [agent]))


def surrogate_argmax(q_pos: np.ndarray, q_neg: np.ndarray, p_old: np.ndarray, clip) -> np.ndarray:
    """The exact maximiser of the expected surrogate with these coefficients, state by state.

    Parameters
    ----------
    q_pos, q_neg : ndarray
        Shape ``(S, K)``, from :func:`surrogate_coefficients`.
    p_old : ndarray
        The current policy, shape ``(S, K)``.
    clip : float or None
        The ratio-clipping epsilon; ``None``: no clipping (the greedy policy of ``q_pos - q_neg``).

    Returns
    -------
    ndarray
        Shape ``(S, K)``.

    Examples
    --------
    >>> from tabular.standard import surrogate_argmax
    >>> q_pos, q_neg = np.array([[7.92, 3.64, 5.64]]), np.array([[4.72, 9.44, 9.44]])  # the paper game's agent 1
    >>> surrogate_argmax(q_pos, q_neg, np.array([[0.6, 0.2, 0.2]]), None)
    array([[1., 0., 0.]])
    >>> np.round(surrogate_argmax(q_pos, q_neg, np.array([[0.6, 0.2, 0.2]]), 0.2), 4)
    array([[0.68, 0.16, 0.16]])
    """
    if clip is None:
        return argmax_policy(q_pos - q_neg)
    return np.stack([clipped_surrogate_argmax(q_pos[s], q_neg[s], p_old[s], clip) for s in range(len(p_old))])


def _advantage(game: MarkovGame, policy: JointPolicy) -> np.ndarray:
    ev = soft_evaluate(game, policy, 0.0)
    return ev.Q - ev.V.reshape((-1,) + (1,) * game.n_agents)


def mappo_update(game: MarkovGame, policy: JointPolicy, clip=None, step_size: float = 1.0,
                 shared: bool = False) -> JointPolicy:
    """One exact expected MAPPO update: every agent against ``pi_old`` at once (eq. 13).

    Parameters
    ----------
    game : MarkovGame
        The game.
    policy : JointPolicy
        ``pi_old``.
    clip : float, optional
        The ratio-clipping epsilon in ``(0, 1)``; ``None`` (default) for the unclipped surrogate.
    step_size : float, optional
        In ``(0, 1]``: the new policy is ``pi_old + step_size * (argmax - pi_old)``.
    shared : bool, optional
        Parameter-sharing MAPPO: one policy, common to all agents, maximises the sum of the agents' surrogates (all
        agents must then have the same action set and the same current policy).

    Returns
    -------
    JointPolicy

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> new = T.mappo_update(game, pi, clip=0.2)
    >>> np.round(new[0], 4)
    array([[0.68, 0.16, 0.16]])
    """
    clip, step = _check_clip(clip), _check_step(step_size)
    policy.check_game(game)
    adv = _advantage(game, policy)
    coefs = [surrogate_coefficients(adv, policy, i) for i in range(game.n_agents)]
    if shared:
        if any(p.shape != policy[0].shape or np.any(p != policy[0]) for p in policy):
            raise GameError("parameter-sharing MAPPO needs every agent to have the same action set and policy")
        q_pos, q_neg = sum(c[0] for c in coefs), sum(c[1] for c in coefs)
        p = policy[0]
        return JointPolicy([p + step * (surrogate_argmax(q_pos, q_neg, p, clip) - p)] * game.n_agents)
    return JointPolicy([p + step * (surrogate_argmax(*coefs[i], p, clip) - p) for i, p in enumerate(policy)])


def happo_update(game: MarkovGame, policy: JointPolicy, order, clip=None, step_size: float = 1.0) -> JointPolicy:
    """One exact expected HAPPO update: agents in ``order``, each weighting by the earlier agents' ratios.

    Parameters
    ----------
    game : MarkovGame
        The game.
    policy : JointPolicy
        ``pi_old``.
    order : sequence of int
        A permutation of the agents.
    clip : float, optional
        The ratio-clipping epsilon in ``(0, 1)``; ``None`` (default) for the unclipped surrogate.
    step_size : float, optional
        In ``(0, 1]``, as in :func:`mappo_update`.

    Returns
    -------
    JointPolicy

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> new = T.happo_update(game, pi, order=(0, 1))
    >>> new[0], new[1]  # both settle on A, the worst coordinated outcome
    (array([[1., 0., 0.]]), array([[1., 0., 0.]]))
    """
    clip, step = _check_clip(clip), _check_step(step_size)
    perm = _check_order(order, game.n_agents)
    policy.check_game(game)
    adv = _advantage(game, policy)
    current = list(policy)
    for i in perm:
        target = surrogate_argmax(*surrogate_coefficients(adv, current, i), policy[i], clip)
        current[i] = policy[i] + step * (target - policy[i])
    return JointPolicy(current)


@dataclass(frozen=True)
class StandardResult:
    """Outcome of :func:`standard_dynamics`; ``history[k]`` is the joint policy after ``k`` updates.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> res = T.standard_dynamics(game, "mappo", init=pi)
    >>> res.algorithm, res.converged, len(res.history)
    ('mappo', True, 3)
    """

    algorithm: str
    policy: JointPolicy
    history: tuple
    J_history: np.ndarray          #: expected return (alpha = 0) of every policy in ``history``
    orders: tuple
    converged: bool
    nit: int
    message: str


def standard_dynamics(game: MarkovGame, algorithm: str, init: JointPolicy | None = None, clip=None,
                      step_size: float = 1.0, order="random", seed=None, tol: float = 1e-12,
                      max_iter: int = 1000, *, shared: bool = False) -> StandardResult:
    """Iterate ``"mappo"``, ``"happo"`` or ``"haspi"`` (alpha -> 0) until no probability moves more than ``tol``.

    Parameters
    ----------
    game : MarkovGame
        The game.
    algorithm : {"mappo", "happo", "haspi"}
        The update.
    init : JointPolicy, optional
        The first policy (uniform by default).
    clip, step_size
        As in :func:`mappo_update`; MAPPO and HAPPO only.
    order : "random" or sequence of int, optional
        ``"random"`` with ``seed``, or a fixed permutation; HAPPO and HASPI only.
    seed : int or numpy.random.Generator, optional
        Seed of the random orders.
    tol : float, optional
        Stopping tolerance on the change of any probability.
    max_iter : int, optional
        Most updates.
    shared : bool, optional
        Parameter sharing; MAPPO only.

    Returns
    -------
    StandardResult
        Every policy on the way, their expected returns (``alpha = 0``) and convergence.

    Raises
    ------
    GameError
        For an unknown algorithm or a bad ``clip``, ``step_size`` or ``order``.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> res = T.standard_dynamics(game, "mappo", init=pi, clip=0.2)
    >>> res.converged, res.policy[0], np.round(res.J_history[[0, -1]], 4)  # stuck at (A, A): 5, not 20
    (True, array([[1., 0., 0.]]), array([-8.2,  5. ]))
    """
    if algorithm not in ALGORITHMS:
        raise GameError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    clip, step = _check_clip(clip), _check_step(step_size)
    pi = JointPolicy.uniform(game) if init is None else init
    pi.check_game(game)
    draw = order_sampler(order, game.n_agents, seed)
    history, orders, converged = [pi], [], False
    for _ in range(max_iter):
        if algorithm == "mappo":
            orders.append(())
            new = mappo_update(game, pi, clip, step, shared)
        else:
            perm = draw()
            orders.append(perm)
            new = (happo_update(game, pi, perm, clip, step) if algorithm == "happo"
                   else sequential_update(game, pi, 0.0, perm))
        delta = new.max_abs_diff(pi)
        pi = new
        history.append(pi)
        if delta <= tol:
            converged = True
            break
    nit = len(orders)
    J = np.array([soft_evaluate(game, p, 0.0).J for p in history])
    msg = (f"converged: policy change <= {tol:g} after {nit} iterations" if converged
           else f"max_iter={max_iter} reached before the policy change fell to {tol:g}")
    return StandardResult(algorithm=algorithm, policy=pi, history=tuple(history), J_history=J,
                          orders=tuple(orders), converged=converged, nit=nit, message=msg)
