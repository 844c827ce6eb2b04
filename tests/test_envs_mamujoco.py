"""The MAMuJoCo adapter against the real simulator (gymnasium-robotics ``mamujoco_v1`` on MuJoCo)."""
import pickle

import gymnasium
import numpy as np
import pytest
from gymnasium_robotics import mamujoco_v1
from gymnasium_robotics.envs.multiagent_mujoco import many_segment_swimmer

from deep.envs import make_env
from deep.envs.base import copy_seeds
from deep.envs.mamujoco import TASKS, MaMuJoCoEnv, _factorization

#: paper task -> (actuators, agents)
SIZES = {"HalfCheetah-2x3": (6, 2), "HalfCheetah-3x2": (6, 3), "HalfCheetah-6x1": (6, 6),
         "Walker2d-2x3": (6, 2), "Walker2d-6x1": (6, 6), "Ant-2x4": (8, 2), "Ant-4x2": (8, 4),
         "Ant-8x1": (8, 8), "HumanoidStandup-17x1": (17, 17), "ManyAgentSwimmer-10x2": (20, 10)}


def reference_env(task, k, tmp_path):
    """The package's own multi-agent env for ``task`` (custom splits passed as its agent_factorization;
    the swimmer's generated model written under ``tmp_path``, not into the package, where parallel test
    workers would race on one file)."""
    scenario, conf, custom = TASKS[task]
    kwargs = {"agent_factorization": _factorization(scenario, custom)} if custom else {}
    if scenario == "ManySegmentSwimmer":
        xml = str(tmp_path / "swimmer.xml")
        many_segment_swimmer.gen_asset(n_segs=20, asset_path=xml)
        kwargs["gym_env"] = gymnasium.make("Swimmer-v5", xml_file=xml)
    return mamujoco_v1.parallel_env(scenario, conf, agent_obsk=k, **kwargs)


def random_actions(env, rng):
    return [rng.uniform(sp.low, sp.high, (env.num_envs, *sp.shape)).astype(np.float32)
            for sp in env.spec.action_spaces]


def test_task_list_is_the_papers():
    assert set(TASKS) == set(SIZES)


@pytest.mark.parametrize("task", sorted(SIZES))
@pytest.mark.parametrize("obs_mode", ["full+id", "khop"])
def test_trajectories_equal_gymnasium_robotics(task, obs_mode, tmp_path):
    """2 copies x 60 steps with a 25-step limit against the package's public parallel env: spaces,
    observations (full+id: full state and one-hot id; khop: the package's k=1 observations), shared
    reward, termination and the final/auto-reset rows agree exactly."""
    n, seed, limit = 2, 3, 25
    env = MaMuJoCoEnv(task, num_envs=n, obs_mode=obs_mode, k=1, episode_limit=limit)
    refs = [reference_env(task, 1, tmp_path) for _ in range(n)]
    agents = refs[0].possible_agents
    n_act, n_agents = SIZES[task]
    spec = env.spec
    assert spec.n_agents == n_agents == len(agents)
    assert sum(sp.shape[0] for sp in spec.action_spaces) == n_act
    for sp, a in zip(spec.action_spaces, agents):
        ref_sp = refs[0].action_space(a)
        assert sp.shape == ref_sp.shape and np.all(sp.low == ref_sp.low) and np.all(sp.high == ref_sp.high)
    state_dim = refs[0].state().shape[0]
    assert spec.state_dim == state_dim
    if obs_mode == "full+id":
        assert spec.obs_dims == (state_dim + n_agents,) * n_agents
    else:
        assert spec.obs_dims == tuple(refs[0].observation_space(a).shape[0] for a in agents)

    def check_obs(obs_rows, state_row, k, ref_obs, ref):
        np.testing.assert_array_equal(state_row, ref.state().astype(np.float32))
        for i, a in enumerate(agents):
            if obs_mode == "full+id":
                np.testing.assert_array_equal(obs_rows[i][k][:state_dim], state_row)
                np.testing.assert_array_equal(obs_rows[i][k][state_dim:], np.eye(n_agents)[i])
            else:
                np.testing.assert_array_equal(obs_rows[i][k], ref_obs[a].astype(np.float32))

    r = env.reset(seed=seed)
    for k, p in enumerate(refs):
        obs, _ = p.reset(seed=copy_seeds(seed, env.num_envs)[k])
        check_obs(r.obs, r.state[k], k, obs, p)
    rng = np.random.default_rng(0)
    for _ in range(60):
        acts = random_actions(env, rng)
        s = env.step(acts)
        for k, p in enumerate(refs):
            obs, rew, term, trunc, _ = p.step({a: acts[i][k] for i, a in enumerate(agents)})
            assert s.reward[k] == np.float32(rew[agents[0]])
            assert s.terminated[k] == term[agents[0]]
            check_obs(s.final_obs, s.final_state[k], k, obs, p)
            if s.done[k]:
                assert s.truncated[k] == (not term[agents[0]]) and s.info["episode_length"][k] <= limit
                obs, _ = p.reset()
            check_obs(s.obs, s.state[k], k, obs, p)


def test_walker_falls_terminate_without_truncation():
    """Random torques make Walker2d fall within a few dozen steps: termination is reported as such."""
    env = make_env("mamujoco", "Walker2d-2x3", 4, seed=0)
    env.reset()
    rng, terminated = np.random.default_rng(0), 0
    for _ in range(200):
        s = env.step(random_actions(env, rng))
        assert not (s.terminated & s.truncated).any() and not s.truncated.any()
        terminated += int(s.terminated.sum())
        for k in np.flatnonzero(s.terminated):
            z = s.final_state[k][0]  # torso height: out of Walker2d's healthy range (0.8, 2.0) or tilted
            assert not (0.8 < z < 2.0) or abs(s.final_state[k][1]) >= 1.0
    assert terminated >= 4


def test_truncation_at_1000_steps():
    env = make_env("mamujoco", "HalfCheetah-2x3", 2, seed=0)
    assert env.spec.episode_limit == 1000
    env.reset()
    rng = np.random.default_rng(0)
    for t in range(1, 1001):
        s = env.step(random_actions(env, rng))
        assert s.truncated.all() == (t == 1000) and not s.terminated.any()
    np.testing.assert_array_equal(s.info["episode_length"], [1000, 1000])
    assert not np.array_equal(s.state, s.final_state)
    s = env.step(random_actions(env, rng))
    assert not s.done.any()


def test_khop_depth_and_custom_splits():
    dims = [make_env("mamujoco", "HalfCheetah-6x1", 1, obs_mode="khop", k=k).spec.obs_dims for k in (0, 1, 2)]
    assert all(a <= b for d0, d1 in zip(dims, dims[1:]) for a, b in zip(d0, d1)) and dims[0] != dims[2]
    for task in ("Walker2d-6x1", "Ant-8x1", "HumanoidStandup-17x1"):
        env = make_env("mamujoco", task, 1)
        np.testing.assert_array_equal(env._act_index, np.arange(SIZES[task][0]))  # agent i drives actuator i
    env = make_env("mamujoco", "HalfCheetah-3x2", 1)
    labels = [[n.label for n in part] for part in env._envs[0].agent_action_partitions]
    assert labels == [["bfoot", "bshin"], ["bthigh", "ffoot"], ["fshin", "fthigh"]]
    with pytest.raises(ValueError, match="obs_mode"):
        make_env("mamujoco", "Ant-2x4", 1, obs_mode="partial")
    with pytest.raises(ValueError, match="k \\(the k-hop"):
        make_env("mamujoco", "Ant-2x4", 1, obs_mode="khop", k=-1)


@pytest.mark.parametrize("task", ["Ant-4x2", "HumanoidStandup-17x1", "Walker2d-6x1"])
def test_same_seed_same_run_and_exact_resume(task):
    """Same seed, same run; a pickled get_state snapshot taken mid-episode continues bit for bit (Ant's
    and Humanoid's rewards read positions derived by the previous step, Walker2d crosses terminations)."""
    def run(seed):
        env = make_env("mamujoco", task, 2, seed=seed)
        r, rng, out = env.reset(), np.random.default_rng(5), []
        out.append(r.state)
        for _ in range(30):
            s = env.step(random_actions(env, rng))
            out += [s.state, s.reward, s.terminated]
        return env, rng, out

    env, rng, a = run(1)
    _, _, b = run(1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], run(2)[2][0])
    snap = pickle.loads(pickle.dumps(env.get_state()))
    acts = [random_actions(env, rng) for _ in range(40)]
    first = [env.step(x) for x in acts]
    env.set_state(snap)
    second = [env.step(x) for x in acts]
    for x, y in zip(first, second):
        for f in ("state", "final_state", "reward", "terminated", "truncated"):
            np.testing.assert_array_equal(getattr(x, f), getattr(y, f))
        for i in range(env.spec.n_agents):
            np.testing.assert_array_equal(x.obs[i], y.obs[i])


def test_actions_clipped_to_bounds_and_bad_actions_rejected():
    envs = [make_env("mamujoco", "HumanoidStandup-17x1", 1, seed=0) for _ in range(2)]
    for e in envs:
        e.reset()
    assert envs[0].spec.action_spaces[0].high[0] == np.float32(0.4)
    wild = [np.full((1, 1), v, np.float32) for v in np.linspace(-2, 2, 17)]
    clipped = [np.clip(a, -0.4, 0.4) for a in wild]
    a, b = envs[0].step(wild), envs[1].step(clipped)
    np.testing.assert_array_equal(a.state, b.state)
    assert a.reward == b.reward
    with pytest.raises(ValueError, match="NaN"):
        envs[0].step([np.full((1, 1), np.nan, np.float32)] * 17)
    with pytest.raises(ValueError, match="shape"):
        envs[0].step([np.zeros(1, np.float32)] * 17)
