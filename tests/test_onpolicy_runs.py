"""On-policy runs beyond the registry-wide checks of tests/test_algorithms.py (which run on the matrix game):
same seed = same run and exact resume mid-episode on MPE, and a smoke run of every on-policy algorithm on
every family with the real simulators."""

import numpy as np
import pytest
import torch

from deep.configure import resolve
from deep.run import resume, start

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
    cut.close()  # one process at a time trains in a run directory
    resumed = resume(tmp_path / "cut")
    resumed.run()
    assert resumed.counters["updates"] == runs[0].counters["updates"] == 5
    _assert_same(_state(runs[0]), _state(resumed))
    other = start(_cfg(name, seed=1), tmp_path / "c")
    other.run()
    assert not torch.equal(_state(other)["algo.critic.out.weight"], _state(runs[0])["algo.critic.out.weight"])


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
