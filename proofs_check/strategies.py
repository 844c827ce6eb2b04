"""Hypothesis strategies for small cooperative Markov games, policies and temperatures.

Games are kept small (a few states, 2-3 agents with 2-3 actions) so that each case is solved exactly in
milliseconds.  Array contents come from one of two sources, chosen per case: a numpy generator seeded by a
hypothesis-drawn integer (generic random instances) or hypothesis's own array strategies (ties, zeros,
repeated and extreme entries, which is where broken implementations tend to show themselves).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tabular import JointPolicy, MarkovGame


def _source(draw):
    """``None`` (hypothesis arrays) or a seeded numpy generator."""
    if draw(st.sampled_from(["seeded", "hypothesis"])) == "seeded":
        return np.random.default_rng(draw(st.integers(0, 2 ** 63 - 1)))
    return None


def _uniform(draw, rng, shape, low: float, high: float) -> np.ndarray:
    if rng is not None:
        return rng.uniform(low, high, size=shape)
    return draw(hnp.arrays(float, shape, elements=st.floats(low, high)))


def _stochastic_rows(draw, shape, floor: float = 0.0, rng=None) -> np.ndarray:
    """Rows of non-negative weights normalised to probability vectors (all-zero rows become uniform)."""
    w = _uniform(draw, rng, shape, 0.0, 1.0)
    w[w.sum(axis=-1) == 0] = 1.0
    p = w / w.sum(axis=-1, keepdims=True)
    if floor:
        p = (1.0 - floor * shape[-1]) * p + floor
    return p


@st.composite
def markov_games(draw, max_states: int = 3, agents=(2, 3), actions=(2, 3), gamma_max: float = 0.9,
                 gamma_min: float = 0.0):
    """A cooperative Markov game with rewards in [-1, 1] and an arbitrary transition kernel."""
    n = draw(st.integers(*agents))
    counts = tuple(draw(st.integers(*actions)) for _ in range(n))
    S = draw(st.integers(1, max_states))
    rng = _source(draw)
    r = _uniform(draw, rng, (S, *counts), -1.0, 1.0)
    P = _stochastic_rows(draw, (S * int(np.prod(counts)), S), rng=rng)
    d = _stochastic_rows(draw, (S,), rng=rng)
    gamma = draw(st.floats(gamma_min, gamma_max, allow_subnormal=False))
    return MarkovGame(P, r, gamma, d)


@st.composite
def coordination_games(draw, max_states: int = 2, agents=(2, 3), actions=(2, 3), gamma_max: float = 0.9,
                       gamma_min: float = 0.0):
    """Identical-interest games where agents are paid only for matching actions (Section 3.2's structure).

    In every state, joint actions where all agents pick the same action ``k`` pay ``c_k`` in [0.5, 1];
    every mismatch pays a penalty in [-1, 0]; everything is then scaled by a factor in [1, 20].  These are the
    games where uncoordinated (simultaneous) updates can miscoordinate.
    """
    n = draw(st.integers(*agents))
    k = draw(st.integers(*actions))
    S = draw(st.integers(1, max_states))
    scale = draw(st.floats(1.0, 20.0))
    rng = _source(draw)
    r = _uniform(draw, rng, (S,) + (k,) * n, -1.0, 0.0)
    for a in range(k):
        r[(slice(None),) + (a,) * n] = _uniform(draw, rng, (S,), 0.5, 1.0)
    r *= scale
    P = _stochastic_rows(draw, (S * k ** n, S), rng=rng)
    gamma = draw(st.floats(gamma_min, gamma_max, allow_subnormal=False))
    return MarkovGame(P, r, gamma)


def games(max_states: int = 3, gamma_max: float = 0.9, gamma_min: float = 0.0, coordination_first: bool = False):
    """Random Markov games or coordination games (hypothesis starts from the first family listed)."""
    families = [markov_games(max_states=max_states, gamma_max=gamma_max, gamma_min=gamma_min),
                coordination_games(max_states=min(max_states, 2), gamma_max=gamma_max, gamma_min=gamma_min)]
    return st.one_of(families[::-1] if coordination_first else families)


@st.composite
def policies(draw, game: MarkovGame, floor: float = 0.0) -> JointPolicy:
    """A joint policy for ``game``; with ``floor > 0`` every probability is at least ``floor`` (eps-soft)."""
    rng = _source(draw)
    return JointPolicy([_stochastic_rows(draw, (game.n_states, k), floor, rng) for k in game.n_actions])


def temperatures(low: float = 0.05, high: float = 2.0):
    """Temperatures ``alpha`` in ``[low, high]``."""
    return st.floats(low, high)


def orders(n: int):
    return st.permutations(list(range(n))).map(tuple)


@st.composite
def policies_or_mirrored(draw, game: MarkovGame, floor: float = 0.0) -> JointPolicy:
    """A free joint policy, or one where agent ``j`` plays agent 0's distribution with the actions reversed
    when ``j`` is odd: near-uniform mirrored starts sit next to the miscoordination saddle of a coordination game."""
    if draw(st.booleans()) or len(set(game.n_actions)) > 1:
        return draw(policies(game, floor))
    base = _stochastic_rows(draw, (game.n_states, game.n_actions[0]), floor, _source(draw))
    return JointPolicy([base[:, ::-1] if j % 2 else base for j in range(game.n_agents)])
