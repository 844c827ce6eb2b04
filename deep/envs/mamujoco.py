"""MAMuJoCo (``gymnasium_robotics.mamujoco_v1``) as a batched environment, for the paper's tasks.

Each copy is a ``MultiAgentMujocoEnv``: its agent factorisation maps the agents' actions onto the robot's
actuators and builds the k-hop observations, while the physics is stepped through the underlying
Gymnasium MuJoCo env directly (its ``TimeLimit``/checker wrappers are replaced by this batch's own time
limit).  The shared reward is the robot's reward, the global state its full observation, and an episode
is truncated after ``episode_limit`` (1000) steps; falling (Walker2d, Ant) terminates it.

Observation modes (``obs_mode``): ``"full+id"``, the reference runs' setting, gives every agent the full
observation plus a one-hot agent id; ``"khop"`` gives gymnasium-robotics' k-hop partial observations
(``k`` = ``agent_obsk``).  Splits that gymnasium-robotics lacks are custom factorisations of its own
joint graph: one joint per agent for Walker2d 6x1, Ant 8x1 and HumanoidStandup 17x1, and the public
reference code's pairing {bfoot, bshin}, {bthigh, ffoot}, {fshin, fthigh} for HalfCheetah 3x2.

Departures from the paper's MAMuJoCo (gym v2 models on mujoco-py 2, through HARL) that change the numbers:
the robots are Gymnasium's v5 models on MuJoCo 3 (gymnasium-robotics 1.4.2, mujoco 3.3.7), so

- Walker2d: both feet have friction 1.9 (v2: 0.9 on the right foot and 1.9 on the left);
- Ant: its observation has 105 entries (v2: 111, with contact forces that mujoco-py 2 always read as zero),
  and its contact cost is now active, so its reward is lower for the same gait;
- HumanoidStandup: its observation has 348 entries (v2: 376);
- ManyAgentSwimmer 10x2 is a different model: timestep 0.01, so 0.04 s per step (0.005 and 0.02 s in the
  reference's template), a different task rather than a variant;
- observations are not standardised: the reference code scales every agent observation and the state by
  that vector's own mean and standard deviation, which changes what the networks see but not the returns.
"""
from __future__ import annotations

import os
import tempfile
import zlib
from typing import Any

import numpy as np
from gymnasium.spaces import Box

from ._batch import LoopedEnv, check_int
from .base import EnvSpec

#: task -> (gymnasium-robotics scenario, agent_conf, custom partition: None (built in), "single" (one
#: joint per agent, in actuator order) or groups of joint labels)
TASKS: dict[str, tuple[str, str, Any]] = {
    "HalfCheetah-2x3": ("HalfCheetah", "2x3", None),
    "HalfCheetah-3x2": ("HalfCheetah", "3x2", (("bfoot", "bshin"), ("bthigh", "ffoot"), ("fshin", "fthigh"))),
    "HalfCheetah-6x1": ("HalfCheetah", "6x1", None),
    "Walker2d-2x3": ("Walker2d", "2x3", None),
    "Walker2d-6x1": ("Walker2d", "6x1", "single"),
    "Ant-2x4": ("Ant", "2x4", None),
    "Ant-4x2": ("Ant", "4x2", None),
    "Ant-8x1": ("Ant", "8x1", "single"),
    "HumanoidStandup-17x1": ("HumanoidStandup", "17x1", "single"),
    "ManyAgentSwimmer-10x2": ("ManySegmentSwimmer", "10x2", None),
}
OBS_MODES = ("full+id", "khop")


def _factorization(scenario: str, custom) -> dict:
    """A gymnasium-robotics ``agent_factorization`` splitting the scenario's whole joint graph."""
    from gymnasium_robotics.envs.multiagent_mujoco.obsk import get_parts_and_edges
    (nodes,), edges, globals_ = get_parts_and_edges(scenario, None)
    if custom == "single":
        partition = [(n,) for n in sorted(nodes, key=lambda n: n.act_ids)]
    else:
        by_label = {n.label: n for n in nodes}
        partition = [tuple(by_label[label] for label in group) for group in custom]
    return {"partition": partition, "edges": edges, "globals": globals_}


def _make_copies(scenario: str, conf: str, custom, k: int, n: int) -> list:
    """``n`` independent ``MultiAgentMujocoEnv`` copies of one task."""
    import gymnasium
    from gymnasium_robotics.envs.multiagent_mujoco import many_segment_swimmer
    from gymnasium_robotics.envs.multiagent_mujoco.mujoco_multi import MultiAgentMujocoEnv
    kwargs = {"agent_factorization": _factorization(scenario, custom)} if custom else {}
    if scenario != "ManySegmentSwimmer":
        return [MultiAgentMujocoEnv(scenario, conf, agent_obsk=k, **kwargs) for _ in range(n)]
    # gymnasium-robotics would write this model into its own package folder (racing other processes);
    # write it once to a private temporary folder instead
    n_agents, per_agent = (int(x) for x in conf.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        xml = os.path.join(tmp, "swimmer.xml")
        many_segment_swimmer.gen_asset(n_segs=n_agents * per_agent, asset_path=xml)
        return [MultiAgentMujocoEnv(scenario, conf, agent_obsk=k,
                                    gym_env=gymnasium.make("Swimmer-v5", xml_file=xml)) for _ in range(n)]


def make(task: str, num_envs: int, seed: int | None = None, **options) -> "MaMuJoCoEnv":
    """The registry's entry."""
    from .registry import check_options, check_task
    check_task("mamujoco", task)
    check_options(options, ("obs_mode", "k", "episode_limit"), "env mamujoco")
    return MaMuJoCoEnv(task, num_envs=num_envs, seed=seed, **options)


class MaMuJoCoEnv(LoopedEnv):
    """``num_envs`` copies of a MAMuJoCo ``task`` (a key of :data:`TASKS`)."""

    def __init__(self, task: str, num_envs: int = 1, seed: int | None = None, *, obs_mode: str = "full+id",
                 k: int = 1, episode_limit: int = 1000):
        num_envs = check_int(num_envs, "num_envs")
        if task not in TASKS:
            raise ValueError(f"unknown MAMuJoCo task {task!r}; valid tasks: {', '.join(TASKS)}")
        if obs_mode not in OBS_MODES:
            raise ValueError(f"unknown obs_mode {obs_mode!r}; valid: {', '.join(OBS_MODES)}")
        k = check_int(k, "k (the k-hop observation depth)", minimum=0)
        episode_limit = check_int(episode_limit, "episode_limit")
        scenario, conf, custom = TASKS[task]
        self.obs_mode, self.k = obs_mode, k
        self._envs = _make_copies(scenario, conf, custom, self.k, num_envs)
        e = self._envs[0]
        self._robots = [m.single_agent_env.unwrapped for m in self._envs]
        robot_space = e.single_agent_env.action_space
        parts = e.agent_action_partitions
        self._act_index = np.array([node.act_ids for part in parts for node in part])
        if sorted(self._act_index.tolist()) != list(range(robot_space.shape[0])):
            raise ValueError(f"{task}: the factorisation does not cover every actuator exactly once")
        spaces = tuple(Box(low=robot_space.low[ids], high=robot_space.high[ids], dtype=np.float32)
                       for ids in ([node.act_ids for node in part] for part in parts))
        state_dim = e.single_agent_env.observation_space.shape[0]
        n = len(parts)
        if obs_mode == "full+id":
            obs_dims = (state_dim + n,) * n
        else:
            obs_dims = tuple(e.observation_space(a).shape[0] for a in e.possible_agents)
        spec = EnvSpec(name=f"mamujoco:{task}", n_agents=n, obs_dims=obs_dims, state_dim=state_dim,
                       action_spaces=spaces, episode_limit=episode_limit)
        super().__init__(spec, num_envs, seed, [False] * n)
        if obs_mode == "full+id":  # the one-hot ids never change
            for i, o in enumerate(self._obs):
                o[:, state_dim + i] = 1.0

    def _write_obs(self, k: int, full: np.ndarray) -> None:
        self._state[k] = full
        if self.obs_mode == "full+id":
            for o in self._obs:
                o[k, :self.spec.state_dim] = full
        else:
            for i, o in enumerate(self._obs):
                o[k] = self._envs[k]._get_obs_agent(i)

    def _reset_copy(self, k: int, seed: int | None) -> None:
        full, _ = self._robots[k].reset(seed=seed)
        self._write_obs(k, full)

    def _step_copy(self, k: int, actions: list[np.ndarray]) -> tuple[float, bool]:
        joint = np.empty(self._act_index.size)  # float64, as gymnasium-robotics builds it
        joint[self._act_index] = np.concatenate(actions)
        full, reward, terminated, _, _ = self._robots[k].step(joint)
        self._write_obs(k, full)
        return float(reward), bool(terminated)

    def _get_copy(self, k: int) -> dict:
        # the whole MjData, not just the integration state: rewards read derived quantities left by the
        # last step (e.g. Ant's body position, Humanoid's centre of mass), so only the full data resumes
        # bit for bit.  MuJoCo's own binary image of it (MjData.__getstate__, what its pickling carries)
        # as bytes, compressed: some 40-60 kB per copy, and no pickle, so checkpoints load weights-only
        robot = self._robots[k]
        image = zlib.compress(robot.data.__getstate__(), 1)
        return {"data": np.frombuffer(image, np.uint8).copy(), "rng": robot.np_random.bit_generator.state}

    def _set_copy(self, k: int, snapshot: dict) -> None:
        import mujoco
        robot = self._robots[k]
        data = mujoco.MjData.__new__(mujoco.MjData)
        data.__setstate__(zlib.decompress(np.asarray(snapshot["data"], np.uint8).tobytes()))
        robot.data = data
        robot.np_random.bit_generator.state = snapshot["rng"]

    def close(self) -> None:
        for e in self._envs:
            e.close()
