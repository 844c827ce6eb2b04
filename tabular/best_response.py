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
from .evaluation import _check_alpha, expect_over, soft_evaluate, soft_q, solve_values, value_kernel
from .games import MarkovGame
from .policy import JointPolicy


@dataclass(frozen=True)
class BestResponse:
    policy: np.ndarray   #: agent i's soft best response, shape (S, |A^i|)
    V: np.ndarray        #: the optimal soft value V*_i, shape (S,)
    nit: int             #: soft policy iteration steps


#: Largest relative residual a Newton step's GMRES solve may stop at (large sparse games only).
NEWTON_FORCING = 1e-2


def soft_best_response(game: MarkovGame, policy: JointPolicy, alpha: float, agent: int, *, evaluation=None,
                       tol: float = 1e-14, max_iter: int = 1000) -> BestResponse:
    """Agent ``agent``'s exact soft best response to the others' policies.

    Soft policy iteration, which is Newton's method on ``V = T V`` (``T`` the soft Bellman optimality operator
    of agent ``agent``'s MDP), from the value of ``policy`` (``evaluation``, when given, saves that solve).
    The induced kernel is never formed: a product with it is one product with ``P`` under the joint policy
    with agent ``agent``'s part replaced, as in :func:`soft_evaluate`.  Where that evaluation uses GMRES, each
    Newton step solves only to a relative residual that falls with ``|T V - V|`` (an inexact Newton method);
    the stopping test ``|T V - V| <= tol * scale`` is computed exactly either way.
    """
    alpha = _check_alpha(alpha)
    policy.check_game(game)
    ev = soft_evaluate(game, policy, alpha) if evaluation is None else evaluation
    H = policy.entropies()
    h_others = alpha * (H.sum(axis=0) - H[agent])[:, None]
    bound = float(np.max(np.abs(game.r))) + alpha * float(np.log(policy.n_actions).sum())
    scale = max(1.0, bound / (1.0 - game.gamma))
    V, Q, current = ev.V, ev.Q, policy
    for nit in range(1, max_iter + 1):
        q = expect_over(Q, current, [agent]) + h_others
        del Q  # nothing of the size of Q is held through the solve below
        V_opt, mu = soft_max_value(q, alpha), boltzmann(q, alpha)
        step = V_opt - V  # T V - V
        err = float(np.max(np.abs(step)))
        if err <= tol * scale or game.gamma == 0.0:  # with gamma = 0, T V does not depend on V
            return BestResponse(mu, V_opt, nit)
        current = current.replace(agent, mu)
        # Newton: the value of mu is V + d with (I - gamma P_mu) d = T V - V.
        d, _ = solve_values(value_kernel(game, current.joint()), step, game.gamma,
                            rtol=min(NEWTON_FORCING, err / scale), atol=0.5 * tol * scale)
        V = V + d
        Q = soft_q(game, V)
    raise RuntimeError(f"soft policy iteration for agent {agent} did not converge in {max_iter} steps")


def best_response_gains(game: MarkovGame, policy: JointPolicy, alpha: float,
                        evaluation=None) -> np.ndarray:
    """``V*_i(s) - V_pi(s)`` for every agent ``i`` and state ``s``, shape ``(n, S)``."""
    ev = soft_evaluate(game, policy, alpha) if evaluation is None else evaluation
    return np.stack([soft_best_response(game, policy, alpha, i, evaluation=ev).V - ev.V
                     for i in range(game.n_agents)])


def qre_gap(game: MarkovGame, policy: JointPolicy, alpha: float, evaluation=None) -> float:
    """The largest MaxEnt gain any agent can get from any state by a unilateral soft best response.

    ``0`` exactly at a QRE (Theorem 1); never negative beyond rounding.
    """
    return float(np.max(best_response_gains(game, policy, alpha, evaluation)))
