"""Finite cooperative Markov games ``<N, S, A, r, P, gamma, d>`` and normal-form games (docs/mathematics.md).

A :class:`MarkovGame` stores

* ``r``: the shared reward, shape ``(S, |A^1|, ..., |A^n|)``;
* ``P``: the transition kernel as a 2-D matrix with one row per state-joint-action pair, rows in C order
  of ``(s, a^1, ..., a^n)`` and one column per successor state: a dense ``ndarray`` of shape
  ``(S * |A|, S)`` or a ``scipy.sparse`` CSR matrix of the same shape for large games.  Either way
  ``P @ V`` gives the expected successor value of every pair, which is all the engine ever needs;
* ``gamma`` in ``[0, 1)`` and the initial distribution ``d``.

A :class:`MatrixGame` is the one-state, ``gamma = 0`` special case built from a common payoff tensor;
a :class:`NormalFormGame` holds one payoff tensor per player (general sum) for the QRE tools.
Constructors validate everything and raise :class:`GameError` with a message that names the problem.
"""
from __future__ import annotations

import json
import math
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from safeio import atomic_write_text, parse_file

#: Tolerance for probabilities: entries may not be below ``-PROB_TOL`` and rows must sum to 1 within it.
PROB_TOL = 1e-9


class GameError(ValueError):
    """Raised for an ill-formed game, policy or argument; the message names the problem.

    Examples
    --------
    >>> T.MatrixGame([[1.0, float("nan")]])
    Traceback (most recent call last):
    ...
    tabular.games.GameError: payoff contains NaN or inf (first at index (0, 1))
    """


def _finite_array(x, what: str) -> np.ndarray:
    """A float copy of ``x`` (never the caller's array: games freeze their arrays) checked for NaN/inf."""
    try:
        arr = np.array(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise GameError(f"{what} must be numeric: {exc}") from None
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise GameError(f"{what} contains NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return arr


def check_distribution_rows(rows: np.ndarray, what: str, labels=None) -> None:
    """Check that every row of a 2-D array is a probability vector (within ``PROB_TOL``).

    Parameters
    ----------
    rows : ndarray
        The 2-D array to check, one distribution per row.
    what : str
        What the rows are, for the error message.
    labels : callable, optional
        ``labels(row) -> str`` names a row in the message (``"row k"`` by default).

    Raises
    ------
    GameError
        Naming the first negative entry, or the first row whose sum is not 1.

    Examples
    --------
    >>> from tabular.games import check_distribution_rows
    >>> check_distribution_rows(np.array([[0.5, 0.5], [1.0, 0.0]]), "policy")
    >>> check_distribution_rows(np.array([[0.5, 0.6]]), "policy")
    Traceback (most recent call last):
    ...
    tabular.games.GameError: policy at row 0 sums to 1.1, not 1 (tolerance 1e-09)
    """
    if rows.size and rows.min() < -PROB_TOL:
        i = np.unravel_index(np.argmin(rows), rows.shape)
        where = labels(i[0]) if labels else f"row {i[0]}"
        raise GameError(f"{what} has a negative probability {rows[i]:.3g} at {where}, entry {i[1]}")
    sums = rows.sum(axis=1)
    off = np.abs(sums - 1.0)
    if off.size and off.max() > PROB_TOL:
        i = int(np.argmax(off))
        where = labels(i) if labels else f"row {i}"
        raise GameError(f"{what} at {where} sums to {sums[i]:.12g}, not 1 (tolerance {PROB_TOL:g})")


def mix_rows(P, weights: np.ndarray):
    """``out[(s, k)] = sum_a weights[s, k, a] P[(s, a)]`` for a row-grouped kernel ``P`` of shape ``(S*A, S')``.

    Parameters
    ----------
    P : ndarray or scipy.sparse matrix
        Shape ``(S*A, S')``: the rows of state ``s`` are ``s*A`` to ``s*A + A - 1``.
    weights : ndarray
        Shape ``(S, K, A)``: ``K`` mixtures of the ``A`` rows of each state.

    Returns
    -------
    ndarray or scipy.sparse.csr_matrix
        Shape ``(S*K, S')``; sparse (CSR) when ``P`` is.

    Examples
    --------
    >>> from tabular.games import mix_rows
    >>> P = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.0, 1.0]])  # S = 2 states, A = 2 actions
    >>> mix_rows(P, np.full((2, 1, 2), 0.5))
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
    S, K, A = weights.shape
    if sp.issparse(P) and K == 1:
        # The rows (s, a) of one state are contiguous in P, so row s of the result is their concatenation with
        # each scaled by its weight: P's column indices are shared (no copy) and only the data is new.  The
        # result may repeat a column within a row (two joint actions reaching one successor), which products
        # with vectors sum exactly as they should; call ``sum_duplicates`` for a canonical matrix.
        P = P.tocsr()
        data = np.repeat(weights.reshape(-1), np.diff(P.indptr))
        data *= P.data
        return sp.csr_matrix((data, P.indices, np.ascontiguousarray(P.indptr[::A])), shape=(S, P.shape[1]))
    if sp.issparse(P):
        s, k, a = np.nonzero(weights)
        M = sp.csr_matrix((weights[s, k, a], (s * K + k, s * A + a)), shape=(S * K, S * A))
        return (M @ P).tocsr()
    return np.einsum("ska,sat->skt", weights, P.reshape(S, A, -1)).reshape(S * K, -1)


def _check_gamma(gamma) -> float:
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise GameError(f"gamma must be a number in [0, 1), got {gamma!r}") from None
    if not (0.0 <= g < 1.0) or math.isnan(g):
        raise GameError(f"gamma must lie in [0, 1), got {gamma!r}")
    return g


def _check_action_counts(shape: Sequence[int], what: str) -> tuple[int, ...]:
    counts = tuple(int(k) for k in shape)
    if len(counts) < 1:
        raise GameError(f"{what} needs at least one agent axis")
    for i, k in enumerate(counts):
        if k < 1:
            raise GameError(f"{what}: agent {i} has {k} actions; every agent needs at least 1")
    return counts


class MarkovGame:
    """A finite cooperative Markov game with a shared reward.

    Parameters
    ----------
    transitions : array_like or scipy.sparse matrix
        Shape ``(S, |A^1|, ..., |A^n|, S)`` or ``(S*|A|, S)``, or a ``scipy.sparse`` matrix of shape
        ``(S*|A|, S)`` (rows in C order of ``(s, a^1, ..., a^n)``).  Every row is a distribution.
    rewards : array_like
        Shape ``(S, |A^1|, ..., |A^n|)``; its shape fixes the agents and action counts.
    gamma : float
        Discount in ``[0, 1)``.
    initial : array_like, optional
        Initial state distribution ``d`` of shape ``(S,)``; uniform when omitted.
    name : str, optional
        A label, kept by :meth:`save`.

    Raises
    ------
    GameError
        For any ill-formed argument, naming it.

    Examples
    --------
    Two states, two agents with two actions each; matching actions move to state 1, which pays 1.

    >>> r = np.zeros((2, 2, 2)); r[1] = 1.0
    >>> P = np.zeros((2, 2, 2, 2)); P[:, 0, 0, 1] = P[:, 1, 1, 1] = 1.0; P[:, 0, 1, 0] = P[:, 1, 0, 0] = 1.0
    >>> game = T.MarkovGame(P, r, gamma=0.9)
    >>> game
    MarkovGame(n_agents=2, n_states=2, n_actions=(2, 2), gamma=0.9, dense)
    >>> game.P.shape  # one row per state-joint-action pair
    (8, 2)
    """

    def __init__(self, transitions, rewards, gamma: float, initial=None, *, name: str | None = None):
        r = _finite_array(rewards, "rewards")
        if r.ndim < 2:
            raise GameError(f"rewards must have shape (S, |A^1|, ..., |A^n|); got shape {r.shape}")
        S = r.shape[0]
        if S < 1:
            raise GameError("a game needs at least one state")
        self.n_actions = _check_action_counts(r.shape[1:], "rewards")
        self.n_agents = len(self.n_actions)
        self.n_states = S
        self.n_joint_actions = int(np.prod(self.n_actions))
        self.gamma = _check_gamma(gamma)
        self.r = r
        self.r.setflags(write=False)
        self.name = name
        self.P = self._check_transitions(transitions)
        if initial is None:
            d = np.full(S, 1.0 / S)
        else:
            d = _finite_array(initial, "initial distribution")
            if d.shape != (S,):
                raise GameError(f"initial distribution must have shape ({S},); got {d.shape}")
            check_distribution_rows(d[None, :], "initial distribution", lambda i: "the initial state")
        self.d = d
        self.d.setflags(write=False)

    # ----------------------------------------------------------------- validation
    def _pair_label(self, row: int) -> str:
        s, rest = divmod(row, self.n_joint_actions)
        a = np.unravel_index(rest, self.n_actions)
        return f"state {s}, joint action {tuple(int(x) for x in a)}"

    def _check_transitions(self, P):
        S, A = self.n_states, self.n_joint_actions
        if sp.issparse(P):
            P = sp.csr_matrix(P, dtype=float)
            if P.shape != (S * A, S):
                raise GameError(f"sparse transitions must have shape (S*|A|, S) = ({S * A}, {S}); got {P.shape}")
            if not np.all(np.isfinite(P.data)):
                raise GameError("transitions contain NaN or inf")
            if P.data.size and P.data.min() < -PROB_TOL:
                k = int(np.argmin(P.data))
                row = int(np.searchsorted(P.indptr, k, side="right") - 1)
                raise GameError(f"transitions have a negative probability {P.data[k]:.3g} at {self._pair_label(row)}")
            sums = P @ np.ones(S)  # row sums without a temporary the size of P
            off = np.abs(sums - 1.0)
            if off.max() > PROB_TOL:
                i = int(np.argmax(off))
                raise GameError(f"transitions at {self._pair_label(i)} sums to {sums[i]:.12g}, not 1 "
                                f"(tolerance {PROB_TOL:g})")
            P.data.setflags(write=False)
            return P
        P = _finite_array(P, "transitions")
        full = (S, *self.n_actions, S)
        if P.shape == full:
            P = P.reshape(S * A, S)
        elif P.shape != (S * A, S):
            raise GameError(f"transitions must have shape {full} or ({S * A}, {S}); got {P.shape}")
        check_distribution_rows(P, "transitions", self._pair_label)
        P = np.ascontiguousarray(P)
        P.setflags(write=False)
        return P

    # ----------------------------------------------------------------- properties
    @property
    def is_sparse(self) -> bool:
        """Whether the kernel ``P`` is a ``scipy.sparse`` matrix.

        Examples
        --------
        >>> T.random_markov_game(3, (2, 2), sparse=True, seed=0).is_sparse
        True
        """
        return sp.issparse(self.P)

    @property
    def joint_shape(self) -> tuple[int, ...]:
        """``(S, |A^1|, ..., |A^n|)``: the shape of ``r``, of ``Q`` and of a joint policy.

        Examples
        --------
        >>> T.random_markov_game(3, (2, 4), seed=0).joint_shape
        (3, 2, 4)
        """
        return (self.n_states, *self.n_actions)

    def __repr__(self) -> str:
        kind = "sparse" if self.is_sparse else "dense"
        label = f" {self.name!r}" if self.name else ""
        return (f"{type(self).__name__}{label}(n_agents={self.n_agents}, n_states={self.n_states}, "
                f"n_actions={self.n_actions}, gamma={self.gamma}, {kind})")

    # ----------------------------------------------------------------- kernels
    def expected_next(self, V: np.ndarray) -> np.ndarray:
        """``E_{s' ~ P(.|s, a)}[V(s')]`` for every state-joint-action pair.

        Parameters
        ----------
        V : ndarray
            A value per state, shape ``(S,)``.

        Returns
        -------
        ndarray
            Shape ``(S, |A^1|, ..., |A^n|)``.

        Examples
        --------
        >>> game = T.random_markov_game(3, (2, 2), seed=0)
        >>> game.expected_next(np.ones(3)).shape
        (3, 2, 2)
        """
        return np.asarray(self.P @ V).reshape(self.joint_shape)

    def transition_under(self, weights: np.ndarray):
        """Mix transition rows by ``weights`` of shape ``(S, K, |A|)``; see :func:`mix_rows`.

        With ``K = 1`` and the joint policy as weights this is ``P_pi``; with ``K = |A^i|`` it is agent i's
        induced single-agent kernel.

        Parameters
        ----------
        weights : ndarray
            Shape ``(S, K, |A|)``.

        Returns
        -------
        ndarray or scipy.sparse.csr_matrix
            Shape ``(S*K, S)``.

        Examples
        --------
        >>> game = T.random_markov_game(3, (2, 2), seed=0)
        >>> P_pi = game.transition_under(T.JointPolicy.uniform(game).joint().reshape(3, 1, 4))
        >>> np.round(P_pi.sum(axis=1), 4)
        array([1., 1., 1.])
        """
        return mix_rows(self.P, weights)

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        """The game as plain lists and numbers (the JSON that :meth:`save` writes).

        Returns
        -------
        dict
            With ``format`` ``"meharl.markov_game"``; :func:`game_from_dict` inverts it.

        Examples
        --------
        >>> sorted(T.random_markov_game(2, (2,), seed=0).to_dict())
        ['format', 'gamma', 'initial', 'n_actions', 'name', 'rewards', 'transitions', 'version']
        """
        out = {"format": "meharl.markov_game", "version": 1, "name": self.name,
               "n_actions": list(self.n_actions), "gamma": self.gamma,
               "initial": self.d.tolist(), "rewards": self.r.tolist()}
        if self.is_sparse:
            coo = self.P.tocoo()
            out["transitions"] = {"sparse": {"rows": coo.row.tolist(), "cols": coo.col.tolist(),
                                             "data": coo.data.tolist()}}
        else:
            out["transitions"] = {"dense": self.P.reshape(self.n_states, *self.n_actions, self.n_states).tolist()}
        return out

    def save(self, path) -> None:
        """Write the game as JSON (atomically); :func:`load_game` reads it back exactly.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write.

        Examples
        --------
        >>> import os, tempfile
        >>> game = T.random_markov_game(3, (2, 2), seed=0)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     game.save(os.path.join(folder, "game.json"))
        ...     print(np.array_equal(T.load_game(os.path.join(folder, "game.json")).P, game.P))
        True
        """
        atomic_write_text(path, json.dumps(self.to_dict()))


class MatrixGame(MarkovGame):
    """A cooperative normal-form game: one state, ``gamma = 0``, shared ``payoff[a^1, ..., a^n]``.

    It is a :class:`MarkovGame` (so ``soft_evaluate`` and ``haspi`` apply) and exposes ``payoffs``
    like a :class:`NormalFormGame` (one copy of the common payoff per player).

    Parameters
    ----------
    payoff : array_like
        The common payoff, shape ``(|A^1|, ..., |A^n|)``.
    name : str, optional
        A label.

    Examples
    --------
    >>> game = T.MatrixGame([[5.0, -20.0], [-20.0, 10.0]])
    >>> game.n_agents, game.n_actions, game.gamma
    (2, (2, 2), 0.0)
    """

    def __init__(self, payoff, *, name: str | None = None):
        u = _finite_array(payoff, "payoff")
        if u.ndim < 1:
            raise GameError("payoff must be a tensor of shape (|A^1|, ..., |A^n|); got a scalar")
        _check_action_counts(u.shape, "payoff")
        A = int(np.prod(u.shape))
        super().__init__(np.ones((A, 1)), u[None, ...], 0.0, [1.0], name=name)
        self.payoff = self.r[0]

    @property
    def payoffs(self) -> tuple[np.ndarray, ...]:
        """One copy of the common payoff per player, as :attr:`NormalFormGame.payoffs`.

        Examples
        --------
        >>> len(T.MatrixGame(np.zeros((2, 3, 2))).payoffs)
        3
        """
        return tuple(self.payoff for _ in range(self.n_agents))

    def to_dict(self) -> dict:
        """The game as plain lists and numbers (format ``"meharl.matrix_game"``).

        Returns
        -------
        dict
            :func:`game_from_dict` inverts it.

        Examples
        --------
        >>> T.MatrixGame([[1.0, 0.0], [0.0, 2.0]]).to_dict()["payoff"]
        [[1.0, 0.0], [0.0, 2.0]]
        """
        return {"format": "meharl.matrix_game", "version": 1, "name": self.name, "payoff": self.payoff.tolist()}


class NormalFormGame:
    """A general-sum normal-form game: ``payoffs[i][a^1, ..., a^n]`` is player i's payoff.

    Parameters
    ----------
    payoffs : sequence of array_like
        One payoff tensor per player, all of shape ``(|A^1|, ..., |A^n|)``.
    name : str, optional
        A label.

    Examples
    --------
    Matching pennies:

    >>> u = np.array([[1.0, -1.0], [-1.0, 1.0]])
    >>> game = T.NormalFormGame([u, -u])
    >>> game, game.is_common_payoff
    (NormalFormGame(n_agents=2, n_actions=(2, 2)), False)
    """

    def __init__(self, payoffs: Sequence, *, name: str | None = None):
        if isinstance(payoffs, np.ndarray) or not isinstance(payoffs, Sequence) or len(payoffs) == 0:
            raise GameError("payoffs must be a non-empty sequence with one payoff tensor per player")
        arrs = [_finite_array(u, f"payoffs[{i}]") for i, u in enumerate(payoffs)]
        shape = arrs[0].shape
        for i, u in enumerate(arrs):
            if u.shape != shape:
                raise GameError(f"payoffs[{i}] has shape {u.shape}, but payoffs[0] has shape {shape}")
        if len(arrs) != len(shape):
            raise GameError(f"{len(arrs)} payoff tensors given for a game with {len(shape)} action axes "
                            f"(shape {shape}); one tensor per player is needed")
        self.n_actions = _check_action_counts(shape, "payoffs")
        self.n_agents = len(shape)
        self.n_states = 1  # a normal-form game is one state: JointPolicy.uniform etc. apply
        for u in arrs:
            u.setflags(write=False)
        self.payoffs = tuple(arrs)
        self.name = name

    @property
    def is_common_payoff(self) -> bool:
        """Whether every player has the same payoff (a cooperative game).

        Examples
        --------
        >>> T.NormalFormGame([np.eye(2), np.eye(2)]).is_common_payoff
        True
        """
        return all(np.array_equal(u, self.payoffs[0]) for u in self.payoffs[1:])

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"NormalFormGame{label}(n_agents={self.n_agents}, n_actions={self.n_actions})"

    def to_dict(self) -> dict:
        """The game as plain lists and numbers (format ``"meharl.normal_form_game"``).

        Returns
        -------
        dict
            :func:`game_from_dict` inverts it.

        Examples
        --------
        >>> T.NormalFormGame([np.eye(2), -np.eye(2)]).to_dict()["payoffs"][1]
        [[-1.0, -0.0], [-0.0, -1.0]]
        """
        return {"format": "meharl.normal_form_game", "version": 1, "name": self.name,
                "payoffs": [u.tolist() for u in self.payoffs]}

    def save(self, path) -> None:
        """Write the game as JSON (atomically); :func:`load_game` reads it back exactly.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write.

        Examples
        --------
        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     T.NormalFormGame([np.eye(2), -np.eye(2)]).save(os.path.join(folder, "game.json"))
        ...     print(T.load_game(os.path.join(folder, "game.json")))
        NormalFormGame(n_agents=2, n_actions=(2, 2))
        """
        atomic_write_text(path, json.dumps(self.to_dict()))


def as_normal_form(game) -> NormalFormGame:
    """Accept a :class:`NormalFormGame` or a :class:`MatrixGame` wherever a normal-form game is needed.

    Parameters
    ----------
    game : NormalFormGame or MatrixGame
        The game.

    Returns
    -------
    NormalFormGame
        ``game`` itself, or a matrix game's common payoff given to every player.

    Raises
    ------
    GameError
        For any other kind of game.

    Examples
    --------
    >>> T.as_normal_form(T.MatrixGame(np.eye(3)))
    NormalFormGame(n_agents=2, n_actions=(3, 3))
    """
    if isinstance(game, NormalFormGame):
        return game
    if isinstance(game, MatrixGame):
        return NormalFormGame(list(game.payoffs), name=game.name)
    raise GameError(f"expected a NormalFormGame or MatrixGame, got {type(game).__name__}")


def game_from_dict(obj: dict):
    """Inverse of ``to_dict`` for the three game kinds.

    Parameters
    ----------
    obj : dict
        What a game's ``to_dict`` returned (or its JSON, parsed).

    Returns
    -------
    MarkovGame, MatrixGame or NormalFormGame
        The game, as the ``format`` key says.

    Raises
    ------
    GameError
        For an unknown format or inconsistent content.

    Examples
    --------
    >>> from tabular.games import game_from_dict
    >>> game_from_dict({"format": "meharl.matrix_game", "payoff": [[1.0, 0.0], [0.0, 1.0]]})
    MatrixGame(n_agents=2, n_states=1, n_actions=(2, 2), gamma=0.0, dense)
    """
    fmt = obj.get("format") if isinstance(obj, dict) else None
    name = obj.get("name") if isinstance(obj, dict) else None
    if fmt == "meharl.matrix_game":
        return MatrixGame(obj["payoff"], name=name)
    if fmt == "meharl.normal_form_game":
        return NormalFormGame(obj["payoffs"], name=name)
    if fmt == "meharl.markov_game":
        counts = obj["n_actions"]
        S = len(obj["initial"])
        rewards = _finite_array(obj["rewards"], "rewards")
        if not (isinstance(counts, list) and rewards.shape == (S, *counts)):
            raise GameError(f"n_actions {counts!r} and the {S} entries of initial do not match the rewards' "
                            f"shape {rewards.shape} (expected (S, |A^1|, ..., |A^n|))")
        tr = obj["transitions"]
        if "sparse" in tr:
            t = tr["sparse"]
            P = sp.csr_matrix((t["data"], (t["rows"], t["cols"])), shape=(rewards.size, S))
        else:
            P = np.asarray(tr["dense"], dtype=float)
        return MarkovGame(P, rewards, obj["gamma"], obj["initial"], name=name)
    raise GameError(f"unknown game format {fmt!r}; expected meharl.markov_game, meharl.matrix_game "
                    f"or meharl.normal_form_game")


def load_game(path):
    """Read a game written by ``save`` (JSON).

    Parameters
    ----------
    path : str or os.PathLike
        The JSON file.

    Returns
    -------
    MarkovGame, MatrixGame or NormalFormGame
        The game, exactly as saved.

    Raises
    ------
    GameError
        Naming the file and the problem (missing, unreadable, not JSON, not a game).

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     T.MatrixGame([[5.0, -20.0], [-20.0, 10.0]], name="coordination").save(os.path.join(folder, "game.json"))
    ...     print(T.load_game(os.path.join(folder, "game.json")))
    MatrixGame 'coordination'(n_agents=2, n_states=1, n_actions=(2, 2), gamma=0.0, dense)
    """
    obj = parse_file(path, json.load, json.JSONDecodeError, "JSON", GameError)
    try:
        return game_from_dict(obj)
    except KeyError as exc:
        raise GameError(f"{path}: not a complete game file: key {exc.args[0]!r} is missing") from None
    except GameError as exc:
        raise GameError(f"{path}: {exc}") from None
    except (TypeError, IndexError, ValueError) as exc:
        raise GameError(f"{path}: not a valid game file ({exc})") from None


#: Rows per block when :func:`random_markov_game` looks for repeated successors.
DUPLICATE_CHECK_ROWS = 1 << 20


def _repeats_in_rows(cols: np.ndarray) -> np.ndarray:
    """Whether each row of ``cols`` names some column twice."""
    srt = np.sort(cols, axis=1)
    return np.any(srt[:, 1:] == srt[:, :-1], axis=1)


def random_markov_game(n_states: int, n_actions: Sequence[int], *, gamma: float = 0.9,
                       n_successors: int | None = None, sparse: bool = False,
                       reward_scale: float = 1.0, seed=None) -> MarkovGame:
    """A random game for tests and benchmarks.

    Rewards are uniform on ``[-reward_scale, reward_scale]``.  Each state-joint-action pair moves to
    ``n_successors`` states drawn uniformly (all states when ``None``) with Dirichlet(1) probabilities.
    With ``sparse=True`` the kernel is built directly in CSR form: memory is proportional to the
    non-zeros, never ``S x |A| x S``.

    Parameters
    ----------
    n_states : int
        Number of states ``S``.
    n_actions : sequence of int
        Each agent's number of actions.
    gamma : float, optional
        Discount in ``[0, 1)``.
    n_successors : int, optional
        Successor states per state-joint-action pair (all ``S`` when ``None``).
    sparse : bool, optional
        Store the kernel as a CSR matrix.
    reward_scale : float, optional
        Half-width of the reward range.
    seed : int or numpy.random.Generator, optional
        Seed of ``numpy.random.default_rng``: the same seed gives the same game.

    Returns
    -------
    MarkovGame
        Named ``"random"``, with the uniform initial distribution.

    Examples
    --------
    >>> game = T.random_markov_game(100, (3, 3), n_successors=4, sparse=True, seed=0)
    >>> game
    MarkovGame 'random'(n_agents=2, n_states=100, n_actions=(3, 3), gamma=0.9, sparse)
    >>> game.P.nnz  # 4 successors for each of the 100 * 9 pairs
    3600
    """
    rng = np.random.default_rng(seed)
    counts = _check_action_counts(n_actions, "n_actions")
    S, A = int(n_states), int(np.prod(counts))
    r = rng.uniform(-reward_scale, reward_scale, size=(S, *counts))
    k = S if n_successors is None else min(int(n_successors), S)
    rows = S * A
    if k == S and not sparse:
        P = rng.dirichlet(np.ones(S), size=rows)
        return MarkovGame(P, r, gamma, name="random")
    w = rng.exponential(size=(rows, k))
    w /= w.sum(axis=1, keepdims=True)
    cols = np.empty((rows, k), dtype=np.int32)
    if k == S:
        cols[:] = np.arange(S, dtype=np.int32)
    else:
        # k distinct successors per row without an S-sized draw: sample with replacement, then
        # re-draw duplicates until distinct (k << S makes this converge in a couple of passes).  Rows are
        # checked in blocks so the sorted copy never approaches the size of the kernel.
        cols[:] = rng.integers(0, S, size=(rows, k), dtype=np.int32)
        while True:
            dup = np.concatenate([_repeats_in_rows(cols[i:i + DUPLICATE_CHECK_ROWS])
                                  for i in range(0, rows, DUPLICATE_CHECK_ROWS)])
            if not dup.any():
                break
            cols[dup] = rng.integers(0, S, size=(int(dup.sum()), k), dtype=np.int32)
    if sparse:
        index = np.int32 if rows * k < 2 ** 31 else np.int64  # scipy's own choice: no conversion copy
        indptr = np.arange(0, rows * k + 1, k, dtype=index)
        P = sp.csr_matrix((w.ravel(), cols.ravel(), indptr), shape=(rows, S))
    else:
        P = np.zeros((rows, S))
        np.put_along_axis(P, cols.astype(np.intp), w, axis=1)
    return MarkovGame(P, r, gamma, name="random")
