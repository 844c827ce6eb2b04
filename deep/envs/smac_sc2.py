"""The real StarCraft II game through SMAC's own API (``smac.env.StarCraft2Env``), as a batched
environment: the family ``smac-sc2``, for users who have the game.  Without it use ``smac`` (SMAX).

SMAC is installed from its repository (``pip install git+https://github.com/oxwhirl/smac.git``), StarCraft
II into ``~/StarCraftII`` or ``$SC2PATH``, SMAC's maps into its ``Maps/SMAC_Maps``.  The registry's package
named ``smac`` is SMAC3, an unrelated hyper-parameter optimisation library: it is detected and refused.

Each copy is one game (one StarCraft II process) stepped in turn.  Observations, state, masks, actions and
the shaped reward (scaled to 20 per won battle) are SMAC's own (actions: 0 no-op, the only one of a dead
agent, 1 stop, 2-5 move north/south/east/west, 6 + j attack enemy j); the extras are the ``smac`` family's
(own last action and id appended to observations, all last actions to the state).  SMAC's time limit
*truncates* (``continuing_episode``), a battle's end *terminates*; ``info["won"]`` is SMAC's
``battle_won``.  The game is seeded when it starts; it cannot be snapshotted: ``get_state()`` is None (a
resumed training run starts new episodes).
"""
from __future__ import annotations

import importlib.util
import os
from typing import Sequence

import numpy as np
from gymnasium.spaces import Discrete

from ._batch import UnsavableEnv, check_int
from .base import EnvSpec, Step
from .smac import SmacFeatures, check_available

#: SMAC's maps (smac/env/starcraft2/maps/smac_maps.py)
TASKS = ("3m", "8m", "25m", "5m_vs_6m", "8m_vs_9m", "10m_vs_11m", "27m_vs_30m", "MMM", "MMM2", "2s3z", "3s5z",
         "3s5z_vs_3s6z", "3s_vs_3z", "3s_vs_4z", "3s_vs_5z", "2m_vs_1z", "corridor", "6h_vs_8z", "2s_vs_1sc",
         "so_many_baneling", "bane_vs_bane", "2c_vs_64zg")
OPTIONS = ("obs_agent_id", "obs_last_action", "state_last_action", "difficulty")
_INSTALL = "pip install git+https://github.com/oxwhirl/smac.git"


def starcraft2env_class(task: str):
    """SMAC's ``StarCraft2Env``, or a one-line ValueError saying what is missing: SMAC, SMAC rather than
    SMAC3, StarCraft II, or the map."""
    spec = importlib.util.find_spec("smac")
    if spec is None:
        raise ValueError(f"env smac-sc2 needs SMAC ({_INSTALL}) and StarCraft II; without the game use env smac")
    dirs = list(spec.submodule_search_locations or [])
    if not any(os.path.isdir(os.path.join(d, "env", "starcraft2")) for d in dirs):
        raise ValueError(f"the installed 'smac' package ({', '.join(dirs) or spec.origin}) is not SMAC, the "
                         f"StarCraft Multi-Agent Challenge (it is SMAC3, a hyper-parameter optimisation library, "
                         f"if it has smac/facade); env smac-sc2 needs {_INSTALL}")
    sc2 = os.path.expanduser(os.environ.get("SC2PATH", "~/StarCraftII"))
    if not os.path.isdir(sc2):
        raise ValueError(f"StarCraft II not found at {sc2} (set SC2PATH to the game's folder); without the game "
                         f"use env smac")
    map_file = os.path.join(sc2, "Maps", "SMAC_Maps", f"{task}.SC2Map")
    if not os.path.isfile(map_file):
        raise ValueError(f"SMAC map file {map_file} not found (copy SMAC's maps into {sc2}/Maps/SMAC_Maps)")
    try:
        from smac.env import StarCraft2Env
    except ImportError as exc:
        raise ValueError(f"SMAC could not be imported ({exc}); env smac-sc2 needs {_INSTALL}") from None
    return StarCraft2Env


def make(task: str, num_envs: int, seed: int | None = None, **options) -> "StarCraft2Batch":
    """The registry's entry."""
    from .registry import check_options, check_task
    check_task("smac-sc2", task)
    check_options(options, OPTIONS, "env smac-sc2")
    return StarCraft2Batch(task, num_envs=num_envs, seed=seed, **options)


class StarCraft2Batch(UnsavableEnv):
    """``num_envs`` StarCraft II games of the SMAC map ``task``.  A game cannot be saved mid-episode (nor does
    it replay exactly), so a resumed training run starts new episodes."""

    cannot_save = "env smac-sc2 cannot restore a game mid-episode, nor save one (env smac can)"

    def __init__(self, task: str, num_envs: int = 1, seed: int | None = None, *, obs_agent_id: bool = True,
                 obs_last_action: bool = True, state_last_action: bool = True, difficulty: str = "7"):
        cls = starcraft2env_class(task)
        num_envs = check_int(num_envs, "num_envs")
        # SMAC's own last-action features are off: the extras below add them as the smac family does
        self._envs = [cls(map_name=task, difficulty=difficulty, continuing_episode=True, obs_last_action=False,
                          state_last_action=False) for _ in range(num_envs)]
        info = self._envs[0].get_env_info()
        n, A = info["n_agents"], info["n_actions"]
        self._features = f = SmacFeatures(n, A, obs_agent_id, obs_last_action, state_last_action)
        spec = EnvSpec(name=f"smac-sc2:{task}", n_agents=n, obs_dims=(info["obs_shape"] + f.obs_extra,) * n,
                       state_dim=info["state_shape"] + f.state_extra, action_spaces=(Discrete(A),) * n,
                       episode_limit=info["episode_limit"])
        super().__init__(spec, num_envs, seed, [True] * n)
        self._last = np.full((num_envs, n), -1, np.int64)
        self._won = np.zeros(num_envs, bool)

    def _write_obs(self, k: int) -> None:
        e = self._envs[k]
        raw = np.asarray(e.get_obs(), np.float32)[:, None, :]
        obs, state = self._features.build(raw, np.asarray(e.get_state(), np.float32)[None], self._last[k:k + 1])
        self._state[k] = state[0]
        for i, (o, m) in enumerate(zip(obs, np.asarray(e.get_avail_actions(), bool))):
            self._obs[i][k], self._avail[i][k] = o[0], m

    def _reset_copy(self, k: int, seed: int | None) -> None:
        e = self._envs[k]
        if seed is not None:  # SMAC seeds the game when it starts it
            e._seed = seed
            if e._sc2_proc is not None:
                e.full_restart()
        e.reset()
        self._last[k] = -1
        self._write_obs(k)

    def _step_copy(self, k: int, actions: list[np.ndarray]) -> tuple[float, bool]:
        reward, ended, info = self._envs[k].step([int(a) for a in actions])
        self._last[k] = actions
        self._won[k] = bool(info.get("battle_won", False))
        self._write_obs(k)
        return float(reward), bool(ended) and not info.get("episode_limit", False)

    def step(self, actions: Sequence[np.ndarray]) -> Step:
        if self._started:
            check_available(actions, self.spec.action_spaces, self._avail)
        self._won[:] = False
        s = super().step(actions)
        s.info["won"] = self._won & s.done
        return s

    def close(self) -> None:
        for e in self._envs:
            e.close()
