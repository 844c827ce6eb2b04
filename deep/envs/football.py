"""Google Research Football (``gfootball``, built by ``scripts/install_football.sh``) as a batched environment.

Tasks are GRF academy scenarios by their GRF names, with the settings of the paper's reference code (HARL's
``football.yaml``): ``simple115v2`` observations, ``scoring,checkpoints`` rewards, the left team's
``n_agents`` players controlled (``number_of_left_players_agent_controls``; HARL's defaults: 2 for
academy_run_pass_and_shoot_with_keeper, 11 for academy_corner), each with ``Discrete(19)`` actions.

- **Shared reward**: agent 0's reward, as the reference code takes it (GRF computes one per agent: the
  scoring reward is the team's, but a checkpoint is paid to the agent whose active player carries the ball).
- **Global state** (the paper's construction, App. H.2.4; the same layout as the reference code's): the
  agents' simple115v2 observations differ only in the active-player one-hot, so the state is the part they
  share plus each agent's one-hot, ``104 + 11 * n_agents`` floats::

      [0:88)     left positions (11 x 2), left directions (11 x 2), right positions, right directions
                 (simple115v2 order; -1 for players a scenario does not have)
      [88:94)    ball position (x, y, z), ball direction (x, y, z)
      [94:97)    ball owner one-hot (nobody, left, right)
      [97:104)   game mode one-hot (7)
      [104 + 11 i : 115 + 11 i)   agent i's active player one-hot (11)

- **Episode ends**: GRF ends an academy episode on a goal, the ball going out of play, a change of
  possession (scenarios that ask for it) or at its time limit, ``game_duration`` + 1 steps (GRF reports
  ``steps_left`` = 401 after a reset of a 400-step academy game): ``episode_limit``.  The first three are
  ``terminated``; the time limit is ``truncated``.  On rows where ``done``, ``Step.info`` holds
  ``score`` (left goals, right goals; -1 elsewhere) and ``won`` (left scored more; smac's key, so
  evaluation reports a win rate), beside ``episode_return`` / ``episode_length``; a task's score rate is
  the mean of ``score[:, 0] > 0``.
- **Speed**: one engine copy is slow (benchmarks/README.md), so copies can be stepped in ``workers`` processes
  (:mod:`deep.envs._workers`) that run at the same time; ``workers=0`` keeps them in this process.
- **Seeds**: copy ``k`` of ``reset(seed)`` draws the engine seed of each of its episodes
  (``game_engine_random_seed``, GRF's own range 0..2e9) from ``numpy.random.default_rng(copy_seeds(seed)[k])``,
  so a run repeats exactly.
- **Resume**: ``get_state``/``set_state`` save GRF's engine snapshot and the Python state GRF keeps beside
  it, as plain values (checkpoints load with ``weights_only``; GRF's own ``set_state`` would unpickle), with
  each copy's seed stream and its episode's engine seed; a restored batch continues exactly (tested).

Departures from the paper's GRF set-up: the game is GRF itself (gfootball 2.10.2) with the reference code's
settings, so the numbers are comparable.  The one difference is the time limit, which *truncates* here
(the learner bootstraps) where the reference code *terminates*; returns and score rates are unchanged.
"""
from __future__ import annotations

import functools
import importlib.util
import warnings
from typing import Any

import numpy as np
from gymnasium.spaces import Discrete

from ._batch import LoopedEnv, check_int
from ._workers import CopyPool
from .base import EnvSpec

#: task -> (controlled players by default, players on the left team, game_duration); defaults from HARL's
#: ``harl/envs/football/football_env.py`` (``env_num_agents``), the rest from GRF's scenario files
TASKS = {
    "academy_run_pass_and_shoot_with_keeper": (2, 3, 400),
    "academy_corner": (11, 11, 400),
    "academy_pass_and_shoot_with_keeper": (2, 3, 400),
    "academy_3_vs_1_with_keeper": (3, 4, 400),
    "academy_counterattack_easy": (4, 11, 400),
    "academy_counterattack_hard": (4, 11, 400),
    "academy_single_goal_versus_lazy": (11, 11, 3000),
}
OBS_DIM = 115
#: simple115v2 columns of the active-player one-hot (the only ones in which agents' observations differ)
ACTIVE = slice(97, 108)
N_ACTIONS = 19                      #: GRF's default action set
MAX_ENGINE_SEED = 2_000_000_000     #: the range GRF draws ``game_engine_random_seed`` from itself
GAME_MODE_NORMAL = 0                #: GRF's ``e_GameMode_Normal``


def global_state(obs: np.ndarray) -> np.ndarray:
    """The global state (module docstring layout) of the simple115v2 observations ``obs`` (..., n_agents, 115)."""
    shared = np.concatenate([obs[..., 0, :ACTIVE.start], obs[..., 0, ACTIVE.stop:]], axis=-1)
    actives = obs[..., ACTIVE].reshape(*obs.shape[:-2], -1)
    return np.concatenate([shared, actives], axis=-1)


class FootballCopy:
    """One GRF environment driven one joint action at a time (lives in this process or in a worker)."""

    def __init__(self, task: str, n_agents: int):
        import gfootball.env as football_env   # imported here so a missing gfootball fails only here
        from gfootball.env import wrappers
        self.n_agents = n_agents
        with warnings.catch_warnings():   # GRF's wrappers keep gym's old step API on purpose: no news
            warnings.simplefilter("ignore", DeprecationWarning)
            self._env = football_env.create_environment(
                env_name=task, representation="simple115v2", rewards="scoring,checkpoints",
                number_of_left_players_agent_controls=n_agents, render=False)
        self._game = self._env.unwrapped          # GRF's FootballEnv: raw observations and config
        self._checkpoints = self._env
        while not isinstance(self._checkpoints, wrappers.CheckpointRewardWrapper):
            self._checkpoints = self._checkpoints.env
        self._rng = np.random.default_rng()
        self._engine_seed: int | None = None     # of the episode in progress
        self._prev_mode = GAME_MODE_NORMAL
        self._prev_owner = -1

    def _raw(self) -> dict:
        """GRF's raw observation (the team's: every controlled player's agrees on what is used here)."""
        return self._game.observation()[0]

    def _obs(self, obs) -> np.ndarray:
        return np.asarray(obs, np.float32).reshape(self.n_agents, OBS_DIM)

    def reset(self, seed: int | None) -> np.ndarray:
        """Start an episode (re-seeding this copy's stream when ``seed`` is given): (n_agents, 115) obs."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        return self._start(int(self._rng.integers(MAX_ENGINE_SEED + 1)))

    def _start(self, engine_seed: int) -> np.ndarray:
        """Reset GRF with ``engine_seed``.  GRF decides the order in which its engine processes the two teams
        from the parity of the seed of the first scenario it builds (drawn from Python's unseeded ``random``
        when the environment is created) and keeps it for life; here each episode takes it from its own
        seed by the same rule, so that a copy's episodes depend on its seeds only."""
        self._game._config.update({"game_engine_random_seed": engine_seed,
                                   "reverse_team_processing": bool(engine_seed % 2)})
        self._engine_seed = engine_seed
        obs = self._obs(self._env.reset())
        raw = self._raw()
        self._prev_mode, self._prev_owner = raw["game_mode"], raw["ball_owned_team"]
        return obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, float, bool, bool, tuple[int, int]]:
        """One joint action: (obs, shared reward, done, terminated, score).  ``terminated`` says the episode
        ended in play (goal, out of play, change of possession), so a ``done`` that is not is the time limit."""
        obs, reward, done, info = self._env.step(np.asarray(actions).tolist())
        raw = self._raw()
        cfg = self._game._config.ScenarioConfig()
        mode, owner = raw["game_mode"], raw["ball_owned_team"]
        in_play_end = (
            (cfg.end_episode_on_score and info["score_reward"] != 0)
            or (cfg.end_episode_on_out_of_play and mode != GAME_MODE_NORMAL and self._prev_mode == GAME_MODE_NORMAL)
            or (cfg.end_episode_on_possession_change and owner != -1 and self._prev_owner != -1
                and owner != self._prev_owner))
        self._prev_mode = mode
        if owner != -1:
            self._prev_owner = owner
        # GRF's other end is its time limit (no steps left); one that is neither is an end in play too
        terminated = bool(done and (in_play_end or raw["steps_left"] > 0))
        score = (int(raw["score"][0]), int(raw["score"][1]))
        return self._obs(obs), float(np.atleast_1d(reward)[0]), bool(done), terminated, score

    def get(self) -> dict:
        """A plain snapshot: GRF's engine state (bytes, as uint8), the Python state GRF's own ``get_state``
        would pickle beside it (its env core's three fields, the checkpoints each agent collected), this
        copy's seed stream and its episode's engine seed.  Nothing in it is unpickled on restore."""
        core = self._game._env
        state = core._state
        return {"engine": np.frombuffer(core._env.get_state(b""), np.uint8).copy(),
                "core": [state.previous_score_diff, state.previous_game_mode, state.prev_ball_owned_team],
                "checkpoints": [[int(i), int(c)] for i, c in self._checkpoints._collected_checkpoints.items()],
                "rng": self._rng.bit_generator.state, "engine_seed": self._engine_seed,
                "prev": [self._prev_mode, self._prev_owner]}

    def set(self, snapshot: dict) -> None:
        """Restore :meth:`get`'s snapshot (as GRF's ``set_state`` does, less its unpickling), into a game
        started with the same engine seed (which sets the team processing order, absent from the engine's
        snapshot)."""
        self._start(int(snapshot["engine_seed"]))
        core = self._game._env
        core._env.set_state(np.asarray(snapshot["engine"], np.uint8).tobytes())
        if not core._retrieve_observation():
            raise ValueError("GRF's engine did not accept the snapshot")
        state = core._state
        state.previous_score_diff, state.previous_game_mode, state.prev_ball_owned_team = (
            int(v) for v in snapshot["core"])
        self._checkpoints._collected_checkpoints = {int(i): int(c) for i, c in snapshot["checkpoints"]}
        self._game._cached_observation = None
        # GRF counts an episode's steps beside the engine, and at step 1 writes its trace, which it has already
        # dropped if that step ends the episode: left at the restart's 0, a snapshot taken one step before an
        # episode's end crashed GRF there.  The engine's steps_left gives the count back.
        core._step_count = self._game._config.ScenarioConfig().game_duration + 1 - int(self._raw()["steps_left"])
        self._rng.bit_generator.state = snapshot["rng"]
        self._prev_mode, self._prev_owner = (int(v) for v in snapshot["prev"])

    def close(self) -> None:
        self._env.close()


def _make_copy(task: str, n_agents: int, k: int) -> FootballCopy:
    return FootballCopy(task, n_agents)


def make(task: str, num_envs: int, seed: int | None = None, **options) -> "FootballEnv":
    """The registry's entry; options: ``n_agents`` (controlled players), ``workers`` (processes),
    ``episode_limit`` (a time limit below the scenario's own, as the other families offer)."""
    from .registry import check_options, check_task
    check_task("football", task)
    check_options(options, ("n_agents", "workers", "episode_limit"), f"football task {task}")
    return FootballEnv(task, num_envs=num_envs, seed=seed, **options)


class FootballEnv(LoopedEnv):
    """``num_envs`` copies of the GRF scenario ``task`` with ``n_agents`` controlled left players (the
    task's default when None), stepped in ``workers`` processes (0: in this process)."""

    def __init__(self, task: str, num_envs: int = 1, seed: int | None = None, *, n_agents: int | None = None,
                 workers: int = 0, episode_limit: int | None = None):
        if importlib.util.find_spec("gfootball") is None:
            raise ValueError("env football needs gfootball==2.10.2, which is not installed: run "
                             "scripts/install_football.sh (Debian packages and a C++ build)")
        if task not in TASKS:
            raise ValueError(f"unknown football task {task!r}; valid tasks: {', '.join(TASKS)}")
        default, team, game_duration = TASKS[task]
        n_agents = default if n_agents is None else check_int(n_agents, "n_agents")
        if n_agents > team:
            raise ValueError(f"n_agents must lie in 1..{team} for {task} (its left team), got {n_agents}")
        num_envs = check_int(num_envs, "num_envs")
        workers = check_int(workers, "workers", minimum=0)
        if workers > num_envs:
            raise ValueError(f"workers must lie in 0..{num_envs} (num_envs), got {workers}")
        limit = game_duration + 1 if episode_limit is None else check_int(episode_limit, "episode_limit")
        if limit > game_duration + 1:
            raise ValueError(f"episode_limit must lie in 1..{game_duration + 1} for {task} (GRF's own time "
                             f"limit), got {episode_limit}")
        spec = EnvSpec(name=f"football:{task}", n_agents=n_agents, obs_dims=(OBS_DIM,) * n_agents,
                       state_dim=OBS_DIM - ACTIVE.stop + ACTIVE.start + 11 * n_agents,
                       action_spaces=(Discrete(N_ACTIONS),) * n_agents, episode_limit=limit)
        super().__init__(spec, num_envs, seed, [True] * n_agents)
        self._pool = CopyPool(functools.partial(_make_copy, task, n_agents), num_envs, workers)
        self._score = np.full((num_envs, 2), -1, np.int64)

    @property
    def worker_pids(self) -> list[int]:
        """The worker processes' ids (empty with ``workers=0``)."""
        return self._pool.pids

    def _write(self, k: int, obs: np.ndarray) -> None:
        for i in range(self.spec.n_agents):
            self._obs[i][k] = obs[i]
        self._state[k] = global_state(obs)

    def _reset_batch(self, ks, seeds) -> None:
        for k, obs in self._pool.call("reset", {int(k): (s,) for k, s in zip(ks, seeds)}).items():
            self._write(k, obs)

    def _reset_copy(self, k: int, seed: int | None) -> None:
        self._reset_batch([k], [seed])

    def _step_batch(self, acts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        joint = np.stack(acts, axis=1)      # (num_envs, n_agents)
        results = self._pool.call("step", {k: (joint[k],) for k in range(self.num_envs)})
        reward = np.zeros(self.num_envs, np.float64)
        terminated = np.zeros(self.num_envs, bool)
        for k, (obs, reward[k], done, terminated[k], score) in results.items():
            if done and not terminated[k] and self._t[k] + 1 != self.spec.episode_limit:
                raise RuntimeError(f"GRF ended copy {k}'s episode by time after {self._t[k] + 1} steps, "
                                   f"not episode_limit = {self.spec.episode_limit}")
            self._write(k, obs)
            self._score[k] = score
        return reward, terminated

    def _episode_info(self, done: np.ndarray) -> dict:
        return {"score": np.where(done[:, None], self._score, -1),
                "won": done & (self._score[:, 0] > self._score[:, 1])}

    def _get_copy(self, k: int) -> Any:
        return self._pool.call("get", {k: ()})[k]

    def _set_copy(self, k: int, snapshot: Any) -> None:
        self._pool.call("set", {k: (snapshot,)})

    def close(self) -> None:
        self._pool.close()
