"""FOP: the mixer's factorised form, the soft TD(lambda) target by hand, a run on discrete MPE, and at a fixed
temperature on the paper's matrix game the product policy it reaches checked against the engine's logit QRE
(benchmarks/fop_matrix_game.py runs 5 seeds)."""
import math

import numpy as np
import pytest
import torch
from gymnasium.spaces import Discrete

from benchmarks.fop_matrix_game import nearest_qre, train_one
from deep.algos import make_algo
from deep.configure import resolve
from deep.envs.base import EnvSpec
from deep.run import start
from tabular.paper import paper_matrix_game
from tabular.qre import enumerate_qre

SPEC = EnvSpec("two agents", 2, (3, 2), 4, (Discrete(3), Discrete(2)), 5)


def _episodes(algo, B=3, L=2, seed=0):
    """A batch in the episode replay's layout: ``B`` episodes of ``L`` steps, the first terminated at step 1."""
    g = torch.Generator().manual_seed(seed)
    avail = torch.ones(B, L + 1, algo.n, algo.A, dtype=torch.bool)
    avail[:, :, 1, 2] = False                        # agent 1 has 2 actions of the padded 3
    act = torch.randint(0, 2, (B, L, algo.n), generator=g)
    return {"state": torch.randn(B, L + 1, 4, generator=g), "obs": torch.randn(B, L + 1, algo.n, algo.D, generator=g),
            "avail": avail, "act": act, "reward": torch.randn(B, L, generator=g),
            "term": torch.tensor([[False, True]] + [[False, False]] * (B - 1)), "filled": torch.ones(B, L, dtype=torch.bool)}


def test_mixer_is_the_factorised_form_with_non_negative_weights():
    """``Q_tot = sum_i lambda_i (Q_i - V_i) + sum_i V_i + V(s)`` (the paper's factorisation, float32 rounding),
    ``lambda_i >= 0``, and ``dQ_tot / dQ_i = 1`` (the advantage term is stop-gradient, as in the reference)."""
    algo = make_algo("fop", SPEC, {"alpha_start": 0.7, "alpha_finish": 0.7})
    mixer = algo.critics[0].mixer
    g = torch.Generator().manual_seed(1)
    q_all = torch.randn(64, 2, 3, generator=g) * 5
    avail = torch.ones(64, 2, 3, dtype=torch.bool)
    avail[:, 1, 2] = False
    act = torch.randint(0, 2, (64, 2), generator=g)
    state = torch.randn(64, 4, generator=g) * 3
    v = algo._soft_values(q_all, avail, 0.7)
    assert torch.allclose(v[:, 1], 0.7 * torch.log(torch.exp(q_all[:, 1, :2] / 0.7).sum(-1)), atol=1e-5)
    q = q_all.gather(-1, act.unsqueeze(-1)).squeeze(-1).requires_grad_(True)
    joint = algo._joint(act)
    q_tot = mixer(q, v, state, joint)
    lam = mixer.weights(state, joint)
    assert (lam >= 0).all() and lam.std() > 0                     # state-action dependent, non-negative
    factorised = (lam * (q - v)).sum(-1) + v.sum(-1) + mixer.v(state).squeeze(-1)
    assert torch.allclose(q_tot, factorised, atol=1e-4 * float(q_tot.detach().abs().max()))
    q_tot.sum().backward()
    assert torch.equal(q.grad, torch.ones_like(q))


def test_soft_td_lambda_target_by_hand():
    """With lambda = 1 the target of a terminated 2-step episode is ``r_0 + gamma (r_1 - alpha sum_i log
    pi^i(a_1))`` (no bootstrap, the entropy of the taken next action); with lambda = 0 and gamma = 0 it is ``r``."""
    algo = make_algo("fop", SPEC, {"td_lambda": 1.0, "gamma": 0.9, "alpha_start": 0.3, "alpha_finish": 0.3})
    b = _episodes(algo)
    y = algo._targets(b, torch.Generator().manual_seed(0))
    _, logp = algo._policy(b["obs"], b["avail"])
    log_taken = logp[0, 1].gather(-1, b["act"][0, 1].unsqueeze(-1)).sum()
    assert torch.isclose(y[0, 1], b["reward"][0, 1], atol=1e-6)
    assert torch.isclose(y[0, 0], b["reward"][0, 0] + 0.9 * (b["reward"][0, 1] - 0.3 * log_taken), atol=1e-5)
    myopic = make_algo("fop", SPEC, {"td_lambda": 0.0, "gamma": 0.0})
    assert torch.equal(myopic._targets(b, torch.Generator().manual_seed(0)), b["reward"])


def test_temperature_is_reported_only_when_fixed_on_one_step_episodes():
    one_step = EnvSpec("matrix", 2, (1, 1), 1, (Discrete(3), Discrete(3)), 1)
    assert make_algo("fop", one_step, {"alpha_start": 2.0, "alpha_finish": 2.0}).temperature() == 2.0
    assert make_algo("fop", one_step).temperature() is None          # annealed
    assert make_algo("fop", SPEC, {"alpha_start": 2.0, "alpha_finish": 2.0}).temperature() is None


def test_runs_on_discrete_mpe(tmp_path):
    pytest.importorskip("mpe2")
    cfg = resolve("mpe", "simple_spread_v3", 0,
                  ["train.progress=false", "train.tensorboard=false", "env_options.continuous_actions=false",
                   "env_options.episode_limit=10", "num_envs=2", "eval_num_envs=2", "algo.batch_size=2",
                   "train.total_steps=80", "train.eval_interval=0", "train.eval_episodes=2", "train.log_interval=40"],
                  algo="fop")
    run = start(cfg, tmp_path / "run")
    last = run.run()
    run.close()
    assert run.counters["updates"] == 8            # 8 episodes of 10 steps (2 copies), one update per episode
    assert math.isfinite(float(last["progress"]["critic_loss"])) and np.isfinite(last["eval"]["eval_return"])


def test_matrix_game_policy_is_near_the_best_logit_qre(tmp_path):
    """At alpha = 10 the engine finds 3 QRE: (0.022, 0.022, 0.956) for both agents (MaxEnt value 20.8), and two
    around B (0.785 and 0.661 on B).  FOP ends nearest the first from every seed tried (benchmarks/
    fop_matrix_game.py, seeds 0-4: max |difference| 0.010-0.034, QRE gap 0.020-0.146).  FOP need not reach a
    QRE exactly: its mixing weights absorb part of the residual that drives ``Q_i`` towards
    ``E_{pi^-i}[r]``, so seeds end slightly sharper.  Tolerances: 0.05 in probability (the 5-seed maximum
    0.034 plus margin; uniform play is 0.62 away and the other QRE at least 0.7), gap 0.15 (5-seed maximum)."""
    alpha = 10.0
    records = enumerate_qre(paper_matrix_game(), alpha)
    assert len(records) == 3 and records[0].policy[0][0, 2] > 0.95
    policy, gap, _ = train_one(0, str(tmp_path / "run"), alpha)
    k, dist = nearest_qre(policy, records)
    assert k == 0 and dist <= 0.05, f"nearest QRE {k} at {dist:.3f}: {[p[0].round(3).tolist() for p in policy]}"
    assert 0 <= gap <= 0.15
