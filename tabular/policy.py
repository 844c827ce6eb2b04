"""Per-agent tabular policies and their product, the joint policy (agents act independently)."""
from __future__ import annotations

import string
from typing import Sequence

import numpy as np

from ._math import entropy
from .games import GameError, check_distribution_rows


class JointPolicy:
    """A product policy ``pi(a|s) = prod_i pi^i(a^i|s)``.

    Indexable per agent: ``policy[i]`` is agent i's array of shape ``(S, |A^i|)`` (read-only; build a new
    policy with :meth:`replace` to change one agent).  ``len(policy)`` is the number of agents.

    Parameters
    ----------
    policies : sequence of array_like
        Agent i's action distributions, shape ``(S, |A^i|)``, one row per state.

    Raises
    ------
    GameError
        When a row is not a distribution or the agents disagree on ``S``.

    Examples
    --------
    >>> pi = T.JointPolicy([[[0.5, 0.5]], [[0.2, 0.3, 0.5]]])
    >>> pi
    JointPolicy(n_agents=2, n_states=1, n_actions=(2, 3))
    >>> pi.joint()[0]
    array([[0.1 , 0.15, 0.25],
           [0.1 , 0.15, 0.25]])
    """

    def __init__(self, policies: Sequence):
        if isinstance(policies, np.ndarray) or len(policies) == 0:
            raise GameError("a JointPolicy needs a non-empty sequence of per-agent arrays of shape (S, |A^i|)")
        arrs = []
        for i, p in enumerate(policies):
            a = np.array(p, dtype=float)
            if a.ndim != 2:
                raise GameError(f"agent {i}'s policy must have shape (S, |A^{i}|); got shape {a.shape}")
            if not np.all(np.isfinite(a)):
                raise GameError(f"agent {i}'s policy contains NaN or inf")
            check_distribution_rows(a, f"agent {i}'s policy", lambda s: f"state {s}")
            a.setflags(write=False)
            arrs.append(a)
        S = arrs[0].shape[0]
        for i, a in enumerate(arrs):
            if a.shape[0] != S:
                raise GameError(f"agent {i}'s policy covers {a.shape[0]} states, agent 0's covers {S}")
        self._p = tuple(arrs)

    # --------------------------------------------------------------- constructors
    @classmethod
    def uniform(cls, game) -> "JointPolicy":
        """Every agent uniform over its actions in every state.

        Parameters
        ----------
        game : MarkovGame or NormalFormGame
            Gives ``n_states`` and ``n_actions``.

        Returns
        -------
        JointPolicy

        Examples
        --------
        >>> T.JointPolicy.uniform(T.MatrixGame(np.zeros((2, 4))))[1]
        array([[0.25, 0.25, 0.25, 0.25]])
        """
        return cls([np.full((game.n_states, k), 1.0 / k) for k in game.n_actions])

    @classmethod
    def deterministic(cls, game, actions) -> "JointPolicy":
        """A pure joint policy.

        Parameters
        ----------
        game : MarkovGame or NormalFormGame
            Gives ``n_states`` and ``n_actions``.
        actions : sequence
            ``actions[i]`` is agent i's action, either one int for every state or an array of shape ``(S,)``.

        Returns
        -------
        JointPolicy

        Examples
        --------
        >>> game = T.random_markov_game(2, (2, 3), seed=0)
        >>> T.JointPolicy.deterministic(game, [0, [2, 1]])[1]
        array([[0., 0., 1.],
               [0., 1., 0.]])
        """
        if len(actions) != game.n_agents:
            raise GameError(f"need one action choice per agent ({game.n_agents}), got {len(actions)}")
        out = []
        for i, (k, act) in enumerate(zip(game.n_actions, actions)):
            act = np.broadcast_to(np.asarray(act, dtype=int), (game.n_states,))
            if act.min() < 0 or act.max() >= k:
                raise GameError(f"agent {i} has actions 0..{k - 1}; got {act.tolist()}")
            p = np.zeros((game.n_states, k))
            p[np.arange(game.n_states), act] = 1.0
            out.append(p)
        return cls(out)

    @classmethod
    def random(cls, game, seed=None, concentration: float = 1.0) -> "JointPolicy":
        """Each row drawn from a symmetric Dirichlet (``concentration = 1`` is uniform on the simplex).

        Parameters
        ----------
        game : MarkovGame or NormalFormGame
            Gives ``n_states`` and ``n_actions``.
        seed : int or numpy.random.Generator, optional
            Seed of ``numpy.random.default_rng``.
        concentration : float, optional
            The Dirichlet parameter.

        Returns
        -------
        JointPolicy

        Examples
        --------
        >>> pi = T.JointPolicy.random(T.random_markov_game(5, (2, 3), seed=0), seed=0)
        >>> pi[1].shape, np.round(pi[1].sum(axis=1), 4)
        ((5, 3), array([1., 1., 1., 1., 1.]))
        """
        rng = np.random.default_rng(seed)
        return cls([rng.dirichlet(np.full(k, concentration), size=game.n_states) for k in game.n_actions])

    @classmethod
    def from_rows(cls, game, rows: Sequence) -> "JointPolicy":
        """The same action distribution ``rows[i]`` for agent i in every state.

        Parameters
        ----------
        game : MarkovGame or NormalFormGame
            Gives ``n_states``.
        rows : sequence of array_like
            One distribution per agent.

        Returns
        -------
        JointPolicy

        Examples
        --------
        >>> game = T.random_markov_game(2, (3, 3), seed=0)
        >>> T.JointPolicy.from_rows(game, [(0.6, 0.2, 0.2)] * 2)[0]
        array([[0.6, 0.2, 0.2],
               [0.6, 0.2, 0.2]])
        """
        return cls([np.tile(np.asarray(r, dtype=float), (game.n_states, 1)) for r in rows])

    # --------------------------------------------------------------- access
    def __getitem__(self, i: int) -> np.ndarray:
        return self._p[i]

    def __len__(self) -> int:
        return len(self._p)

    def __iter__(self):
        return iter(self._p)

    @property
    def n_states(self) -> int:
        """Number of states ``S``.

        Examples
        --------
        >>> T.JointPolicy([np.full((4, 2), 0.5)]).n_states
        4
        """
        return self._p[0].shape[0]

    @property
    def n_actions(self) -> tuple[int, ...]:
        """Each agent's number of actions.

        Examples
        --------
        >>> T.JointPolicy([[[1.0, 0.0]], [[1.0, 0.0, 0.0]]]).n_actions
        (2, 3)
        """
        return tuple(p.shape[1] for p in self._p)

    def replace(self, agent: int, new: np.ndarray) -> "JointPolicy":
        """A copy with agent ``agent``'s policy replaced.

        Parameters
        ----------
        agent : int
            Which agent.
        new : array_like
            Its new policy, shape ``(S, |A^agent|)``.

        Returns
        -------
        JointPolicy

        Examples
        --------
        >>> pi = T.JointPolicy.uniform(T.MatrixGame(np.zeros((2, 2))))
        >>> pi.replace(1, [[1.0, 0.0]])[1]
        array([[1., 0.]])
        """
        ps = list(self._p)
        ps[agent] = new
        return JointPolicy(ps)

    def check_game(self, game) -> None:
        """Check that the policy fits ``game`` (states and action counts).

        Parameters
        ----------
        game : MarkovGame or NormalFormGame
            The game.

        Raises
        ------
        GameError
            Naming both shapes when they differ.

        Examples
        --------
        >>> T.JointPolicy([[[0.5, 0.5]]]).check_game(T.MatrixGame(np.zeros(3)))
        Traceback (most recent call last):
        ...
        tabular.games.GameError: policy has shape S=1, actions=(2,); the game has S=1, actions=(3,)
        """
        if self.n_states != game.n_states or self.n_actions != tuple(game.n_actions):
            raise GameError(f"policy has shape S={self.n_states}, actions={self.n_actions}; the game has "
                            f"S={game.n_states}, actions={tuple(game.n_actions)}")

    # --------------------------------------------------------------- derived quantities
    def joint(self) -> np.ndarray:
        """The product ``pi(a|s)``.

        Returns
        -------
        ndarray
            Shape ``(S, |A^1|, ..., |A^n|)``.

        Examples
        --------
        >>> T.JointPolicy([[[0.5, 0.5]], [[1.0, 0.0]]]).joint()
        array([[[0.5, 0. ],
                [0.5, 0. ]]])
        """
        letters = string.ascii_letters[1:]  # 'a' is kept for the state axis
        n = len(self._p)
        spec = ",".join(f"a{letters[i]}" for i in range(n)) + "->a" + letters[:n]
        return np.einsum(spec, *self._p)

    def entropies(self) -> np.ndarray:
        """``H(pi^i(.|s))`` for every agent and state (natural log).

        Returns
        -------
        ndarray
            Shape ``(n, S)``.

        Examples
        --------
        >>> np.round(T.JointPolicy([[[0.5, 0.5]], [[0.9, 0.1]]]).entropies(), 4)
        array([[0.6931],
               [0.3251]])
        """
        return np.stack([entropy(p) for p in self._p])

    def entropy_sum(self) -> np.ndarray:
        """``sum_i H(pi^i(.|s))``.

        Returns
        -------
        ndarray
            Shape ``(S,)``.

        Examples
        --------
        >>> np.round(T.JointPolicy([[[0.5, 0.5]], [[0.5, 0.5]]]).entropy_sum(), 4)
        array([1.3863])
        """
        return self.entropies().sum(axis=0)

    def max_abs_diff(self, other: "JointPolicy") -> float:
        """The largest change of any probability between two policies of the same shape.

        Parameters
        ----------
        other : JointPolicy
            The policy to compare with.

        Returns
        -------
        float

        Examples
        --------
        >>> a, b = T.JointPolicy([[[0.5, 0.5]]]), T.JointPolicy([[[0.7, 0.3]]])
        >>> round(a.max_abs_diff(b), 4)
        0.2
        """
        return max(float(np.max(np.abs(a - b))) for a, b in zip(self._p, other._p))

    def tolist(self) -> list:
        """The per-agent arrays as nested lists (for JSON).

        Returns
        -------
        list

        Examples
        --------
        >>> T.JointPolicy([[[0.5, 0.5]]]).tolist()
        [[[0.5, 0.5]]]
        """
        return [p.tolist() for p in self._p]

    def __repr__(self) -> str:
        return f"JointPolicy(n_agents={len(self)}, n_states={self.n_states}, n_actions={self.n_actions})"
