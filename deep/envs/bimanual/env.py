"""The bimanual tasks on MuJoCo: task definitions (Bi-DexHands' constants) and the batched environment."""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from gymnasium.spaces import Box

from .._batch import LoopedEnv, check_int
from ..base import EnvSpec
from .scene import CONTROL_DT, FINGERTIPS, SIDES, SUBSTEPS, TIP_SITES, HandPose, build_model, euler_zyx_quat

#: Bi-DexHands' observation scales (``vel_obs_scale``, ``force_torque_obs_scale``)
VEL_SCALE, FORCE_SCALE = 0.2, 10.0
#: ``MultiVecTask(clip_observations=5.0)``
CLIP_OBS = 5.0


@dataclass(frozen=True)
class Task:
    """One Bi-DexHands task (``bidexhands/cfg/ShadowHand*.yaml`` and ``tasks/shadow_hand_*.py``)."""
    kind: str                          #: "throw" (one egg), "two_catch", "lift", "pen" or "door"
    right: tuple[float, float, float]  #: right ("shadow_hand") actor position
    left: tuple[float, float, float]   #: left ("another_hand") actor position
    free_base: bool                    #: base forces and torques are part of each hand's action
    episode_limit: int                 #: episodeLength
    right_euler: tuple[float, float, float] = (0.0, 0.0, 0.0)    #: actor from_euler_zyx(roll, pitch, yaw)
    left_euler: tuple[float, float, float] = (0.0, 0.0, np.pi)   #: (Bi-DexHands: 3.1415)
    egg_offset: tuple[float, float, float] = (0.0, -0.39, 0.04)  #: egg start - right actor position
    goal_shift: tuple[float, float, float] = (0.0, 0.0, 0.0)     #: goal = object start + shift
    fall_z: float = 0.2                #: an object at or below this height ends the episode
    success_distance: float = 0.03     #: goal distance under which the episode counts as a success
    dist_reward_scale: float = 50.0    #: distRewardScale
    transition_scale: float = 0.0      #: base force = action * dt * transition_scale * 1e5
    orientation_scale: float = 0.0     #: base torque = action * dt * orientation_scale * 1e3
    position_noise: float = 0.01       #: resetPositionNoise (object start position)
    dof_noise: float = 0.2             #: resetDofPosRandomInterval (joint positions)
    #: the episode also ends when a hand's "palm" body or "mount" (the actor root) is 0.1 or more from its
    #: anchor (right, left)
    anchor_body: str | None = None
    anchors: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    object_pos: tuple[float, float, float] = (0.0, 0.0, 0.0)    #: pen / door root position
    object_euler: tuple[float, float, float] = (0.0, 0.0, 0.0)  #: pen / door root from_euler_zyx(roll, pitch, yaw)
    #: doors: the leaves' start angle, which Bi-DexHands also writes as their start velocity (rad/s)
    door_start: float = 0.0
    #: doors: the handle points' offset along the leaf's z (towards the hands' side)
    handle_depth: float = 0.0
    close: bool = False                #: doors: success when the handles come together instead of apart

    @property
    def objects(self) -> str:
        return {"throw": "egg", "two_catch": "two_eggs", "lift": "pot", "pen": "pen", "door": "door"}[self.kind]

    @property
    def handles(self) -> tuple[tuple[str, tuple[float, float, float]], ...]:
        """(body, offset in its frame) of the right hand's handle point, then the left's (Bi-DexHands'
        ``*_right_handle_pos`` and ``*_left_handle_pos``); empty for the egg tasks."""
        if self.kind == "lift":
            return ("pot", (0.0, HANDLE_Y, HANDLE_Z)), ("pot", (0.0, -HANDLE_Y, HANDLE_Z))
        if self.kind == "pen":
            return ("pen:cap", (0.0, -0.1, 0.0)), ("pen:body", (0.0, 0.07, 0.0))
        if self.kind == "door":
            return (("door:right", (0.39, -0.5, self.handle_depth)),
                    ("door:left", (-0.39, -0.5, self.handle_depth)))
        return ()


TASKS: dict[str, Task] = {
    # ShadowHandOver.yaml / shadow_hand_over.py: fixed bases, goal 0.25 further along -y (over the other palm)
    "hand_over": Task("throw", (0.0, 0.0, 0.5), (0.0, -1.0, 0.5), False, 75, goal_shift=(0.0, -0.25, 0.0)),
    # ShadowHandCatchUnderarm: moving bases, hands 1.15 apart, goal 0.4 along -y, falls below 0.1
    "catch_underarm": Task("throw", (0.0, 0.0, 0.5), (0.0, -1.15, 0.5), True, 75, goal_shift=(0.0, -0.4, 0.0),
                           fall_z=0.1, transition_scale=0.05, orientation_scale=0.5),
    # ShadowHandTwoCatchUnderarm: an egg in each palm, each one's goal over the other palm; success when
    # the two goal distances add up to under 0.06
    "two_catch_underarm": Task("two_catch", (0.0, 0.0, 0.5), (0.0, -1.15, 0.5), True, 75,
                               goal_shift=(0.0, -0.4, 0.0), success_distance=0.06, transition_scale=0.05,
                               orientation_scale=0.5),
    # ShadowHandLiftUnderarm: a pot on a table between the hands, lifted 0.4 (goal), 500 steps, no noise
    "lift_underarm": Task("lift", (0.0, 0.05, 0.45), (0.0, -1.25, 0.45), True, 500, goal_shift=(0.0, 0.0, 0.4),
                          fall_z=0.3, success_distance=0.05, dist_reward_scale=20.0, transition_scale=0.25, orientation_scale=1.0, position_noise=0.0, dof_noise=0.0),
    # ShadowHandCatchAbreast: side by side, both turned -pi/2 about z and tilted +-0.3925 towards each
    # other; the egg passes 0.6 along -y; a palm 0.1 from its place ends the episode; 150 steps, no noise
    "catch_abreast": Task("throw", (0.0, -0.55, 0.5), (0.0, -1.15, 0.5), True, 150,
                          right_euler=(0.0, 0.3925, -1.57), left_euler=(0.0, -0.3925, -1.57),
                          egg_offset=(-0.39, 0.0, 0.04), goal_shift=(0.0, -0.6, 0.0), transition_scale=0.5,
                          orientation_scale=1.0, position_noise=0.0, dof_noise=0.0, anchor_body="palm",
                          anchors=((-0.3, -0.55, 0.5), (-0.3, -1.15, 0.5))),
    # ShadowHandCatchOver2Underarm: the right hand turned palm down above the left one throws the egg
    # 0.45 along -y and 0.45 down into it; a base 0.1 from its start ends the episode; 75 steps, no noise
    "catch_over2underarm": Task("throw", (0.0, 0.0, 0.5), (0.0, -0.8, 0.5), True, 75,
                                right_euler=(1.57 + 0.1, 3.14, 0.0), egg_offset=(0.0, 0.05, 0.5),
                                goal_shift=(0.0, -0.45, -0.45), fall_z=0.3, dist_reward_scale=20.0,
                                transition_scale=0.1, orientation_scale=2.0, position_noise=0.0, dof_noise=0.0,
                                anchor_body="mount", anchors=((0.0, 0.0, 0.5), (0.0, -0.8, 0.5))),
    # ShadowHandPen: both hands palm down side by side (0.4 apart) above a pen lying on a table across them,
    # to pull its cap off; 125 steps, no noise
    "hand_pen": Task("pen", (0.55, 0.2, 0.8), (0.55, -0.2, 0.8), True, 125, right_euler=(np.pi, 0.0, 1.57),
                     left_euler=(np.pi, 0.0, 1.57), transition_scale=0.5, orientation_scale=0.1,
                     position_noise=0.0, dof_noise=0.0, object_pos=(0.0, 0.0, 0.6), object_euler=(1.57, 1.57, 0.0)),
    # ShadowHandDoorOpenOutward: a closed double door, its leaves opening away from the hands (pushed); success
    # once the handles are 0.5 apart along y; 250 steps, no noise
    "door_open_outward": Task("door", (0.55, 0.2, 0.6), (0.55, -0.2, 0.6), True, 250,
                              right_euler=(np.pi, 1.57, 1.57), left_euler=(np.pi, -1.57, 1.57), transition_scale=0.5,
                              orientation_scale=0.5, position_noise=0.0, dof_noise=0.0, object_pos=(0.0, 0.0, 0.7),
                              handle_depth=-0.04),
    # ShadowHandDoorOpenInward: the door turned over (pitch pi), so that its leaves open towards the hands (pulled)
    "door_open_inward": Task("door", (0.55, 0.2, 0.6), (0.55, -0.2, 0.6), True, 250,
                             right_euler=(np.pi, 1.57, 1.57), left_euler=(np.pi, -1.57, 1.57), transition_scale=0.5,
                             orientation_scale=0.5, position_noise=0.0, dof_noise=0.0, object_pos=(0.0, 0.0, 0.7),
                             object_euler=(0.0, np.pi, 0.0), handle_depth=0.04),
    # ShadowHandDoorCloseInward: that door wide open (leaves at pi/2, towards the hands, which stand further
    # out); success once the handles are within 0.5 along y
    "door_close_inward": Task("door", (0.9, 0.5, 0.6), (0.9, -0.5, 0.6), True, 250,
                              right_euler=(np.pi, 1.57, 1.57), left_euler=(np.pi, -1.57, 1.57), transition_scale=0.5,
                              orientation_scale=0.5, position_noise=0.0, dof_noise=0.0, object_pos=(0.0, 0.0, 0.7),
                              object_euler=(0.0, np.pi, 0.0), door_start=1.57, handle_depth=0.04, close=True),
}
#: shadow_hand_two_catch_underarm.py: the second egg starts 0.39 further along -y (in the left palm) and its
#: goal is 0.4 back along +y
SECOND_EGG_SHIFT, SECOND_GOAL_SHIFT = np.array([0.0, -0.39, 0.0]), np.array([0.0, 0.4, 0.0])
#: shadow_hand_lift_underarm.py: the pot 0.65 along -y from the right actor; its handles at +-0.15 along its
#: y axis and 0.06 up; a hand's grip point 0.08 along its palm's z axis and -0.02 along its y axis (also
#: the hand position of Pen and the doors); a fingertip point 0.02 along its distal phalanx's z axis
POT_OFFSET = np.array([0.0, -0.65, 0.0])
HANDLE_Y, HANDLE_Z = 0.15, 0.06
GRIP_POINT = np.array([0.0, -0.02, 0.08])
TIP_POINT = np.array([0.0, 0.0, 0.02])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The Hamilton product of two quaternions (w, x, y, z)."""
    out = np.empty(4)
    mujoco.mju_mulQuat(out, np.asarray(a, np.float64), np.asarray(b, np.float64))
    return out


def quat_conj(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def rotation_distance(q: np.ndarray, goal: np.ndarray) -> float:
    """Bi-DexHands' ``2 asin(min(|vector part of q goal^-1|, 1))``: the angle between two orientations."""
    return float(2.0 * np.arcsin(min(np.linalg.norm(quat_mul(q, quat_conj(goal))[1:]), 1.0)))


def random_rotation(u0: float, u1: float) -> np.ndarray:
    """Bi-DexHands' ``randomize_rotation``: a turn of ``u0 pi`` about x, then of ``u1 pi`` about y."""
    qx = np.array([np.cos(u0 * np.pi / 2), np.sin(u0 * np.pi / 2), 0.0, 0.0])
    qy = np.array([np.cos(u1 * np.pi / 2), 0.0, np.sin(u1 * np.pi / 2), 0.0])
    return quat_mul(qx, qy)


def euler_xyz(q: np.ndarray) -> np.ndarray:
    """Isaac Gym's ``get_euler_xyz`` (roll, pitch, yaw, each wrapped to [0, 2 pi)) of a (w, x, y, z) quaternion."""
    w, x, y, z = q
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.mod([roll, pitch, yaw], 2 * np.pi)


class _Ids:
    """Model indices of the hands and objects, looked up once."""

    def __init__(self, model: mujoco.MjModel, task: Task):
        def ids(kind, names):
            out = np.array([mujoco.mj_name2id(model, kind, n) for n in names])
            if (out < 0).any():
                raise RuntimeError(f"scene lacks {[n for n, i in zip(names, out) if i < 0]}")
            return out

        B, S = mujoco.mjtObj.mjOBJ_BODY, mujoco.mjtObj.mjOBJ_SENSOR
        self.hand_qpos, self.hand_dof, self.act, self.tips, self.tip_sensors = [], [], [], [], []
        self.forearm, self.mount, self.palm = [], [], []
        for side in SIDES:
            joints = [j for j in range(model.njnt) if model.joint(j).name.startswith(f"{side}/robot0:")]
            self.hand_qpos.append(model.jnt_qposadr[joints])
            self.hand_dof.append(model.jnt_dofadr[joints])
            self.act.append(np.array([a for a in range(model.nu) if model.actuator(a).name.startswith(f"{side}/")]))
            self.tips.append(ids(B, [f"{side}/robot0:{t}" for t in FINGERTIPS]))
            sensors = ids(S, [f"{side}/{s}:{w}" for s in TIP_SITES for w in ("force", "torque")])
            self.tip_sensors.append(np.concatenate([model.sensor_adr[s] + np.arange(3) for s in sensors]))
            self.forearm.append(ids(B, [f"{side}/robot0:forearm"])[0])
            self.mount.append(ids(B, [f"{side}/robot0:hand mount"])[0])
            self.palm.append(ids(B, [f"{side}/robot0:palm"])[0])
        jids = [j for j in range(model.njnt) if model.joint(j).name.startswith("right/robot0:")]
        self.lower, self.upper = model.jnt_range[jids, 0].copy(), model.jnt_range[jids, 1].copy()
        self.ctrl_low, self.ctrl_high = model.actuator_ctrlrange[self.act[0]].T.copy()
        #: each actuator's joint, as an index into a hand's 24 joints (its position target at reset)
        self.act_joint = np.array([jids.index(model.actuator_trnid[a, 0]) for a in self.act[0]])
        assert len(self.hand_qpos[0]) == 24 and len(self.act[0]) == 20
        names = {"egg": ["egg"], "two_eggs": ["egg", "egg2"]}.get(task.objects, [task.objects])
        self.objects = ids(B, names)
        free = [b for b in self.objects if model.body_jntnum[b] > 0]  # the door has no joint of its own
        self.obj_qpos = [model.jnt_qposadr[model.body_jntadr[b]] for b in free]
        self.obj_dof = [model.jnt_dofadr[model.body_jntadr[b]] for b in free]
        self.goal_mocap = ([model.body_mocapid[b] for b in ids(B, [f"{n}:goal" for n in names])]
                           if task.kind in ("throw", "two_catch", "lift") else [])
        self.handles = ids(B, [body for body, _ in task.handles]) if task.handles else []
        #: the pen's slide or the door's two hinges
        mechanism = [j for j in range(model.njnt) if model.joint(j).name.split(":")[0] in ("pen", "door")
                     and model.jnt_type[j] != mujoco.mjtJoint.mjJNT_FREE]
        self.mech_qpos, self.mech_dof = model.jnt_qposadr[mechanism], model.jnt_dofadr[mechanism]


class BimanualEnv(LoopedEnv):
    """``num_envs`` copies of a bimanual ``task`` (a key of :data:`TASKS`); agent 0 is the right hand (Bi-DexHands'
    "shadow_hand", which holds the object first), agent 1 the mirrored left hand ("another_hand")."""

    def __init__(self, task: str, num_envs: int = 1, seed: int | None = None, *, episode_limit: int | None = None):
        num_envs = check_int(num_envs, "num_envs")
        if task not in TASKS:
            raise ValueError(f"unknown bimanual task {task!r}; valid tasks: {', '.join(TASKS)}")
        self.task_name, self.task = task, TASKS[task]
        t = self.task
        limit = t.episode_limit if episode_limit is None else check_int(episode_limit, "episode_limit")
        self.model = build_model(HandPose(t.right, t.free_base, t.right_euler),
                                 HandPose(t.left, t.free_base, t.left_euler), t.objects,
                                 (t.object_pos, euler_zyx_quat(*t.object_euler)))
        self.ids = _Ids(self.model, t)
        self.data = [mujoco.MjData(self.model) for _ in range(num_envs)]
        self._rngs = [np.random.default_rng() for _ in range(num_envs)]
        self.n_base = 6 if t.free_base else 0
        n_act = 20 + self.n_base
        self.hand_obs_dim = 72 + 95 + self.n_base + n_act
        self.object_obs_dim = {"throw": 24, "two_catch": 48}.get(t.kind, 19)
        n_obs = self.hand_obs_dim + self.object_obs_dim
        spec = EnvSpec(name=f"bimanual:{task}", n_agents=2, obs_dims=(n_obs, n_obs),
                       state_dim=2 * self.hand_obs_dim + self.object_obs_dim,
                       action_spaces=(Box(-1.0, 1.0, (n_act,), np.float32),) * 2, episode_limit=limit)
        super().__init__(spec, num_envs, seed, [False, False])
        self._last_action = np.zeros((num_envs, 2, n_act))
        self._success = np.zeros(num_envs, bool)
        self._goal_distance = np.zeros(num_envs)
        self._renderer = None
        self._state_kind = mujoco.mjtState.mjSTATE_INTEGRATION
        self._start = self._start_poses()

    # ---------------------------------------------------------------- task geometry
    def _start_poses(self) -> list[np.ndarray]:
        """Each object's start position (before noise): Bi-DexHands' object_init_state."""
        right = np.asarray(self.task.right)
        if self.task.kind == "lift":
            return [right + POT_OFFSET]
        if self.task.kind in ("pen", "door"):
            return [np.asarray(self.task.object_pos)]
        starts = [right + self.task.egg_offset]
        if self.task.kind == "two_catch":
            starts.append(starts[0] + SECOND_EGG_SHIFT)
        return starts

    def goals(self, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Copy ``k``'s goal poses (position, quaternion w x y z), one per object."""
        d = self.data[k]
        return [(d.mocap_pos[m].copy(), d.mocap_quat[m].copy()) for m in self.ids.goal_mocap]

    def object_poses(self, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each object's root pose (position, quaternion w x y z): its free joint's, or the fixed door's."""
        d = self.data[k]
        if not self.ids.obj_qpos:
            return [(d.xpos[b].copy(), d.xquat[b].copy()) for b in self.ids.objects]
        return [(d.qpos[a:a + 3].copy(), d.qpos[a + 3:a + 7].copy()) for a in self.ids.obj_qpos]

    def grip_points(self, k: int) -> np.ndarray:
        """Lift Underarm's hand positions (right, left): a point on each palm (GRIP_POINT in its frame)."""
        d = self.data[k]
        return np.stack([d.xpos[p] + d.xmat[p].reshape(3, 3) @ (GRIP_POINT * m)
                         for p, m in zip(self.ids.palm, ([1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]))])

    def handles(self, k: int) -> np.ndarray:
        """The handle points (right hand's, left hand's) of Lift Underarm's pot (its +y and -y handles), the
        pen (cap, body) or the door (right leaf, left leaf)."""
        d = self.data[k]
        return np.stack([d.xpos[b] + d.xmat[b].reshape(3, 3) @ np.asarray(offset)
                         for b, (_, offset) in zip(self.ids.handles, self.task.handles)])

    def finger_points(self, k: int) -> np.ndarray:
        """(2, 5, 3): Pen's and the doors' finger positions, TIP_POINT in each distal phalanx's frame."""
        d = self.data[k]
        return np.stack([d.xpos[tips] + d.xmat[tips].reshape(-1, 3, 3) @ TIP_POINT for tips in self.ids.tips])

    # ---------------------------------------------------------------- reward, success, termination
    def evaluate(self, k: int) -> tuple[float, bool, bool, float]:
        """(reward, success now, terminated, goal distance) of copy ``k``'s current state, as Bi-DexHands'
        ``compute_hand_reward`` of the task computes them."""
        t = self.task
        if t.kind in ("pen", "door"):
            return self._evaluate_handles(k)
        objects, goals = self.object_poses(k), self.goals(k)
        dists = [float(np.linalg.norm(g[0] - o[0])) for o, g in zip(objects, goals)]
        if t.kind == "lift":
            hand_d = np.linalg.norm(self.handles(k) - self.grip_points(k), axis=1)
            lift = 3.0 * (0.385 - dists[0]) if (hand_d < 0.08).all() else 0.0
            reward = 0.2 - hand_d.sum() + lift
            terminated = bool(objects[0][0][2] <= t.fall_z or (hand_d >= 0.2).any())
        else:
            reward = sum(np.exp(-0.2 * (d * t.dist_reward_scale + rotation_distance(o[1], g[1])))
                         for d, o, g in zip(dists, objects, goals))
            terminated = any(o[0][2] <= t.fall_z for o in objects)
        if t.anchors is not None:
            bodies = self.ids.palm if t.anchor_body == "palm" else self.ids.mount
            d = self.data[k]
            terminated |= any(np.linalg.norm(d.xpos[b] - a) >= 0.1 for b, a in zip(bodies, t.anchors))
        distance = float(sum(dists))
        return float(reward), distance < t.success_distance, terminated, distance

    def _evaluate_handles(self, k: int) -> tuple[float, bool, bool, float]:
        """Pen's and the doors' ``compute_hand_reward``: ``f_h`` the sum of hand h's five finger distances to
        its handle point; Pen: ``exp(-10 f_R) + exp(-10 f_L) + [f_R, f_L < 0.75] (5 s - 0.8)`` with ``s``
        the handle separation, success once ``5 s > 1.5``; doors: ``2 - f_R - f_L + [f_R, f_L < 0.5] u`` with
        ``u = 2 dy`` (open) or ``1 - 2 dy`` (close), ``dy`` the handles' distance along y, success once ``dy``
        is over 0.5 (open) or under it (close).  Ends when a hand's ``f`` reaches 1.5.  No goal: distance NaN."""
        t = self.task
        handles = self.handles(k)
        fingers = np.linalg.norm(self.finger_points(k) - handles[:, None, :], axis=2).sum(axis=1)
        if t.kind == "pen":
            separation = float(np.linalg.norm(handles[0] - handles[1]))
            lift = 5.0 * separation - 0.8 if (fingers < 0.75).all() else 0.0
            reward = lift + float(np.exp(-10.0 * fingers).sum())
            success = 5.0 * separation > 1.5
        else:
            dy = abs(float(handles[0, 1] - handles[1, 1]))
            bonus = (1.0 - 2.0 * dy if t.close else 2.0 * dy) if (fingers < 0.5).all() else 0.0
            reward = 2.0 - float(fingers.sum()) + bonus
            success = dy < 0.5 if t.close else dy > 0.5
        return float(reward), bool(success), bool((fingers >= 1.5).any()), float("nan")

    # ---------------------------------------------------------------- observations
    def _hand_obs(self, k: int, h: int) -> np.ndarray:
        m, d, ids = self.model, self.data[k], self.ids
        q = d.qpos[ids.hand_qpos[h]]
        tips = ids.tips[h]
        velocity = np.empty((len(tips), 6))  # world-frame (angular, linear at the centre of mass), as PhysX's
        for i, b in enumerate(tips):
            mujoco.mj_objectVelocity(m, d, mujoco.mjtObj.mjOBJ_BODY, b, velocity[i], 0)
        omega, lin = velocity[:, :3], velocity[:, 3:]
        parts = [2.0 * (q - ids.lower) / (ids.upper - ids.lower) - 1.0, VEL_SCALE * d.qvel[ids.hand_dof[h]],
                 FORCE_SCALE * d.qfrc_actuator[ids.hand_dof[h]],
                 np.concatenate([d.xpos[tips], d.xquat[tips], lin, omega], axis=1).ravel(),
                 FORCE_SCALE * d.sensordata[ids.tip_sensors[h]]]
        if self.n_base:
            mount = ids.mount[h]
            position = self.grip_points(k)[h] if self.task.handles else d.xpos[mount]
            parts += [position, euler_xyz(d.xquat[mount])]
        parts.append(self._last_action[k, h])
        return np.concatenate(parts)

    def _object_obs(self, k: int) -> np.ndarray:
        d, parts = self.data[k], []
        goals = self.goals(k)
        for i, (b, (pos, quat)) in enumerate(zip(self.ids.objects, self.object_poses(k))):
            velocity = np.empty(6)
            mujoco.mj_objectVelocity(self.model, d, mujoco.mjtObj.mjOBJ_BODY, b, velocity, 0)
            parts += [pos, quat, velocity[3:], VEL_SCALE * velocity[:3]]
            if self.task.handles:  # the doors list the left leaf's handle first
                parts += list(self.handles(k)[::-1] if self.task.kind == "door" else self.handles(k))
            else:
                goal_pos, goal_quat = goals[i]
                parts += [goal_pos, goal_quat, quat_mul(quat, quat_conj(goal_quat))]
        return np.concatenate(parts)

    def _write_obs(self, k: int) -> None:
        """Agent h sees its hand's block and the object block; the state is the whole of Bi-DexHands'
        ``obs_buf``; all clipped to +-CLIP_OBS as Bi-DexHands' ``MultiVecTask`` clips them."""
        hands = [np.clip(self._hand_obs(k, h), -CLIP_OBS, CLIP_OBS) for h in range(2)]
        objects = np.clip(self._object_obs(k), -CLIP_OBS, CLIP_OBS)
        for h in range(2):
            self._obs[h][k] = np.concatenate([hands[h], objects])
        self._state[k] = np.concatenate(hands + [objects])

    # ---------------------------------------------------------------- LoopedEnv hooks
    def _reset_copy(self, k: int, seed: int | None) -> None:
        if seed is not None:
            self._rngs[k] = np.random.default_rng(seed)
        rng, d, ids, t = self._rngs[k], self.data[k], self.ids, self.task
        mujoco.mj_resetData(self.model, d)
        lift = t.kind == "lift"
        goal_u = rng.uniform(-1.0, 1.0, 4)  # reset_target_pose's draw, then reset's
        u = rng.uniform(-1.0, 1.0, 5 + 2 * 24)
        goal_rot = np.array([1.0, 0.0, 0.0, 0.0]) if lift else random_rotation(goal_u[0], goal_u[1])
        obj_rot = np.array([1.0, 0.0, 0.0, 0.0]) if lift else random_rotation(u[3], u[4])
        goal_shifts = [np.asarray(t.goal_shift), SECOND_GOAL_SHIFT]
        for adr, mocap, start, shift in zip(ids.obj_qpos, ids.goal_mocap, self._start, goal_shifts):
            d.qpos[adr:adr + 3] = start + t.position_noise * u[:3]
            d.qpos[adr + 3:adr + 7] = obj_rot
            d.mocap_pos[mocap] = start + shift
            d.mocap_quat[mocap] = goal_rot
        if t.kind == "pen":  # at rest at its start pose, cap on (Bi-DexHands: no noise)
            d.qpos[ids.obj_qpos[0]:ids.obj_qpos[0] + 7] = np.concatenate([self._start[0],
                                                                          euler_zyx_quat(*t.object_euler)])
        d.qpos[ids.mech_qpos] = t.door_start
        d.qvel[ids.mech_dof] = t.door_start
        # joints: 0.2 * (lower + (upper - lower) u), the same for both hands, kept inside the joint ranges
        q = np.clip(t.dof_noise * (ids.lower + (ids.upper - ids.lower) * u[5:29]), ids.lower, ids.upper)
        for h in range(2):
            d.qpos[ids.hand_qpos[h]] = q
            d.ctrl[ids.act[h]] = np.clip(q[ids.act_joint], ids.ctrl_low, ids.ctrl_high)
        self._last_action[k] = 0.0
        mujoco.mj_forward(self.model, d)
        self._success[k], self._goal_distance[k] = False, self.evaluate(k)[3]  # successes count after steps
        self._write_obs(k)

    def _step_copy(self, k: int, actions: list[np.ndarray]) -> tuple[float, bool]:
        d, ids, t = self.data[k], self.ids, self.task
        for h, a in enumerate(actions):
            a = np.asarray(a, np.float64)
            self._last_action[k, h] = a
            fingers = a[self.n_base:]
            d.ctrl[ids.act[h]] = ids.ctrl_low + 0.5 * (fingers + 1.0) * (ids.ctrl_high - ids.ctrl_low)
            if self.n_base:
                d.xfrc_applied[ids.forearm[h], :3] = a[:3] * CONTROL_DT * t.transition_scale * 1e5
                d.xfrc_applied[ids.forearm[h], 3:] = a[3:6] * CONTROL_DT * t.orientation_scale * 1e3
        for _ in range(SUBSTEPS):  # step2 then step1: positions, velocities and kinematics stay current
            mujoco.mj_step2(self.model, d)
            mujoco.mj_step1(self.model, d)
        reward, success, terminated, distance = self.evaluate(k)
        self._success[k] |= success
        self._goal_distance[k] = distance
        self._write_obs(k)
        return reward, terminated

    def _episode_info(self, done: np.ndarray) -> dict:
        """Per finished episode: whether it succeeded (Bi-DexHands' latched ``successes``) and the object's
        final distance to its goal (summed over objects)."""
        return {"success": np.where(done, self._success.astype(float), np.nan),
                "goal_distance": np.where(done, self._goal_distance, np.nan)}

    def _get_copy(self, k: int) -> dict:
        d = self.data[k]
        state = np.empty(mujoco.mj_stateSize(self.model, self._state_kind))
        mujoco.mj_getState(self.model, d, state, self._state_kind)
        return {"physics": state, "rng": self._rngs[k].bit_generator.state,
                "last_action": self._last_action[k].copy(), "success": bool(self._success[k]),
                "goal_distance": float(self._goal_distance[k])}

    def _set_copy(self, k: int, snapshot: dict) -> None:
        d = self.data[k]
        mujoco.mj_resetData(self.model, d)
        mujoco.mj_setState(self.model, d, np.asarray(snapshot["physics"], np.float64), self._state_kind)
        mujoco.mj_step1(self.model, d)  # the position and velocity stages the next step2 builds on
        self._rngs[k] = np.random.default_rng()
        self._rngs[k].bit_generator.state = snapshot["rng"]
        self._last_action[k] = snapshot["last_action"]
        self._success[k], self._goal_distance[k] = snapshot["success"], snapshot["goal_distance"]

    # ---------------------------------------------------------------- rendering
    def render(self, k: int = 0, width: int = 640, height: int = 480) -> np.ndarray:
        """An RGB frame (height, width, 3) of copy ``k`` from the overview camera (needs an OpenGL context:
        set ``MUJOCO_GL=egl`` or ``osmesa`` on a headless machine)."""
        if self._renderer is None or (self._renderer.width, self._renderer.height) != (width, height):
            self._renderer = mujoco.Renderer(self.model, height=height, width=width)
        self._renderer.update_scene(self.data[k], camera="overview")
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
