"""Gambit strategic-form files (``.nfg``): read the payoff and outcome versions, write the payoff version.

Profiles are listed with player 1's strategy changing fastest (Fortran order of the payoff tensor).
A file whose players all share one payoff becomes a :class:`MatrixGame`, any other a :class:`NormalFormGame`.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np

from safeio import atomic_write_text, parse_file
from .games import GameError, MatrixGame, NormalFormGame, as_normal_form

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|([{}])|(,)|([^\s{},"]+)')


def _tokens(text: str):
    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            yield ("str", m.group(1).replace('\\"', '"'))
        elif m.group(2):
            yield (m.group(2), m.group(2))
        elif m.group(3):
            continue  # commas separate payoffs in outcome lists; they carry no meaning
        else:
            yield ("word", m.group(4))


def _number(tok, where: str) -> float:
    kind, val = tok
    if kind != "word":
        raise GameError(f"nfg: expected a number {where}, found {val!r}")
    try:
        return float(Fraction(val)) if "/" in val else float(val)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise GameError(f"nfg: expected a number {where}, found {val!r}") from None


def _count(tok) -> int:
    kind, val = tok
    if kind != "word" or not val.isdigit() or int(val) < 1:
        raise GameError(f"nfg: a strategy count must be a positive integer, found {val!r}")
    return int(val)


class _Stream:
    def __init__(self, text):
        self.toks = list(_tokens(text))
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def next(self, expect=None, what=""):
        if self.i >= len(self.toks):
            raise GameError(f"nfg: file ends early{' while reading ' + what if what else ''}")
        tok = self.toks[self.i]
        self.i += 1
        if expect and tok[0] != expect:
            raise GameError(f"nfg: expected {expect!r} {what}, found {tok[1]!r}")
        return tok


def parse_nfg(text: str):
    """Parse the text of a Gambit ``.nfg`` file (payoff or outcome version).

    Parameters
    ----------
    text : str
        The file's content.

    Returns
    -------
    MatrixGame or NormalFormGame
        A :class:`MatrixGame` when all players share one payoff; the title becomes the name.

    Raises
    ------
    GameError
        Naming the first problem (``"nfg: ..."``).

    Examples
    --------
    >>> from tabular.nfg import parse_nfg
    >>> parse_nfg('NFG 1 R "pennies" { "P1" "P2" } { 2 2 } 1 -1 -1 1 -1 1 1 -1')
    NormalFormGame 'pennies'(n_agents=2, n_actions=(2, 2))
    """
    st = _Stream(text)
    head = [st.next("word", "in the header")[1] for _ in range(3)]
    if head[0] != "NFG" or head[1] != "1":
        raise GameError(f"nfg: not a Gambit strategic-form file (header {' '.join(head)!r})")
    if head[2] != "R":
        raise GameError(f"nfg: only real-valued ('R') games are supported, got {head[2]!r}")
    title = st.next("str", "(the title)")[1]
    st.next("{", "before the player names")
    players = []
    while st.peek()[0] == "str":
        players.append(st.next()[1])
    st.next("}", "after the player names")
    st.next("{", "before the strategy counts")
    counts = []
    if st.peek()[0] == "{":
        while st.peek()[0] == "{":
            st.next()
            k = 0
            while st.peek()[0] == "str":
                st.next()
                k += 1
            st.next("}", "after a player's strategy names")
            counts.append(k)
    else:
        while st.peek()[0] == "word":
            counts.append(_count(st.next()))
    st.next("}", "after the strategy counts")
    if len(counts) != len(players) or not players:
        raise GameError(f"nfg: {len(players)} players but {len(counts)} strategy counts")
    if st.peek()[0] == "str":
        st.next()  # comment
    n, shape = len(players), tuple(counts)
    n_profiles = math.prod(shape)
    if st.peek()[0] == "{":  # outcome version
        st.next()
        outcomes = []
        while st.peek()[0] == "{":
            st.next()
            if st.peek()[0] == "str":
                st.next()
            outcomes.append([_number(st.next(what="(outcome payoff)"), "in an outcome") for _ in range(n)])
            st.next("}", "after an outcome's payoffs")
        st.next("}", "after the outcome list")
        flat = _payoff_table(st, n, n_profiles, n_profiles, "outcome indices")
        for p in range(n_profiles):
            idx = int(_number(st.next(what="(outcome index)"), "(outcome index)"))
            if not 0 <= idx <= len(outcomes):
                raise GameError(f"nfg: outcome index {idx} out of range 0..{len(outcomes)}")
            if idx:
                flat[:, p] = outcomes[idx - 1]
    else:
        flat = _payoff_table(st, n, n_profiles, n * n_profiles, "payoffs")
        for p in range(n_profiles):
            for i in range(n):
                flat[i, p] = _number(st.next(what="(payoff)"), f"for profile {p + 1}, player {i + 1}")
    if st.peek()[0] is not None:
        raise GameError(f"nfg: unexpected trailing content {st.peek()[1]!r}")
    payoffs = [flat[i].reshape(shape, order="F") for i in range(n)]
    name = title or None
    if all(np.array_equal(u, payoffs[0]) for u in payoffs[1:]):
        return MatrixGame(payoffs[0], name=name)
    return NormalFormGame(payoffs, name=name)


def _payoff_table(st: _Stream, n: int, n_profiles: int, needed: int, what: str) -> np.ndarray:
    """The zeroed ``(n, n_profiles)`` table, once the file is known to hold the ``needed`` numbers that fill
    it: strategy counts that its data cannot describe are refused before anything that size is allocated."""
    left = len(st.toks) - st.i
    if needed > left:
        raise GameError(f"nfg: file ends early: the strategy counts describe {n_profiles} profiles, which need "
                        f"{needed} {what}, but {left} entries follow")
    return np.zeros((n, n_profiles))


def read_nfg(path):
    """Read a Gambit ``.nfg`` file (payoff or outcome version).

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    MatrixGame or NormalFormGame
        As :func:`parse_nfg`.

    Raises
    ------
    GameError
        Naming the file and the problem.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     T.write_nfg(T.MatrixGame([[1.0, 0.0], [0.0, 2.0]], name="coordination"), os.path.join(folder, "c.nfg"))
    ...     print(repr(T.read_nfg(os.path.join(folder, "c.nfg")).payoff))
    array([[1., 0.],
           [0., 2.]])
    """
    text = parse_file(path, lambda fh: fh.read(), (), "text", GameError)
    try:
        return parse_nfg(text)
    except GameError as exc:
        raise GameError(f"{path}: {exc}") from None


def format_nfg(game) -> str:
    """The payoff-version ``.nfg`` text of a :class:`NormalFormGame` or :class:`MatrixGame`.

    Parameters
    ----------
    game : NormalFormGame or MatrixGame
        The game.

    Returns
    -------
    str
        Profiles listed with player 1's strategy changing fastest.

    Examples
    --------
    >>> from tabular.nfg import format_nfg
    >>> print(format_nfg(T.MatrixGame([[1.0, 0.0], [0.0, 2.0]], name="coordination")))
    NFG 1 R "coordination" { "Player 1" "Player 2" } { 2 2 }
    <BLANKLINE>
    1.0 1.0
    0.0 0.0
    0.0 0.0
    2.0 2.0
    <BLANKLINE>
    """
    g = as_normal_form(game)
    title = (g.name or "meharl game").replace('"', '\\"')
    players = " ".join(f'"Player {i + 1}"' for i in range(g.n_agents))
    counts = " ".join(str(k) for k in g.n_actions)
    flat = np.stack([u.reshape(-1, order="F") for u in g.payoffs], axis=1)
    body = "\n".join(" ".join(repr(float(x)) for x in row) for row in flat)
    return f'NFG 1 R "{title}" {{ {players} }} {{ {counts} }}\n\n{body}\n'


def write_nfg(game, path) -> None:
    """Write ``game`` as a payoff-version Gambit ``.nfg`` file (atomically).

    Parameters
    ----------
    game : NormalFormGame or MatrixGame
        The game.
    path : str or os.PathLike
        The file to write.

    Examples
    --------
    >>> import os, tempfile
    >>> u = np.array([[1.0, -1.0], [-1.0, 1.0]])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     T.write_nfg(T.NormalFormGame([u, -u]), os.path.join(folder, "pennies.nfg"))
    ...     print(T.read_nfg(os.path.join(folder, "pennies.nfg")))
    NormalFormGame 'meharl game'(n_agents=2, n_actions=(2, 2))
    """
    atomic_write_text(path, format_nfg(game))
