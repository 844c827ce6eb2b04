"""The original Bi-DexHands tasks on NVIDIA Isaac Gym, for users who have both (``backend="isaacgym"``).

Neither installs from a package registry: Isaac Gym Preview 4 comes from https://developer.nvidia.com/isaac-gym
(``pip install -e isaacgym/python``) and Bi-DexHands from https://github.com/PKU-MARL/DexterousHands
(``pip install -e .``).  The task is built as Bi-DexHands' ``parse_task`` builds a "MultiAgent" task (its
yaml config, ``sim_params`` with dt 1/60 and the yaml's PhysX settings, the whole hand as one agent each)
and stepped through its ``MultiVecTaskPython`` wrapper (observations clipped to +-5).  Differences from the
MuJoCo backend, all Bi-DexHands' own behaviour: a copy that ends is reset at the start of the *next* step, so
on done rows ``obs`` is the finished episode's last observation (as ``final_obs``) and the next episode's
first one is never returned; the time limit and a dropped object both raise Bi-DexHands' one ``reset_buf``
(a done row is ``truncated`` when the episode reached its length, ``terminated`` otherwise); Isaac Gym's
state cannot be saved, so there is no ``get_state``/``set_state``.  Not exercised by the tests (Isaac Gym
installs from no package registry); the MuJoCo backend is the tested one.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np
from gymnasium.spaces import Box

from .._batch import check_actions, check_int
from ..base import BatchedMultiAgentEnv, EnvSpec, Reset, Step

#: task -> (Bi-DexHands module, class, config file)
ORIGINALS = {
    "hand_over": ("shadow_hand_over", "ShadowHandOver", "ShadowHandOver.yaml"),
    "catch_underarm": ("shadow_hand_catch_underarm", "ShadowHandCatchUnderarm", "ShadowHandCatchUnderarm.yaml"),
    "two_catch_underarm": ("shadow_hand_two_catch_underarm", "ShadowHandTwoCatchUnderarm",
                           "ShadowHandTwoCatchUnderarm.yaml"),
    "lift_underarm": ("shadow_hand_lift_underarm", "ShadowHandLiftUnderarm", "ShadowHandLiftUnderarm.yaml"),
    "catch_abreast": ("shadow_hand_catch_abreast", "ShadowHandCatchAbreast", "ShadowHandCatchAbreast.yaml"),
    "catch_over2underarm": ("shadow_hand_catch_over2underarm", "ShadowHandCatchOver2Underarm",
                            "ShadowHandCatchOver2Underarm.yaml"),
    "hand_pen": ("shadow_hand_pen", "ShadowHandPen", "ShadowHandPen.yaml"),
    "door_open_outward": ("shadow_hand_door_open_outward", "ShadowHandDoorOpenOutward",
                          "ShadowHandDoorOpenOutward.yaml"),
    "door_open_inward": ("shadow_hand_door_open_inward", "ShadowHandDoorOpenInward", "ShadowHandDoorOpenInward.yaml"),
    "door_close_inward": ("shadow_hand_door_close_inward", "ShadowHandDoorCloseInward",
                          "ShadowHandDoorCloseInward.yaml"),
}
INSTALL = ("backend 'isaacgym' needs NVIDIA Isaac Gym Preview 4 (https://developer.nvidia.com/isaac-gym) and "
           "Bi-DexHands (https://github.com/PKU-MARL/DexterousHands), neither of which is installed")


def require_isaac() -> None:
    """A one-line ValueError naming what to install when ``isaacgym`` or ``bidexhands`` is missing."""
    missing = [m for m in ("isaacgym", "bidexhands") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(INSTALL.replace("neither of which is installed", f"missing: {', '.join(missing)}"))


class IsaacBiDexHandsEnv(BatchedMultiAgentEnv):
    """``num_envs`` copies of Bi-DexHands' own ``task`` on Isaac Gym (PhysX on ``device``)."""

    def __init__(self, task: str, num_envs: int = 1, seed: int | None = None, *, episode_limit: int | None = None,
                 device: str = "cuda:0"):
        require_isaac()
        if task not in ORIGINALS:
            raise ValueError(f"unknown bimanual task {task!r}; valid tasks: {', '.join(ORIGINALS)}")
        from isaacgym import gymapi, gymutil  # Isaac Gym must be imported before torch
        import bidexhands
        import torch
        import yaml
        from bidexhands.tasks.hand_base.multi_vec_task import MultiVecTaskPython
        module, cls, cfg_file = ORIGINALS[task]
        task_cls = getattr(importlib.import_module(f"bidexhands.tasks.{module}"), cls)
        with open(os.path.join(os.path.dirname(bidexhands.__file__), "cfg", cfg_file)) as f:
            cfg = yaml.safe_load(f)
        cfg["env"]["numEnvs"] = self.num_envs = check_int(num_envs, "num_envs")
        if episode_limit is not None:
            cfg["env"]["episodeLength"] = check_int(episode_limit, "episode_limit")
        cfg["seed"] = cfg["env"]["seed"] = -1 if seed is None else int(seed)
        cfg["env"]["asset"]["assetRoot"] = os.path.join(os.path.dirname(bidexhands.__file__), os.pardir, "assets")
        sim_params = gymapi.SimParams()
        sim_params.dt = 1.0 / 60.0
        sim_params.use_gpu_pipeline = sim_params.physx.use_gpu = device.startswith("cuda")
        gymutil.parse_sim_config(cfg["sim"], sim_params)
        device_type, _, device_id = device.partition(":")
        self._torch = torch
        self._task = task_cls(cfg=cfg, sim_params=sim_params, physics_engine=gymapi.SIM_PHYSX,
                              device_type=device_type, device_id=int(device_id or 0), headless=True,
                              agent_index=[[[0, 1, 2, 3, 4, 5]], [[0, 1, 2, 3, 4, 5]]], is_multi_agent=True)
        self._env = MultiVecTaskPython(self._task, device)
        n_act = self._task.num_actions
        obs_dim = self._env.num_observations
        self.spec = EnvSpec(name=f"bimanual-isaacgym:{task}", n_agents=2, obs_dims=(obs_dim, obs_dim),
                            state_dim=self._env.nums_share_observations,
                            action_spaces=(Box(-1.0, 1.0, (n_act,), np.float32),) * 2,
                            episode_limit=int(self._task.max_episode_length))
        self._return = np.zeros(self.num_envs)

    def _numpy(self, x) -> np.ndarray:
        return x.detach().cpu().numpy()

    def reset(self, seed: int | None = None) -> Reset:
        if seed is not None:
            from isaacgym.torch_utils import set_seed
            set_seed(int(seed))
        obs, state, _ = self._env.reset()
        self._return[:] = 0.0
        return Reset(obs=[self._numpy(obs[:, i]) for i in range(2)], state=self._numpy(state[:, 0]),
                     avail=[None, None])

    def step(self, actions) -> Step:
        acts = check_actions(actions, self.spec.action_spaces, self.num_envs)
        torch_acts = [self._torch.as_tensor(a, device=self._env.rl_device) for a in acts]
        progress = self._numpy(self._task.progress_buf).copy()
        obs, state, reward, done, _, _ = self._env.step(torch_acts)
        reward = self._numpy(reward[:, 0, 0]).astype(np.float32)
        done = self._numpy(done[:, 0]).astype(bool)
        success = self._numpy(self._task.successes).astype(float)
        self._return += reward
        truncated = done & (progress + 1 >= self.spec.episode_limit)
        obs = [self._numpy(obs[:, i]) for i in range(2)]
        state = self._numpy(state[:, 0])
        info = {"episode_return": np.where(done, self._return, np.nan),
                "episode_length": np.where(done, progress + 1, 0), "success": np.where(done, success, np.nan)}
        self._return[done] = 0.0
        return Step(obs=obs, state=state, avail=[None, None], reward=reward, terminated=done & ~truncated,
                    truncated=truncated, final_obs=obs, final_state=state, final_avail=[None, None], info=info)
