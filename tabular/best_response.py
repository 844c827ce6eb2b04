"""Unilateral soft best responses and the QRE gap (Theorem 1).

Fix every agent but ``i``.  Agent ``i`` then faces a single-agent soft MDP with reward
``r_i(s, a^i) = E_{a^-i ~ pi^-i}[r(s, a)] + alpha * sum_{j != i} H(pi^j(.|s))`` and kernel
``P_i(s'|s, a^i) = E_{a^-i ~ pi^-i}[P(s'|s, a)]``.  Its optimal soft value ``V*_i`` solves
``V*_i(s) = alpha log sum_b exp((r_i(s, b) + gamma P_i V*_i)(s, b) / alpha)`` and is found exactly by soft
policy iteration (a Newton method on that equation).  The gain ``V*_i(s) - V_pi(s) >= 0`` is what agent ``i``
could add to the MaxEnt objective from state ``s`` by changing its own policy alone; the QRE gap is the largest
gain over agents and states, ``0`` exactly at a QRE.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._math import boltzmann, soft_max_value
from .evaluation import (_check_alpha, expect_over, matrix_free, policy_kernel, soft_evaluate, soft_q,
                         solve_values)
from .games import MarkovGame
from .policy import JointPolicy


@dataclass(frozen=True)
class BestResponse:
    """An agent's exact soft best response, from :func:`soft_best_response`.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> br = T.soft_best_response(game, pi, alpha=1.0, agent=0)
    >>> np.round(br.policy, 4), np.round(br.V, 4)
    (array([[9.99e-01, 1.00e-04, 9.00e-04]]), array([-4.0487]))
    """
    policy: np.ndarray   #: agent i's soft best response, shape (S, |A^i|)
    V: np.ndarray        #: the optimal soft value V*_i, shape (S,)
    nit: int             #: soft policy iteration steps


#: Largest relative residual (2-norm) at which a matrix-free Newton step's GMRES may stop.
NEWTON_FORCING = 1e-2
#: Most GMRES iterations of one matrix-free Newton step: each keeps a vector and an (S, |A^i|) product (the
#: Newton loop goes on from wherever it stops).
NEWTON_KRYLOV_DIM = 30


def soft_best_response(game: MarkovGame, policy: JointPolicy, alpha: float, agent: int, *, evaluation=None,
                       tol: float = 1e-14, max_iter: int = 1000) -> BestResponse:
    """Agent ``agent``'s exact soft best response to the others' policies.

    Soft policy iteration, which is Newton's method on ``V = T V`` (``T`` the soft Bellman optimality operator
    of agent ``agent``'s MDP), from the value of ``policy``.  The induced kernel is never formed.  Where
    :func:`soft_evaluate` goes matrix-free, so does each Newton step (:func:`_newton_step`), solving only as far as
    the next step needs; the stopping test ``|T V - V| <= tol * scale`` is exact either way.

    Parameters
    ----------
    game : MarkovGame
        The game.
    policy : JointPolicy
        The others' policies (agent ``agent``'s own is only the starting point).
    alpha : float
        Temperature ``>= 0``.
    agent : int
        The responding agent.
    evaluation : SoftEvaluation, optional
        :func:`soft_evaluate` of ``policy`` at ``alpha``, when already known (saves that solve).
    tol : float, optional
        Stop when ``|T V - V| <= tol * scale`` (``scale`` bounds ``|V|``).
    max_iter : int, optional
        Most Newton steps.

    Returns
    -------
    BestResponse
        The response ``policy`` (shape ``(S, |A^agent|)``), its value ``V`` (the optimal soft value) and ``nit``.

    Raises
    ------
    RuntimeError
        When soft policy iteration does not converge in ``max_iter`` steps.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> br = T.soft_best_response(game, pi, alpha=1.0, agent=0)
    >>> np.round(br.policy, 4)  # agent 1 answers (0.6, 0.2, 0.2) with A
    array([[9.99e-01, 1.00e-04, 9.00e-04]])
    """
    alpha = _check_alpha(alpha)
    policy.check_game(game)
    ev = soft_evaluate(game, policy, alpha) if evaluation is None else evaluation
    H = policy.entropies()
    h_others = alpha * (H.sum(axis=0) - H[agent])[:, None]
    bound = float(np.max(np.abs(game.r))) + alpha * float(np.log(policy.n_actions).sum())
    scale = max(1.0, bound / (1.0 - game.gamma))
    V, current = ev.V, policy
    q = expect_over(ev.Q, policy, [agent]) + h_others  # r_i + gamma P_i V
    for nit in range(1, max_iter + 1):
        V_opt, mu = soft_max_value(q, alpha), boltzmann(q, alpha)
        step = V_opt - V  # T V - V
        err = float(np.max(np.abs(step)))
        if err <= tol * scale or game.gamma == 0.0:  # with gamma = 0, T V does not depend on V
            return BestResponse(mu, V_opt, nit)
        current = current.replace(agent, mu)
        # Newton: the value of mu is V + d with (I - gamma P_mu) d = T V - V.
        if matrix_free(game):
            d, P_d = _newton_step(game, current, agent, step, min(NEWTON_FORCING, err / scale), tol * scale)
            V, q = V + d, q + game.gamma * P_d
        else:
            V = V + solve_values(policy_kernel(game, current.joint()), step, game.gamma)[0]
            q = expect_over(soft_q(game, V), current, [agent]) + h_others
    raise RuntimeError(f"soft policy iteration for agent {agent} did not converge in {max_iter} steps")


def _newton_step(game: MarkovGame, policy: JointPolicy, agent: int, b: np.ndarray, rtol: float,
                 atol: float) -> tuple[np.ndarray, np.ndarray]:
    """GMRES for ``(I - gamma P_mu) d = b``, ``P_mu`` the kernel of ``policy`` (agent ``agent`` playing ``mu``).

    Stops once the residual is at most ``rtol |b|`` (2-norms) or at most ``atol`` in every state.  Returns
    ``d`` and ``P_i d`` (shape ``(S, |A^i|)``, agent ``agent``'s induced kernel applied to ``d``), assembled
    from the products GMRES already made, so the next ``q`` costs no product with ``P``.  The constant vector
    is deflated as in :func:`tabular.evaluation.solve_values` (``d = y + gamma / (1 - gamma) mean(y)``).
    """
    g, S, mu = game.gamma, game.n_states, policy[agent]
    beta = float(np.linalg.norm(b))
    basis, products = [b / beta], []
    m = NEWTON_KRYLOV_DIM
    H = np.zeros((m + 1, m))
    rot = np.zeros((m, 2))  # Givens rotations (c, s) that make H upper triangular
    z = np.zeros(m + 1)     # the rotated right-hand side beta e_1; |z[j + 1]| is the residual's 2-norm
    z[0] = beta
    for j in range(m):
        v = basis[j]
        Pv = expect_over(game.expected_next(v), policy, [agent])  # P_i v, (S, |A^i|)
        products.append(Pv)
        w = v - g * ((mu * Pv).sum(axis=1) - v.mean())
        for i, u in enumerate(basis):  # modified Gram-Schmidt
            H[i, j] = w @ u
            w -= H[i, j] * u
        H[j + 1, j] = h_next = float(np.linalg.norm(w))
        for i in range(j):
            c, s = rot[i]
            H[i, j], H[i + 1, j] = c * H[i, j] + s * H[i + 1, j], -s * H[i, j] + c * H[i + 1, j]
        rho = np.hypot(H[j, j], H[j + 1, j])
        rot[j] = H[j, j] / rho, H[j + 1, j] / rho
        H[j, j], H[j + 1, j] = rho, 0.0
        z[j + 1], z[j] = -rot[j, 1] * z[j], rot[j, 0] * z[j]
        res = abs(z[j + 1])
        y = None
        if res <= atol * np.sqrt(S) and res > atol and res > rtol * beta:  # the sup norm may already be small
            y = np.linalg.solve(np.triu(H[:j + 1, :j + 1]), z[:j + 1])
            r = b - sum(yi * (u - g * ((mu * p).sum(axis=1) - u.mean())) for yi, u, p in zip(y, basis, products))
            if np.max(np.abs(r)) > atol:
                y = None
        if y is not None or res <= atol or res <= rtol * beta or h_next == 0.0 or j == m - 1:
            break
        basis.append(w / h_next)
    if y is None:
        y = np.linalg.solve(np.triu(H[:j + 1, :j + 1]), z[:j + 1])
    x = sum(yi * u for yi, u in zip(y, basis))
    Px = sum(yi * p for yi, p in zip(y, products))
    shift = g / (1.0 - g) * float(x.mean())
    return x + shift, Px + shift  # P_i 1 = 1


def best_response_gains(game: MarkovGame, policy: JointPolicy, alpha: float,
                        evaluation=None) -> np.ndarray:
    """``V*_i(s) - V_pi(s)`` for every agent ``i`` and state ``s``: what a unilateral soft best response gains.

    Parameters
    ----------
    game : MarkovGame
        The game.
    policy : JointPolicy
        The joint policy.
    alpha : float
        Temperature ``>= 0``.
    evaluation : SoftEvaluation, optional
        :func:`soft_evaluate` of ``policy`` at ``alpha``, when already known.

    Returns
    -------
    ndarray
        Shape ``(n, S)``, non-negative up to rounding.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> np.round(T.best_response_gains(game, pi, alpha=1.0), 4)
    array([[2.2508],
           [2.2508]])
    """
    ev = soft_evaluate(game, policy, alpha) if evaluation is None else evaluation
    return np.stack([soft_best_response(game, policy, alpha, i, evaluation=ev).V - ev.V
                     for i in range(game.n_agents)])


def qre_gap(game: MarkovGame, policy: JointPolicy, alpha: float, evaluation=None) -> float:
    """The largest MaxEnt gain any agent can get from any state by a unilateral soft best response.

    ``0`` exactly at a QRE (Theorem 1); never negative beyond rounding.

    Parameters
    ----------
    game : MarkovGame
        The game.
    policy : JointPolicy
        The joint policy.
    alpha : float
        Temperature ``>= 0``.
    evaluation : SoftEvaluation, optional
        :func:`soft_evaluate` of ``policy`` at ``alpha``, when already known.

    Returns
    -------
    float
        ``max`` of :func:`best_response_gains`.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> round(T.qre_gap(game, pi, alpha=1.0), 4)
    2.2508
    >>> T.qre_gap(game, T.haspi(game, alpha=1.0, seed=0).policy, alpha=1.0) < 1e-12
    True
    """
    return float(np.max(best_response_gains(game, policy, alpha, evaluation)))
