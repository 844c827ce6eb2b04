"""Any ``tabular.MarkovGame`` / ``MatrixGame`` as a batched environment, vectorised in numpy.

Every agent observes the one-hot state and the global state is the same one-hot vector; actions are
Discrete (all available).  Episodes start from the game's initial distribution ``d``.  With ``gamma = 0``
(a matrix game) an episode is one step and *terminates*; with ``gamma > 0`` it never terminates and is
*truncated* at ``episode_limit``, so a learner that bootstraps truncations optimises exactly the engine's
discounted objective ``J`` (eq. 2) whatever the limit.  The deep and exact halves therefore solve the same
problem and their policies can be compared with :func:`tabular.qre_gap` (see ``deep.run.evaluate``).
Each copy draws its initial states and transitions from its own generator, seeded like every family's
copies (:func:`deep.envs.base.copy_seeds`).

Departures: none.  "paper-matrix" is the paper's matrix game exactly (:func:`tabular.paper_matrix_game`),
so returns are the paper's.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp
from gymnasium.spaces import Discrete

from tabular import MarkovGame

from .base import BatchedMultiAgentEnv, EnvSpec, Reset, Step, copy_seeds

TASKS = ("paper-matrix", "<path to a saved game: .json, or a Gambit .nfg>")


def load_task_game(task: str) -> MarkovGame:
    """The paper's matrix game, or a cooperative game saved as JSON (``game.save``) or as a Gambit ``.nfg``
    file with a common payoff; a ValueError naming the problem otherwise."""
    import os

    from deep.config import is_game_file
    from tabular import NormalFormGame, load_game, read_nfg
    from tabular.paper import paper_matrix_game

    if task == "paper-matrix":
        return paper_matrix_game()
    if not (is_game_file(task) and os.path.isfile(task)):
        raise ValueError(f"unknown tabular task {task!r}; valid tasks: paper-matrix, or the path of an "
                         f"existing game file (.json written by game.save, or a Gambit .nfg)")
    game = read_nfg(task) if task.lower().endswith(".nfg") else load_game(task)
    if isinstance(game, NormalFormGame):
        raise ValueError(f"{task}: a general-sum game (one payoff per player); the deep environments need a "
                         f"cooperative game with one common payoff")
    return game


def make(task: str, num_envs: int, seed: int | None = None, **options) -> "TabularGameEnv":
    """The registry's entry: the paper's matrix game, or a game saved as JSON or ``.nfg``."""
    from .registry import check_options
    check_options(options, ("episode_limit",), "env tabular")
    return TabularGameEnv(load_task_game(task), num_envs=num_envs, seed=seed, **options)


class TabularGameEnv(BatchedMultiAgentEnv):
    """``num_envs`` copies of ``game``; ``seed`` fixes every initial state and transition drawn."""

    def __init__(self, game: MarkovGame, num_envs: int = 1, episode_limit: int | None = None, seed=None):
        if not isinstance(game, MarkovGame):
            raise ValueError(f"TabularGameEnv needs a tabular.MarkovGame or MatrixGame, got {type(game).__name__}")
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if game.gamma == 0.0:
            limit = 1
            if episode_limit not in (None, 1):
                raise ValueError(f"a game with gamma = 0 has one-step episodes; episode_limit={episode_limit} "
                                 f"is not allowed")
        else:
            limit = 100 if episode_limit is None else int(episode_limit)
            if limit < 1:
                raise ValueError(f"episode_limit must be >= 1, got {episode_limit}")
        self.game = game
        self.num_envs = int(num_envs)
        S = game.n_states
        self.spec = EnvSpec(name=f"tabular:{game.name or 'game'}", n_agents=game.n_agents,
                            obs_dims=(S,) * game.n_agents, state_dim=S,
                            action_spaces=tuple(Discrete(k) for k in game.n_actions), episode_limit=limit)
        self._eye = np.eye(S, dtype=np.float32)
        self._d_cdf = np.cumsum(game.d)
        self._dense_cdf = None if sp.issparse(game.P) else np.cumsum(game.P, axis=1)
        self._seed_copies(seed)
        self._s = np.zeros(self.num_envs, dtype=np.int64)
        self._t = np.zeros(self.num_envs, dtype=np.int64)

    # ------------------------------------------------------------------ helpers
    def _seed_copies(self, seed) -> None:
        """Copy ``k`` draws from its own generator, seeded with ``copy_seeds(seed, num_envs)[k]`` (as every
        family's copies are), so its episodes do not depend on how many copies run beside it."""
        seeds = copy_seeds(seed, self.num_envs) if seed is not None else [None] * self.num_envs
        self._rngs = [np.random.default_rng(s) for s in seeds]

    def _draw(self, cdf: np.ndarray, copies: np.ndarray) -> np.ndarray:
        """One index per row of ``cdf`` (rows are cumulative distributions), row j drawn by copy ``copies[j]``."""
        u = np.fromiter((self._rngs[k].random() for k in copies), float, copies.size) * cdf[:, -1]
        return np.minimum((cdf <= u[:, None]).sum(axis=1), cdf.shape[1] - 1)

    def _initial(self, copies: np.ndarray) -> np.ndarray:
        return self._draw(np.broadcast_to(self._d_cdf, (copies.size, self._d_cdf.size)), copies)

    def _view(self, s: np.ndarray) -> Reset:
        onehot = self._eye[s]
        n = self.game.n_agents
        return Reset(obs=[onehot.copy() for _ in range(n)], state=onehot,
                     avail=[np.ones((s.size, k), dtype=bool) for k in self.game.n_actions])

    # ------------------------------------------------------------------ interface
    def reset(self, seed: int | None = None) -> Reset:
        if seed is not None:
            self._seed_copies(seed)
        self._s = self._initial(np.arange(self.num_envs))
        self._t[:] = 0
        return self._view(self._s)

    def step(self, actions: Sequence[np.ndarray]) -> Step:
        g = self.game
        if len(actions) != g.n_agents:
            raise ValueError(f"need one action array per agent ({g.n_agents}), got {len(actions)}")
        acts = []
        for i, (a, k) in enumerate(zip(actions, g.n_actions)):
            a = np.asarray(a).reshape(-1)
            if a.shape != (self.num_envs,) or not np.issubdtype(a.dtype, np.integer):
                raise ValueError(f"agent {i}'s actions must be {self.num_envs} integers, got {a.dtype} {a.shape}")
            if a.min() < 0 or a.max() >= k:
                raise ValueError(f"agent {i} has actions 0..{k - 1}, got {a.tolist()}")
            acts.append(a)
        reward = g.r[(self._s, *acts)].astype(np.float32)
        row = np.ravel_multi_index((self._s, *acts), g.joint_shape)
        cdf = self._dense_cdf[row] if self._dense_cdf is not None else np.cumsum(g.P[row].toarray(), axis=1)
        nxt = self._draw(cdf, np.arange(self.num_envs))
        self._t += 1
        terminated = np.full(self.num_envs, g.gamma == 0.0)
        truncated = ~terminated & (self._t >= self.spec.episode_limit)
        done = terminated | truncated
        final = self._view(nxt)
        if done.any():
            nxt = nxt.copy()
            nxt[done] = self._initial(np.flatnonzero(done))
            self._t[done] = 0
        self._s = nxt
        view = self._view(nxt)
        return Step(obs=view.obs, state=view.state, avail=view.avail, reward=reward, terminated=terminated,
                    truncated=truncated, final_obs=final.obs, final_state=final.state, final_avail=final.avail)

    # ------------------------------------------------------------------ exact resume
    def get_state(self) -> dict:
        """Everything needed to continue these episodes exactly (used by checkpoints)."""
        return {"s": self._s.copy(), "t": self._t.copy(), "rng": [g.bit_generator.state for g in self._rngs]}

    def set_state(self, state: dict) -> Reset:
        if len(state["rng"]) != self.num_envs:
            raise ValueError(f"snapshot holds {len(state['rng'])} copies, this batch has {self.num_envs}")
        self._s, self._t = np.array(state["s"]), np.array(state["t"])
        for g, st in zip(self._rngs, state["rng"]):
            g.bit_generator.state = st
        return self._view(self._s)

