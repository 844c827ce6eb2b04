"""The off-policy baselines HATD3, SAC and deterministic HASAC (``hasac-det``) beyond the registry-wide checks
of tests/test_algorithms.py: their update rules, the deterministic actors' action mapping and exploration per
component of a MultiDiscrete action, SAC reaching the engine's joint soft optimum, the deterministic methods
reaching a pure equilibrium of the paper's matrix game, refusals, HATD3's air-combat configs, and a smoke run
of each on every family it supports with the real simulators (air combat, MultiDiscrete: in
tests/test_families_training.py, with checkpoints and resume)."""
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
import torch
from gymnasium.spaces import Box, Discrete, MultiDiscrete

import tabular
from deep.algos import make_algo
from deep.algos.hasac_det import HASACDet, HASACDetParams
from deep.algos.hatd3 import HATD3, HATD3Params
from deep.algos.sac import SAC, SACParams
from deep.configure import resolve
from deep.envs.base import EnvSpec
from deep.nets.heads import DeterministicBoxActor, DeterministicDiscreteActor, DeterministicMultiDiscreteActor
from deep.run import start
from tabular.best_response import soft_best_response
from tabular.paper import paper_matrix_game

QUIET = ["train.progress=false", "train.tensorboard=false", "train.eval_interval=0"]
NEW = ("hatd3", "sac", "hasac-det")


def _batch(spec: EnvSpec, B=32, seed=0) -> dict:
    """A random replay-style batch for ``spec`` (stored action forms as the buffer keeps them)."""
    g = torch.Generator().manual_seed(seed)
    acts = [torch.rand(B, s.shape[0], generator=g) * 2 - 1 if isinstance(s, Box)
            else torch.randint(0, int(s.n), (B,), generator=g) for s in spec.action_spaces]
    avail = [None if isinstance(s, Box) else torch.ones(B, int(s.n), dtype=torch.bool) for s in spec.action_spaces]
    return {"state": torch.randn(B, spec.state_dim, generator=g), "next_state": torch.randn(B, spec.state_dim, generator=g),
            "obs": [torch.randn(B, d, generator=g) for d in spec.obs_dims],
            "next_obs": [torch.randn(B, d, generator=g) for d in spec.obs_dims], "act": acts,
            "avail": avail, "next_avail": avail, "reward_sum": torch.randn(B, generator=g),
            "logp_sum": torch.randn(B, spec.n_agents, generator=g), "disc": torch.full((B,), 0.9)}


BOX2 = EnvSpec("box2", 2, (3, 4), 5, (Box(0, 1, (2,)), Box(-2, 2, (1,))), 10)


# ---------------------------------------------------------------- deterministic actors
def test_deterministic_actors_keep_bounds_and_masks_and_noise_is_clipped():
    torch.manual_seed(0)
    box = DeterministicBoxActor(3, Box(np.array([0.0, -2.0], np.float32), np.array([1.0, 3.0], np.float32)), [16])
    obs = torch.randn(2000, 3) * 5
    mean = box.act(obs)
    noisy = box.act(obs, noise=10.0)
    smoothed = box.act(obs, noise=10.0, clip=0.5)
    for s in (mean, noisy, smoothed):
        assert torch.all(s.env >= torch.tensor([0.0, -2.0])) and torch.all(s.env <= torch.tensor([1.0, 3.0]))
        assert torch.all(s.logp == 0)
    assert (noisy.stored - mean.stored).abs().max() > 1.0           # large noise reaches across the box
    assert (smoothed.stored - mean.stored).abs().max() <= 0.5 + 1e-6  # clipped smoothing noise
    disc = DeterministicDiscreteActor(3, 4, [16])
    avail = torch.ones(2000, 4, dtype=torch.bool)
    avail[:, 1] = False
    avail[::3, 3] = False
    for s in (disc.act(obs, avail), disc.act(obs, avail, noise=2.0)):
        assert avail.gather(1, s.env[:, None]).all()
    s = disc.act(obs, avail)
    # the critic's view of the proto-action is (x + 1) / 2 in [0, 1]^n; the argmax over available actions is played
    x = disc.proto(obs)
    torch.testing.assert_close(s.rep, (x + 1) / 2)
    assert torch.equal(s.env, x.masked_fill(~avail, -2.0).argmax(-1))


def test_multidiscrete_deterministic_actor_maps_each_component_by_hand():
    """Component j plays the argmax of its own block of the proto-action over its available actions; the
    critic sees the components' one-hots concatenated, the actor loss the proto-action (x + 1) / 2."""
    actor = DeterministicMultiDiscreteActor(3, MultiDiscrete([3, 2, 4]), [8])
    x = torch.tensor([[0.2, -0.1, 0.5, 0.3, 0.9, -0.4, 0.0, 0.7, -1.0],
                      [0.9, 0.8, -0.2, -0.5, -0.6, 0.3, 0.1, -0.3, 0.2]])
    avail = torch.ones(2, 9, dtype=torch.bool)
    avail[0, 2] = False   # row 0: component 0's action 2 (the block's largest, 0.5) is unavailable
    avail[1, 5] = False   # row 1: component 2's action 0 (its block's largest, 0.3) is unavailable
    s = actor.to_action(x, avail)
    assert s.env.tolist() == [[0, 1, 2], [0, 0, 3]] and torch.equal(s.stored, s.env)
    torch.testing.assert_close(s.rep, (x + 1) / 2, rtol=0, atol=0)
    assert actor.rep_of(s.stored).tolist() == [[1, 0, 0, 0, 1, 0, 0, 1, 0], [1, 0, 0, 1, 0, 0, 0, 0, 1]]
    assert actor.to_action(x).env.tolist() == [[2, 1, 2], [0, 0, 0]]   # no mask: the blocks' plain argmax


def test_multidiscrete_exploration_perturbs_each_component_on_its_own():
    """A constant proto-action x = (0.2, 0, -0.5 | 0, 0) with exploration noise sigma = 0.1 per coordinate:
    component 0 leaves action 0 when e1 - e0 > 0.2 (action 2 needs e2 - e0 > 0.7: about 4e-7), probability
    Phi(-0.2 / (0.1 sqrt 2)) = 0.0786; component 1 is a fair coin (equal coordinates); independent noise makes
    the joint frequency the product.  n = 40000 draws: binomial sd <= 0.0025, tolerance 0.01 (4 sd)."""
    actor = DeterministicMultiDiscreteActor(2, MultiDiscrete([3, 2]), [4])
    last = actor.body[-1]
    x = torch.tensor([0.2, 0.0, -0.5, 0.0, 0.0])
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.atanh(x))
    torch.manual_seed(0)
    obs = torch.zeros(40_000, 2)
    assert actor.act(obs).env.unique(dim=0).tolist() == [[0, 0]]   # no noise: the greedy action
    a = actor.act(obs, noise=0.1).env
    leave0 = NormalDist().cdf(-0.2 / (0.1 * math.sqrt(2)))
    p_leave, p_one = float((a[:, 0] != 0).float().mean()), float((a[:, 1] == 1).float().mean())
    assert abs(p_leave - leave0) <= 0.01 and abs(p_one - 0.5) <= 0.01
    assert abs(float(((a[:, 0] != 0) & (a[:, 1] == 1)).float().mean()) - leave0 * 0.5) <= 0.01
    # target smoothing: noise clipped at 0.05 moves e1 - e0 by at most 0.1 < 0.2, so component 0 stays;
    # unclipped, the same noise (sigma 0.3) moves it with probability Phi(-0.2 / (0.3 sqrt 2)) = 0.32
    assert bool((actor.act(obs, noise=0.3, clip=0.05).env[:, 0] == 0).all())
    assert float((actor.act(obs, noise=0.3).env[:, 0] != 0).float().mean()) > 0.25


# ---------------------------------------------------------------- HATD3 and hasac-det update rules
def _params(cls, **kw):
    return cls.Params(hidden=(16,), **kw)


def _flat(nets) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for n in nets for p in n.parameters()])


def test_hatd3_delays_actors_and_targets_and_averages_them():
    torch.manual_seed(0)
    algo = HATD3(BOX2, _params(HATD3, policy_freq=2, polyak=0.1))
    batch = _batch(BOX2)
    actors0, targets0 = _flat(algo.actors), _flat(algo.actor_targets)
    critic_target0 = _flat([algo.critic_target])
    algo.update(batch, np.random.default_rng(0))   # update 1: critic only
    assert torch.equal(_flat(algo.actors), actors0) and torch.equal(_flat(algo.actor_targets), targets0)
    assert torch.equal(_flat([algo.critic_target]), critic_target0)
    critic1 = _flat([algo.critic])
    algo.update(batch, np.random.default_rng(1))   # update 2: critic, actors, then every target
    actors2 = _flat(algo.actors)
    assert not torch.equal(actors2, actors0)
    torch.testing.assert_close(_flat(algo.actor_targets), 0.9 * targets0 + 0.1 * actors2, rtol=0, atol=1e-6)
    torch.testing.assert_close(_flat([algo.critic_target]), 0.9 * critic_target0 + 0.1 * _flat([algo.critic]),
                               rtol=0, atol=1e-6)
    assert not torch.equal(_flat([algo.critic]), critic1)


def test_hatd3_critic_target_uses_smoothed_target_actions():
    torch.manual_seed(0)
    algo = HATD3(BOX2, _params(HATD3, policy_noise=0.2, noise_clip=0.5))
    batch = _batch(BOX2)
    torch.manual_seed(5)
    y = algo.critic_target_values(batch)
    torch.manual_seed(5)  # the same smoothing noise, by hand
    reps = []
    for t, o in zip(algo.actor_targets, batch["next_obs"]):
        x = t.proto(o)
        reps.append((x + (0.2 * torch.randn_like(x)).clamp(-0.5, 0.5)).clamp(-1, 1))
    with torch.no_grad():
        v = algo.critic_target.min_q(batch["next_state"], torch.cat(reps, -1))
    torch.testing.assert_close(y, batch["reward_sum"] + batch["disc"] * v)   # no entropy terms: logp_sum unused


@pytest.mark.parametrize("cls", [HATD3, HASACDet])
def test_actors_are_updated_in_a_fresh_order_against_the_updated_agents_actions(cls, monkeypatch):
    """Each agent's loss sees the agents before it in the permutation with their *updated* actions and the
    agents after it with their old ones; the permutation is drawn afresh from the rng each actor phase."""
    spec = EnvSpec("box3", 3, (3, 3, 3), 5, (Box(-1, 1, (1,)),) * 3, 10)
    torch.manual_seed(0)
    algo = cls(spec, _params(cls, **({"policy_freq": 1} if cls is HATD3 else {})))
    batch = _batch(spec)
    seen = []
    original = algo.actor_loss

    def spy(i, b, reps):
        current = [algo._current_reps(b, j) for j in range(3)]
        seen.append((i, [torch.equal(r, c) for r, c in zip(reps, current)]))
        return original(i, b, reps)
    monkeypatch.setattr(algo, "actor_loss", spy)
    orders = []
    for k in range(6):
        seen.clear()
        algo.update(batch, np.random.default_rng(k))
        orders.append(tuple(algo.last_order))
        assert [i for i, _ in seen] == list(algo.last_order)
        for i, same in seen:  # every other agent's action is its current actor's (updated or not yet moved)
            assert all(same[j] for j in range(3) if j != i)
    assert len(set(orders)) > 1


def test_hasac_det_bootstraps_with_current_actors_and_the_min_of_its_targets():
    torch.manual_seed(0)
    algo = HASACDet(BOX2, _params(HASACDet))
    assert algo.actor_targets == [] and algo.target_params() == list(algo.critic_target.parameters())
    batch = _batch(BOX2)
    y = algo.critic_target_values(batch)
    with torch.no_grad():
        joint = torch.cat([a.proto(o) for a, o in zip(algo.actors, batch["next_obs"])], -1)
        v = algo.critic_target.min_q(batch["next_state"], joint)
    torch.testing.assert_close(y, batch["reward_sum"] + batch["disc"] * v)
    before = _flat(algo.actors)
    algo.update(batch, np.random.default_rng(0))   # actors move at every update (no delay)
    assert not torch.equal(_flat(algo.actors), before)


# ---------------------------------------------------------------- SAC on the joint action
def test_sac_joint_actions_split_join_and_masks():
    spec = EnvSpec("d", 2, (2, 2), 3, (Discrete(3), Discrete(2)), 5)
    algo = SAC(spec, _params(SAC))
    idx = torch.arange(6)
    parts = algo.split(idx)
    assert [p.tolist() for p in parts] == [[0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1]]   # row-major
    assert torch.equal(algo.join(parts), idx)
    m0 = np.array([[True, False, True]])
    m1 = np.array([[False, True]])
    assert algo.joint_avail([m0, m1]).tolist() == [[False, True, False, False, False, True]]   # (A, 1), (C, 1)
    for _ in range(20):
        acted = algo.act([np.zeros((1, 2), np.float32)] * 2, [m0, m1])
        assert acted.env_actions[0][0] in (0, 2) and acted.env_actions[1][0] == 1
    box = SAC(BOX2, _params(SAC))
    acted = box.act([np.zeros((4, 3), np.float32), np.zeros((4, 4), np.float32)], [None, None])
    assert acted.env_actions[0].shape == (4, 2) and acted.env_actions[1].shape == (4, 1)
    assert np.all(acted.env_actions[0] >= 0) and np.all(acted.env_actions[0] <= 1)
    assert np.all(np.abs(acted.env_actions[1]) <= 2)
    assert np.all(acted.log_prob[1] == 0)   # the joint log-density is in agent 0's column


def test_sac_refuses_what_one_joint_policy_cannot_cover_by_name():
    big = EnvSpec("big", 3, (2, 2, 2), 3, (Discrete(10),) * 3, 5)
    with pytest.raises(ValueError, match=r"1000 actions \(10 x 10 x 10\), more than algo.max_joint_actions=256"):
        make_algo("sac", big, {"hidden": [8]})
    mixed = EnvSpec("mixed", 2, (2, 2), 3, (Discrete(3), Box(-1, 1, (2,))), 5)
    with pytest.raises(ValueError, match="mixes box and discrete"):
        make_algo("sac", mixed, {"hidden": [8]})
    md = EnvSpec("md", 1, (2,), 2, (MultiDiscrete([2, 3]),), 5)
    with pytest.raises(ValueError, match="algorithm sac does not support multidiscrete"):
        make_algo("sac", md)


def _train(tmp_path, name, task, overrides, seed=0):
    run = start(resolve("tabular", task, seed, [*QUIET, *overrides], algo=name), tmp_path / f"{name}_{seed}")
    run.run()
    run.close()
    return run


#: higher learning rates than the shipped tabular configs' 1e-3, so each run trains for a few seconds
FAST = ["algo.actor_lr=3e-3", "algo.critic_lr=3e-3"]


def test_sac_at_fixed_alpha_reaches_the_joint_soft_optimum_of_the_matrix_game(tmp_path):
    """With gamma = 0 the joint soft optimum is ``pi(a) ∝ exp(r(a) / alpha)`` over the 9 joint actions
    (alpha = 10: (C, C) 0.588, (B, B) 0.216, (A, A) 0.131).  Tolerance: the policy is the Boltzmann
    distribution of the learnt critic, whose TV to the optimum is at most about max|Q - r| / alpha; 250
    updates leave about 2e-5 here, 0.05 allows a critic error of about 0.5 (2.5% of the reward range)."""
    game = paper_matrix_game()
    alpha = 10.0
    ref = np.exp(game.payoff.ravel() / alpha)
    ref /= ref.sum()
    run = _train(tmp_path, "sac", "paper-matrix", [*FAST, f"algo.alpha={alpha}", "train.total_steps=2400"])
    p = run.algo.joint_action_probs([np.ones((1, 1), np.float32)] * 2).double().numpy()[0]
    assert 0.5 * np.abs(p - ref).sum() <= 0.05, f"deep {p.round(3).tolist()} vs optimum {ref.round(3).tolist()}"


@pytest.mark.parametrize("n_states, game_seed", [(3, 1), (2, 4)])
def test_sac_at_fixed_alpha_reaches_the_engines_joint_soft_optimum_on_random_markov_games(tmp_path, n_states,
                                                                                          game_seed):
    """The engine's optimum: the joint action as one agent's action (a one-agent game with the same rewards
    and kernel), solved exactly by ``soft_best_response``.  Tolerance as above; measured per-state TV at this
    budget is at most about 0.014 (fixed seeds)."""
    alpha = 1.0
    game = tabular.random_markov_game(n_states, (2, 2), gamma=0.5, seed=game_seed)
    joint = tabular.MarkovGame(game.P, game.r.reshape(n_states, -1), game.gamma)
    ref = soft_best_response(joint, tabular.JointPolicy.uniform(joint), alpha, 0).policy
    assert not np.allclose(ref, ref[:, :1])   # the optimum is not the uniform start
    path = tmp_path / "game.json"
    game.save(path)
    run = _train(tmp_path, "sac", str(path), [*FAST, f"algo.alpha={alpha}", "train.total_steps=2400"])
    assert run.algo.params.gamma == 0.5
    eye = np.eye(n_states, dtype=np.float32)
    p = run.algo.joint_action_probs([eye, eye]).double().numpy()
    tv = 0.5 * np.abs(p - ref).sum(axis=1)
    assert tv.max() <= 0.05, f"TV per state {tv.tolist()}"


@pytest.mark.parametrize("name", ["hatd3", "hasac-det"])
def test_deterministic_methods_reach_a_pure_equilibrium_of_the_matrix_game(tmp_path, name):
    """Deterministic actors converge to one of the pure Nash equilibria (A, A), (B, B), (C, C) (which one, over 5
    seeds: benchmarks/matrix_game_deterministic.py).  A pure joint action off the diagonal earns -20 and is
    not an equilibrium; the check reads the deterministic (evaluation) action."""
    run = _train(tmp_path, name, "paper-matrix", ["train.total_steps=2400"])
    ones = [np.ones((1, 1), np.float32)] * 2
    acts = run.algo.act(ones, [np.ones((1, 3), bool)] * 2, deterministic=True).env_actions
    a, b = int(acts[0][0]), int(acts[1][0])
    assert a == b, f"{name} ended on the joint action {'ABC'[a]}{'ABC'[b]}, not an equilibrium"


AIRCOMBAT = ("1v1-NoWeapon-vsBaseline", "1v1-ShootMissile-vsBaseline", "2v2-NoWeapon-vsBaseline",
             "2v2-ShootMissile-vsBaseline")


def test_hatd3_aircombat_configs_hold_harls_hatd3_defaults():
    """deep/configs/paper/hatd3/aircombat_*.yaml (no LAG settings in the paper's copy or the reference code:
    HARL's harl/configs/algos_cfgs/hatd3.yaml, as the files say) over the task configs' episode limit."""
    for task in AIRCOMBAT:
        cfg = resolve("aircombat", task, 0, algo="hatd3")
        a, t = cfg["algo"], cfg["train"]
        assert cfg["num_envs"] == 10 and a["hidden"] == [128, 128] and a["critic_loss"] == "mse"
        assert (a["actor_lr"], a["critic_lr"], a["gamma"], a["n_step"], a["batch_size"], a["polyak"]) == (
            5e-4, 1e-3, 0.99, 1, 1000, 5e-3)
        assert (a["expl_noise"], a["policy_noise"], a["noise_clip"], a["policy_freq"]) == (0.1, 0.2, 0.5, 2)
        assert (t["warmup_steps"], t["train_interval"], t["updates_per_train"], t["buffer_size"]) == (
            10_000, 50, 50, 1_000_000)
        assert cfg["env_options"]["episode_limit"] == 1000


# ---------------------------------------------------------------- smoke runs with the real simulators
FAMILIES = [
    ("tabular", "paper-matrix", []),
    ("mpe", "simple_spread_v3", ["env_options.continuous_actions=false"]),
    ("mpe", "simple_spread_v3", ["env_options.continuous_actions=true"]),
    ("mamujoco", "HalfCheetah-2x3", ["env_options.episode_limit=15"]),
]
TINY = ["num_envs=2", "eval_num_envs=2", "algo.hidden=[16, 16]", "algo.batch_size=16", "algo.n_step=3",
        "train.warmup_steps=20", "train.train_interval=5", "train.updates_per_train=2", "train.eval_episodes=2",
        "train.log_interval=20", "train.total_steps=60"]


@pytest.mark.parametrize("env, task, extra", FAMILIES, ids=["tabular", "mpe-discrete", "mpe-box", "mamujoco"])
@pytest.mark.parametrize("name", NEW)
def test_smoke_run_with_the_real_simulator(tmp_path, name, env, task, extra):
    if env != "tabular":
        pytest.importorskip({"mpe": "mpe2", "mamujoco": "gymnasium_robotics"}[env])
    cfg = resolve(env, task, 0, [*QUIET, *TINY, *extra], algo=name)
    run = start(cfg, tmp_path / "run")
    last = run.run()
    run.close()
    # 30 vector steps of 2 copies; training every 5th from the 10th (warm-up over): 5 phases of 2 updates
    assert run.counters["env_steps"] == 60 and run.counters["updates"] == 5 * 2
    assert np.isfinite(last["eval"]["eval_return"]) and np.isfinite(last["progress"]["critic_loss"])
    assert math.isfinite(float(last["progress"]["q1_mean"]))


def test_the_comparison_script_extends_a_shorter_comparison_to_the_runs_a_longer_one_trains(tmp_path):
    """benchmarks/compare_offpolicy.py --reuse: a run shorter than --steps is resumed to it, and the result is the
    run that training that long from the start gives (every evaluation equal); a run long enough is kept."""
    from benchmarks.compare_offpolicy import last_eval, train
    sets = ["train.eval_episodes=2", "eval_num_envs=2", "num_envs=2", "algo.hidden=[16, 16]", "algo.batch_size=16",
            "train.warmup_steps=20", "train.train_interval=5", "train.updates_per_train=2", "train.tensorboard=false",
            "train.log_interval=20"]
    task = "tabular:paper-matrix"
    train("hatd3", task, 0, 60, 20, sets, tmp_path / "short")
    assert int(last_eval(tmp_path / "short")["env_steps"]) == 60
    train("hatd3", task, 0, 120, 20, sets, tmp_path / "short", reuse=True)
    train("hatd3", task, 0, 120, 20, sets, tmp_path / "long")
    evals = [(tmp_path / d / "eval.csv").read_text().splitlines() for d in ("short", "long")]
    assert len(evals[0]) == 1 + 120 // 20
    assert [r.split(",")[:3] for r in evals[0]] == [r.split(",")[:3] for r in evals[1]]
    # the training statistics too, which any departure of the resumed run would change
    logs = [pd.read_csv(tmp_path / d / "progress.csv") for d in ("short", "long")]
    assert logs[0]["env_steps"].max() == 120 and logs[0]["critic_loss"].notna().sum() >= 4
    pd.testing.assert_frame_equal(*(lg[["env_steps", "critic_loss", "q1_mean"]] for lg in logs), check_exact=True)
    before = (tmp_path / "long" / "eval.csv").read_text()
    train("hatd3", task, 0, 100, 20, sets, tmp_path / "long", reuse=True)  # long enough: kept, nothing trained
    assert (tmp_path / "long" / "eval.csv").read_text() == before
