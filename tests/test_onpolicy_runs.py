"""On-policy runs: named losses touch only their own parameters, same seed = same run, SIGKILL then resume =
an uninterrupted run, and a smoke run of every on-policy algorithm on every family with the real simulators."""
import copy
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from deep.algos import make_algo
from deep.config import resolve
from deep.envs.registry import make_env
from deep.run import resume, start
from deep.run.on_policy import collect, make_rollout

ON_POLICY = ("mappo", "happo", "hatrpo", "ppo")
QUIET = ["train.progress=false", "train.tensorboard=false"]
#: tiny budgets: 2 copies x 10 steps per update, one pass of each phase
TINY = ["num_envs=2", "eval_num_envs=2", "algo.hidden=[16, 16]", "algo.rollout_length=10", "algo.critic_epochs=1",
        "train.eval_episodes=2", "train.log_interval=20", "train.eval_interval=0"]


def _tiny(algo):
    return ["algo.ppo_epochs=1"] if algo != "hatrpo" else []


def _state(run) -> dict:
    """Every tensor of the algorithm's checkpoint state (networks, ValueNorm, optimiser moments), by path."""
    out = {}

    def walk(x, path):
        if isinstance(x, torch.Tensor):
            out[path] = x
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{path}.{k}")
        elif isinstance(x, (list, tuple)):
            for k, v in enumerate(x):
                walk(v, f"{path}.{k}")
    walk(run.algo.state_dict(), "algo")
    return out


def _assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


# ---------------------------------------------------------------- named losses
@pytest.mark.parametrize("name", ON_POLICY)
def test_each_named_loss_puts_gradient_on_its_own_group_only_and_inputs_are_not_mutated(name):
    torch.manual_seed(0)
    env = make_env("mpe", "simple_spread_v3", 2, seed=0, continuous_actions=False)
    algo = make_algo(name, env.spec, {"hidden": (16,), "rollout_length": 5})
    r = env.reset(seed=0)
    batch, _ = collect(algo, env, make_rollout(algo, env, r), r)
    before = copy.deepcopy(batch)
    groups = algo.param_groups()
    losses = algo.losses(batch)
    assert set(losses) == set(groups)
    for lname, loss in losses.items():
        for p in algo.critic.parameters():
            p.grad = None
        for g in groups.values():
            for p in g:
                p.grad = None
        loss.backward()
        for gname, params in groups.items():
            touched = any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
            assert touched == (gname == lname), (lname, gname)
    for field in ("state", "log_prob", "value", "advantage", "returns"):
        np.testing.assert_array_equal(getattr(batch, field), getattr(before, field))
    for a, b in zip(batch.obs + batch.actions, before.obs + before.actions):
        np.testing.assert_array_equal(a, b)
    assert algo.target_params() == []


# ---------------------------------------------------------------- determinism and resume
def _cfg(name, seed=0, extra=()):
    return resolve("mpe", "simple_spread_v3", seed, [*QUIET, *TINY, *_tiny(name), "train.total_steps=100",
                                                     "train.checkpoint_interval=0", *extra], algo=name)


@pytest.mark.parametrize("name", ON_POLICY)
def test_same_seed_twice_gives_the_same_run_and_resume_mid_episode_is_exact(tmp_path, name):
    """Two runs with one seed end equal; a run checkpointed after 3 rollouts (30 vector steps: mid-episode,
    episodes last 25) and resumed ends equal to them; another seed does not."""
    pytest.importorskip("mpe2")
    runs = []
    for d in ("a", "b"):
        run = start(_cfg(name), tmp_path / d)
        run.run()
        runs.append(run)
    _assert_same(_state(runs[0]), _state(runs[1]))
    cut = start(_cfg(name), tmp_path / "cut")
    cut.run(stop_after=3)
    cut.save_checkpoint()
    resumed = resume(tmp_path / "cut")
    resumed.run()
    assert resumed.counters["updates"] == runs[0].counters["updates"] == 5
    _assert_same(_state(runs[0]), _state(resumed))
    other = start(_cfg(name, seed=1), tmp_path / "c")
    other.run()
    assert not torch.equal(_state(other)["algo.critic.out.weight"], _state(runs[0])["algo.critic.out.weight"])


def test_sigkill_then_meharl_resume_equals_an_uninterrupted_run(tmp_path):
    """HAPPO on the matrix game, killed after its first checkpoint: `meharl resume` ends where an
    uninterrupted run ends (networks, ValueNorm, optimisers)."""
    args = [*QUIET, "train.total_steps=1280", "train.checkpoint_interval=320", "train.eval_interval=640",
            "train.log_interval=160", "algo.hidden=[16, 16]", "algo.ppo_epochs=2", "algo.critic_epochs=2"]
    ref = start(resolve("tabular", "paper-matrix", 0, args, algo="happo"), tmp_path / "ref")
    ref.run()
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "meharl", "train", "--algo", "happo", "--env", "tabular", "--task",
           "paper-matrix", "--seed", "0", "--run-dir", str(run_dir), "--set", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    ck, deadline = run_dir / "checkpoint.pt", time.time() + 120
    while not ck.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it was killed: {err}"
    assert 0 < torch.load(ck, weights_only=True)["counters"]["env_steps"] < 1280
    assert subprocess.run([sys.executable, "-m", "meharl", "resume", str(run_dir)], capture_output=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1")).returncode == 0
    resumed = resume(run_dir)  # the finished run, rebuilt from its final checkpoint
    assert resumed.counters["env_steps"] == 1280
    _assert_same(_state(ref), _state(resumed))


# ---------------------------------------------------------------- smoke runs with the real simulators
FAMILIES = [
    ("tabular", "paper-matrix", []),
    ("mpe", "simple_spread_v3", ["env_options.continuous_actions=false"]),
    ("mpe", "simple_spread_v3", ["env_options.continuous_actions=true"]),
    ("mamujoco", "HalfCheetah-2x3", ["env_options.episode_limit=15"]),
]


@pytest.mark.parametrize("env, task, extra", FAMILIES, ids=["tabular", "mpe-discrete", "mpe-box", "mamujoco"])
@pytest.mark.parametrize("name", ON_POLICY)
def test_smoke_run_with_the_real_simulator(tmp_path, name, env, task, extra):
    if env != "tabular":
        pytest.importorskip({"mpe": "mpe2", "mamujoco": "gymnasium_robotics"}[env])
    cfg = resolve(env, task, 0, [*QUIET, *TINY, *_tiny(name), "train.total_steps=40", *extra], algo=name)
    run = start(cfg, tmp_path / "run")
    last = run.run()
    run.close()
    assert run.counters["env_steps"] == 40 and run.counters["updates"] == 2
    assert np.isfinite(last["eval"]["eval_return"]) and np.isfinite(last["progress"]["critic_loss"])
