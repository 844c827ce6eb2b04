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

from ._math import boltzmann, entropy, soft_max_value
from .evaluation import _check_alpha, expect_over, soft_evaluate, solve_values
from .games import MarkovGame, mix_rows
from .policy import JointPolicy


@dataclass(frozen=True)
class BestResponse:
    policy: np.ndarray   #: agent i's soft best response, shape (S, |A^i|)
    V: np.ndarray        #: the optimal soft value V*_i, shape (S,)
    nit: int             #: soft policy iteration steps


def induced_mdp(game: MarkovGame, policy: JointPolicy, alpha: float, agent: int):
    """Agent ``agent``'s single-agent reward ``(S, |A^i|)`` and kernel ``(S*|A^i|, S)`` with the others fixed."""
    r_i = expect_over(game.r, policy, [agent])
    if alpha:
        H = policy.entropies()
        r_i = r_i + alpha * (H.sum(axis=0) - H[agent])[:, None]
    if game.gamma == 0.0:
        return r_i, None
    return r_i, mix_rows(game.P, _others_weight(policy, agent))


def _others_weight(policy: JointPolicy, agent: int) -> np.ndarray:
    """``W[s, k, a] = 1[a^i = k] * prod_{j != i} pi^j(a^j|s)``, shape ``(S, |A^i|, |A|)``."""
    n, S, counts = len(policy), policy.n_states, policy.n_actions
    w = np.ones((S,) + (1,) * n)
    for j in range(n):
        if j != agent:
            w = w * policy[j].reshape((S,) + tuple(counts[j] if m == j else 1 for m in range(n)))
    K = counts[agent]
    mask = np.eye(K).reshape((1, K) + tuple(K if m == agent else 1 for m in range(n)))
    return np.broadcast_to(w[:, None] * mask, (S, K) + counts).reshape(S, K, -1)


def soft_best_response(game: MarkovGame, policy: JointPolicy, alpha: float, agent: int, *,
                       tol: float = 1e-14, max_iter: int = 1000) -> BestResponse:
    """Agent ``agent``'s exact soft best response to the others' policies (soft policy iteration)."""
    alpha = _check_alpha(alpha)
    r_i, P_i = induced_mdp(game, policy, alpha, agent)
    S, K = r_i.shape
    if P_i is None:
        return BestResponse(boltzmann(r_i, alpha), soft_max_value(r_i, alpha), 1)
    mu = np.array(policy[agent])
    V = None
    scale = max(1.0, float(np.max(np.abs(r_i)) + alpha * np.log(K) * game.n_agents) / (1.0 - game.gamma))
    for nit in range(1, max_iter + 1):
        c = (mu * r_i).sum(axis=1) + alpha * entropy(mu)
        V, _ = solve_values(mix_rows(P_i, mu[:, None, :]), c, game.gamma, V)
        q = r_i + game.gamma * np.asarray(P_i @ V).reshape(S, K)
        V_opt = soft_max_value(q, alpha)
        mu = boltzmann(q, alpha)
        if np.max(np.abs(V_opt - V)) <= tol * scale:
            return BestResponse(mu, V_opt, nit)
    raise RuntimeError(f"soft policy iteration for agent {agent} did not converge in {max_iter} steps")


def best_response_gains(game: MarkovGame, policy: JointPolicy, alpha: float,
                        evaluation=None) -> np.ndarray:
    """``V*_i(s) - V_pi(s)`` for every agent ``i`` and state ``s``, shape ``(n, S)``."""
    ev = soft_evaluate(game, policy, alpha) if evaluation is None else evaluation
    return np.stack([soft_best_response(game, policy, alpha, i).V - ev.V for i in range(game.n_agents)])


def qre_gap(game: MarkovGame, policy: JointPolicy, alpha: float, evaluation=None) -> float:
    """The largest MaxEnt gain any agent can get from any state by a unilateral soft best response.

    ``0`` exactly at a QRE (Theorem 1); never negative beyond rounding.
    """
    return float(np.max(best_response_gains(game, policy, alpha, evaluation)))
