"""The MPE adapter against the real ``mpe2`` simulator, and the env registry."""
import importlib
import pickle

import numpy as np
import pytest
from gymnasium.spaces import Box, Discrete

from deep.envs import ENVS, env_tasks, make_env
from deep.envs.base import copy_seeds
from deep.envs.mpe import TASKS, MPEEnv

CASES = [(task, cont) for task in TASKS for cont in (False, True)]


def random_actions(env, rng):
    out = []
    for sp in env.spec.action_spaces:
        if isinstance(sp, Discrete):
            out.append(rng.integers(0, sp.n, env.num_envs))
        else:
            out.append(rng.random((env.num_envs, *sp.shape)).astype(np.float32))
    return out


@pytest.mark.parametrize("task,cont", CASES)
def test_spaces_and_shapes_match_mpe2(task, cont):
    env = MPEEnv(task, num_envs=3, continuous_actions=cont)
    ref = importlib.import_module(f"mpe2.{task}").parallel_env(continuous_actions=cont)
    agents = ref.possible_agents
    spec = env.spec
    assert spec.n_agents == len(agents) and spec.episode_limit == 25
    assert spec.obs_dims == tuple(ref.observation_space(a).shape[0] for a in agents)
    assert spec.state_dim == ref.state_space.shape[0] == sum(spec.obs_dims)
    assert spec.action_spaces == tuple(ref.action_space(a) for a in agents)
    for sp in spec.action_spaces:
        assert isinstance(sp, Box if cont else Discrete)
        if cont:
            assert np.all(sp.low == 0.0) and np.all(sp.high == 1.0)
    r = env.reset(seed=0)
    for i, d in enumerate(spec.obs_dims):
        assert r.obs[i].shape == (3, d) and r.obs[i].dtype == np.float32
        if cont:
            assert r.avail[i] is None
        else:
            assert r.avail[i].shape == (3, spec.action_spaces[i].n) and r.avail[i].dtype == bool
            assert r.avail[i].all()
    assert r.state.shape == (3, spec.state_dim) and r.state.dtype == np.float32
    s = env.step(random_actions(env, np.random.default_rng(0)))
    assert s.reward.shape == (3,) and s.reward.dtype == np.float32
    assert s.terminated.dtype == bool and s.truncated.dtype == bool


@pytest.mark.parametrize("task,cont", CASES)
def test_trajectories_equal_mpe2_parallel_env(task, cont):
    """4 copies x 60 steps (two truncations each) against mpe2's own parallel API, copy k seeded with
    copy_seeds(seed)[k]: observations, state, reward = sum of the agents' rewards, truncation at step 25 and the
    final/auto-reset observations must agree exactly."""
    n, seed = 4, 11
    env = MPEEnv(task, num_envs=n, continuous_actions=cont)
    mod = importlib.import_module(f"mpe2.{task}")
    refs = [mod.parallel_env(continuous_actions=cont) for _ in range(n)]
    r = env.reset(seed=seed)
    for k, p in enumerate(refs):
        obs, _ = p.reset(seed=copy_seeds(seed, env.num_envs)[k])
        for i, a in enumerate(p.possible_agents):
            np.testing.assert_array_equal(r.obs[i][k], obs[a])
        np.testing.assert_array_equal(r.state[k], p.state())
    rng = np.random.default_rng(1)
    truncations = 0
    for t in range(1, 61):
        acts = random_actions(env, rng)
        s = env.step(acts)
        assert not s.terminated.any()
        np.testing.assert_array_equal(s.truncated, np.full(n, t % 25 == 0))
        for k, p in enumerate(refs):
            agents = p.possible_agents
            obs, rew, term, trunc, _ = p.step({a: acts[i][k] for i, a in enumerate(agents)})
            assert s.reward[k] == np.float32(sum(rew[a] for a in agents))
            assert trunc[agents[0]] == s.truncated[k] and term[agents[0]] == s.terminated[k]
            for i, a in enumerate(agents):
                np.testing.assert_array_equal(s.final_obs[i][k], obs[a])
            np.testing.assert_array_equal(s.final_state[k], p.state())
            if s.truncated[k]:
                truncations += 1
                assert s.info["episode_length"][k] == 25
                obs, _ = p.reset()
            for i, a in enumerate(agents):
                np.testing.assert_array_equal(s.obs[i][k], obs[a])
            np.testing.assert_array_equal(s.state[k], p.state())
    assert truncations == 2 * n


def test_episode_return_is_the_sum_of_step_rewards():
    env = MPEEnv("simple_spread_v3", num_envs=2, continuous_actions=True)
    env.reset(seed=0)
    rng, total = np.random.default_rng(0), np.zeros(2)
    for t in range(25):
        s = env.step(random_actions(env, rng))
        total += s.reward
        assert np.isnan(s.info["episode_return"]).all() == (t < 24)
    # float32 rewards summed here vs float64 internally: agree to float32 rounding over 25 terms
    np.testing.assert_allclose(s.info["episode_return"], total, rtol=1e-5)


def test_termination_on_success_does_not_truncate_and_resets():
    """Agents placed on well-separated landmarks and told not to move cover them: the episode terminates
    (no bootstrap), final_obs shows the covered layout and the copy starts a new episode."""
    env = MPEEnv("simple_spread_v3", num_envs=2, terminate_on_success=True)
    env.reset(seed=5)
    world = env._envs[1].world
    for lm, agent, xy in zip(world.landmarks, world.agents, [(-0.8, -0.8), (0.0, 0.8), (0.8, -0.8)]):
        lm.state.p_pos = np.array(xy)
        agent.state.p_pos = np.array(xy)
        agent.state.p_vel = np.zeros(2)
    s = env.step([np.zeros(2, np.int64)] * 3)
    np.testing.assert_array_equal(s.terminated, [False, True])
    assert not s.truncated.any()
    assert s.info["episode_length"][1] == 1
    # an agent's observation is [vel, pos, landmarks - pos, ...]: on its landmark the offset is 0
    for i in range(3):
        np.testing.assert_allclose(s.final_obs[i][1][4 + 2 * i: 6 + 2 * i], 0.0, atol=1e-12)
    assert not np.array_equal(s.obs[0][1], s.final_obs[0][1])
    np.testing.assert_array_equal(s.obs[0][0], s.final_obs[0][0])  # copy 0 did not end


@pytest.mark.parametrize("cont", [False, True])
def test_same_seed_same_trajectory_and_seed_matters(cont):
    def run(env, seed):
        r = env.reset(seed=seed)
        rng, out = np.random.default_rng(7), [r.state]
        for _ in range(40):
            s = env.step(random_actions(env, rng))
            out += [s.state, s.reward, s.final_state]
        return out

    def same(x, y):
        return all(np.array_equal(p, q) for p, q in zip(x, y))

    env = make_env("mpe", "simple_reference_v3", 3, continuous_actions=cont)
    a = run(env, 3)
    assert same(a, run(env, 3))  # reset(seed) again on the same object
    assert same(a, run(make_env("mpe", "simple_reference_v3", 3, continuous_actions=cont), 3))
    seeded = make_env("mpe", "simple_reference_v3", 3, seed=3, continuous_actions=cont)
    assert same(a, run(seeded, None))  # the constructor's seed serves the first reset
    assert not np.array_equal(a[0], run(env, 4)[0])


def test_get_state_set_state_continues_exactly():
    env = MPEEnv("simple_speaker_listener_v4", num_envs=3, continuous_actions=True)
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(17):
        last = env.step(random_actions(env, rng))
    snap = pickle.loads(pickle.dumps(env.get_state()))  # checkpoints pickle it
    acts = [random_actions(env, rng) for _ in range(20)]  # crosses the step-25 reset
    first = [env.step(a) for a in acts]
    view = env.set_state(snap)
    np.testing.assert_array_equal(view.state, last.state)
    for i in range(2):
        np.testing.assert_array_equal(view.obs[i], last.obs[i])
    second = [env.step(a) for a in acts]
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x.state, y.state)
        np.testing.assert_array_equal(x.final_state, y.final_state)
        np.testing.assert_array_equal(x.reward, y.reward)
        np.testing.assert_array_equal(x.truncated, y.truncated)


def test_bad_actions_are_rejected_and_boxes_clipped():
    env = MPEEnv("simple_spread_v3", num_envs=2)
    with pytest.raises(ValueError, match="reset"):
        env.step([np.zeros(2, np.int64)] * 3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="one action array per agent"):
        env.step([np.zeros(2, np.int64)] * 2)
    with pytest.raises(ValueError, match=r"lie in 0\.\.4, got \[5\]"):
        env.step([np.array([0, 5]), np.zeros(2, np.int64), np.zeros(2, np.int64)])
    with pytest.raises(ValueError, match="must be 2 integers"):
        env.step([np.zeros(2), np.zeros(2), np.zeros(2)])
    cont = [MPEEnv("simple_spread_v3", num_envs=2, continuous_actions=True) for _ in range(2)]
    for e in cont:
        e.reset(seed=1)
    wild = [np.full((2, 5), v, np.float32) for v in (-3.0, 0.5, 7.0)]
    clipped = [np.clip(a, 0.0, 1.0) for a in wild]
    np.testing.assert_array_equal(cont[0].step(wild).state, cont[1].step(clipped).state)
    with pytest.raises(ValueError, match="shape"):
        cont[0].step([np.zeros((2, 4), np.float32)] * 3)
    with pytest.raises(ValueError, match="NaN"):
        cont[0].step([np.full((2, 5), np.nan, np.float32)] * 3)


def test_registry_names_and_errors(tmp_path):
    assert ENVS[:3] == ("tabular", "mpe", "mamujoco")  # families added later come after these
    assert env_tasks("mpe") == TASKS
    assert "HalfCheetah-2x3" in env_tasks("mamujoco")
    with pytest.raises(ValueError, match="unknown env 'nosuch'; valid envs: tabular, mpe, mamujoco"):
        make_env("nosuch", "3m", 2)
    with pytest.raises(ValueError, match="valid tasks: simple_spread_v3"):
        make_env("mpe", "simple_tag_v3", 2)
    with pytest.raises(ValueError, match="unknown option.*colour.*valid: episode_limit, N, local_ratio"):
        make_env("mpe", "simple_spread_v3", 2, colour=1)
    with pytest.raises(ValueError, match="local_ratio"):
        make_env("mpe", "simple_spread_v3", 2, local_ratio=1.5)
    with pytest.raises(ValueError, match="valid tasks: HalfCheetah-2x3"):
        make_env("mamujoco", "HalfCheetah-4x1", 2)
    with pytest.raises(ValueError, match="unknown option.*obsk.*valid: obs_mode, k, episode_limit"):
        make_env("mamujoco", "HalfCheetah-2x3", 2, obsk=1)
    with pytest.raises(ValueError, match="valid tasks: paper-matrix"):
        make_env("tabular", str(tmp_path / "missing.json"), 2)
    with pytest.raises(ValueError, match="max_cycles"):
        make_env("mpe", "simple_spread_v3", 2, max_cycles=10)
    env = make_env("mpe", "simple_spread_v3", 2, seed=0, episode_limit=10, continuous_actions=True)
    assert env.spec.episode_limit == 10 and env.num_envs == 2
    env.reset()
    rng = np.random.default_rng(0)
    assert [env.step(random_actions(env, rng)).truncated.all() for _ in range(10)] == [False] * 9 + [True]


def test_registry_tabular_dispatch(tmp_path):
    from tabular.paper import paper_matrix_game
    env = make_env("tabular", "paper-matrix", 3, seed=0)
    game = paper_matrix_game()
    assert env.spec.n_agents == 2 and env.spec.action_spaces == (Discrete(3), Discrete(3))
    r = env.reset()
    s = env.step([np.array([0, 1, 2]), np.array([0, 1, 2])])
    np.testing.assert_array_equal(s.reward, game.r[0, [0, 1, 2], [0, 1, 2]].astype(np.float32))
    path = tmp_path / "game.json"
    game.save(path)
    env2 = make_env("tabular", str(path), 2, seed=0, episode_limit=1)
    assert env2.spec.action_spaces == env.spec.action_spaces
    assert r.state.shape == (3, 1)
