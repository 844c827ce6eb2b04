r"""The Proposition 1 sequential update (eq. 8) and heterogeneous-agent soft policy iteration (Theorem 2).

Given :math:`Q_{\pi_{old}}` and a permutation :math:`i_{1:n}`, agent :math:`i_m` (with :math:`i_{1:m-1}` already
updated) takes

.. math::
    \pi^{i_m}_{new}(\cdot|s) \propto \exp\big( \mathbb{E}_{a^{i_{1:m-1}} \sim \pi_{new},\,
    a^{-i_{1:m}} \sim \pi_{old}}[Q_{\pi_{old}}(s, a)] / \alpha \big),

which is eq. 8 (the entropy terms of eq. 7 do not depend on :math:`a^{i_m}` and cancel in the normalisation).
HASPI alternates exact joint soft policy evaluation with this update; by Lemma 4.2 ``J`` never decreases and
by Theorem 2 it converges to a QRE.  ``alpha = 0`` uses the greedy update with the tie-break of
:func:`tabular._math.argmax_policy`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ._math import boltzmann
from .best_response import qre_gap as _qre_gap
from .evaluation import SoftEvaluation, _check_alpha, expect_over, soft_evaluate
from .games import GameError, MarkovGame
from .policy import JointPolicy


def _check_order(order, n: int) -> tuple[int, ...]:
    try:
        perm = tuple(int(i) for i in order)
    except (TypeError, ValueError):
        raise GameError(f"order must be 'random' or a sequence of agent indices, got {order!r}") from None
    if sorted(perm) != list(range(n)):
        raise GameError(f"order {list(perm)} must be a permutation of the agents 0..{n - 1}")
    return perm


def sequential_update(game: MarkovGame, policy: JointPolicy, alpha: float, order: Sequence[int],
                      evaluation: SoftEvaluation | None = None, *, return_steps: bool = False):
    """One Proposition 1 update of every agent in ``order`` against ``Q`` of ``policy`` (eq. 8).

    Parameters
    ----------
    game : MarkovGame
        The game.
    policy : JointPolicy
        The current joint policy ``pi_old``.
    alpha : float
        Temperature ``>= 0``; ``0`` is the greedy update.
    order : sequence of int
        A permutation of the agents.
    evaluation : SoftEvaluation, optional
        :func:`soft_evaluate` of ``policy`` at ``alpha``, when already known.
    return_steps : bool, optional
        Also return the joint policy after each agent's update.

    Returns
    -------
    JointPolicy or (JointPolicy, list of JointPolicy)
        The new policy; with ``return_steps=True`` also ``steps``, where ``steps[m]`` has agents ``order[:m+1]``
        updated.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> new = T.sequential_update(game, pi, alpha=1.0, order=(0, 1))
    >>> np.round(new[0], 4), np.round(new[1], 4)  # agent 2 answers agent 1's new policy
    (array([[9.99e-01, 1.00e-04, 9.00e-04]]), array([[1., 0., 0.]]))
    """
    alpha = _check_alpha(alpha)
    perm = _check_order(order, game.n_agents)
    ev = soft_evaluate(game, policy, alpha) if evaluation is None else evaluation
    current = list(policy)
    steps = []
    for i in perm:
        q_i = expect_over(ev.Q, current, [i])  # agents before i are new, after i old
        current[i] = boltzmann(q_i, alpha)
        if return_steps:
            steps.append(JointPolicy(current))
    new = JointPolicy(current)
    return (new, steps) if return_steps else new


@dataclass(frozen=True)
class HASPIResult:
    """Outcome of :func:`haspi` (and, extended, of :func:`tabular.mehaml`), recording how it was computed.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> res = T.haspi(game, alpha=5.0, init=pi, order=(0, 1))
    >>> res.converged, res.nit, np.round(res.J_history[:3], 4)
    (True, 9, array([1.3027, 2.5168, 5.0214]))
    """

    policy: JointPolicy
    J_history: np.ndarray          #: J of the initial policy and after every iteration
    orders: tuple                  #: the permutation used in each iteration
    converged: bool
    nit: int
    qre_gap: float                 #: largest unilateral soft best-response gain of the final policy
    message: str
    alpha: float
    evaluation: SoftEvaluation = field(repr=False)  #: soft evaluation of the final policy

    @property
    def success(self) -> bool:
        """Same as ``converged`` (the name ``scipy.optimize`` results use).

        Examples
        --------
        >>> T.haspi(T.MatrixGame(np.eye(2)), alpha=1.0, seed=0).success
        True
        """
        return self.converged


def order_sampler(order, n_agents: int, seed=None) -> Callable[[], tuple[int, ...]]:
    """The agent orders of successive iterations.

    Parameters
    ----------
    order : "random" or sequence of int
        ``"random"``: each call draws a fresh permutation from ``np.random.default_rng(seed)``; a sequence of
        agent indices: each call returns that permutation.
    n_agents : int
        Number of agents.
    seed : int or numpy.random.Generator, optional
        Seed of the random orders.

    Returns
    -------
    callable
        ``draw() -> tuple of int``.

    Raises
    ------
    GameError
        For an ``order`` that is neither ``"random"`` nor a permutation of the agents.

    Examples
    --------
    >>> from tabular.haspi import order_sampler
    >>> order_sampler((1, 0), 2)()
    (1, 0)
    >>> draw = order_sampler("random", 3, seed=0)
    >>> sorted(draw())
    [0, 1, 2]
    """
    if isinstance(order, str):
        if order != "random":
            raise GameError(f"order must be 'random' or a sequence of agent indices, got {order!r}")
        rng = np.random.default_rng(seed)
        return lambda: tuple(int(i) for i in rng.permutation(n_agents))
    fixed = _check_order(order, n_agents)
    return lambda: fixed


def iterate_updates(game: MarkovGame, alpha: float, update, init: JointPolicy | None, order, seed, tol: float,
                    max_iter: int, *, eval_method: str = "exact", callback=None, compute_gap: bool = True) -> dict:
    """Alternate exact soft evaluation with a policy update until no probability changes by more than ``tol``.

    The loop shared by :func:`haspi` and :func:`tabular.mehaml`.

    Parameters
    ----------
    game : MarkovGame
        The game.
    alpha : float
        Temperature ``>= 0``.
    update : callable
        ``update(policy, order, evaluation) -> JointPolicy``.
    init : JointPolicy or None
        The first policy (uniform when ``None``).
    order, seed
        As in :func:`order_sampler`.
    tol : float
        Stop once no probability changes by more than ``tol`` in an iteration.
    max_iter : int
        Most iterations.
    eval_method : {"exact", "iterative"}, optional
        As in :func:`soft_evaluate`.
    callback : callable, optional
        Called as ``callback(k, policy_k, evaluation_k)`` before the k-th update.
    compute_gap : bool, optional
        Compute the QRE gap of the final policy (NaN otherwise).

    Returns
    -------
    dict
        The fields of :class:`HASPIResult`.

    Examples
    --------
    >>> from tabular.haspi import iterate_updates
    >>> game = T.MatrixGame(np.eye(2))
    >>> def update(pi, order, ev):
    ...     return T.sequential_update(game, pi, 1.0, order, ev)
    >>> out = iterate_updates(game, 1.0, update, None, (0, 1), None, 1e-12, 100)
    >>> out["converged"], out["nit"], out["qre_gap"] < 1e-12
    (True, 1, True)
    """
    pi = JointPolicy.uniform(game) if init is None else init
    pi.check_game(game)
    draw = order_sampler(order, game.n_agents, seed)
    ev = soft_evaluate(game, pi, alpha, method=eval_method)
    J, orders, converged = [ev.J], [], False
    for k in range(max_iter):
        if callback is not None:
            callback(k, pi, ev)
        perm = draw()
        orders.append(perm)
        new = update(pi, perm, ev)
        delta = new.max_abs_diff(pi)
        pi = new
        ev = soft_evaluate(game, pi, alpha, method=eval_method, V0=ev.V)
        J.append(ev.J)
        if delta <= tol:
            converged = True
            break
    nit = len(orders)
    msg = (f"converged: policy change <= {tol:g} after {nit} iterations" if converged
           else f"max_iter={max_iter} reached before the policy change fell to {tol:g}")
    gap = _qre_gap(game, pi, alpha, ev) if compute_gap else float("nan")
    return dict(policy=pi, J_history=np.array(J), orders=tuple(orders), converged=converged, nit=nit,
                qre_gap=gap, message=msg, alpha=alpha, evaluation=ev)


def haspi(game: MarkovGame, alpha: float, init: JointPolicy | None = None, order="random", seed=None,
          tol: float = 1e-12, max_iter: int = 10_000, *, eval_method: str = "exact",
          callback: Callable[[int, JointPolicy, SoftEvaluation], None] | None = None,
          compute_gap: bool = True) -> HASPIResult:
    """Heterogeneous-agent soft policy iteration (Theorem 2).

    Exact soft evaluation alternates with the sequential update of :func:`sequential_update`; ``J`` never
    decreases (Lemma 4.2) and the limit is a QRE.

    Parameters
    ----------
    game : MarkovGame
        The game.
    alpha : float
        Temperature ``>= 0``.
    init : JointPolicy, optional
        The first policy (uniform by default).
    order : "random" or sequence of int, optional
        ``"random"`` for a fresh permutation per iteration drawn from ``np.random.default_rng(seed)``, or a fixed
        sequence of agent indices.
    seed : int or numpy.random.Generator, optional
        Seed of the random orders.
    tol : float, optional
        Stop when no policy probability changes by more than ``tol`` in an iteration.
    max_iter : int, optional
        Most iterations.
    eval_method : {"exact", "iterative"}, optional
        As in :func:`soft_evaluate`.
    callback : callable, optional
        Called as ``callback(k, policy_k, evaluation_k)`` before the k-th update.
    compute_gap : bool, optional
        Compute the QRE gap of the final policy (each agent's exact soft best response, from the final evaluation;
        on a large sparse game it costs about as much as one or two iterations).

    Returns
    -------
    HASPIResult
        The final policy, ``J`` after every iteration, the orders used, convergence and the QRE gap.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> res = T.haspi(game, alpha=5.0, init=pi, order=(0, 1))
    >>> res.converged, np.round(res.policy[0], 4), round(float(res.J_history[-1]), 4)  # Table 3, alpha = 5
    (True, array([[0.9849, 0.0075, 0.0076]]), 5.1424)
    >>> res.qre_gap < 1e-12
    True
    """
    alpha = _check_alpha(alpha)

    def update(pi, perm, ev):
        return sequential_update(game, pi, alpha, perm, ev)

    return HASPIResult(**iterate_updates(game, alpha, update, init, order, seed, tol, max_iter,
                                         eval_method=eval_method, callback=callback, compute_gap=compute_gap))
