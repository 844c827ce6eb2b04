"""Is a restructured tree the same program?  One short run per registered algorithm, fingerprinted.

``record`` trains every case (each algorithm on a small real task of an action kind it supports, as in
``tests/test_algorithms.py``) to ``STEPS`` environment steps, keeps that run directory, resumes a copy to
``2 * STEPS`` and writes the fingerprints of both (SHA-256 over every tensor of the checkpoint, by path, and
over the logs without their wall-clock columns) to ``OUT/fingerprints.json``.

``check`` reruns the recorded commands with the code now on ``PYTHONPATH`` and compares: the first half trained afresh must
match the recorded first half bit for bit (same program), and the recorded first-half checkpoints, written by
the old code, resumed by the new one must match the recorded second half (old checkpoints still load and
continue the same run)::

    PYTHONPATH=$OLD_TREE python benchmarks/refactor_identity.py record /tmp/before
    PYTHONPATH=$NEW_TREE python benchmarks/refactor_identity.py check /tmp/before

Every run uses one torch thread.  Prints one line per case and exits 1 when anything differs.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

STEPS = 600
#: (algorithm, env, task, overrides): every registered algorithm on its first action kind, the multi-discrete
#: off-policy ones on air combat, and HASAC with the value normaliser (extra state)
SMALL = ["algo.hidden=[16, 16]", "train.progress=false", "train.tensorboard=false", "num_envs=4", "eval_num_envs=2",
         "threads=1"]
OFF = ["algo.batch_size=32", "algo.n_step=2", "train.warmup_steps=64", "train.eval_episodes=2"]
ON = ["train.eval_episodes=2"]
MPE_BOX = ("mpe", "simple_spread_v3", ["env_options.continuous_actions=true"])
MATRIX = ("tabular", "paper-matrix", [])
AIR = ("aircombat", "1v1-NoWeapon-vsBaseline", ["env_options.episode_limit=10", "train.train_interval=10"])
CASES = {
    "hasac": ("hasac", *MATRIX, OFF),
    "hasac-value_norm": ("hasac", *MATRIX, OFF + ["algo.value_norm=true"]),
    "hasac-box": ("hasac", *MPE_BOX, OFF),
    "hasac-multidiscrete": ("hasac", *AIR, OFF),
    "sac": ("sac", *MATRIX, OFF),
    "hatd3": ("hatd3", *MPE_BOX, OFF),
    "hasac-det": ("hasac-det", *MPE_BOX, OFF),
    "qmix": ("qmix", *MATRIX, OFF),
    "fop": ("fop", *MATRIX, OFF),
    "mappo": ("mappo", *MATRIX, ON),
    "mappo-box": ("mappo", *MPE_BOX, ON),
    "happo": ("happo", *MATRIX, ON),
    "hatrpo": ("hatrpo", *MATRIX, ON),
    "ppo": ("ppo", *MATRIX, ON),
}
WALL_CLOCK = {"wall_time", "env_steps_per_s", "updates_per_s"}


def _meharl(*args: str) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, "-m", "meharl", *args], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"meharl {' '.join(args)} failed:\n{proc.stderr[-2000:]}")


def fingerprint(run_dir: Path) -> dict:
    """SHA-256 of the checkpoint's tensors (by path; integer counters included) and of each log."""
    import torch
    from deep.algos._checkpoint import state_tensors
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    h = hashlib.sha256()
    tensors = {k: t.contiguous() for k, t in state_tensors(state).items()}
    for k in sorted(tensors):
        t = tensors[k]
        h.update(f"{k}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    out = {"checkpoint": h.hexdigest(), "tensors": len(tensors)}
    for log in ("progress.csv", "eval.csv"):
        path = run_dir / log
        if path.exists():
            with open(path, newline="") as fh:
                rows = [{k: v for k, v in r.items() if k not in WALL_CLOCK and not k.startswith("time_")}
                        for r in csv.DictReader(fh)]
            out[log] = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
    return out


def command(name: str) -> list[str]:
    """``meharl train`` arguments of a case, its run directory left out: the small settings its algorithm and
    loop have (as the contract tests choose them)."""
    from deep.algos import algo_class
    from deep.config import fields
    from deep.run import loop_class
    algo, env, task, env_over, family = CASES[name]
    cls = algo_class(algo)
    known = {"algo": fields(cls.Params), "train": fields(loop_class(cls).Train)}
    sets = [s for s in [*SMALL, *family, *env_over]
            if s.split(".")[0] not in known or s.split("=")[0].split(".", 1)[1] in known[s.split(".")[0]]]
    sets += [f"train.total_steps={STEPS}", f"train.checkpoint_interval={STEPS}",
             f"train.eval_interval={STEPS // 2}", f"train.log_interval={STEPS // 4}"]
    return ["train", "--algo", algo, "--env", env, "--task", task, "--seed", "3", "--overwrite", "--set", *sets]


def first_half(cmd: list[str], run_dir: Path) -> dict:
    _meharl(*cmd, "--run-dir", str(run_dir))
    return fingerprint(run_dir)


def second_half(src: Path, run_dir: Path) -> dict:
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(src, run_dir)
    _meharl("resume", str(run_dir), "--total-steps", str(2 * STEPS))
    return fingerprint(run_dir)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("record", "check"))
    p.add_argument("out", type=Path, help="directory of the recorded runs and fingerprints.json")
    p.add_argument("--cases", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "fingerprints.json"
    recorded = json.loads(path.read_text()) if path.exists() else {}
    failed = 0
    for name in args.cases:
        if args.mode == "record":
            cmd = command(name)
            first = first_half(cmd, args.out / name / "first")
            second = second_half(args.out / name / "first", args.out / name / "second")
            recorded[name] = {"command": cmd, "first": first, "second": second}
            path.write_text(json.dumps(recorded, indent=1, sort_keys=True))
            print(f"{name}: recorded ({first['tensors']} tensors)", flush=True)
            continue
        if name not in recorded:
            print(f"{name}: not recorded", flush=True)
            failed += 1
            continue
        fresh = first_half(recorded[name]["command"], args.out / name / "check_first")
        resumed = second_half(args.out / name / "first", args.out / name / "check_second")
        bad = [f"fresh {k}" for k in recorded[name]["first"] if fresh.get(k) != recorded[name]["first"][k]]
        bad += [f"resumed {k}" for k in recorded[name]["second"] if resumed.get(k) != recorded[name]["second"][k]]
        failed += bool(bad)
        print(f"{name}: {'identical' if not bad else 'DIFFERS: ' + ', '.join(bad)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
