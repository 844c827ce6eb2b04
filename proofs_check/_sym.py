"""Shared sympy helpers: exact zero tests with a numeric size for the residuals that are not zero."""
from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np
import sympy as sp


def residual_size(expr, sample: Callable[[np.random.Generator], dict], *, points: int = 5, seed: int = 0,
                  simplify: bool = False) -> float:
    """``0.0`` when ``expr`` is identically zero; otherwise the largest ``|expr|`` at sampled points.

    Zero is decided exactly (``expand``, then ``simplify`` when asked).  Before the costly ``simplify`` the
    residual is evaluated to 30 digits at ``points`` points from ``sample(rng)``: a value that is not tiny is
    a witness that the residual is not zero and is returned as its size.  A residual that is tiny at every
    point but that sympy cannot reduce to zero is returned with its (tiny, positive) size: unproved.
    """
    e = sp.expand(expr)
    if e == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    size = max(abs(complex(sp.N(e.xreplace(sample(rng)), 30))) for _ in range(points))
    if size > 1e-20:
        return float(size)
    if simplify and sp.simplify(e) == 0:
        return 0.0
    return max(float(size), 1e-300)


def policy_symbols(name: str, n_actions: Sequence[int]) -> list[list[sp.Symbol]]:
    """``p[i][a]``: positive symbols for agent ``i``'s probabilities (normalise with :func:`simplex_subs`)."""
    return [list(sp.symbols(f"{name}{i + 1}_1:{k + 1}", positive=True)) for i, k in enumerate(n_actions)]


def simplex_subs(p: list[list[sp.Symbol]]) -> dict:
    """Substitution putting each agent's last probability at one minus the others (the simplex)."""
    return {row[-1]: 1 - sum(row[:-1]) for row in p}


def sample_simplex(p: list[list[sp.Symbol]], rng: np.random.Generator) -> dict:
    """Rational values for every agent's probabilities (a point inside each simplex)."""
    out = {}
    for row in p:
        w = rng.integers(1, 20, size=len(row))
        for sym, x in zip(row, w):
            out[sym] = sp.Rational(int(x), int(w.sum()))
    return out


def joint_actions(n_actions: Sequence[int]):
    return list(itertools.product(*[range(k) for k in n_actions]))


def entropy(row) -> sp.Expr:
    return -sum(x * sp.log(x) for x in row)
