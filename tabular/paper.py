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
    """The paper's 3x3 game: ``r(A,A) = 5``, ``r(B,B) = 10``, ``r(C,C) = 20``, every mismatch ``-20``.

    Returns
    -------
    MatrixGame

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game
    >>> paper_matrix_game().payoff
    array([[  5., -20., -20.],
           [-20.,  10., -20.],
           [-20., -20.,  20.]])
    """
    payoff = np.full((3, 3), -20.0)
    np.fill_diagonal(payoff, [5.0, 10.0, 20.0])
    return MatrixGame(payoff, name="paper 3x3 coordination game")


def initial_policy(game: MatrixGame | None = None) -> JointPolicy:
    """Both agents at ``(0.6, 0.2, 0.2)`` over ``(A, B, C)``, the start of Section 3.2 and Appendix B.

    Parameters
    ----------
    game : MatrixGame, optional
        A game with three actions per agent (the paper's by default).

    Returns
    -------
    JointPolicy

    Examples
    --------
    >>> from tabular.paper import initial_policy
    >>> initial_policy()[1]
    array([[0.6, 0.2, 0.2]])
    """
    game = paper_matrix_game() if game is None else game
    return JointPolicy.from_rows(game, [INITIAL_ROW] * game.n_agents)


def table3(alphas=TABLE3_ALPHAS, tol: float = 1e-13) -> list[dict]:
    """Table 3: agent 1 after its first update and both agents at convergence (order agent 1, agent 2).

    Parameters
    ----------
    alphas : sequence of float, optional
        The temperatures (the table's by default).
    tol : float, optional
        HASPI's stopping tolerance.

    Returns
    -------
    list of dict
        Per temperature: ``alpha``, ``first`` (agent 1 after its first update), ``converged_agent1``,
        ``converged_agent2``, ``iterations``, ``converged``, ``qre_gap`` and ``J``.

    Examples
    --------
    >>> from tabular.paper import table3
    >>> (row,) = table3(alphas=(5.0,))
    >>> np.round(row["first"], 4), np.round(row["converged_agent1"], 4)
    (array([0.7083, 0.1171, 0.1747]), array([0.9849, 0.0075, 0.0076]))
    """
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
    """Appendix B under the initial policy with ``alpha = 0``.

    Returns
    -------
    dict
        ``V``; ``advantage``, the joint advantage matrix (Fig. 6); ``mappo_coefficients``, MAPPO's first
        expected-update coefficients (per-agent advantages ``A^i(a^i)``); ``hasac_agent1_objective``, the
        coefficients of agent 1's first HASAC objective (``Q^1(a^1)``, maximised with ``+ alpha H(p)``).

    Examples
    --------
    >>> from tabular.paper import appendix_b
    >>> b = appendix_b()
    >>> round(b["V"], 4), np.round(b["mappo_coefficients"], 4)
    (-8.2, array([ 3.2, -5.8, -3.8]))
    """
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
    """:func:`table3`'s rows as the printed table.

    Parameters
    ----------
    rows : list of dict
        From :func:`table3`.
    digits : int, optional
        Decimals shown.

    Returns
    -------
    str

    Examples
    --------
    >>> from tabular.paper import format_table3, table3
    >>> print(format_table3(table3(alphas=(5.0,))))
    Table 3: agent 1 after its first update | both agents at convergence (order: agent 1, agent 2)
     alpha | first p1 first p2 first p3 | conv. p1 conv. p2 conv. p3
    ----------------------------------------------------------------
         5 |   0.7083   0.1171   0.1747 |   0.9849   0.0075   0.0076
    """
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
    """:func:`appendix_b`'s numbers as printed text.

    Parameters
    ----------
    b : dict
        From :func:`appendix_b`.

    Returns
    -------
    str

    Examples
    --------
    >>> from tabular.paper import appendix_b, format_appendix_b
    >>> print(format_appendix_b(appendix_b()).splitlines()[-2])
      MAPPO first expected update: argmax  A: +3.2  B: -5.8  C: -3.8
    """
    def vec(v):
        return "  ".join(f"{a}: {x:+.4g}" for a, x in zip(ACTIONS, v))
    adv = "\n".join(f"    {ACTIONS[i]}  " + " ".join(f"{x:8.4g}" for x in row) for i, row in enumerate(b["advantage"]))
    return (f"Appendix B, initial policy (0.6, 0.2, 0.2) for both agents, alpha = 0\n"
            f"  V = {b['V']:.4g}\n"
            f"  advantage A(a^1, a^2) (rows agent 1, columns agent 2: A B C):\n{adv}\n"
            f"  MAPPO first expected update: argmax  {vec(b['mappo_coefficients'])}\n"
            f"  HASAC agent 1 first objective: {vec(b['hasac_agent1_objective'])}  + alpha H(p)")
