"""The bimanual family: two Shadow Hands (gymnasium-robotics' model, the left one mirrored) on MuJoCo running
Bi-DexHands' Hand Over, Catch Underarm, Two Catch Underarm and Lift Underarm."""
import importlib.util
import pickle
import subprocess
import sys

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from deep.envs import make_env
from deep.envs.bimanual.env import TASKS, BimanualEnv
from deep.envs.bimanual.scene import SIDES, TIP_SITES, HandPose, build_model

#: task -> (hand block, object block, action size), from Bi-DexHands' numObservations (398, 422, 446, 417)
SIZES = {"hand_over": (187, 24, 20), "catch_underarm": (199, 24, 26), "two_catch_underarm": (199, 48, 26),
         "lift_underarm": (199, 19, 26), "catch_abreast": (199, 24, 26), "catch_over2underarm": (199, 24, 26),
         "hand_pen": (199, 19, 26), "door_open_outward": (199, 19, 26), "door_open_inward": (199, 19, 26),
         "door_close_inward": (199, 19, 26)}


@pytest.fixture(scope="module")
def envs():
    """One 3-copy env per task, built once (a build compiles the scene, about 0.3 s)."""
    return {task: make_env("bimanual", task, 3, seed=0) for task in TASKS}


def random_actions(env, rng):
    return [rng.uniform(-1.0, 1.0, (env.num_envs, sp.shape[0])) for sp in env.spec.action_spaces]


def test_tasks_and_shapes(envs):
    assert set(TASKS) == set(SIZES)
    rng = np.random.default_rng(0)
    for task, env in envs.items():
        hand, obj, act = SIZES[task]
        spec = env.spec
        assert spec.n_agents == 2 and spec.obs_dims == (hand + obj,) * 2 and spec.state_dim == 2 * hand + obj
        assert [sp.shape for sp in spec.action_spaces] == [(act,), (act,)]
        assert spec.episode_limit == {"lift_underarm": 500, "catch_abreast": 150, "hand_pen": 125}.get(
            task, 250 if task.startswith("door") else 75)
        r = env.reset(seed=1)
        s = env.step(random_actions(env, rng))
        for view in (r, s):
            assert view.state.shape == (3, spec.state_dim) and view.state.dtype == np.float32
            # agent h: its own hand block and the object block of the state (Bi-DexHands' MultiVecTaskPython)
            for h in range(2):
                np.testing.assert_array_equal(view.obs[h][:, :hand], view.state[:, h * hand:(h + 1) * hand])
                np.testing.assert_array_equal(view.obs[h][:, hand:], view.state[:, 2 * hand:])
            assert np.all(np.abs(view.state) <= 5.0)  # clip_observations = 5
        assert np.isnan(s.info["success"][~s.done]).all()


def test_velocity_observations_are_centre_of_mass_velocities(envs):
    """Fingertip and egg linear velocities in the observations are those of the bodies' centres of mass (as
    PhysX reports them): a finite difference of the positions along qvel agrees (step 1e-7: error ~1e-6)."""
    env = envs["catch_underarm"]
    env.reset(seed=4)
    rng = np.random.default_rng(4)
    for _ in range(5):
        env.step(random_actions(env, rng))
    model, data = env.model, env.data[0]
    ahead = mujoco.MjData(model)
    ahead.qpos[:] = data.qpos
    mujoco.mj_integratePos(model, ahead.qpos, data.qvel, 1e-7)
    mujoco.mj_kinematics(model, ahead)
    finite_difference = (ahead.xipos - data.xipos) / 1e-7
    for h in range(2):
        tips = env._hand_obs(0, h)[72:137].reshape(5, 13)
        np.testing.assert_allclose(tips[:, 7:10], finite_difference[env.ids.tips[h]], atol=1e-5)
        np.testing.assert_allclose(tips[:, :3], data.xpos[env.ids.tips[h]], atol=0)
    egg = env._object_obs(0)
    np.testing.assert_allclose(egg[7:10], finite_difference[env.ids.objects[0]], atol=1e-5)
    assert np.abs(finite_difference[env.ids.tips[0]]).max() > 0.05  # the fingers do move


def test_left_hand_is_the_mirror_image_of_the_right():
    """At the same (random) joint angles every geom centre and fingertip of the left hand is the right one's
    reflection across the plane between the hands; a right hand merely turned round would put its thumb on
    the other side."""
    model = build_model(HandPose((0.0, 0.0, 0.5), False), HandPose((0.0, -1.0, 0.5), False, (0.0, 0.0, np.pi)),
                        "egg")
    data = mujoco.MjData(model)
    rng = np.random.default_rng(3)
    joints = {side: [j for j in range(model.njnt) if model.joint(j).name.startswith(f"{side}/robot0:")]
              for side in SIDES}
    lo, hi = model.jnt_range[joints["right"]].T
    q = rng.uniform(lo, hi)
    for side in SIDES:
        data.qpos[model.jnt_qposadr[joints[side]]] = q
    mujoco.mj_kinematics(model, data)

    def reflect(x):  # across the plane y = -0.5
        return x * np.array([1.0, -1.0, 1.0]) - np.array([0.0, 1.0, 0.0])

    geoms = [g for g in range(model.ngeom) if model.geom(g).name.startswith("right/")]
    assert len(geoms) > 40
    for g in geoms:
        twin = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, model.geom(g).name.replace("right/", "left/"))
        np.testing.assert_allclose(data.geom_xpos[twin], reflect(data.geom_xpos[g]), atol=1e-12)
    tips = {side: [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, f"{side}/robot0:{t}") for t in TIP_SITES]
            for side in SIDES}
    np.testing.assert_allclose(data.site_xpos[tips["left"]], reflect(data.site_xpos[tips["right"]]), atol=1e-12)
    data.qpos[:] = 0.0  # at the rest pose the thumbs are on the same side (x < 0) of both hands
    mujoco.mj_kinematics(model, data)
    thumb_x = data.site_xpos[tips["right"][-1], 0]
    assert thumb_x < -0.05 and data.site_xpos[tips["left"][-1], 0] == pytest.approx(thumb_x, abs=1e-12)
    # Catch Abreast's poses (Bi-DexHands' 1.57 for pi/2) are mirror images to within 1e-3
    abreast = TASKS["catch_abreast"]
    model_ab = build_model(HandPose(abreast.right, False, abreast.right_euler),
                           HandPose(abreast.left, False, abreast.left_euler), "egg")
    data_ab = mujoco.MjData(model_ab)
    mujoco.mj_kinematics(model_ab, data_ab)
    names = [model_ab.geom(g).name for g in range(model_ab.ngeom) if model_ab.geom(g).name.startswith("right/")]
    xpos = {n: data_ab.geom_xpos[mujoco.mj_name2id(model_ab, mujoco.mjtObj.mjOBJ_GEOM, n)]
            for name in names for n in (name, name.replace("right/", "left/"))}
    middle = (abreast.right[1] + abreast.left[1]) / 2
    for name in names:
        mirrored = xpos[name] * np.array([1.0, -1.0, 1.0]) + np.array([0.0, 2 * middle, 0.0])
        np.testing.assert_allclose(xpos[name.replace("right/", "left/")], mirrored, atol=1e-3)
    # mirrored meshes: the compiled vertices are the originals with x negated
    for mesh in range(model.nmesh):
        name = model.mesh(mesh).name
        if name.startswith("right/"):
            twin = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_MESH, name.replace("right/", "left/"))
            assert model.mesh_vertnum[twin] == model.mesh_vertnum[mesh]


EGG_TASKS = ["hand_over", "catch_underarm", "two_catch_underarm", "catch_abreast", "catch_over2underarm"]


def egg_start(task):
    """Where Bi-DexHands puts the (first) egg: its offset from the right hand's actor position."""
    offset = {"catch_abreast": [-0.39, 0, 0.04], "catch_over2underarm": [0, 0.05, 0.5]}.get(task, [0, -0.39, 0.04])
    return np.array(TASKS[task].right) + offset


@pytest.mark.parametrize("task", EGG_TASKS)
def test_reset_distribution_of_the_egg_tasks(envs, task):
    """Eggs within 0.01 of their start (exactly there on Catch Abreast and Over2Underarm), in random
    orientations; goals at the start shifted as Bi-DexHands shifts them, in one random orientation; both
    hands at the same joint angles (0 without noise), inside their ranges, their targets where they stand."""
    env = envs[task]
    env.reset(seed=7)
    start = egg_start(task)
    starts = [start] + ([start + [0, -0.39, 0]] if task == "two_catch_underarm" else [])
    shifts = {"hand_over": [(0, -0.25, 0)], "catch_underarm": [(0, -0.4, 0)],
              "two_catch_underarm": [(0, -0.4, 0), (0, 0.4, 0)], "catch_abreast": [(0, -0.6, 0)],
              "catch_over2underarm": [(0, -0.45, -0.45)]}[task]
    noisy = task in ("hand_over", "catch_underarm", "two_catch_underarm")
    goal_quats = []
    for k in range(env.num_envs):
        objects, goals = env.object_poses(k), env.goals(k)
        for (pos, quat), (goal_pos, goal_quat), start, shift in zip(objects, goals, starts, shifts):
            assert np.all(np.abs(pos - start) <= (0.01 if noisy else 1e-15))
            np.testing.assert_allclose(goal_pos, start + shift, atol=1e-15)
            assert np.linalg.norm(quat) == pytest.approx(1.0) and abs(quat[0]) < 1.0
            goal_quats.append(goal_quat)
        if task == "two_catch_underarm":  # one draw places both eggs and orients both goals
            np.testing.assert_allclose(objects[1][0] - objects[0][0], [0, -0.39, 0], atol=1e-15)
            np.testing.assert_array_equal(goals[0][1], goals[1][1])
        d, ids = env.data[k], env.ids
        q = [d.qpos[ids.hand_qpos[h]] for h in range(2)]
        np.testing.assert_array_equal(q[0], q[1])
        assert np.all(q[0] >= ids.lower) and np.all(q[0] <= ids.upper) and np.any(q[0] != 0) == noisy
        np.testing.assert_allclose(d.ctrl[ids.act[0]], np.clip(q[0][ids.act_joint], ids.ctrl_low, ids.ctrl_high))
    assert len({tuple(np.round(g, 6)) for g in goal_quats}) >= env.num_envs  # goal orientations differ


def test_lift_reset_is_fixed(envs):
    """Lift Underarm has no reset noise: the pot on the table under its goal 0.4 higher, hands at rest and
    their grip points 0.139 from the handles (the episode would end at 0.2)."""
    env = envs["lift_underarm"]
    a = env.reset(seed=1)
    b = env.reset(seed=2)
    np.testing.assert_array_equal(a.state, b.state)
    (pos, quat), = env.object_poses(0)
    np.testing.assert_array_equal(pos, [0.0, -0.6, 0.45])
    np.testing.assert_allclose(env.goals(0)[0][0], [0.0, -0.6, 0.85], atol=1e-15)
    dist = np.linalg.norm(env.handles(0) - env.grip_points(0), axis=1)
    assert np.all(dist < 0.2) and dist[0] == pytest.approx(dist[1], abs=1e-9)
    reward, success, terminated, goal_distance = env.evaluate(0)
    assert reward == pytest.approx(0.2 - dist.sum(), abs=1e-12) and not success and not terminated
    assert goal_distance == pytest.approx(0.4, abs=1e-12)


def place(env, k, obj, pos, quat):
    """Put object ``obj`` of copy ``k`` at rest at (pos, quat) and recompute the kinematics."""
    d = env.data[k]
    adr, dof = env.ids.obj_qpos[obj], env.ids.obj_dof[obj]
    d.qpos[adr:adr + 3], d.qpos[adr + 3:adr + 7] = pos, quat
    d.qvel[dof:dof + 6] = 0.0
    mujoco.mj_forward(env.model, d)


@pytest.mark.parametrize("task", EGG_TASKS)
def test_egg_reward_success_and_drop(envs, task):
    """The reward is exp(-0.2 (s d + angle)) per egg, s = 50 (20 on Over2Underarm), the angle checked against
    scipy; an egg put on its goal
    is a success that stays latched through the episode; an egg dropped below the fall height ends the
    episode (terminated, success logged) and the copy restarts."""
    env = envs[task]
    env.reset(seed=3)
    reward, success, terminated, distance = env.evaluate(0)
    expected = 0.0
    for (pos, quat), (goal_pos, goal_quat) in zip(env.object_poses(0), env.goals(0)):
        angle = (Rotation.from_quat(goal_quat, scalar_first=True).inv()
                 * Rotation.from_quat(quat, scalar_first=True)).magnitude()
        scale = 20.0 if task == "catch_over2underarm" else 50.0
        expected += np.exp(-0.2 * (scale * np.linalg.norm(goal_pos - pos) + angle))
    assert reward == pytest.approx(expected, rel=1e-9) and not success and not terminated
    n_eggs = len(env.goals(0))
    for i, (goal_pos, goal_quat) in enumerate(env.goals(0)):
        place(env, 0, i, goal_pos, goal_quat)
    reward, success, terminated, distance = env.evaluate(0)
    assert reward == pytest.approx(n_eggs, abs=1e-12) and success and not terminated and distance == 0.0
    zero = [np.zeros((env.num_envs, sp.shape[0])) for sp in env.spec.action_spaces]
    s = env.step(zero)  # still on the goal after 1/60 s of falling: a success, latched
    assert not s.done[0] and env._success[0]
    place(env, 0, n_eggs - 1, [0.0, -0.5, TASKS[task].fall_z - 0.05], [1.0, 0.0, 0.0, 0.0])
    s = env.step(zero)
    assert s.terminated[0] and not s.truncated[0] and s.info["success"][0] == 1.0
    assert s.info["episode_length"][0] == 2 and not s.done[1:].any()
    assert s.final_state[0, -2] != s.state[0, -2]  # restarted: the new episode's observation
    assert not env._success[0] and np.all(np.abs(env.object_poses(0)[0][0] - egg_start(task)) <= 0.01)


@pytest.mark.parametrize("task, body, anchors", [
    ("catch_abreast", "palm", [(-0.3, -0.55, 0.5), (-0.3, -1.15, 0.5)]),
    ("catch_over2underarm", "hand mount", [(0.0, 0.0, 0.5), (0.0, -0.8, 0.5)])])
def test_hands_leaving_their_place_end_the_episode(envs, task, body, anchors):
    """Catch Abreast (palms) and Over2Underarm (bases) end when a hand is 0.1 or more from its place."""
    env = envs[task]
    model, data = env.model, env.data[0]
    for side, anchor in zip(SIDES, anchors):
        env.reset(seed=0)
        point = data.xpos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"{side}/robot0:{body}")]
        assert np.linalg.norm(point - anchor) < 0.1 and not env.evaluate(0)[2]
        slide = model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, f"{side}/base_slidez")]
        for shift, ends in ((0.05, False), (0.15, True)):
            data.qpos[slide] = shift
            mujoco.mj_forward(model, data)
            assert (np.linalg.norm(point - anchor) >= 0.1) == ends and env.evaluate(0)[2] == ends


def slide_grips_onto_handles(env):
    """Slide copy 0's hand bases so that their grip points lie on the pot's handles."""
    d = env.data[0]
    for side, delta in zip(SIDES, env.handles(0) - env.grip_points(0)):
        base = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, f"{side}/base")
        slide = env.model.jnt_qposadr[mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_JOINT, f"{side}/base_slidex")]
        d.qpos[slide:slide + 3] += d.xmat[base].reshape(3, 3).T @ delta
    mujoco.mj_forward(env.model, d)


def test_lift_success_and_resets(envs):
    """A pot at its goal is a success; hands 0.2 or more from the handles end the episode; the 3 (0.385 - d)
    lift term counts only while both grip points are within 0.08 of the handles."""
    env = envs["lift_underarm"]
    env.reset(seed=0)
    (pos, quat), = env.object_poses(0)
    goal = env.goals(0)[0][0]
    place(env, 0, 0, goal, quat)
    reward, success, terminated, distance = env.evaluate(0)
    dist = np.linalg.norm(env.handles(0) - env.grip_points(0), axis=1)
    assert success and distance == 0.0 and terminated == bool((dist >= 0.2).any())
    assert reward == pytest.approx(0.2 - dist.sum(), abs=1e-12)
    # the hands' bases slid so that their grip points are on the handles: the lift term appears
    handles = env.handles(0)
    slide_grips_onto_handles(env)
    np.testing.assert_allclose(env.grip_points(0), handles, atol=1e-12)
    reward, success, terminated, distance = env.evaluate(0)
    assert success and not terminated and reward == pytest.approx(0.2 + 3 * 0.385, abs=1e-9)
    place(env, 0, 0, goal - [0.0, 0.0, 0.3], quat)  # lowered 0.3 with the hands on its handles
    slide_grips_onto_handles(env)
    reward, success, terminated, distance = env.evaluate(0)
    assert not success and distance == pytest.approx(0.3, abs=1e-12)
    assert reward == pytest.approx(0.2 + 3 * (0.385 - 0.3), abs=1e-9)


def test_base_forces_move_the_hands(envs):
    """On the free-base tasks the first three action entries push each hand along the world axes: after 10
    steps of +x force both hands stand further along x than after 10 steps of none, and hardly moved otherwise."""
    env = envs["catch_underarm"]
    ends = []
    for force in (0.0, 1.0):
        env.reset(seed=0)
        push = np.zeros((env.num_envs, 26))
        push[:, 0] = force
        for _ in range(10):
            env.step([push, push])
        ends.append(np.array([env.data[0].xpos[m] for m in env.ids.mount]))
    moved = ends[1] - ends[0]
    assert np.all(moved[:, 0] > 0.01) and np.all(np.abs(moved[:, 1:]) < 0.2 * moved[:, :1])


@pytest.mark.parametrize("task", ["catch_underarm", "lift_underarm", "hand_pen", "door_close_inward"])
def test_same_seed_same_run_and_exact_resume(task):
    """Same seed, same run; a pickled snapshot taken mid-episode continues bit for bit, in the same env and
    in a new one, across an auto-reset (episode_limit 20)."""
    def run(seed):
        env = make_env("bimanual", task, 2, seed=seed, episode_limit=20)
        r, rng, out = env.reset(), np.random.default_rng(5), []
        out.append(r.state)
        for _ in range(12):
            s = env.step(random_actions(env, rng))
            out += [s.state, s.reward, s.terminated]
        return env, rng, out

    env, rng, a = run(1)
    _, _, b = run(1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    if TASKS[task].dof_noise:  # lift's, pen's and the doors' resets have no randomness
        assert not np.array_equal(a[0], run(2)[2][0])
    snap = pickle.loads(pickle.dumps(env.get_state()))
    acts = [random_actions(env, rng) for _ in range(25)]
    first = [env.step(x) for x in acts]
    assert any(s.done.any() for s in first)
    fresh = make_env("bimanual", task, 2, episode_limit=20)
    for target in (env, fresh):
        target.set_state(snap)
        second = [target.step(x) for x in acts]
        for x, y in zip(first, second):
            for f in ("state", "final_state", "reward", "terminated", "truncated"):
                np.testing.assert_array_equal(getattr(x, f), getattr(y, f))
            np.testing.assert_array_equal(x.obs[1], y.obs[1])
            np.testing.assert_array_equal(x.info["success"], y.info["success"])


def test_render_frame():
    """Where MuJoCo can render (probed in a subprocess: without an OpenGL context its Renderer fails half
    built and its __del__ raises later, in whichever test happens to collect it), a frame is an image."""
    probe = subprocess.run([sys.executable, "-c", "import mujoco; mujoco.Renderer(mujoco.MjModel.from_xml_string("
                            "'<mujoco><worldbody><geom size=\"1\"/></worldbody></mujoco>'), 8, 8)"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines()
        pytest.skip("MuJoCo rendering unavailable here: " + next((x for x in lines if "FatalError" in x), lines[-1]))
    env = BimanualEnv("hand_over", 1, seed=0)
    env.reset()
    frame = env.render(width=160, height=120)
    env.close()
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8 and frame.std() > 1.0


def test_bad_options_and_isaac_backend():
    from deep.envs.bimanual.isaac import ORIGINALS
    assert set(ORIGINALS) == set(TASKS)
    with pytest.raises(ValueError, match="valid tasks"):
        make_env("bimanual", "hand_shake", 1)
    with pytest.raises(ValueError, match="backend"):
        make_env("bimanual", "hand_over", 1, backend="physx")
    with pytest.raises(ValueError, match="unknown option"):
        make_env("bimanual", "hand_over", 1, obs_mode="full")
    if importlib.util.find_spec("isaacgym") is None or importlib.util.find_spec("bidexhands") is None:
        with pytest.raises(ValueError, match="Isaac Gym.*Bi-DexHands.*missing: "):
            make_env("bimanual", "hand_over", 1, backend="isaacgym")
