"""The paper's 3x3 cooperative matrix game (Section 3.2, Appendix B) and the numbers it reports.

Every number returned here is computed by the engine: Table 3 by :func:`sequential_update` and
:func:`haspi`, the Appendix B quantities by :func:`soft_evaluate` and the multi-agent advantages.
"""
from __future__ import annotations

import numpy as np

from .evaluation import multiagent_advantage, multiagent_q, soft_evaluate
from .games import MatrixGame
from .haspi import haspi, sequential_update
from .policy import JointPolicy

#: The temperatures of Table 3 (the alpha column is lost in the OCR; these reproduce every printed row).
TABLE3_ALPHAS = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0)
#: The initial policy of both agents, over actions (A, B, C).
INITIAL_ROW = (0.6, 0.2, 0.2)
ACTIONS = ("A", "B", "C")


def paper_matrix_game() -> MatrixGame:
    """``r(A,A) = 5``, ``r(B,B) = 10``, ``r(C,C) = 20``, every mismatch ``-20``."""
    payoff = np.full((3, 3), -20.0)
    np.fill_diagonal(payoff, [5.0, 10.0, 20.0])
    return MatrixGame(payoff, name="paper 3x3 coordination game")


def initial_policy(game: MatrixGame | None = None) -> JointPolicy:
    game = paper_matrix_game() if game is None else game
    return JointPolicy.from_rows(game, [INITIAL_ROW] * game.n_agents)


def table3(alphas=TABLE3_ALPHAS, tol: float = 1e-13) -> list[dict]:
    """Table 3: agent 1 after its first update and both agents at convergence (order agent 1, agent 2)."""
    game = paper_matrix_game()
    pi0 = initial_policy(game)
    rows = []
    for alpha in alphas:
        _, steps = sequential_update(game, pi0, alpha, (0, 1), return_steps=True)
        res = haspi(game, alpha, init=pi0, order=(0, 1), tol=tol)
        rows.append({
            "alpha": float(alpha),
            "first": steps[0][0][0].tolist(),
            "converged_agent1": res.policy[0][0].tolist(),
            "converged_agent2": res.policy[1][0].tolist(),
            "iterations": res.nit,
            "converged": res.converged,
            "qre_gap": res.qre_gap,
            "J": float(res.J_history[-1]),
        })
    return rows


def appendix_b() -> dict:
    """Appendix B under the initial policy with ``alpha = 0``: ``V``, the joint advantage matrix (Fig. 6),
    MAPPO's first expected-update coefficients (per-agent advantages ``A^i(a^i)``) and the coefficients of
    agent 1's first HASAC objective (``Q^1(a^1)``, maximised with ``+ alpha H(p)``)."""
    game = paper_matrix_game()
    pi0 = initial_policy(game)
    ev = soft_evaluate(game, pi0, 0.0)
    return {
        "V": float(ev.V[0]),
        "advantage": multiagent_advantage(ev, pi0, [0, 1])[0].tolist(),
        "mappo_coefficients": multiagent_advantage(ev, pi0, [0])[0].tolist(),
        "hasac_agent1_objective": multiagent_q(ev, pi0, [0])[0].tolist(),
    }


def format_table3(rows: list[dict], digits: int = 4) -> str:
    f = f"{{:.{digits}f}}"
    head = f"{'alpha':>6} | {'first p1':>8} {'first p2':>8} {'first p3':>8} | {'conv. p1':>8} {'conv. p2':>8} {'conv. p3':>8}"
    lines = ["Table 3: agent 1 after its first update | both agents at convergence (order: agent 1, agent 2)",
             head, "-" * len(head)]
    for r in rows:
        first = " ".join(f.format(x).rjust(8) for x in r["first"])
        conv = " ".join(f.format(x).rjust(8) for x in r["converged_agent1"])
        lines.append(f"{r['alpha']:>6g} | {first} | {conv}")
    return "\n".join(lines)


def format_appendix_b(b: dict) -> str:
    def vec(v):
        return "  ".join(f"{a}: {x:+.4g}" for a, x in zip(ACTIONS, v))
    adv = "\n".join(f"    {ACTIONS[i]}  " + " ".join(f"{x:8.4g}" for x in row) for i, row in enumerate(b["advantage"]))
    return (f"Appendix B, initial policy (0.6, 0.2, 0.2) for both agents, alpha = 0\n"
            f"  V = {b['V']:.4g}\n"
            f"  advantage A(a^1, a^2) (rows agent 1, columns agent 2: A B C):\n{adv}\n"
            f"  MAPPO first expected update: argmax  {vec(b['mappo_coefficients'])}\n"
            f"  HASAC agent 1 first objective: {vec(b['hasac_agent1_objective'])}  + alpha H(p)")
