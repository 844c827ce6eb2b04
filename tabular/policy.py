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
        return cls([np.full((game.n_states, k), 1.0 / k) for k in game.n_actions])

    @classmethod
    def deterministic(cls, game, actions) -> "JointPolicy":
        """``actions[i]`` is agent i's action, either one int for every state or an array of shape ``(S,)``."""
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
        """Each row drawn from a symmetric Dirichlet (``concentration = 1`` is uniform on the simplex)."""
        rng = np.random.default_rng(seed)
        return cls([rng.dirichlet(np.full(k, concentration), size=game.n_states) for k in game.n_actions])

    @classmethod
    def from_rows(cls, game, rows: Sequence) -> "JointPolicy":
        """The same action distribution ``rows[i]`` for agent i in every state."""
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
        return self._p[0].shape[0]

    @property
    def n_actions(self) -> tuple[int, ...]:
        return tuple(p.shape[1] for p in self._p)

    def replace(self, agent: int, new: np.ndarray) -> "JointPolicy":
        """A copy with agent ``agent``'s policy replaced."""
        ps = list(self._p)
        ps[agent] = new
        return JointPolicy(ps)

    def check_game(self, game) -> None:
        if self.n_states != game.n_states or self.n_actions != tuple(game.n_actions):
            raise GameError(f"policy has shape S={self.n_states}, actions={self.n_actions}; the game has "
                            f"S={game.n_states}, actions={tuple(game.n_actions)}")

    # --------------------------------------------------------------- derived quantities
    def joint(self) -> np.ndarray:
        """The product ``pi(a|s)``, shape ``(S, |A^1|, ..., |A^n|)``."""
        letters = string.ascii_letters[1:]  # 'a' is kept for the state axis
        n = len(self._p)
        spec = ",".join(f"a{letters[i]}" for i in range(n)) + "->a" + letters[:n]
        return np.einsum(spec, *self._p)

    def entropies(self) -> np.ndarray:
        """``H(pi^i(.|s))`` for every agent and state, shape ``(n, S)``."""
        return np.stack([entropy(p) for p in self._p])

    def entropy_sum(self) -> np.ndarray:
        """``sum_i H(pi^i(.|s))``, shape ``(S,)``."""
        return self.entropies().sum(axis=0)

    def max_abs_diff(self, other: "JointPolicy") -> float:
        return max(float(np.max(np.abs(a - b))) for a, b in zip(self._p, other._p))

    def tolist(self) -> list:
        return [p.tolist() for p in self._p]

    def __repr__(self) -> str:
        return f"JointPolicy(n_agents={len(self)}, n_states={self.n_states}, n_actions={self.n_actions})"
