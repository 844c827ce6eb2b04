"""benchmarks/harl/side_by_side.py without HARL: its bookkeeping of HARL's loop and logs, the settings
check, the throughput measure and its rejection of bad arguments (one line, exit status 2, nothing written)."""
from __future__ import annotations

import json
import sys

import pytest

from benchmarks.harl import side_by_side as sbs

#: the parts of HARL's tuned config (simple_spread_v2-continuous/hasac/config.json) that the script reads
HARL_CONFIG = {"algo_args": {
    "algo": {"alpha": 0.2, "alpha_lr": 0.0003, "auto_alpha": True, "batch_size": 1000, "buffer_size": 1000000,
             "gamma": 0.99, "n_step": 20, "polyak": 0.005, "share_param": False, "use_huber_loss": False},
    "model": {"critic_lr": 0.0005, "hidden_sizes": [256, 256], "lr": 0.0005},
    "eval": {"eval_episodes": 40, "n_eval_rollout_threads": 20},
    "train": {"n_rollout_threads": 20, "train_interval": 50, "update_per_train": 1, "use_valuenorm": False,
              "warmup_steps": 10000}}}


def test_harl_updates_follow_its_loop():
    """50 updates every 50 vector steps of 20 copies after the 10k warm-up steps: none at 10k, 500 at 20k,
    and (300k - 10k) / 20 = 14500 at 300k."""
    t = HARL_CONFIG["algo_args"]["train"]
    assert [sbs.harl_updates(s, t) for s in (10_000, 10_980, 11_000, 20_000, 300_000)] == [0, 0, 50, 500, 14_500]


def test_harl_settings_are_read_as_its_code_uses_them():
    s = sbs.harl_settings(HARL_CONFIG)
    assert s["algo.alpha"] == 1.0  # auto_alpha: the config's 0.2 is unused, log alpha starts at 0
    assert s["train.updates_per_train"] == 50  # update_per_train * train_interval
    assert s["algo.critic_loss"] == "mse" and s["algo.actor_lr"] == 0.0005 and s["num_envs"] == 20
    fixed = json.loads(json.dumps(HARL_CONFIG))
    fixed["algo_args"]["algo"]["auto_alpha"] = False
    assert sbs.harl_settings(fixed)["algo.alpha"] == 0.2


def test_compare_settings_names_each_difference():
    rows = sbs.compare_settings({"algo.hidden": [256, 256], "algo.gamma": 0.99, "num_envs": 20, "algo.x": 1},
                                {"num_envs": 10, "algo": {"hidden": (256, 256), "gamma": 0.99}})
    assert [(r["key"], r["meharl"], r["same"]) for r in rows] == [
        ("algo.hidden", [256, 256], True), ("algo.gamma", 0.99, True), ("num_envs", 10, False),
        ("algo.x", "(absent)", False)]


def test_harl_output_lines_are_parsed():
    """The two lines HARL's off-policy runner prints around an evaluation (off_policy_base_runner.py)."""
    at = "Env pettingzoo_mpe Task simple_spread_v3-continuous Algo hasac Exp side_by_side Evaluation at step 20000 / 20000:"
    ret = "Eval average episode reward is -61.25, eval average episode length is 25.0.\n"
    assert sbs.EVAL_AT.search(at).group(1) == "20000"
    assert float(sbs.EVAL_RETURN.search(ret).group(1)) == -61.25


def test_throughput_is_taken_between_the_first_trained_evaluation_and_the_last():
    raw = {"command": ["x"], "wall_s": 100.0,
           "curve": [(30_000, -50.0, 70.0), (10_000, -90.0, 5.0), (20_000, -60.0, 30.0)],
           "updates": {10_000: 50, 20_000: 550, 30_000: 1050}}
    r = sbs.result_of("meharl", "discrete", 1, 30_000, 2, raw)
    assert r["final_return"] == -50.0 and r["updates"] == 1050
    assert r["updates_per_s"] == pytest.approx(500 / 40) and r["env_steps_per_s"] == pytest.approx(10_000 / 40)
    with pytest.raises(RuntimeError, match="no evaluation at 40000"):
        sbs.result_of("meharl", "discrete", 1, 40_000, 2, raw)


@pytest.mark.parametrize("argv, message", [
    (["--steps", "25000"], "--steps must be a multiple of 10000"),
    (["--steps", "20000"], "at least 30000"),
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--codes", "harl"], "no HARL checkout"),
    (["--codes", "harl", "--harl-dir", "."], "not a HARL checkout"),
    (["--codes", "meharl", "--meharl-set", "algo.no_such_key=1"], "unknown key algo.no_such_key"),
    (["--steps", "abc"], "invalid int value"),
])
def test_bad_arguments_exit_2_in_one_line_and_write_nothing(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.delenv("HARL_DIR", raising=False)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(sbs.main(["--out", str(out), *argv]))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_runs_in_out_need_reuse_and_the_same_budget(tmp_path, capsys):
    run = tmp_path / "runs" / "meharl_continuous_seed1"
    run.mkdir(parents=True)
    base = ["--out", str(tmp_path), "--codes", "meharl", "--steps", "30000", "--threads", "2"]
    assert sbs.main(base) == 2
    assert "pass --reuse" in capsys.readouterr().err
    (run / sbs.RESULT).write_text(json.dumps({"env_steps": 40_000, "threads": 2}))
    assert sbs.main([*base, "--reuse"]) == 2
    assert "a run of 40000 steps at 2 threads" in capsys.readouterr().err


def test_csv_values_with_commas_read_back(tmp_path):
    rows = [{"key": "algo.hidden", "harl": [256, 256], "same": True}]
    sbs.write_csv(tmp_path / "s.csv", rows, ("key", "harl", "same"))
    assert sbs.read_csv(tmp_path / "s.csv") == [{"key": "algo.hidden", "harl": "[256, 256]", "same": "True"}]


def test_harl_python_must_run_harl(tmp_path, capsys):
    """A HARL checkout is there, but the interpreter is missing, or cannot import HARL's packages."""
    for variant in sbs.VARIANTS:
        cfg = tmp_path / "HARL" / sbs.HARL_CONFIG.format(variant=variant)
        cfg.parent.mkdir(parents=True)
        cfg.write_text(json.dumps(HARL_CONFIG))
    base = ["--out", str(tmp_path / "out"), "--codes", "harl", "--harl-dir", str(tmp_path / "HARL")]
    assert sbs.main([*base, "--harl-python", str(tmp_path / "no-python")]) == 2
    assert "is not an executable" in capsys.readouterr().err
    assert sbs.main([*base, "--harl-python", sys.executable]) == 2  # this interpreter has no harl
    assert "cannot import harl" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
