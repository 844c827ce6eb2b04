"""TabularGameEnv: a tabular game as a batched environment with the engine's semantics."""
import numpy as np
import pytest
import scipy.sparse as sp

from deep.envs.tabular_env import TabularGameEnv
from tabular import MarkovGame, random_markov_game
from tabular.paper import paper_matrix_game


def test_matrix_game_is_one_terminating_step_with_the_payoff():
    game = paper_matrix_game()
    env = TabularGameEnv(game, num_envs=9, seed=0)
    assert env.spec.n_agents == 2 and env.spec.episode_limit == 1
    assert [s.n for s in env.spec.action_spaces] == [3, 3]
    r = env.reset(seed=0)
    assert r.state.shape == (9, 1) and np.all(r.state == 1.0) and all(o.shape == (9, 1) for o in r.obs)
    a1, a2 = np.repeat(np.arange(3), 3), np.tile(np.arange(3), 3)
    s = env.step([a1, a2])
    np.testing.assert_array_equal(s.reward, game.payoff[a1, a2].astype(np.float32))
    assert s.terminated.all() and not s.truncated.any()
    assert all(m.all() for m in s.avail)


def test_markov_game_truncates_at_the_limit_and_reports_the_true_final_state():
    game = random_markov_game(3, (2, 2), gamma=0.9, seed=1)
    env = TabularGameEnv(game, num_envs=5, episode_limit=4, seed=3)
    r = env.reset(seed=3)
    for t in range(1, 9):
        prev = r.state.argmax(1)
        a = [np.zeros(5, dtype=np.int64), np.ones(5, dtype=np.int64)]
        s = env.step(a)
        np.testing.assert_array_equal(s.reward, game.r[prev, 0, 1].astype(np.float32))
        assert not s.terminated.any()
        assert s.truncated.all() == (t % 4 == 0) and s.truncated.any() == (t % 4 == 0)
        # every successor (final obs of ended episodes) is reachable from the previous state
        succ = s.final_state.argmax(1) if t % 4 == 0 else s.state.argmax(1)
        P = game.P.reshape(3, 2, 2, 3)
        assert np.all(P[prev, 0, 1, succ] > 0)
        r = s


def test_transition_frequencies_match_the_kernel():
    game = random_markov_game(3, (2, 3), gamma=0.5, seed=2)
    n = 20000
    env = TabularGameEnv(game, num_envs=n, episode_limit=1000, seed=5)
    r = env.reset(seed=5)
    s0 = r.state.argmax(1)
    a = [np.full(n, 1, dtype=np.int64), np.full(n, 2, dtype=np.int64)]
    s1 = env.step(a).state.argmax(1)
    P = game.P.reshape(3, 2, 3, 3)
    for s in range(3):
        rows = s1[s0 == s]
        freq = np.bincount(rows, minlength=3) / rows.size
        # ~6700 draws per state: the standard error of a frequency is <= 0.5/sqrt(6700) = 0.006; allow 5 se
        np.testing.assert_allclose(freq, P[s, 1, 2], atol=0.03)
    # initial states follow d (uniform): same 5-standard-error tolerance over 20000 draws
    np.testing.assert_allclose(np.bincount(s0, minlength=3) / n, game.d, atol=0.02)


def test_sparse_kernel_and_initial_distribution():
    P = sp.csr_matrix(np.tile([[0.0, 1.0]], (2 * 2, 1)))  # always go to state 1
    game = MarkovGame(P, np.zeros((2, 2)), 0.5, initial=[1.0, 0.0])
    env = TabularGameEnv(game, num_envs=4, seed=0)
    r = env.reset()
    assert np.all(r.state.argmax(1) == 0)
    s = env.step([np.zeros(4, dtype=np.int64)])
    assert np.all(s.state.argmax(1) == 1)


def test_same_seed_same_trajectory_and_state_capture_continues_exactly():
    game = random_markov_game(4, (2, 2), gamma=0.8, seed=0)

    def roll(env, steps, rng):
        out = []
        for _ in range(steps):
            a = [rng.integers(0, 2, size=env.num_envs) for _ in range(2)]
            s = env.step(a)
            out.append((s.state.copy(), s.reward.copy(), s.truncated.copy()))
        return out

    e1, e2 = TabularGameEnv(game, 3, episode_limit=5, seed=7), TabularGameEnv(game, 3, episode_limit=5, seed=7)
    e1.reset(seed=7), e2.reset(seed=7)
    t1, t2 = roll(e1, 12, np.random.default_rng(0)), roll(e2, 12, np.random.default_rng(0))
    for x, y in zip(t1, t2):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)
    snap = e1.get_state()
    rest1 = roll(e1, 7, np.random.default_rng(1))
    e3 = TabularGameEnv(game, 3, episode_limit=5, seed=99)
    e3.reset()
    e3.set_state(snap)
    rest3 = roll(e3, 7, np.random.default_rng(1))
    for x, y in zip(rest1, rest3):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)


def test_bad_input_is_rejected_with_a_clear_message():
    game = paper_matrix_game()
    env = TabularGameEnv(game, num_envs=2, seed=0)
    env.reset()
    with pytest.raises(ValueError, match="one action array per agent"):
        env.step([np.zeros(2, dtype=np.int64)])
    with pytest.raises(ValueError, match="agent 1 has actions 0..2"):
        env.step([np.zeros(2, dtype=np.int64), np.array([0, 3])])
    with pytest.raises(ValueError, match="integers"):
        env.step([np.zeros(2), np.zeros(2)])
    with pytest.raises(ValueError, match="one-step episodes"):
        TabularGameEnv(game, episode_limit=5)
    with pytest.raises(ValueError, match="MarkovGame"):
        TabularGameEnv(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="num_envs"):
        TabularGameEnv(game, num_envs=0)


def test_copies_follow_their_own_seedsequence_streams():
    """Copy k is seeded by copy_seeds(seed, n)[k] = SeedSequence(seed).spawn(n)[k]: its episodes do not
    depend on the number of copies, and neighbouring seeds share no copy's stream."""
    from deep.envs.base import copy_seeds
    game = random_markov_game(4, (2, 2), gamma=0.8, seed=0)

    def states(num_envs, seed, steps=15):
        env = TabularGameEnv(game, num_envs, episode_limit=5, seed=seed)
        out = [env.reset(seed=seed).state.argmax(1)]
        for _ in range(steps):
            out.append(env.step([np.zeros(num_envs, np.int64)] * 2).state.argmax(1))
        return np.stack(out, 1)  # (copies, time)

    np.testing.assert_array_equal(states(3, 7), states(8, 7)[:3])
    assert not set(copy_seeds(7, 20)) & set(copy_seeds(8, 20))


def test_run_streams_are_spawned_from_the_seed():
    from deep.run.seeding import seeds
    a, b = seeds(0), seeds(1)
    ints = [a.env_seed, a.eval_seed, a.torch_seed, b.env_seed, b.eval_seed, b.torch_seed]
    assert len(set(ints)) == 6  # every stream of neighbouring seeds differs
    s = np.random.SeedSequence(0).spawn(4)
    assert a.env_seed == int(s[0].generate_state(1)[0]) and a.torch_seed == int(s[3].generate_state(1)[0])
    np.testing.assert_array_equal(a.sampling().random(5), np.random.Generator(np.random.PCG64(s[2])).random(5))
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        seeds(-1)
