"""QMIX: episode replay stored exactly, masks honoured, and its greedy joint action on the paper's matrix game
is a pure Nash equilibrium of the engine's payoff matrix (benchmarks/qmix_matrix_game.py runs 5 seeds)."""
import numpy as np
import torch

from benchmarks.qmix_matrix_game import greedy_joint_action, is_pure_nash, train_one
from deep.algos import make_algo
from deep.envs.base import EnvSpec
from deep.storage.episodes import EpisodeBuffer
from gymnasium.spaces import Discrete
from tabular.paper import paper_matrix_game


def test_episode_buffer_stores_whole_padded_episodes_with_final_observations():
    E, T, n, S, D, A = 2, 3, 1, 1, 1, 2
    buf = EpisodeBuffer(4, E, T, n, S, D, A)
    ones = np.ones((E, n, A), bool)
    # copy 0 ends after 2 steps (terminated), copy 1 after 3 (truncated at the limit)
    for t in range(3):
        done = np.array([t == 1, t == 2])
        obs = np.full((E, n, D), float(t), np.float32)
        final = np.full((E, n, D), 100.0 + t, np.float32)
        stored = buf.add(np.full((E, S), float(t)), obs, ones, np.full((E, n), t), np.array([1.0, 2.0]),
                         np.array([t == 1, False]), done, np.full((E, S), 100.0 + t), final, ones)
        assert stored == done.sum()
    assert buf.size == 2
    ep0, ep1 = ({k: v[i] for k, v in buf.store.items()} for i in (0, 1))
    assert ep0["filled"].tolist() == [True, True, False] and ep0["term"].tolist() == [False, True, False]
    assert ep0["obs"][:, 0, 0].tolist() == [0.0, 1.0, 101.0, 0.0]      # final observation at step L = 2
    assert ep1["filled"].tolist() == [True] * 3 and not ep1["term"].any()
    assert ep1["obs"][:, 0, 0].tolist() == [0.0, 1.0, 2.0, 102.0]
    assert ep0["avail"][3].all()                                      # padding: every action available
    # copy 0's next episode started at step 2 of the loop: it is being staged from its first slot
    assert buf.t.tolist() == [1, 0] and buf.stage["obs"][0, 0, 0, 0] == 2.0
    batch = buf.sample(8, np.random.default_rng(0))
    assert batch["obs"].shape == (8, 4, n, D) and batch["act"].shape == (8, 3, n)


def test_actions_honour_the_masks():
    spec = EnvSpec("masked", 2, (3, 2), 4, (Discrete(4), Discrete(3)), 5)
    algo = make_algo("qmix", spec, {"epsilon_anneal_steps": 0, "epsilon_finish": 1.0})  # always explore
    E = 500
    rng = np.random.default_rng(0)
    obs = [rng.normal(size=(E, 3)).astype(np.float32), rng.normal(size=(E, 2)).astype(np.float32)]
    avail = [rng.random((E, 4)) < 0.5, rng.random((E, 3)) < 0.5]
    for m in avail:
        m[np.arange(E), rng.integers(0, m.shape[1], E)] = True       # at least one available action
    for deterministic in (True, False):
        acted = algo.act(obs, avail, deterministic=deterministic, rng=rng, memory=algo.initial_memory(E))
        for a, m in zip(acted.env_actions, avail):
            assert m[np.arange(E), a].all()
    assert acted.memory.shape == (E, 2, algo.params.rnn_hidden)
    reset = algo.reset_memory(acted.memory, np.arange(E) % 2 == 0)
    assert torch.all(reset[::2] == 0) and torch.equal(reset[1::2], acted.memory[1::2])


def test_matrix_game_greedy_joint_action_is_a_pure_nash_equilibrium(tmp_path):
    payoff = np.asarray(paper_matrix_game().payoff, dtype=float)
    joint, run = train_one(0, str(tmp_path / "run"))
    assert is_pure_nash(payoff, joint), f"greedy joint action {joint} is not a pure Nash equilibrium"
    assert greedy_joint_action(run.algo, run.eval_env) == joint      # greedy play is deterministic
