"""Appendix B in exact rational arithmetic, and the engine against it.

Under the initial policy (0.6, 0.2, 0.2) of both agents on the paper's 3x3 game (alpha = 0) the paper prints
``V = -8.2``, the advantage matrix of Fig. 6 (13.2, 18.2, 28.2 on the diagonal, -11.8 off it), MAPPO's
expected-update coefficients (3.2, -5.8, -3.8) and agent 1's first HASAC objective
``-5 p1 - 14 p2 - 12 p3 + alpha H(p)``.  These are recomputed with :class:`fractions.Fraction` from the
definitions (no rounding anywhere), compared exactly with the printed values, and the engine's floating-point
results (:func:`tabular.paper.appendix_b`) are compared with the exact ones.  The maximiser of the HASAC
objective is, by Theorem 1, ``exp(c / alpha) / Z``; rounded to 4 places it must equal Table 3's left half.
The broken variant measures advantages against the plain mean payoff instead of ``V`` under the policy.
"""
from __future__ import annotations

from fractions import Fraction as F

import numpy as np

from tabular._math import boltzmann
from tabular.paper import INITIAL_ROW, TABLE3_ALPHAS, appendix_b, paper_matrix_game

from .registry import PAPER, Finding, claim
from .rounding import rounding_bound

#: The values printed in Appendix B (as exact decimals).
PRINTED = {
    "V": F("-8.2"),
    "advantage": [[F("13.2"), F("-11.8"), F("-11.8")], [F("-11.8"), F("18.2"), F("-11.8")],
                  [F("-11.8"), F("-11.8"), F("28.2")]],
    "mappo_coefficients": [F("3.2"), F("-5.8"), F("-3.8")],
    "hasac_agent1_objective": [F(-5), F(-14), F(-12)],
}
#: Table 3, left half: agent 1 after its first update, for the alphas of ``TABLE3_ALPHAS``.
TABLE3_FIRST = [(0.9990, 0.0001, 0.0009), (0.9603, 0.0107, 0.0290), (0.7083, 0.1171, 0.1747),
                (0.5254, 0.2136, 0.2609), (0.4596, 0.2522, 0.2882), (0.4269, 0.2722, 0.3009)]


def exact_appendix_b(baseline: str = "policy") -> dict:
    """Appendix B's quantities in rationals; ``baseline="mean"`` is the broken variant."""
    payoff = [[F(int(x)) for x in row] for row in paper_matrix_game().payoff]
    pi = [F(str(x)) for x in INITIAL_ROW]
    idx = range(3)
    if baseline == "policy":
        V = sum(pi[a] * pi[b] * payoff[a][b] for a in idx for b in idx)
    else:
        V = sum(payoff[a][b] for a in idx for b in idx) / 9
    adv = [[payoff[a][b] - V for b in idx] for a in idx]
    return {
        "V": V,
        "advantage": adv,
        # MAPPO, eq. 13: E_{a^2 ~ pi_old}[A(a^1, a^2)], the coefficient of pi^1_new(a^1)
        "mappo_coefficients": [sum(pi[b] * adv[a][b] for b in idx) for a in idx],
        # HASAC, agent 1 first: Q^1(a^1) = E_{a^2 ~ pi_old}[r(a^1, a^2)]
        "hasac_agent1_objective": [sum(pi[b] * payoff[a][b] for b in idx) for a in idx],
    }


def _flat(d: dict) -> list:
    return [d["V"], *[x for row in d["advantage"] for x in row], *d["mappo_coefficients"],
            *d["hasac_agent1_objective"]]


@claim("appendix-B", title="Appendix B: V, advantages, MAPPO and HASAC objectives in exact rationals",
       reference="App. B, Fig. 6, Table 3", method="symbolic", tolerance=1e-12,
       broken=[("mean-baseline", "advantages taken against the mean payoff instead of V under the policy")])
def check_appendix_b(variant: str, quick: bool) -> Finding:
    exact = exact_appendix_b("policy" if variant == PAPER else "mean")
    printed, engine = _flat(PRINTED), _flat(appendix_b())
    mine = _flat(exact)
    paper_gap = max(abs(float(a - b)) for a, b in zip(mine, printed))          # exact rationals vs the paper
    # engine floats vs exact, less their rounding: sums of at most 9 joint-action terms of size <= max |exact|
    magnitude = max(abs(float(a)) for a in mine)
    engine_gap = max(abs(float(a) - e) for a, e in zip(mine, engine)) - rounding_bound(magnitude, 9)
    # Theorem 1 applied to agent 1's objective: the maximiser is Boltzmann; Table 3 prints it to 4 places, so
    # each probability must lie within half a unit of the 4th place of the printed one (up to its rounding:
    # a 3-term softmax of values of size <= 1 after the shift by the maximum)
    coef = np.array([float(c) for c in exact["hasac_agent1_objective"]])
    table_gap = 0.0
    for alpha, row in zip(TABLE3_ALPHAS, TABLE3_FIRST):
        p = boltzmann(coef, alpha)
        outside = float(np.max(np.abs(p - np.array(row)))) - 0.5e-4 - rounding_bound(1.0, 3)
        table_gap = max(table_gap, outside)
    V = exact["V"]
    note = (f"V = {V} ({float(V):g}); MAPPO {[str(c) for c in exact['mappo_coefficients']]}; HASAC "
            f"{[str(c) for c in exact['hasac_agent1_objective']]}; |exact - printed| {paper_gap:.3g}, "
            f"|engine - exact| - rounding {engine_gap:.3g}, Table 3 first update outside the printed 4 places by "
            f"{table_gap:.3g}")
    cases = len(mine) + len(TABLE3_FIRST)
    return Finding(cases, max(paper_gap, engine_gap, table_gap), note)
