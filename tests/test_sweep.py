"""``meharl sweep``: a real local Ray sweep killed part-way (SIGKILL) and re-run ends with the run directories of
an uninterrupted sweep; a failing run does not stop the others; what cannot run is refused before anything."""
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

from deep.run.rundir import CHECKPOINT, load_checkpoint
from meharl.cli import main
from meharl.sweep import execute, make_sweep, plan

# Two HASAC configurations (mappo is not on this branch yet) x two seeds on the paper's matrix game, tiny budgets:
# 800 env steps with a checkpoint every 200, so a kill at the first checkpoint leaves most of a run to resume.
SWEEP = {
    "algos": ["hasac", {"label": "hasac-alpha5", "algo": "hasac", "set": ["algo.alpha=5"]}],
    "tasks": ["tabular:paper-matrix"],
    "seeds": "0-1",
    "set": ["train.tensorboard=false", "train.total_steps=800", "train.warmup_steps=80",
            "train.eval_interval=200", "train.log_interval=100", "train.checkpoint_interval=200",
            "algo.batch_size=32", "algo.hidden=[16]", "train.eval_episodes=8"],
}
#: a run that fails at run time: a CUDA device on a machine without one (the config itself is valid)
BROKEN = {"label": "broken", "algo": "hasac", "set": ["device=cuda"]}
WALL_CLOCK = ("wall_time", "env_steps_per_s", "updates_per_s")


def _session_pids(sid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,sid="], capture_output=True, text=True, check=True).stdout
    return [int(p) for p, s in (line.split() for line in out.splitlines() if line.strip()) if int(s) == sid]


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return [{k: v for k, v in row.items() if k not in WALL_CLOCK and not k.startswith("time_")}
                for row in csv.DictReader(fh)]


def _assert_same_state(a, b, where=""):
    """Checkpoint contents equal, apart from wall-clock entries (counters' wall_time, the window's timings)."""
    if isinstance(a, dict):
        keys = {k for k in (a.keys() | b.keys()) if k not in WALL_CLOCK and k != "elapsed"
                and not str(k).startswith("time_")}
        for k in keys:
            _assert_same_state(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            _assert_same_state(x, y, f"{where}[{k}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    else:
        assert a == b, where


def test_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path, capsys):
    spec = dict(SWEEP, algos=SWEEP["algos"] + [BROKEN])
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(spec))
    # the reference: the same planned runs, each executed uninterrupted by what a Ray task calls
    ref_root = tmp_path / "reference"
    ref_runs = [r for r in plan(make_sweep(tmp_path / "sweep.yaml", root=ref_root)) if r.variant.label != "broken"]
    (ref_root / "logs").mkdir(parents=True)
    for r in ref_runs:
        execute(r.cfg, str(ref_root / r.name), str(ref_root / "logs" / f"{r.name}.log"))

    root = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "meharl", "sweep", str(tmp_path / "sweep.yaml"), "--root", str(root),
           "--num-cpus", "2", "--poll", "1"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:  # kill the sweep when a run has written its first checkpoint and none has finished
        deadline = time.time() + 120
        while not any((root / r.name / CHECKPOINT).exists() for r in ref_runs):
            assert proc.poll() is None and time.time() < deadline, "the sweep ended or stalled before a checkpoint"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:  # the sweep's Ray processes share its session: end them all (they would die with it, slower)
        for pid in _session_pids(proc.pid):
            os.kill(pid, signal.SIGKILL)
    evals = [_read_csv(root / r.name / "eval.csv") if (root / r.name / "eval.csv").exists() else [] for r in ref_runs]
    assert not any(rows and rows[-1]["env_steps"] == "800" for rows in evals), "killed too late: a run had finished"

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert res.returncode == 1, res.stdout + res.stderr  # the broken run fails, again
    assert "2 of 6 runs failed:" in res.stdout and "tabular_paper-matrix_broken_seed0" in res.stdout
    assert f"log: {root / 'logs' / 'tabular_paper-matrix_broken_seed0.log'}" in res.stdout
    assert "CUDA" in (root / "logs" / "tabular_paper-matrix_broken_seed0.log").read_text()
    resumed = [r.name for r in ref_runs if "resuming" in (root / "logs" / f"{r.name}.log").read_text()]
    assert resumed, "no run was resumed from a checkpoint"
    for r in ref_runs:
        a, b = ref_root / r.name, root / r.name
        assert (a / "config.yaml").read_text() == (b / "config.yaml").read_text()
        for name in ("eval.csv", "progress.csv"):
            assert _read_csv(a / name) == _read_csv(b / name), f"{r.name}/{name}"
        _assert_same_state(load_checkpoint(a / CHECKPOINT), load_checkpoint(b / CHECKPOINT), r.name)

    # the sweep without the broken run: everything is finished, nothing is started (no Ray)
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(SWEEP))
    assert main(["sweep", str(tmp_path / "good.yaml"), "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "4 finished before, 0 to run" in out and "all 4 runs finished" in out


def test_impossible_or_invalid_sweeps_are_refused_before_anything_starts(tmp_path, capsys):
    from dataclasses import dataclass

    from deep.algos import base

    @dataclass(frozen=True)
    class BoxParams:
        pass

    class BoxOnly(base.Algorithm):  # an algorithm for continuous actions only, registered for this test
        name, on_policy, supports, Params = "box-only", False, frozenset({"box"}), BoxParams

    base.ALGOS["box-only"] = BoxOnly
    root = tmp_path / "root"
    try:
        cases = [(["--algos", "hasac,box-only", "--tasks", "tabular:paper-matrix", "--seeds", "0"],
                  "algorithm box-only does not support discrete actions"),
                 (["--algos", "nosuch", "--tasks", "tabular:paper-matrix", "--seeds", "0"], "unknown algorithm"),
                 (["--algos", "hasac", "--tasks", "paper-matrix", "--seeds", "0"], "bad task 'paper-matrix'"),
                 (["--algos", "hasac", "--tasks", "tabular:paper-matrix", "--seeds", "3-1"], "bad seeds"),
                 (["--algos", "hasac", "--tasks", "tabular:paper-matrix", "--seeds", "0", "--set", "algo.nope=1"],
                  "nope")]
        for argv, message in cases:
            assert main(["sweep", *argv, "--root", str(root)]) == 2
            err = capsys.readouterr().err
            assert message in err and err.count("\n") == 1, err
            assert not root.exists()
    finally:
        del base.ALGOS["box-only"]


def test_a_root_holding_other_configs_is_refused(tmp_path):
    root = tmp_path / "root"
    sweep = make_sweep(algos="hasac", tasks="tabular:paper-matrix", seeds="0", root=root)
    (run,) = plan(sweep)
    (root / run.name).mkdir(parents=True)
    (root / run.name / "config.yaml").write_text(yaml.safe_dump(dict(run.cfg, seed=7)))
    with pytest.raises(ValueError, match=r"holds a run with a different config \(seed\)"):
        plan(sweep)
