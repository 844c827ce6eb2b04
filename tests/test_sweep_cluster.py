"""``meharl sweep --address`` on a Ray cluster of two nodes started on this machine (``ray start --head``, then
``ray start --address`` with resources of its own): the runs spread over both nodes; the second node is killed
(SIGKILL to all its processes) while one of its runs is part-way; the sweep fails that run, finishes the
others on the head, and the same sweep re-run completes it from its checkpoint: every run logs each step once,
none is lost, and the killed run ends with the logs of an uninterrupted run.

Each node is a ``ray start --block`` in a session of its own, so a node is killed, and the cluster torn down,
by signalling exactly its session's processes (``ray stop --force`` would also end any other Ray instance on
the machine, such as a concurrent test's); a temporary directory holds Ray's session files."""
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("ray")
from meharl.sweep import execute, make_sweep, plan  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: HASAC on the paper's matrix game, 4 seeds, 1 CPU each: one run at a time on each 1-CPU node
SWEEP = {"algos": [{"algo": "hasac", "set": ["train.warmup_steps=80", "algo.batch_size=32", "algo.hidden=[16]"]}],
         "tasks": ["tabular:paper-matrix"], "seeds": "0-3",
         "set": ["train.tensorboard=false", "train.total_steps=1200", "train.eval_interval=400",
                 "train.log_interval=100", "train.checkpoint_interval=200", "train.eval_episodes=8"]}
WALL_CLOCK = ("wall_time", "env_steps_per_s", "updates_per_s")
#: GCS declares a silent node dead after about 2 s (instead of Ray's default of about 30 s)
FAST_FAILURE = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "500",
                "RAY_health_check_failure_threshold": "3", "RAY_health_check_initial_delay_ms": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_pids(sid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,sid="], capture_output=True, text=True, check=True).stdout
    return [int(p) for p, s in (line.split() for line in out.splitlines() if line.strip()) if int(s) == sid]


def _kill_session(proc: subprocess.Popen) -> None:
    for pid in _session_pids(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return [{k: v for k, v in row.items() if k not in WALL_CLOCK and not k.startswith("time_")}
                for row in csv.DictReader(fh)]


def _ray_start(args, env, tmp) -> subprocess.Popen:
    """A node (``ray start --block``) in a session of its own; its fixed-default ports taken free, so that it
    can run beside the other node and any other Ray instance on the machine."""
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--disable-usage-stats",
           "--dashboard-agent-listen-port", str(_free_port()), *args]
    return subprocess.Popen(cmd, env=env, start_new_session=True, cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _alive_nodes(address: str, env) -> int:
    code = (f"import ray; ray.init(address={address!r}, logging_level='ERROR'); "
            f"print(sum(n['Alive'] for n in ray.nodes()))")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    return int(res.stdout.split()[-1]) if res.returncode == 0 and res.stdout.split() else 0


def _run_pid(log: Path) -> int | None:
    """The pid of the Ray worker that last started or resumed the run logged in ``log``."""
    lines = [line for line in log.read_text().splitlines() if line.startswith("--- ")] if log.exists() else []
    return int(lines[-1].split(" pid ")[1].split(":")[0]) if lines else None


def test_a_sweep_survives_a_node_killed_mid_run(tmp_path):
    tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    port = _free_port()
    address = f"127.0.0.1:{port}"
    # every node and the driver: this checkout first on the path, and one authentication token of this test
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32), **FAST_FAILURE)
    nodes = []
    try:
        nodes.append(_ray_start(["--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "1",
                                 "--resources", json.dumps({"head": 1}), "--include-dashboard", "false",
                                 "--ray-client-server-port", str(_free_port()),
                                 "--temp-dir", tmp], env, tmp))
        deadline = time.time() + 60
        while _alive_nodes(address, env) < 1:
            assert nodes[0].poll() is None and time.time() < deadline, "the head node did not start"
            time.sleep(1)
        nodes.append(_ray_start(["--address", address, "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
                                 "--resources", json.dumps({"second": 1})], env, tmp))
        while _alive_nodes(address, env) < 2:
            assert nodes[1].poll() is None and time.time() < deadline, "the second node did not join"
            time.sleep(1)

        (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(SWEEP))
        root = tmp_path / "sweep"
        runs = plan(make_sweep(tmp_path / "sweep.yaml", root=root))
        logs = {r.name: root / "logs" / f"{r.name}.log" for r in runs}
        cmd = [sys.executable, "-m", "meharl", "sweep", str(tmp_path / "sweep.yaml"), "--root", str(root),
               "--address", address, "--poll", "1"]
        sweep = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        try:  # wait for a run of the second node to pass its first checkpoint, then kill that node
            victim = None
            while victim is None:
                assert sweep.poll() is None and time.time() < deadline + 120, "the sweep ended before the kill"
                second = set(_session_pids(nodes[1].pid))
                victim = next((r for r in runs if _run_pid(logs[r.name]) in second
                               and (root / r.name / "checkpoint.pt").exists()), None)
                time.sleep(0.05)
            on_head = [r.name for r in runs if _run_pid(logs[r.name]) in set(_session_pids(nodes[0].pid))]
            assert on_head, "no run on the head node: the runs did not spread over both nodes"
            _kill_session(nodes[1])
            out, _ = sweep.communicate(timeout=300)
        finally:
            if sweep.poll() is None:
                sweep.kill()
        steps = [int(r["env_steps"]) for r in _read_csv(root / victim.name / "progress.csv")]
        assert steps[-1] < 1200, "killed too late: the run had finished"
        assert sweep.returncode == 1, out
        assert f"FAILED {victim.name}" in out and "1 of 4 runs failed" in out, out

        res = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "3 finished before, 1 to run" in res.stdout and "all 4 runs finished" in res.stdout, res.stdout
        assert "resuming" in logs[victim.name].read_text().split("--- ")[-1]
    finally:
        for node in reversed(nodes):
            _kill_session(node)
        shutil.rmtree(tmp, ignore_errors=True)

    # nothing lost, nothing twice: every run logged each step once, and the killed one is the uninterrupted run
    assert sorted(p.name for p in root.iterdir() if (p / "config.yaml").exists()) == sorted(r.name for r in runs)
    assert json.loads((root / "sweep_status.json").read_text()) == {r.name: "done" for r in runs}
    for r in runs:  # one row per logging (every 100 steps) and evaluation (every 400) interval, in order
        for name, rows in (("progress.csv", 12), ("eval.csv", 3)):
            steps = [int(row["env_steps"]) for row in _read_csv(root / r.name / name)]
            assert len(steps) == rows and steps == sorted(set(steps)) and steps[-1] == 1200, (r.name, name, steps)
    ref = tmp_path / "reference"
    (ref / "logs").mkdir(parents=True)
    execute(victim.cfg, str(ref / victim.name), str(ref / "logs" / f"{victim.name}.log"))
    for name in ("progress.csv", "eval.csv"):
        assert _read_csv(root / victim.name / name) == _read_csv(ref / victim.name / name), name
