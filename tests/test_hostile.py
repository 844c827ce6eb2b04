"""Hostile files, concurrency and faults: every command refuses them in one line with exit status 2, writes
nothing outside its run directory or the output named, and never loses, mixes or misrecords a run."""
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from meharl.cli import main
from safeio import DirLock, atomic_write_text, open_append

QUIET = ["train.progress=false", "train.tensorboard=false"]
TINY = ["--set", *QUIET, "train.total_steps=400", "train.warmup_steps=160", "train.eval_interval=0"]
TRAIN = ["train", "--env", "tabular", "--task", "paper-matrix"]


def _fails_cleanly(capsys, argv, message):
    """``meharl argv`` exits 2 with one line naming the problem, no traceback; returns that line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
    return err


def _tree(path: Path) -> dict:
    """Every file under ``path`` (links included, not followed) with its bytes."""
    return {str(p.relative_to(path)): (os.readlink(p) if p.is_symlink() else p.read_bytes())
            for p in sorted(path.rglob("*")) if p.is_symlink() or p.is_file()}


def _meharl(*argv) -> list[str]:
    return [sys.executable, "-m", "meharl", *argv]


# ---------------------------------------------------------------- 1. writes through symbolic links
def test_a_new_run_never_writes_through_links_in_its_directory(tmp_path, capsys):
    d, elsewhere = tmp_path / "d", tmp_path / "elsewhere.csv"
    d.mkdir()
    (d / "progress.csv").symlink_to(elsewhere)
    _fails_cleanly(capsys, [*TRAIN, "--run-dir", str(d), *TINY], "holds logs (progress.csv)")
    assert not elsewhere.exists()
    # --overwrite removes links, dangling or not, and never follows them
    outside_dir = tmp_path / "outside_tb"
    outside_dir.mkdir()
    (d / "tb").symlink_to(outside_dir)
    (d / "eval.csv").symlink_to(tmp_path / "dangling.csv")
    assert main([*TRAIN, "--run-dir", str(d), "--overwrite", *TINY[:-1], "train.eval_interval=200"]) == 0
    assert not elsewhere.exists() and not (tmp_path / "dangling.csv").exists() and not any(outside_dir.iterdir())
    assert not any(p.is_symlink() for p in d.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "outside_tb"]


def test_resume_refuses_a_linked_log_and_appends_never_follow_links(tmp_path, capsys):
    d = tmp_path / "run"
    assert main([*TRAIN, "--run-dir", str(d), *TINY]) == 0
    target = tmp_path / "target.csv"
    target.write_text("env_steps,eval_return\n")
    (d / "eval.csv").unlink()
    (d / "eval.csv").symlink_to(target)
    before = _tree(tmp_path)
    _fails_cleanly(capsys, ["resume", str(d), "--total-steps", "800"], "symbolic link(s) eval.csv")
    assert _tree(tmp_path) == before
    with pytest.raises(ValueError, match="is a symbolic link"):  # the append itself refuses, whatever checked before
        open_append(d / "eval.csv")
    assert target.read_text() == "env_steps,eval_return\n"


# ---------------------------------------------------------------- 25.3: ordinary file modes
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_get_the_ordinary_mode_under_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        d = tmp_path / "run"
        assert main([*TRAIN, "--run-dir", str(d), *TINY[:-1], "train.eval_interval=200"]) == 0
        assert main(["reproduce", "--out", str(tmp_path / "results")]) == 0
        atomic_write_text(tmp_path / "atomic.txt", "x")
        with open_append(tmp_path / "appended.csv") as fh:
            fh.write("x\n")
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 10 and {p.name: p.stat().st_mode & 0o777 for p in files} == {p.name: mode for p in files}


# ---------------------------------------------------------------- 3. one process per run directory
def test_a_second_process_is_refused_by_name_and_a_killed_holder_does_not_block(tmp_path, capsys):
    d = tmp_path / "run"
    cmd = _meharl(*TRAIN, "--run-dir", str(d), "--set", *QUIET, "train.total_steps=400000",
                  "train.warmup_steps=160", "train.eval_interval=0", "train.checkpoint_interval=800")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        deadline = time.time() + 120
        while not (d / "checkpoint.pt").exists():
            assert proc.poll() is None and time.time() < deadline, "the run ended or stalled before a checkpoint"
            time.sleep(0.05)
        holder = f"in use by process {proc.pid} on host"
        for argv in ([*TRAIN, "--run-dir", str(d), *TINY], [*TRAIN, "--run-dir", str(d), "--overwrite", *TINY],
                     ["resume", str(d)],
                     ["resume", str(d), "--total-steps", "900000"]):
            _fails_cleanly(capsys, argv, holder)
        with pytest.raises(ValueError, match=holder):
            DirLock(d, "run directory")
    finally:
        proc.kill()
        proc.wait()
    assert (d / ".lock").exists()  # left by the killed process: it does not block
    from deep.run.rundir import load_checkpoint
    saved = load_checkpoint(d / "checkpoint.pt")["counters"]["env_steps"]
    assert main(["resume", str(d), "--total-steps", str(saved + 800)]) == 0
    assert not (d / ".lock").exists()


def test_a_lock_is_exclusive_within_a_process_too_and_released_on_close(tmp_path):
    lock = DirLock(tmp_path, "run directory")
    with pytest.raises(ValueError, match=f"run directory {tmp_path} is in use by process {os.getpid()}"):
        DirLock(tmp_path, "run directory")
    lock.release()
    lock.release()  # twice is harmless
    DirLock(tmp_path).release()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- 2 and 4. sweeps
def test_a_sweep_run_stopped_by_a_signal_is_not_recorded_as_finished(tmp_path):
    from deep.configure import resolve
    from meharl.sweep import execute
    d = tmp_path / "run"
    cfg = resolve("tabular", "paper-matrix", 0, [*QUIET, "train.total_steps=400000", "train.warmup_steps=160",
                                                  "train.eval_interval=0", "train.checkpoint_interval=800"])

    def signal_after_first_checkpoint():
        while not (d / "checkpoint.pt").exists():
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=signal_after_first_checkpoint, daemon=True).start()
    with pytest.raises(RuntimeError, match="stopped by SIGTERM at .* env steps; re-run the sweep to resume it"):
        execute(cfg, str(d), str(tmp_path / "run.log"))
    assert "checkpoint saved" in (tmp_path / "run.log").read_text()


def test_sweep_runs_that_would_share_a_directory_are_refused(tmp_path):
    from meharl.sweep import make_sweep, plan
    from tabular.paper import paper_matrix_game
    with pytest.raises(ValueError, match="task listed twice: tabular:paper-matrix"):
        make_sweep(algos="hasac", tasks="tabular:paper-matrix,tabular:paper-matrix", seeds="0", root=tmp_path)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        paper_matrix_game().save(tmp_path / sub / "game.json")
    sweep = make_sweep(algos="hasac", tasks=f"tabular:{tmp_path / 'a/game.json'},tabular:{tmp_path / 'b/game.json'}",
                       seeds="0", root=tmp_path / "root")
    with pytest.raises(ValueError, match="would share the run directory .*tabular_game_hasac_seed0"):
        plan(sweep)
    assert not (tmp_path / "root").exists()


GRID = "algos: [hasac]\ntasks: ['tabular:paper-matrix']\nseeds: 0\n"


@pytest.mark.parametrize("text, message", [
    (GRID + "root: 5\n", "root must be a folder path"),
    (GRID + "cpus_per_run: [1]\n", "cpus_per_run must be an integer >= 1, got [1]"),
    (GRID + "gpus_per_run: .nan\n", "gpus_per_run must be a number >= 0, got nan"),
    ("algos: [hasac]\ntasks: ['tabular:paper-matrix']\nseeds: [0, 1.5]\n", "seeds must be an integer"),
    ("algos: [hasac\n", "is not valid YAML"),
    ("- a list\n", "a sweep file must hold a mapping"),
])
def test_bad_sweep_files_are_one_line_naming_the_file(tmp_path, capsys, text, message):
    f = tmp_path / "sweep.yaml"
    f.write_text(text)
    err = _fails_cleanly(capsys, ["sweep", str(f)], message)
    assert str(f) in err and sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]


def test_sweep_values_that_cannot_run_are_refused(capsys, tmp_path):
    grid = ["sweep", "--algos", "hasac", "--tasks", "tabular:paper-matrix", "--root", str(tmp_path / "root")]
    _fails_cleanly(capsys, [*grid, "--seeds", "0-99999999"], "more than 10000 seeds")
    _fails_cleanly(capsys, [*grid, "--seeds", "0", "--cpus-per-run", "0"], "cpus_per_run must be an integer >= 1")
    with pytest.raises(SystemExit) as exc:
        main([*grid, "--seeds", "0", "--gpus-per-run", "nan"])
    assert exc.value.code == 2 and "expected a finite number, got 'nan'" in capsys.readouterr().err
    assert not (tmp_path / "root").exists()


def test_sigterm_to_the_sweep_driver_exits_143_without_a_traceback(tmp_path):
    pytest.importorskip("ray")
    root = tmp_path / "root"
    cmd = _meharl("sweep", "--algos", "hasac", "--tasks", "tabular:paper-matrix", "--seeds", "0", "--root",
                  str(root), "--num-cpus", "1", "--poll", "1", "--set", "train.tensorboard=false",
                  "train.total_steps=4000000", "train.checkpoint_interval=800")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 180
        while not list(root.glob("*/checkpoint.pt")):
            assert proc.poll() is None and time.time() < deadline, "the sweep ended or stalled before a checkpoint"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, out + err
    assert "stopped by SIGTERM with 1 run(s) unfinished" in out and "Traceback" not in out + err
    assert "done " not in out and not (root / "sweep_status.json").exists()


# ---------------------------------------------------------------- 5. resume below the steps already run
def test_resume_below_the_steps_done_is_refused_and_keeps_the_config(tmp_path, capsys):
    d = tmp_path / "run"
    assert main([*TRAIN, "--run-dir", str(d), *TINY]) == 0
    before = _tree(d)
    _fails_cleanly(capsys, ["resume", str(d), "--total-steps", "100"],
                   "--total-steps 100 is below the 400 env steps")
    assert _tree(d) == before


# ---------------------------------------------------------------- 6. tracebacks where one line is promised
def test_a_full_disk_while_the_checkpoint_is_written_is_one_line(tmp_path):
    def small_files():  # writes past 100 kB fail with EFBIG, as on a full disk; the checkpoint is ~330 kB
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    d = tmp_path / "run"
    res = subprocess.run(_meharl(*TRAIN, "--run-dir", str(d), *TINY), preexec_fn=small_files, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    assert res.stderr == f"meharl train: error: cannot write {d / 'checkpoint.pt'}: File too large\n"
    assert sorted(p.name for p in d.iterdir()) == ["config.yaml", "eval.csv"]  # no temporary file left


GAMES = {  # name: (file text, what the one-line error says)
    "huge.nfg": ('NFG 1 R "" { "1" "2" } { 100000 100000 }\n1 2 3 4\n', "which need 20000000000 payoffs, but 4 entries follow"),
    "inf.nfg": ('NFG 1 R "" { "1" "2" } { inf 2 }\n1 2 3 4\n', "strategy count must be a positive integer, found 'inf'"),
    "neg.nfg": ('NFG 1 R "" { "1" "2" } { -1 2 }\n1 2 3 4\n', "found '-1'"),
    "frac.nfg": ('NFG 1 R "" { "1" "2" } { 2.5 2 }\n1 2 3 4\n', "found '2.5'"),
    "zero.nfg": ('NFG 1 R "" { "1" "2" } { 1 1 }\n1/0 1/0\n', "expected a number for profile 1, player 1, found '1/0'"),
    "sparse.json": (json.dumps({"format": "meharl.markov_game", "n_actions": [100000, 100000], "gamma": 0.5,
                                "initial": [1.0], "rewards": [[[0.0]]],
                                "transitions": {"sparse": {"rows": [0], "cols": [0], "data": [1.0]}}}),
                    "do not match the rewards' shape (1, 1, 1)"),
    "deep.json": ("[" * 200_000 + "]" * 200_000, "is nested too deeply to parse"),
    "latin1.json": (None, "not UTF-8 text"),
    "missing.json": ('{"format": "meharl.matrix_game"}', "key 'payoff' is missing"),
}


@pytest.mark.parametrize("name", sorted(GAMES))
def test_hostile_game_files_are_refused_before_allocating(tmp_path, capsys, name):
    text, message = GAMES[name]
    path = tmp_path / name
    if text is None:
        path.write_bytes('{"name": "caf\u00e9"}'.encode("latin-1"))
    else:
        path.write_text(text)
    err = _fails_cleanly(capsys, ["train", "--env", "tabular", "--task", str(path), "--run-dir",
                                  str(tmp_path / "run"), *TINY], message)
    assert str(path) in err and not (tmp_path / "run").exists()


def test_game_files_are_recognised_in_any_case(tmp_path):
    from tabular.paper import paper_matrix_game
    paper_matrix_game().save(tmp_path / "GAME.JSON")
    assert main(["train", "--env", "tabular", "--task", str(tmp_path / "GAME.JSON"), "--run-dir",
                 str(tmp_path / "run"), *TINY, "algo.gamma=null"]) == 0


def test_malformed_yaml_is_one_line_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("algo: {actor_lr: [\n")
    _fails_cleanly(capsys, [*TRAIN, "--config", str(bad), "--run-dir", str(tmp_path / "r")],
                   f"{bad} is not valid YAML")
    bad.write_bytes(b"algo: \xff\xfe\n")
    _fails_cleanly(capsys, [*TRAIN, "--config", str(bad), "--run-dir", str(tmp_path / "r")],
                   f"{bad} is not UTF-8 text")
    assert not (tmp_path / "r").exists()
    d = tmp_path / "run"
    assert main([*TRAIN, "--run-dir", str(d), *TINY]) == 0
    (d / "config.yaml").write_text("env: [tabular\n")
    for cmd in (["plot", str(d), "--out", str(tmp_path / "p.png")], ["resume", str(d)]):
        _fails_cleanly(capsys, cmd, f"{d / 'config.yaml'} is not valid YAML")
    assert not (tmp_path / "p.png").exists()


def test_a_truncated_eval_row_read_by_plot_names_the_file_and_line(tmp_path, capsys):
    d = tmp_path / "run"
    assert main([*TRAIN, "--run-dir", str(d), *TINY[:-1], "train.eval_interval=200"]) == 0
    with open(d / "eval.csv", "a") as fh:
        fh.write("600,1.5\n")  # a row cut short: most columns missing
    (d / "eval.csv").write_text((d / "eval.csv").read_text().replace("\n400,", "\nabc,", 1))
    _fails_cleanly(capsys, ["plot", str(d), "--out", str(tmp_path / "p.png")],
                   f"{d / 'eval.csv'}, line 3: env_steps and eval_return must be numbers")
    (d / "eval.csv").write_bytes(b"env_steps,eval_return\n200,\xff\n")
    _fails_cleanly(capsys, ["plot", str(d), "--out", str(tmp_path / "p.png")], f"{d / 'eval.csv'} is not UTF-8 text")
    assert not (tmp_path / "p.png").exists()


def test_a_damaged_progress_log_on_resume_names_the_file(tmp_path, capsys):
    d = tmp_path / "run"
    assert main([*TRAIN, "--run-dir", str(d), *TINY, "train.log_interval=200"]) == 0
    (d / "progress.csv").write_text("steps,updates\n200,3\n")
    _fails_cleanly(capsys, ["resume", str(d), "--total-steps", "800"], f"{d / 'progress.csv'} is damaged")
    (d / "progress.csv").write_text("env_steps,updates\nabc,3\n")
    _fails_cleanly(capsys, ["resume", str(d), "--total-steps", "800"], f"{d / 'progress.csv'} is damaged")


def test_sac_joint_action_count_is_exact_and_refused_by_name():
    from gymnasium.spaces import Discrete

    from deep.algos.sac import SAC, SACParams
    from deep.envs.base import EnvSpec
    for n_agents in (25, 27):  # 35 ** 27 wraps around int64
        spec = EnvSpec(f"{n_agents}m", n_agents, (4,) * n_agents, 8, (Discrete(35),) * n_agents, 10)
        with pytest.raises(ValueError, match=f"has {35 ** n_agents} actions .* more than algo.max_joint_actions=256"):
            SAC(spec, SACParams())


def test_eval_refuses_huge_frames_and_checkpoints_of_other_networks(tmp_path, capsys):
    from deep.algos.base import make_algo
    from deep.run.rundir import load_algo_state, load_checkpoint, read_config
    d = tmp_path / "run"
    assert main([*TRAIN, "--run-dir", str(d), *TINY]) == 0
    before = _tree(tmp_path)
    _fails_cleanly(capsys, ["eval", str(d), "--video", "--size", "30000x30000"], "each from 1 to 4096")
    assert _tree(tmp_path) == before
    cfg = read_config(d)
    from deep.envs.registry import make_env
    env = make_env("tabular", "paper-matrix", 1)
    algo = make_algo("hasac", env.spec, dict(cfg["algo"], hidden=[8]))
    with pytest.raises(ValueError, match="does not fit the run that"):
        load_algo_state(algo, load_checkpoint(d / "checkpoint.pt"), d / "checkpoint.pt", d)


def test_buffers_that_cannot_fit_are_refused_by_name_before_anything_is_written(tmp_path, capsys):
    d = tmp_path / "run"
    _fails_cleanly(capsys, [*TRAIN, "--run-dir", str(d), *TINY, "train.buffer_size=1000000000000"],
                   "the replay buffer (train.buffer_size=1000000000000) needs")
    assert not d.exists()


# ---------------------------------------------------------------- 7. bad values that passed validation
def test_non_finite_values_are_refused_before_any_file_is_written(tmp_path, capsys):
    d = tmp_path / "run"
    _fails_cleanly(capsys, [*TRAIN, "--run-dir", str(d), *TINY, "algo.actor_lr=.inf"], "bad value algo.actor_lr=inf")
    assert not d.exists()
    for opt in ("--lam-max", "--alpha", "--clip"):
        with pytest.raises(SystemExit) as exc:
            main(["matrix-game", "--out", str(tmp_path / "mg"), opt, "nan"])
        assert exc.value.code == 2 and "expected a finite number, got 'nan'" in capsys.readouterr().err
    assert not (tmp_path / "mg").exists()
    _fails_cleanly(capsys, ["table3", "--digits", "-1"], "--digits must be >= 0")


# ---------------------------------------------------------------- 9. report
def _eval_run(root: Path, name: str, seed, returns) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(yaml.safe_dump({"env": "mpe", "task": "simple_spread_v3", "algo_name": "hasac",
                                                   "seed": seed, "algo": {}, "train": {}}))
    (d / "eval.csv").write_text("env_steps,eval_return\n" + "".join(f"{10 * (k + 1)},{r}\n"
                                                                   for k, r in enumerate(returns)))
    return d


def test_report_skips_damaged_runs_and_writes_valid_json(tmp_path, capsys):
    root = tmp_path / "runs"
    _eval_run(root, "a", 0, [1.0, float("nan")])
    _eval_run(root, "b", 1, [2.0, float("inf")])
    bad_seed = _eval_run(root, "c", [1, 2], [3.0])
    bad_yaml = _eval_run(root, "d", 3, [3.0])
    (bad_yaml / "config.yaml").write_text("env: [mpe\n")
    assert main(["report", str(root), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert f"skipped {bad_seed}: {bad_seed / 'config.yaml'}: seed must be an integer, got [1, 2]" in out
    assert f"skipped {bad_yaml}: {bad_yaml / 'config.yaml'} is not valid YAML" in out

    def no_constants(name):
        raise AssertionError(f"summary.json holds {name}")
    json.loads((tmp_path / "out" / "summary.json").read_text(), parse_constant=no_constants)


# ---------------------------------------------------------------- 10. smaller
def test_figure3a_refuses_a_seed_listed_twice(tmp_path, capsys):
    _fails_cleanly(capsys, ["figure3a", "--seeds", "0", "0", "--out", str(tmp_path / "f")], "listed twice")
    assert not (tmp_path / "f").exists()


def test_table1_without_smac_runs_is_an_error(tmp_path, capsys):
    _eval_run(tmp_path / "runs", "a", 0, [1.0])
    _fails_cleanly(capsys, ["table1", str(tmp_path / "runs"), "--out", str(tmp_path / "t")], "no SMAC run")
    assert not (tmp_path / "t").exists()


def test_an_unknown_task_lists_only_its_family_tasks(capsys):
    err = _fails_cleanly(capsys, ["train", "--env", "tabular", "--task", "nope"], "shipped tabular tasks: paper-matrix")
    assert "mpe" not in err and "smac" not in err


def test_memory_exhausted_anywhere_is_still_one_line(monkeypatch, capsys):
    from meharl.commands import table3

    def exhausted(*args):
        raise MemoryError
    monkeypatch.setattr(table3, "table3", exhausted)
    _fails_cleanly(capsys, ["table3"], "meharl table3: error: out of memory")
