"""The training workflow: configs, determinism, exact resume after SIGKILL, the CLI, smoke runs per env family."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from deep.config import CONFIG_DIR
from deep.configure import resolve
from deep.run import resume, start
from meharl.cli import main

QUIET = ["train.progress=false", "train.tensorboard=false"]


def _params(tr) -> dict:
    """Every tensor that the next training step depends on, by name."""
    out = {}
    for k, a in enumerate(tr.algo.unique):
        out.update({f"actor{k}.{n}": p for n, p in a.state_dict().items()})
    out.update({f"critic.{n}": p for n, p in tr.algo.critic.state_dict().items()})
    out.update({f"target.{n}": p for n, p in tr.algo.critic_target.state_dict().items()})
    out.update({f"log_alpha{i}": la for i, la in enumerate(tr.algo.log_alpha)})
    for k, opt in enumerate(tr.algo.actor_opts + [tr.algo.critic_opt]):
        for j, st in enumerate(opt.state.values()):
            out.update({f"opt{k}.{j}.{n}": v for n, v in st.items()})
    return out


def _assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


# ---------------------------------------------------------------- configs
def test_every_shipped_config_validates_and_holds_the_paper_settings():
    paths = sorted(CONFIG_DIR.glob("tasks/*/*.yaml"))
    # + the smac maps, aircombat, bimanual and football tasks, and pettingzoo's one config for any ParallelEnv
    assert len(paths) == 15 + 13 + 4 + 10 + 7 + 1
    for path in paths:
        env = path.parent.name
        task = {("tabular", "game"): "g.json", ("pettingzoo", "parallel_env"): "mpe2.simple_spread_v3:parallel_env"
                }.get((env, path.stem), path.stem)
        cfg = resolve(env, task, 0)
        assert cfg["algo"]["polyak"] == 0.005
        if env not in ("tabular", "pettingzoo"):   # the paper's settings; a user's own environment has none
            assert cfg["algo"]["hidden"] == [256, 256] and cfg["num_envs"] == 20
            assert cfg["train"]["warmup_steps"] == 10_000 and cfg["train"]["buffer_size"] == 1_000_000
            assert cfg["train"]["train_interval"] == cfg["train"]["updates_per_train"] == 50
    spread = resolve("mpe", "simple_spread_v3", 0)["algo"]
    assert (spread["n_step"], spread["actor_lr"], spread["critic_lr"], spread["auto_alpha"]) == (20, 5e-4, 5e-4, True)
    hc = resolve("mamujoco", "HalfCheetah-2x3", 0)["algo"]
    assert (hc["n_step"], hc["actor_lr"], hc["critic_lr"], hc["auto_alpha"]) == (10, 1e-3, 1e-3, True)
    ant = resolve("mamujoco", "Ant-2x4", 0)["algo"]
    assert (ant["batch_size"], ant["n_step"], ant["auto_alpha"], ant["alpha"]) == (2200, 5, False, 0.2)
    m89 = resolve("smac", "8m_vs_9m", 0)["algo"]
    assert (m89["gamma"], m89["n_step"], m89["actor_lr"], m89["critic_loss"], m89["value_norm"]) == \
        (0.95, 5, 3e-4, "huber", True)
    # the discrete temperature rule (docs/settings.md): alpha from 0.05 towards 0.1 log|A^i| on every auto-alpha
    # SMAC map (from 0.001 the policies turned greedy before finding the fight: benchmarks/learning_runs/smax_explore)
    for m in ("8m_vs_9m", "10m_vs_11m", "5m_vs_6m", "3s5z", "3s5z_vs_3s6z", "6h_vs_8z", "3m", "2s3z"):
        algo = resolve("smac", m, 0)["algo"]
        assert (algo["alpha"], algo["target_entropy_fraction"]) == (0.05, 0.1), m
    corridor = resolve("smac", "corridor", 0)["algo"]
    assert (corridor["auto_alpha"], corridor["alpha"], corridor["actor_lr"]) == (False, 0.002, 5e-4)
    hand_over = resolve("bimanual", "hand_over", 0)
    assert (hand_over["algo"]["n_step"], hand_over["env_options"]["episode_limit"]) == (20, 75)
    # HARL's tuned_configs/dexhands/ShadowHand{Pen,Door*}/hasac: gamma 0.95 except Open Outward's 0.99,
    # update_per_train 1 x train_interval 50 = 50 updates every 50 vector steps of 20 copies
    for task, gamma, limit in (("hand_pen", 0.95, 125), ("door_open_outward", 0.99, 250),
                               ("door_open_inward", 0.95, 250), ("door_close_inward", 0.95, 250)):
        cfg = resolve("bimanual", task, 0)
        assert (cfg["algo"]["gamma"], cfg["algo"]["batch_size"], cfg["algo"]["alpha"], cfg["algo"]["actor_lr"],
                cfg["env_options"]["episode_limit"], cfg["num_envs"], cfg["train"]["train_interval"],
                cfg["train"]["updates_per_train"], cfg["train"]["total_steps"]) == \
            (gamma, 1000, 1.0, 5e-4, limit, 20, 50, 50, 10_000_000)
    assert resolve("aircombat", "2v2-ShootMissile-vsBaseline", 0)["env_options"]["episode_limit"] == 1000
    rps, corner = (resolve("football", t, 0) for t in ("academy_run_pass_and_shoot_with_keeper", "academy_corner"))
    assert (rps["algo"]["discrete_actor_loss"], rps["algo"]["n_step"], rps["train"]["total_steps"]) == ("gumbel", 20, 20e6)
    assert corner["train"]["total_steps"] == 25e6  # Appendix H.2.4
    # a target entropy of 0.1 log|A^i|, 0.98's ran alpha away on RPS (benchmarks/learning_runs/grf_rps_hasac*)
    assert rps["algo"]["target_entropy_fraction"] == corner["algo"]["target_entropy_fraction"] == 0.1
    walker = resolve("mamujoco", "Walker2d-6x1", 0)["algo"]
    assert (walker["n_step"], walker["actor_lr"], walker["critic_lr"], walker["alpha"]) == (20, 5e-4, 1e-3, 0.2)


FOOTBALL_PAPER_TASKS = ("academy_run_pass_and_shoot_with_keeper", "academy_corner")  # Fig. 3g-h


def test_football_paper_configs_of_every_algorithm_resolve_with_the_reference_settings():
    """The four algorithms of Fig. 3g-h have a paper config on both GRF tasks (no other football ones), each
    resolving through the same layers as ``meharl train --algo A --env football``, with the paper's budgets
    and the values looked up in HARL's tuned RPS HAPPO config (deep/configs/paper/{happo,mappo}/football_*)."""
    shipped = {(p.parent.name, p.stem) for p in CONFIG_DIR.glob("paper/*/football_*.yaml")}
    assert shipped == {(a, f"football_{t}") for a in ("hasac", "happo", "mappo", "qmix") for t in FOOTBALL_PAPER_TASKS}
    for algo, stem in sorted(shipped):
        task = stem.removeprefix("football_")
        cfg = resolve("football", task, 0, algo=algo)
        assert cfg["algo_name"] == algo and cfg["env_options"]["workers"] == 2
        assert cfg["train"]["total_steps"] == {"academy_run_pass_and_shoot_with_keeper": 20e6,
                                               "academy_corner": 25e6}[task]  # Appendix H.2.4
        if algo in ("happo", "mappo"):
            a = cfg["algo"]
            assert cfg["num_envs"] == 50 and a["hidden"] == [64, 64] and a["rollout_length"] == 200
            assert (a["ppo_epochs"], a["critic_epochs"], a["actor_minibatches"], a["critic_minibatches"]) == (15, 15, 2, 2)
            assert (a["clip"], a["entropy_coef"], a["actor_lr"], a["huber_delta"], a["value_norm"]) == (0.2, 0.01, 5e-4,
                                                                                                   10.0, True)
            assert a["share_params"] is (algo == "mappo")
    qmix_corner = resolve("football", "academy_corner", 0, algo="qmix")
    assert qmix_corner["train"]["buffer_episodes"] == 1000 and qmix_corner["algo"]["epsilon_anneal_steps"] == 50_000


def test_every_paper_config_validates_for_its_pair_and_its_settings_hold_there():
    """``deep/configs/paper/<algo>/<env>_<task>.yaml``: resolves (validated) for that algorithm and task, and
    every value the file sets is the resolved one (no later layer hides it); SMAC spot checks against the
    reference configs (HARL tuned_configs/smac, MAPPO's train_smac_scripts, pymarl's QMIX defaults)."""
    paths = sorted(CONFIG_DIR.glob("paper/*/*.yaml"))
    smac = [p for p in paths if p.stem.startswith("smac_")]
    # hasac (paper maps + the easy maps 3m, 2s3z), happo and hatrpo (HARL's), mappo (MAPPO's scripts + 2s3z)
    assert len(smac) == 9 + 9 + 9 + 13
    for path in paths:
        env, task = path.stem.split("_", 1)
        cfg = resolve(env, "g.json" if (env, task) == ("tabular", "game") else task, 0, algo=path.parent.name)
        for key, value in yaml.safe_load(path.read_text()).items():
            if isinstance(value, dict):
                for k, v in value.items():
                    assert cfg[key][k] == v, f"{path}: {key}.{k}"
            else:
                assert cfg[key] == value, f"{path}: {key}"
    happo = resolve("smac", "8m_vs_9m", 0, algo="happo")["algo"]
    assert (happo["hidden"], happo["gamma"], happo["clip"], happo["rollout_length"]) == ([64, 64, 64], 0.95, 0.05, 160)
    hatrpo = resolve("smac", "6h_vs_8z", 0, algo="hatrpo")["algo"]
    assert (hatrpo["kl_threshold"], hatrpo["backtrack"], hatrpo["critic_lr"]) == (0.001, 0.8, 1e-3)
    mappo = resolve("smac", "5m_vs_6m", 0, algo="mappo")
    assert mappo["num_envs"] == 8 and mappo["algo"]["share_params"]
    assert (mappo["algo"]["ppo_epochs"], mappo["algo"]["critic_epochs"], mappo["algo"]["clip"]) == (10, 10, 0.05)
    qmix = resolve("smac", "8m_vs_9m", 0, algo="qmix")  # pymarl's SMAC settings are QMIX's defaults
    assert (qmix["algo"]["epsilon_anneal_steps"], qmix["algo"]["batch_size"], qmix["algo"]["target_update_interval"],
            qmix["algo"]["lr"], qmix["train"]["buffer_episodes"]) == (50_000, 32, 200, 5e-4, 5000)


def test_unknown_keys_and_bad_values_are_rejected_by_name():
    with pytest.raises(ValueError, match=r"unknown key algo\.nstep"):
        resolve("mpe", "simple_spread_v3", 0, ["algo.nstep=5"])
    with pytest.raises(ValueError, match=r"bad value algo\.gamma=1\.5"):
        resolve("mpe", "simple_spread_v3", 0, ["algo.gamma=1.5"])
    with pytest.raises(ValueError, match=r"bad value train\.batch_size|unknown key train\.batch_size"):
        resolve("mpe", "simple_spread_v3", 0, ["train.batch_size=3"])
    with pytest.raises(ValueError, match=r"bad value algo\.auto_alpha='maybe'"):
        resolve("mpe", "simple_spread_v3", 0, ["algo.auto_alpha=maybe"])
    with pytest.raises(ValueError, match="no config for env 'mpe' task 'nope'"):
        resolve("mpe", "nope", 0)
    cfg = resolve("mpe", "simple_spread_v3", 3, ["algo.actor_lr=1e-3", "algo.hidden=[64, 32]"])
    assert cfg["seed"] == 3 and cfg["algo"]["actor_lr"] == 1e-3 and cfg["algo"]["hidden"] == [64, 32]


def test_cli_errors_exit_2_with_the_message(capsys):
    assert main(["train", "--env", "tabular", "--task", "paper-matrix", "--set", "algo.bogus=1"]) == 2
    assert "unknown key algo.bogus" in capsys.readouterr().err


# ---------------------------------------------------------------- determinism and resume
def _tabular_cfg(seed=0, extra=()):
    return resolve("tabular", "paper-matrix", seed, [*QUIET, "train.total_steps=1600", "train.warmup_steps=160",
                                                     "train.eval_interval=800", "train.checkpoint_interval=400",
                                                     *extra])


def test_same_seed_twice_gives_identical_runs(tmp_path):
    runs = []
    for name in ("a", "b"):
        tr = start(_tabular_cfg(), tmp_path / name)
        tr.run()
        runs.append(tr)
    _assert_same(_params(runs[0]), _params(runs[1]))
    other = start(_tabular_cfg(seed=1), tmp_path / "c")
    other.run()
    assert not torch.equal(_params(other)["critic.q1.0.weight"], _params(runs[0])["critic.q1.0.weight"])


#: columns that measure the machine's speed, not the run: they differ between any two runs
WALL_CLOCK = {"wall_time", "env_steps_per_s", "updates_per_s"}


def _rows(path):
    """A CSV's rows without the wall-clock columns (``WALL_CLOCK`` and the ``time_*`` splits)."""
    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if k not in WALL_CLOCK and not k.startswith("time_")}
                for r in csv.DictReader(fh)]


TOTAL = 4800  #: long enough after the first checkpoint (800) that the signal lands before the run ends
INTERRUPT = [f"train.total_steps={TOTAL}", "train.checkpoint_interval=800", "algo.hidden=[64, 64]",
             "train.log_interval=600",  # checkpoints fall inside logging windows: the open window is saved
             "train.train_interval=4"]  # fewer updates: a faster test, the same code paths


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    ref = start(_tabular_cfg(extra=INTERRUPT), tmp_path_factory.mktemp("ref") / "run")
    ref.run()
    return ref


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_training_then_resume_equals_an_uninterrupted_run(tmp_path, uninterrupted, sig):
    """SIGKILL loses the work since the last checkpoint; SIGINT and SIGTERM save a checkpoint on the way
    out and say so.  Either way `meharl resume` ends with the parameters and logs of an uninterrupted run."""
    run_dir = tmp_path / "stopped"
    cmd = [sys.executable, "-m", "meharl", "train", "--env", "tabular", "--task", "paper-matrix", "--seed", "0",
           "--run-dir", str(run_dir), "--set", *QUIET, "train.warmup_steps=160", "train.eval_interval=800",
           *INTERRUPT]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    ck = run_dir / "checkpoint.pt"
    deadline = time.time() + 120
    while not ck.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.05)  # let it train past the checkpoint, so that work is lost (SIGKILL) or saved mid-window
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert out.splitlines()[0] == f"run directory: {run_dir}"
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL, f"the run ended before it was killed: {err}"
    else:
        assert proc.returncode == 128 + sig, f"the run ended before the signal: {err}"
        assert f"{sig.name}: stopped at" in err and "checkpoint saved" in err and "meharl resume" in err
        assert "Traceback" not in err
    saved = torch.load(ck, weights_only=True)["counters"]["env_steps"]
    assert 0 < saved < TOTAL
    if sig == signal.SIGTERM:
        return  # the same path as SIGINT from here on (saves test time)
    resumed = resume(run_dir)
    resumed.run()
    assert resumed.counters["env_steps"] == uninterrupted.counters["env_steps"] == TOTAL
    _assert_same(_params(uninterrupted), _params(resumed))
    for name in ("progress.csv", "eval.csv"):
        assert _rows(run_dir / name) == _rows(uninterrupted.dir / name), f"{name} differs"
    assert [int(r["env_steps"]) for r in _rows(run_dir / "eval.csv")] == list(range(800, TOTAL + 1, 800))


def test_a_signal_while_the_run_is_built_stops_it_at_step_0_with_a_checkpoint(tmp_path, uninterrupted, monkeypatch,
                                                                             capsys):
    """Ctrl-C while the environment is built (SMAX compiles for minutes) is not lost: a KeyboardInterrupt
    raised then can be swallowed by a library's callback, so the signal is only recorded, and the run stops
    before its first step with a checkpoint that `meharl resume` continues into the uninterrupted run."""
    import deep.run

    def start_then_signal(*args, **kwargs):
        built = start(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)  # delivered before start returns, as during a compile
        return built
    monkeypatch.setattr(deep.run, "start", start_then_signal)
    run_dir = tmp_path / "stopped"
    assert main(["train", "--env", "tabular", "--task", "paper-matrix", "--seed", "0", "--run-dir", str(run_dir),
                 "--set", *QUIET, "train.warmup_steps=160", "train.eval_interval=800", *INTERRUPT]) == 130
    assert "SIGINT: stopped at 0 env steps; checkpoint saved" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handlers are given back
    resumed = resume(run_dir)
    resumed.run()
    _assert_same(_params(uninterrupted), _params(resumed))
    for name in ("progress.csv", "eval.csv"):
        assert _rows(run_dir / name) == _rows(uninterrupted.dir / name), f"{name} differs"


def test_cli_train_eval_resume_plot(tmp_path, capsys):
    runs = []
    for seed in (0, 1):
        d = tmp_path / f"s{seed}"
        assert main(["train", "--env", "tabular", "--task", "paper-matrix", "--seed", str(seed), "--run-dir", str(d),
                     "--set", *QUIET, "train.total_steps=1600", "train.eval_interval=400"]) == 0
        assert capsys.readouterr().out.splitlines()[0] == f"run directory: {d}"  # said when the run starts
        runs.append(str(d))
    saved = yaml.safe_load(open(Path(runs[0]) / "config.yaml"))
    assert saved["algo"]["alpha"] == 10.0 and saved["train"]["total_steps"] == 1600
    assert main(["eval", runs[0], "--episodes", "4"]) == 0
    assert "evaluation return" in capsys.readouterr().out
    assert main(["resume", runs[0], "--total-steps", "2000"]) == 0
    out = tmp_path / "curves.png"
    assert main(["plot", *runs, "--out", str(out), "--baseline", "random=-5", "--baseline", "best=0"]) == 0
    assert "2 run(s)" in capsys.readouterr().out   # the resumed, longer run is a seed of the same setting
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    other = tmp_path / "alpha1"   # another temperature: its own curve, labelled by the setting, not a third seed
    assert main(["train", "--env", "tabular", "--task", "paper-matrix", "--run-dir", str(other),
                 "--set", *QUIET, "train.total_steps=800", "train.eval_interval=400", "algo.alpha=1.0"]) == 0
    capsys.readouterr()
    assert main(["plot", *runs, str(other), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "hasac tabular:paper-matrix: 2 run(s)" in printed  # the shipped setting names none
    assert "hasac (algo.alpha=1.0) tabular:paper-matrix: 1 run(s)" in printed
    bad = tmp_path / "bad.png"
    with pytest.raises(SystemExit) as exc:  # a malformed baseline: argparse's one-line error, no figure
        main(["plot", *runs, "--out", str(bad), "--baseline", "random"])
    assert exc.value.code == 2 and "LABEL=VALUE" in capsys.readouterr().err and not bad.exists()
    with open(Path(runs[0]) / "progress.csv") as fh:
        row = next(csv.DictReader(fh))
    for key in ("episode_return", "critic_loss", "actor_loss/0", "alpha/1", "entropy/0", "q1_mean",
                "env_steps_per_s", "time_env", "time_critic", "time_actors"):
        assert row[key] != ""
    assert main(["train", "--env", "tabular", "--task", "paper-matrix", "--run-dir", runs[0]]) == 2


# ---------------------------------------------------------------- smoke runs with the real simulators
SMOKE = ["algo.hidden=[32, 32]", "algo.batch_size=64", "num_envs=4", "eval_num_envs=2", "train.warmup_steps=100",
         "train.train_interval=5", "train.updates_per_train=2", "train.eval_episodes=2", "train.log_interval=100"]


@pytest.mark.parametrize("env, task, extra", [
    ("mpe", "simple_spread_v3", ["algo.n_step=5"]),
    ("mpe", "simple_speaker_listener_v4", ["env_options.continuous_actions=false", "algo.n_step=5"]),
    ("mamujoco", "HalfCheetah-2x3", ["env_options.episode_limit=50", "algo.n_step=5"]),
])
def test_smoke_run_with_the_real_simulator(tmp_path, env, task, extra):
    pytest.importorskip({"mpe": "mpe2", "mamujoco": "gymnasium_robotics"}[env])
    cfg = resolve(env, task, 0, [*QUIET, *SMOKE, "train.total_steps=400", "train.eval_interval=400", *extra])
    tr = start(cfg, tmp_path / "run")
    last = tr.run()
    tr.close()
    assert tr.counters["env_steps"] == 400 and tr.counters["updates"] > 0
    assert np.isfinite(last["eval"]["eval_return"]) and np.isfinite(last["progress"]["critic_loss"])


def test_a_run_rebuilt_to_evaluate_leaves_its_replay_memory_on_disk_and_cannot_train(tmp_path):
    """``resume(..., truncate_logs=False)`` (what ``meharl eval`` does) restores the policy but not the replay
    buffer, which on a long SMAX run is gigabytes: the evaluation equals a fully resumed run's, and training
    such a run is refused rather than continued from an empty buffer."""
    d = tmp_path / "run"
    tr = start(resolve("mpe", "simple_spread_v3", 0, [*QUIET, "num_envs=2", "eval_num_envs=2", "train.total_steps=200",
                                                      "train.warmup_steps=100", "train.eval_interval=0",
                                                      "algo.hidden=[16]", "algo.batch_size=8"]), d)
    tr.run()
    tr.close()
    full, bare = resume(d), resume(d, truncate_logs=False)
    try:
        assert full.buffer.size > 0 and bare.buffer.size == 0
        _assert_same(_params(full), _params(bare))
        assert full.run_evaluation(2)["eval_return"] == bare.run_evaluation(2)["eval_return"]
        with pytest.raises(RuntimeError, match="rebuilt only to evaluate"):
            bare.run()
    finally:
        full.close()
        bare.close()


def test_resume_is_exact_with_a_real_simulator_mid_episode(tmp_path):
    """MPE's batch saves and restores its simulators, so a run resumed mid-episode is the same run."""
    pytest.importorskip("mpe2")

    def cfg():
        return resolve("mpe", "simple_spread_v3", 0, [*QUIET, *SMOKE, "train.total_steps=600", "algo.n_step=5",
                                                       "train.eval_interval=300", "train.checkpoint_interval=0"])
    ref = start(cfg(), tmp_path / "ref")
    ref.run()
    cut = start(cfg(), tmp_path / "cut")
    cut.run(stop_after=70)  # 70 vector steps: mid-episode (episodes last 25)
    cut.save_checkpoint()
    cut.close()  # one process at a time trains in a run directory
    resumed = resume(tmp_path / "cut")
    resumed.run()
    assert resumed.counters["updates"] == ref.counters["updates"] > 0
    _assert_same(_params(ref), _params(resumed))


# ---------------------------------------------------------------- the layout: registry, defaults, checkpoints
def test_generated_algorithm_defaults_are_up_to_date():
    from deep.algos import algo_names
    from deep.configure import render_defaults
    for name in algo_names():
        path = CONFIG_DIR / "algos" / f"{name}.yaml"
        assert path.read_text() == render_defaults(name), f"run `python -m deep.configure` to refresh {path}"


def test_an_unsupported_algorithm_task_pair_is_refused_by_name_before_anything_is_built(tmp_path, monkeypatch):
    from deep.algos import base
    from deep.algos.hasac import HASAC

    class DiscreteOnly(HASAC):
        supports = frozenset({"discrete"})
    monkeypatch.setitem(base.ALGOS, "discrete-only", DiscreteOnly)
    cfg = resolve("mamujoco", "HalfCheetah-2x3", 0, [*QUIET])
    cfg["algo_name"] = "discrete-only"
    with pytest.raises(ValueError, match="algorithm discrete-only does not support box actions"):
        start(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="unknown algorithm 'nope'; valid algorithms: .*hasac"):
        resolve("mpe", "simple_spread_v3", 0, algo="nope")


def test_checkpoints_of_the_old_format_get_a_clear_error(tmp_path, capsys):
    run_dir = tmp_path / "old"
    assert main(["train", "--env", "tabular", "--task", "paper-matrix", "--run-dir", str(run_dir),
                 "--set", *QUIET, "train.total_steps=400", "train.warmup_steps=160"]) == 0
    # today's checkpoint before the restructure: numpy arrays and RNG states pickled as objects
    torch.save({"agent": {}, "obs": np.zeros(3), "rng": np.random.default_rng(0).bit_generator.state,
                "counters": {"env_steps": 400}}, run_dir / "checkpoint.pt")
    capsys.readouterr()
    for cmd in (["resume", str(run_dir)], ["eval", str(run_dir)]):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert "written by meharl before the deep/ restructure" in err and "Traceback" not in err


# ---------------------------------------------------------------- run directories and clear errors
def _tree(path: Path) -> dict:
    """Every file under ``path`` with its bytes (to show that a failed command left everything as it was)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _fails_cleanly(capsys, argv, message):
    """``meharl argv`` exits 2 with one line naming the problem, no traceback; returns that line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
    return err


TINY = ["--set", *QUIET, "train.total_steps=400", "train.warmup_steps=160", "train.eval_interval=0"]


def test_logs_without_a_checkpoint_are_refused_unless_overwritten(tmp_path, capsys):
    run_dir = tmp_path / "crashed"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("old: config\n")
    (run_dir / "progress.csv").write_text("env_steps,updates\n800,10\n")
    before = _tree(run_dir)
    argv = ["train", "--env", "tabular", "--task", "paper-matrix", "--run-dir", str(run_dir), *TINY]
    err = _fails_cleanly(capsys, argv, "stopped before its first checkpoint")
    assert "another directory" in err and "--overwrite" in err
    assert _tree(run_dir) == before
    assert main([*argv, "--overwrite"]) == 0
    assert not (run_dir / "progress.csv").exists()  # the old log is gone (400 steps < log_interval: no new one)
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["task"] == "paper-matrix"
    err = _fails_cleanly(capsys, argv, "already holds a run")
    assert f"meharl resume {run_dir}" in err and "--overwrite" in err


def test_truncated_or_corrupted_checkpoints_are_clear_errors_for_resume_and_eval(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "--env", "tabular", "--task", "paper-matrix", "--run-dir", str(run_dir), *TINY]) == 0
    ck = run_dir / "checkpoint.pt"
    good = ck.read_bytes()
    for damaged in (good[:len(good) // 2], b"\x00" * 64 + good[64:], b""):
        ck.write_bytes(damaged)
        before = _tree(run_dir)
        for cmd in (["resume", str(run_dir)], ["resume", str(run_dir), "--total-steps", "800"], ["eval", str(run_dir)]):
            _fails_cleanly(capsys, cmd, "is truncated or corrupted")
            assert _tree(run_dir) == before
    ck.write_bytes(good)  # an intact checkpoint of other networks than config.yaml describes
    cfg_text = (run_dir / "config.yaml").read_text()
    (run_dir / "config.yaml").write_text(cfg_text.replace("- 64\n  - 64", "- 32\n  - 32"))
    before = _tree(run_dir)
    for cmd in (["resume", str(run_dir), "--total-steps", "800"], ["eval", str(run_dir)]):
        _fails_cleanly(capsys, cmd, "does not fit the run that")
        assert _tree(run_dir) == before


def test_bad_devices_and_run_directories_are_clear_errors_that_write_nothing(tmp_path, capsys):
    base = ["train", "--env", "tabular", "--task", "paper-matrix", *TINY]
    if not torch.cuda.is_available():
        _fails_cleanly(capsys, [*base, "device=cuda", "--run-dir", str(tmp_path / "gpu")], "device=cuda, but this torch")
        assert not (tmp_path / "gpu").exists()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    _fails_cleanly(capsys, [*base, "--run-dir", str(blocker / "sub" / "run")], f"{blocker} is a regular file")
    _fails_cleanly(capsys, [*base, "--run-dir", str(blocker)], f"{blocker} is a regular file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        _fails_cleanly(capsys, [*base, "--run-dir", str(locked / "run")], "cannot write run directory")
        assert list(locked.iterdir()) == []
    elif os.path.isdir("/sys"):  # root writes anywhere a mode allows; sysfs refuses new directories
        _fails_cleanly(capsys, [*base, "--run-dir", "/sys/meharl-run/x"], "cannot write run directory /sys/meharl-run/x")
        assert not os.path.exists("/sys/meharl-run")
    # any other OSError: a config "file" that is a directory
    _fails_cleanly(capsys, [*base, "--config", str(tmp_path), "--run-dir", str(tmp_path / "r")], "Is a directory")


def test_game_files_json_and_nfg_train_with_the_shipped_config_or_fail_clearly(tmp_path, capsys):
    from tabular import NormalFormGame, write_nfg
    from tabular.paper import paper_matrix_game
    game = paper_matrix_game()
    game.save(tmp_path / "matrix.json")
    write_nfg(game, tmp_path / "matrix.nfg")
    for name in ("matrix.json", "matrix.nfg"):  # a matrix game: one-step episodes whatever the config
        d = tmp_path / f"run_{name}"
        assert main(["train", "--env", "tabular", "--task", str(tmp_path / name), "--run-dir", str(d), "--set",
                     *QUIET, "train.total_steps=320", "train.warmup_steps=160", "algo.gamma=null"]) == 0
        rows = _rows(d / "eval.csv")
        assert len(rows) == 1 and float(rows[0]["eval_return"]) <= game.payoff.max()
    capsys.readouterr()
    (tmp_path / "broken.json").write_text('{"format": "meharl.matrix_game", "version": 1}')
    _fails_cleanly(capsys, ["train", "--env", "tabular", "--task", str(tmp_path / "broken.json")],
                   "key 'payoff' is missing")
    write_nfg(NormalFormGame([np.eye(2), -np.eye(2)]), tmp_path / "zero_sum.nfg")
    _fails_cleanly(capsys, ["train", "--env", "tabular", "--task", str(tmp_path / "zero_sum.nfg")],
                   "general-sum game")
    assert not Path("runs").exists() or not any(p.name.startswith("tabular_broken") for p in Path("runs").iterdir())


# ---------------------------------------------------------------- evaluation
def test_eval_interval_0_and_the_final_evaluation_switch(tmp_path):
    for final, rows in ((True, [800]), (False, None)):
        tr = start(_tabular_cfg(extra=["train.total_steps=800", "train.eval_interval=0",
                                       f"train.final_eval={str(final).lower()}"]),
                   tmp_path / str(final))
        tr.run()
        path = tr.dir / "eval.csv"
        assert (None if not path.exists() else [int(r["env_steps"]) for r in _rows(path)]) == rows


def test_evaluation_plays_exactly_the_requested_episodes_spread_over_the_copies():
    """Copy k's episodes last k + 1 steps and return k: keeping the first episodes to end would favour
    copy 0; an even spread gives every copy its share."""
    from gymnasium.spaces import Discrete

    from deep.algos.base import Acted
    from deep.envs.base import BatchedMultiAgentEnv, EnvSpec, Reset, Step
    from deep.run.evaluate import evaluate

    class Lengths(BatchedMultiAgentEnv):
        spec = EnvSpec("lengths", 1, (1,), 1, (Discrete(2),), 10)
        num_envs = 3

        def reset(self, seed=None):
            self.t = np.zeros(3, int)
            return Reset([np.zeros((3, 1), np.float32)], np.zeros((3, 1), np.float32), [None])

        def step(self, actions):
            self.t += 1
            done = self.t == np.arange(1, 4)
            self.t[done] = 0
            z = np.zeros((3, 1), np.float32)
            return Step([z], z, [None], reward=np.where(done, np.arange(3.0), 0.0), terminated=done,
                        truncated=np.zeros(3, bool), final_obs=[z], final_state=z, final_avail=[None])

    class Idle:
        def act(self, obs, avail, *, deterministic=False, rng=None):
            return Acted([np.zeros(3, np.int64)], [np.zeros(3, np.int64)], None)

    for episodes, expected in ((6, [0, 0, 1, 1, 2, 2]), (7, [0, 0, 0, 1, 1, 2, 2]), (2, [0, 1])):
        np.testing.assert_array_equal(evaluate(Idle(), Lengths(), episodes, seed=0), expected)
