"""On-policy algorithms: GAE by hand, the first MAPPO / HAPPO update against the engine's exact expected update
(Appendix B), HATRPO's trust region, PPO's joint action, and determinism."""
import math

import numpy as np
import pytest
import torch

import tabular
from deep.algos.happo import HAPPO
from deep.algos.hatrpo import HATRPO, HATRPOParams
from deep.algos.mappo import MAPPO
from deep.algos.on_policy_base import PPOClipParams
from deep.algos.ppo import PPO
from deep.envs.registry import make_env
from deep.nets.distributions import one_hot_probs, start_from
from deep.run.on_policy import collect, make_rollout
from deep.algos.estimators import GAE, gae
from deep.storage.rollout import Rollout
from tabular.paper import paper_matrix_game
from tabular.standard import standard_dynamics

GAMMA, LAM = 0.9, 0.8


def test_gae_by_hand_with_a_truncation_and_a_termination():
    # copy 0: states with V = 1, 2, 3, 4; truncated at t = 1 (V(final state) = 10), terminated at t = 3.
    # copy 1: V = 1 throughout, no episode end; both copies' next rollout starts at V = 5 and 6.
    r = Rollout(4, 2, 1, [1], [()], [np.int64], [None])
    states = [[1, 1], [2, 1], [3, 1], [4, 1]]
    rewards = [[1, 1], [0, 1], [2, 1], [1, 1]]
    term = [[0, 0], [0, 0], [0, 0], [1, 0]]
    trunc = [[0, 0], [1, 0], [0, 0], [0, 0]]
    final = [[0, 0], [10, 0], [0, 0], [0, 0]]
    for t in range(4):
        r.add(np.array(states[t], np.float32)[:, None], [np.zeros((2, 1))], [None], [np.zeros(2, np.int64)],
              [np.zeros(2)], np.array(rewards[t]), np.array(term[t], bool), np.array(trunc[t], bool),
              np.array(final[t], np.float32)[:, None])
    b = r.finish(lambda s: s[:, 0], np.array([[5.0], [6.0]]), GAE(GAMMA, LAM))
    gl = GAMMA * LAM
    # copy 0, backwards: t=3 terminates (no bootstrap); t=1 truncates (bootstraps V(final) = 10, no carry)
    a3 = 1 - 4
    a2 = 2 + GAMMA * 4 - 3 + gl * a3
    a1 = 0 + GAMMA * 10 - 2
    a0 = 1 + GAMMA * 2 - 1 + gl * a1
    # copy 1: V = 1 and reward 1 everywhere, bootstraps V = 6 at the end
    c3 = 1 + GAMMA * 6 - 1
    c2 = 1 + GAMMA * 1 - 1 + gl * c3
    c1 = 1 + GAMMA * 1 - 1 + gl * c2
    c0 = 1 + GAMMA * 1 - 1 + gl * c1
    expected = np.array([[a0, c0], [a1, c1], [a2, c2], [a3, c3]])
    np.testing.assert_allclose(b.advantage.reshape(4, 2), expected, rtol=1e-6)
    np.testing.assert_allclose(a0, 6.84, rtol=1e-12)  # the numbers written out: 1.8 + 0.72 * 7
    np.testing.assert_allclose(b.returns, b.advantage + b.value, rtol=1e-6)
    np.testing.assert_allclose(b.value, np.array(states, np.float32).reshape(-1))


def test_gae_with_lambda_one_is_the_discounted_return_to_go():
    rng = np.random.default_rng(0)
    rew = rng.normal(size=(6, 1))
    adv, ret = gae(rew, np.zeros((6, 1)), np.zeros((6, 1)), np.zeros((6, 1), bool), np.zeros((6, 1), bool),
                   0.9, 1.0)
    expected = [sum(0.9 ** (k - t) * rew[k, 0] for k in range(t, 6)) for t in range(6)]
    np.testing.assert_allclose(ret[:, 0], expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------- Appendix B
P0 = np.array([0.6, 0.2, 0.2])
#: 4000 joint actions (400 copies x 10 one-step episodes).  The update's direction depends on the signs of the
#: sampled surrogate's gradient with respect to the logits (Adam's first step is sign(g) lr per parameter):
#: g_k ~ -p_k (q_k - E q) with q = (3.2, -5.8, -3.8); the smallest margin |q_A - E q| = 3.2 is more than 4
#: standard errors (reward std ~14, about 800 samples of each of B, C) from a sign flip.
COPIES, STEPS = 400, 10


def _first_update(cls, seed, params):
    torch.manual_seed(seed)
    env = make_env("tabular", "paper-matrix", COPIES, seed=seed)
    algo = cls(env.spec, params)
    for p in algo.actors:
        start_from(p, P0)
    r = env.reset(seed=seed)
    batch, _ = collect(algo, env, make_rollout(algo, env, r), r)
    algo.update(batch, np.random.default_rng(seed))
    return algo, batch


@pytest.mark.parametrize("name", ["mappo", "happo"])
def test_first_update_moves_towards_the_exact_expected_update(name):
    cls = {"mappo": MAPPO, "happo": HAPPO}[name]
    game = paper_matrix_game()
    init = tabular.JointPolicy([P0[None]] * 2)
    algo, _ = _first_update(cls, 1, PPOClipParams(gamma=0.0, rollout_length=STEPS, hidden=(64, 64)))
    for i, pol in enumerate(algo.actors):
        # the exact expected update of Appendix B (no clip, full step; HAPPO with this agent last or first:
        # both orders give (1, 0, 0) here), so its direction is (0.4, -0.2, -0.2)
        exact = standard_dynamics(game, name, init, max_iter=1, order=[i, 1 - i]).history[1][i][0] - P0
        moved = one_hot_probs(pol, 1)[0] - P0
        assert moved[0] > 0 and moved[1] < 0 and moved[2] < 0, (i, moved)
        # a sign error in any logit's step gives cos <= 0.72 (e.g. B up: (0.24, 0.08, -0.32)); the exact
        # sign-step gives 1; later epochs and lower layers bend it by O(lr), far less than 0.05.
        cos = moved @ exact / np.linalg.norm(moved) / np.linalg.norm(exact)
        assert cos > 0.95, (i, cos, moved, exact)


def test_happo_weights_later_agents_by_earlier_ratios():
    """The factor HAPPO's second agent sees is the first agent's new/old ratio on each sample."""
    torch.manual_seed(0)
    env = make_env("tabular", "paper-matrix", 50, seed=0)
    algo = HAPPO(env.spec, PPOClipParams(gamma=0.0, rollout_length=4, hidden=(16,)))
    r = env.reset(seed=0)
    batch, _ = collect(algo, env, make_rollout(algo, env, r), r)
    seen = {}
    original = algo.ppo_epochs

    def spy(ks, d, rng, factor=None):
        seen[ks[0]] = factor.clone()
        out = original(ks, d, rng, factor)
        seen[f"ratio{ks[0]}"] = algo.ratio(ks[0], d)[0].detach().clone()
        return out

    algo.ppo_epochs = spy
    st = algo.update(batch, np.random.default_rng(3))
    first, second = algo.last_order
    assert torch.equal(seen[first], torch.ones(len(batch)))
    torch.testing.assert_close(seen[second], seen[f"ratio{first}"])
    assert not torch.allclose(seen[second], torch.ones(len(batch)))


def test_hatrpo_step_satisfies_its_kl_constraint():
    torch.manual_seed(0)
    env = make_env("mpe", "simple_spread_v3", 4, seed=0, continuous_actions=True)
    params = HATRPOParams(rollout_length=25, hidden=(32, 32), kl_threshold=0.01)
    algo = HATRPO(env.spec, params)
    r = env.reset(seed=0)
    batch, _ = collect(algo, env, make_rollout(algo, env, r), r)
    d = algo.tensors(batch)
    with torch.no_grad():
        old = [pol.dist(*d["inputs"][i]) for i, pol in enumerate(algo.actors)]
    before = [torch.nn.utils.parameters_to_vector(p.parameters()).clone() for p in algo.actors]
    st = algo.update(batch, np.random.default_rng(0))
    for i, pol in enumerate(algo.actors):
        with torch.no_grad():
            kl = float(algo.mean_kl(i, d, old[i]))
        assert st[f"accepted/{i}"] == 1.0
        assert 0 < kl <= params.kl_threshold
        assert kl == pytest.approx(st[f"kl/{i}"], rel=1e-5)
        assert not torch.equal(before[i], torch.nn.utils.parameters_to_vector(pol.parameters()))
        assert st[f"improvement/{i}"] > 0


def test_ppo_splits_its_joint_action_per_agent():
    torch.manual_seed(0)
    env = make_env("mpe", "simple_speaker_listener_v4", 3, seed=0)
    algo = PPO(env.spec, PPOClipParams(rollout_length=5, hidden=(16,)))
    r = env.reset(seed=0)
    acted = algo.act(r.obs, r.avail)
    assert [a.shape for a in acted.stored] == [(3,), (3,)]
    (o, m), = algo.policy_inputs(r.obs, r.avail)
    dist = algo.actors[0].dist(o, m)
    joint = torch.as_tensor(np.stack(acted.stored, -1))
    torch.testing.assert_close(dist.log_prob(joint), torch.as_tensor(sum(acted.log_prob)))
    with pytest.raises(ValueError, match="Box or every agent"):
        from gymnasium.spaces import Box, Discrete
        from deep.algos.ppo import joint_space
        joint_space([Box(-1, 1, (2,)), Discrete(3)])


def test_sequential_algorithms_refuse_shared_parameters():
    env = make_env("tabular", "paper-matrix", 1, seed=0)
    with pytest.raises(ValueError, match="share_params"):
        HAPPO(env.spec, PPOClipParams(share_params=True))


def test_value_norm_debiasing_makes_its_statistics_exact_running_averages():
    """With debiasing, after updates x_1..x_k the mean is sum_j w_j mean(x_j) / sum_j w_j with w_j =
    beta^(k-j) (1 - beta): exactly mean(x_1) after one update, whatever beta."""
    from deep.nets.value_norm import ValueNorm
    vn = ValueNorm(beta=0.9)
    x1, x2 = torch.tensor([1.0, 3.0, 8.0]), torch.tensor([-2.0, 0.0])
    vn.update(x1)
    mean, var = vn.stats()
    assert float(mean) == pytest.approx(4.0, rel=1e-12) and float(var) == pytest.approx(74 / 3 - 16, rel=1e-12)
    vn.update(x2)
    w = np.array([0.9 * 0.1, 0.1])
    m = (w @ [4.0, -1.0]) / w.sum()
    m2 = (w @ [74 / 3, 2.0]) / w.sum()
    mean, var = vn.stats()
    assert float(mean) == pytest.approx(m, rel=1e-12) and float(var) == pytest.approx(m2 - m * m, rel=1e-12)
    y = torch.tensor([0.5, -7.0])
    torch.testing.assert_close(vn.denormalize(vn.normalize(y)), y)


def test_gaussian_std_is_bounded_as_the_reference_code_bounds_it():
    """std = 0.5 sigmoid(w), w starting at 1 (PKU-MARL/HARL DiagGaussian): 0.3655 at first, never above 0.5."""
    from gymnasium.spaces import Box
    from deep.nets.distributions import make_policy
    pol = make_policy(4, Box(-1, 1, (3,)), [8])
    torch.testing.assert_close(pol.std().detach(), torch.full((3,), 0.3655))
    # w starts at logit(0.3655 / 0.5) = 0.9997: HARL's 1 to the 4 digits of init_std's default
    torch.testing.assert_close(pol.std_logit.detach(), torch.ones(3), atol=1e-3, rtol=0)
    assert 0.5 / (1 + math.exp(-1)) == pytest.approx(0.3655, abs=1e-4)
    with torch.no_grad():
        pol.std_logit.fill_(50.0)
    assert torch.all(pol.std() <= 0.5)
    with pytest.raises(ValueError, match="init_std"):
        make_policy(4, Box(-1, 1, (3,)), [8], init_std=0.6, std_max=0.5)
