"""The bimanual family's handle tasks, Bi-DexHands' Hand Pen and its three door tasks: objects placed as the
reference places them (recomputed here with scipy from the URDFs' numbers), rewards recomputed by hand on
constructed states, and scripted hands that push and pull the doors open or shut while the success flag follows."""
import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from deep.envs import make_env
from deep.envs.bimanual.env import TASKS
from deep.envs.bimanual.scene import SIDES

HANDLE_TASKS = ["hand_pen", "door_open_outward", "door_open_inward", "door_close_inward"]
DOOR_TASKS = HANDLE_TASKS[1:]
#: the PartNet URDFs' fixed joint from the object's root to its links: rpy (pi/2, 0, -pi/2)
LINK = Rotation.from_euler("xyz", [np.pi / 2, 0.0, -np.pi / 2])
#: door.urdf's hinges (position in the frame link, axis) and Bi-DexHands' handle points in the leaves' frames
HINGES = {"right": ((-0.4265270657166128, 0.48329200000000005, 0.008461858680020029), (0.0, -1.0, 0.0), 0.39),
          "left": ((0.42040686074842226, 0.4832920000000003, 0.0055998888476049835), (0.0, 1.0, 0.0), -0.39)}


@pytest.fixture(scope="module")
def envs():
    return {task: make_env("bimanual", task, 2, seed=0) for task in HANDLE_TASKS}


def root_rotation(task):
    """Isaac Gym's from_euler_zyx(roll, pitch, yaw) = Rz(yaw) Ry(pitch) Rx(roll)."""
    return Rotation.from_euler("xyz", TASKS[task].object_euler)


def door_handles_by_hand(task, angles):
    """Bi-DexHands' door handle points (right, left) with the leaves at ``angles``."""
    t = TASKS[task]
    depth = -0.04 if task == "door_open_outward" else 0.04
    root = root_rotation(task) * LINK
    out = []
    for side, angle in zip(SIDES, angles):
        hinge, axis, x = HINGES[side]
        leaf = root * Rotation.from_rotvec(angle * np.asarray(axis))
        out.append(np.asarray(t.object_pos) + root.apply(hinge) + leaf.apply([x, -0.5, depth]))
    return np.array(out)


def pen_handles_by_hand(slide):
    """Bi-DexHands' pen handle points (cap -0.1, body +0.07 along the pen's link y), the cap slid ``slide``."""
    link = root_rotation("hand_pen") * LINK
    pos = np.array(TASKS["hand_pen"].object_pos)
    return np.array([pos + link.apply([0.0, -0.1 - slide, 0.0]), pos + link.apply([0.0, 0.07, 0.0])])


def finger_points_by_hand(env, k=0):
    """Each distal phalanx's origin plus 0.02 along its z axis, rotated with scipy from MuJoCo's xquat."""
    d = env.data[k]
    return np.array([[d.xpos[b] + Rotation.from_quat(d.xquat[b], scalar_first=True).apply([0.0, 0.0, 0.02])
                      for b in env.ids.tips[h]] for h in range(2)])


def reward_by_hand(task, fingers, handles):
    """(reward, success, terminated) of Bi-DexHands' compute_hand_reward for Pen and the doors."""
    f = np.linalg.norm(fingers - handles[:, None, :], axis=2).sum(axis=1)
    if task == "hand_pen":
        sep = np.linalg.norm(handles[0] - handles[1])
        up = 5 * sep - 0.8 if f[0] < 0.75 and f[1] < 0.75 else 0.0
        return up + np.exp(-10 * f[0]) + np.exp(-10 * f[1]), 5 * sep > 1.5, bool(f.max() >= 1.5)
    dy = abs(handles[0, 1] - handles[1, 1])
    close = task == "door_close_inward"
    up = (1 - 2 * dy if close else 2 * dy) if f[0] < 0.5 and f[1] < 0.5 else 0.0
    return 2 - f[0] - f[1] + up, (dy < 0.5 if close else dy > 0.5), bool(f.max() >= 1.5)


def slide_hands(env, targets, k=0):
    """Slide copy k's hand bases so that each hand's mean finger point lies at its target."""
    d, m = env.data[k], env.model
    for side, target, points in zip(SIDES, targets, env.finger_points(k)):
        base = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"{side}/base")
        adr = m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, f"{side}/base_slidex")]
        d.qpos[adr:adr + 3] += d.xmat[base].reshape(3, 3).T @ (target - points.mean(axis=0))
    mujoco.mj_forward(m, d)


def set_mechanism(env, value, k=0):
    env.data[k].qpos[env.ids.mech_qpos] = value
    mujoco.mj_forward(env.model, env.data[k])


@pytest.mark.parametrize("task", HANDLE_TASKS)
def test_fixed_reset_places_the_objects_as_bidexhands(envs, task):
    """No reset noise on these tasks; the pen lies at (0, 0, 0.6) cap on, the door stands at (0, 0, 0.7)
    with its leaves at the task's start angle (Close Inward: pi/2 - 0.0008, also as velocity, as Bi-DexHands
    writes 1.57 into both); handle points where the URDFs and Bi-DexHands' offsets put them."""
    env = envs[task]
    a, b = env.reset(seed=1), env.reset(seed=2)
    np.testing.assert_array_equal(a.state, b.state)
    t, d = TASKS[task], env.data[0]
    (pos, quat), = env.object_poses(0)
    np.testing.assert_array_equal(pos, t.object_pos)
    np.testing.assert_allclose(Rotation.from_quat(quat, scalar_first=True).as_matrix(),
                               root_rotation(task).as_matrix(), atol=1e-12)
    if task == "hand_pen":
        np.testing.assert_array_equal(d.qpos[env.ids.mech_qpos], [0.0])
        np.testing.assert_allclose(env.handles(0), pen_handles_by_hand(0.0), atol=1e-12)
        # the cap towards the right hand (+y), the body towards the left
        assert env.handles(0)[0, 1] == pytest.approx(0.1, abs=1e-3)
        assert env.handles(0)[1, 1] == pytest.approx(-0.07, abs=1e-3)
    else:
        np.testing.assert_array_equal(d.qpos[env.ids.mech_qpos], [t.door_start] * 2)
        np.testing.assert_array_equal(d.qvel[env.ids.mech_dof], [t.door_start] * 2)
        np.testing.assert_allclose(env.handles(0), door_handles_by_hand(task, [t.door_start] * 2), atol=1e-9)
    # the object block: root pose, velocities, then the handle points (the doors list the left one first)
    obj = a.obs[0][0, 199:]
    handles = env.handles(0)[::-1] if task != "hand_pen" else env.handles(0)
    np.testing.assert_allclose(obj[13:], handles.ravel(), atol=1e-6)
    np.testing.assert_allclose(obj[:3], t.object_pos, atol=1e-7)


@pytest.mark.parametrize("task", HANDLE_TASKS)
def test_rewards_by_hand_on_constructed_states(envs, task):
    """At the start, with each hand's fingers gathered on its handle, and with the cap pulled 0.2 / the
    leaves turned, the reward, success and end flags equal Bi-DexHands' formulas recomputed here; the
    two-handed bonus appears only once both hands' fingers are near their handles."""
    env = envs[task]
    env.reset(seed=0)
    close = task == "door_close_inward"
    turned = 0.2 if task == "hand_pen" else (0.2 if close else 1.4)
    seen = []
    for mechanism, gather in ((None, False), (None, True), (turned, True), (turned, False)):
        env.reset(seed=0)
        if mechanism is not None:
            set_mechanism(env, mechanism)
        handles = (pen_handles_by_hand(env.data[0].qpos[env.ids.mech_qpos][0]) if task == "hand_pen" else
                   door_handles_by_hand(task, env.data[0].qpos[env.ids.mech_qpos]))
        np.testing.assert_allclose(env.handles(0), handles, atol=1e-9)
        if gather:
            slide_hands(env, handles)
        fingers = finger_points_by_hand(env)
        np.testing.assert_allclose(env.finger_points(0), fingers, atol=1e-12)
        reward, success, terminated, distance = env.evaluate(0)
        expected = reward_by_hand(task, fingers, handles)
        assert reward == pytest.approx(expected[0], rel=1e-9, abs=1e-12)
        assert (success, terminated) == expected[1:] and np.isnan(distance)
        f = np.linalg.norm(fingers - handles[:, None, :], axis=2).sum(axis=1)
        seen.append((f.max() < (0.75 if task == "hand_pen" else 0.5), success))
    # gathered fingers earn the bonus; the start is no success, the turned mechanism is one (pen: cap 0.37
    # from the body's handle point; doors: opened to 1.4 rad, or closed to 0.2)
    assert [s[0] for s in seen] == [False, True, True, False]
    assert [s[1] for s in seen] == [False, False, True, True]
    env.reset(seed=0)
    slide_hands(env, env.handles(0) + np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))  # the right hand 1 m away
    assert env.evaluate(0)[2]


def push_open(env, i):
    """Door Open Outward: both fists pushed towards the door (-x) and a little towards the middle."""
    a = np.zeros((env.num_envs, 26))
    a[:, 0], a[:, 6:] = -1.0, 1.0
    b = a.copy()
    a[:, 1], b[:, 1] = -0.3, 0.3
    return a, b


def push_shut(env, i):
    """Door Close Inward: both fists pushed against the open leaves' outer faces, towards the middle."""
    a = np.zeros((env.num_envs, 26))
    a[:, 0], a[:, 6:] = -0.3, 1.0
    b = a.copy()
    a[:, 1], b[:, 1] = -1.0, 1.0
    return a, b


def pull_open(env, i):
    """Door Open Inward: hands put with their open fingers beside and past the handle bars (step 0), the
    fingers closed round the bars, then both hands pulled away from the door and outwards (+-y)."""
    if i == 0:
        bars = np.array([[0.03, 0.09, 0.73], [0.03, -0.09, 0.73]])  # beside the bars (y +-0.035..0.07)
        slide_hands(env, bars)
    a = np.zeros((env.num_envs, 26))
    a[:, 6:] = -1.0 if i < 5 else 1.0
    if i >= 30:
        a[:, 0], a[:, 1] = 0.5, 0.5
    b = a.copy()
    b[:, 1] = -a[:, 1]
    return a, b


@pytest.mark.parametrize("task, script", [("door_open_outward", push_open), ("door_close_inward", push_shut),
                                          ("door_open_inward", pull_open)])
def test_scripted_hands_turn_the_door_and_success_follows(task, script):
    """The leaves turn on their hinges under a scripted push or pull of the hands; the success flag stays
    off while the handles are on the failing side of 0.5 apart, comes on when they cross it, stays on (latched),
    and the finished episode reports it."""
    env = make_env("bimanual", task, 1, seed=0)
    env.reset()
    close = task == "door_close_inward"
    start = env.data[0].qpos[env.ids.mech_qpos].copy()
    crossed, ended = None, None
    for i in range(150):
        s = env.step(list(script(env, i)))
        if s.done[0]:
            ended = s
            break
        h = env.handles(0)
        dy = abs(h[0, 1] - h[1, 1])
        if crossed is None:
            assert env._success[0] == ((dy < 0.5) if close else (dy > 0.5))
            if env._success[0]:
                crossed = env.data[0].qpos[env.ids.mech_qpos].copy()
        else:
            assert env._success[0]
    assert crossed is not None and ended is not None and ended.info["success"][0] == 1.0
    turn = crossed - start
    assert np.all(turn < -0.5) if close else np.all(turn > 0.9)


def test_pen_cap_slides_off_along_the_pen():
    """A pull on the cap along the pen (world +y, away from the body) slides it out on its joint: the
    handle points separate until the success threshold (0.3) is passed."""
    env = make_env("bimanual", "hand_pen", 1, seed=0)
    env.reset()
    cap = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "pen:cap")
    body = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "pen:body")
    zero = [np.zeros((1, 26))] * 2
    for _ in range(30):
        env.data[0].xfrc_applied[cap, :3] = [0.0, 0.5, 0.0]
        env.data[0].xfrc_applied[body, :3] = [0.0, -0.5, 0.0]
        env.step(zero)
        if env._success[0]:
            break
    assert env._success[0] and np.linalg.norm(env.handles(0)[0] - env.handles(0)[1]) > 0.3
    assert env.data[0].qpos[env.ids.mech_qpos][0] > 0.13
