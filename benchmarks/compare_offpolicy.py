"""Learning curves side by side at equal environment steps (issue 11): HASAC, HATD3, deterministic HASAC and,
where registered, HAPPO and MAPPO, on MPE Spread (continuous) and MAMuJoCo HalfCheetah 2x3, N seeds each.

Every run is one ``meharl train`` process with the pair's shipped config (deep/configs: algorithm defaults <-
task <- paper / reference settings) and the same ``train.total_steps`` and ``train.eval_interval`` for every
algorithm, so the curves share their environment steps.  Then ``meharl plot`` draws one figure per task
(mean, +-1 std and range over seeds of the evaluation return), and the script prints each algorithm's final
evaluation return (mean and std over seeds), its wall time per run, and the ordering found; everything is
also written to ``OUT/summary.csv``.

The issue's budget is about an hour of this machine per algorithm (``--steps`` as many as fit).  With ``--reuse``
a comparison grows: a shorter one's runs are resumed to the new ``--steps``, which gives the same runs as training
that long from the start (resume is exact), e.g. 200k, then

    python benchmarks/compare_offpolicy.py --out runs/compare --seeds 3 --steps 400000 --reuse

A tiny run only shows the pipeline works (the curves then say nothing about the algorithms):

    python benchmarks/compare_offpolicy.py --out /tmp/compare --seeds 2 --steps 2000 --eval-interval 1000 \\
        --set train.eval_episodes=4 eval_num_envs=4 \\
        hasac,hatd3,hasac-det:train.warmup_steps=400 hasac,hatd3,hasac-det:algo.batch_size=64

``--set KEY=VALUE`` applies to every algorithm; ``ALGO[,ALGO...]:KEY=VALUE`` to the algorithms named only
(off- and on-policy algorithms have different ``train`` settings).
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from deep.algos import algo_names

TASKS = ("mpe:simple_spread_v3", "mamujoco:HalfCheetah-2x3")
ALGOS = ("hasac", "hatd3", "hasac-det", "happo", "mappo")
#: the issue's setting: continuous actions on MPE Spread (the task config's default, repeated to be explicit)
TASK_SETTINGS = {"mpe:simple_spread_v3": ["env_options.continuous_actions=true"]}


def overrides_for(algo: str, sets: list[str]) -> list[str]:
    """The ``--set`` items that apply to ``algo`` (plain ones, and ``a,b:key=value`` naming it)."""
    out = []
    for item in sets:
        head, sep, rest = item.partition(":")
        if sep and "=" not in head:
            if algo in head.split(","):
                out.append(rest)
        else:
            out.append(item)
    return out


def last_eval(run_dir: Path) -> dict | None:
    """The last row of ``run_dir``'s ``eval.csv``, or None if it has none."""
    try:
        with open(run_dir / "eval.csv", newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))[-1]
    except (OSError, IndexError):
        return None


def read_final_eval(run_dir: Path) -> float:
    """The evaluation return of ``run_dir``'s last evaluation."""
    return float(last_eval(run_dir)["eval_return"])


def train(algo: str, task: str, seed: int, steps: int, eval_interval: int, sets: list[str], run_dir: Path,
          reuse: bool = False) -> float:
    """One run in its own process; returns its wall time in seconds as the run records it (without the
    process's start-up; a resumed run's clock carries on).  With ``reuse``, a run already in ``run_dir`` is kept:
    as it is if its last evaluation is at ``steps`` or later, else continued to ``steps`` with ``meharl resume
    --total-steps`` (a resumed run is the same run, so a shorter comparison extends to a longer one without
    training anything twice)."""
    last = last_eval(run_dir) if reuse else None
    if last is not None and int(last["env_steps"]) >= steps:
        print(f"reusing the finished run in {run_dir}", flush=True)
        return float(last["wall_time"])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if last is not None and (run_dir / "checkpoint.pt").exists():
        print(f"continuing {run_dir} from {last['env_steps']} to {steps} environment steps", flush=True)
        subprocess.run([sys.executable, "-m", "meharl", "resume", str(run_dir), "--total-steps", str(steps)],
                       check=True, stdout=subprocess.DEVNULL, env=env)
        return float(last_eval(run_dir)["wall_time"])
    env_name, name = task.split(":")
    cmd = [sys.executable, "-m", "meharl", "train", "--algo", algo, "--env", env_name, "--task", name,
           "--seed", str(seed), "--run-dir", str(run_dir), "--overwrite", "--set", f"train.total_steps={steps}",
           f"train.eval_interval={eval_interval}", "train.progress=false", *TASK_SETTINGS.get(task, []),
           *overrides_for(algo, sets)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return float(last_eval(run_dir)["wall_time"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="directory for the run directories, figures and summary.csv")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), help="ENV:TASK pairs")
    p.add_argument("--algos", nargs="+", default=list(ALGOS), help="algorithms (unregistered ones are skipped)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, required=True, help="environment steps of every run")
    p.add_argument("--eval-interval", type=int, default=None, help="environment steps between evaluations "
                   "(default: steps / 20)")
    p.add_argument("--set", dest="sets", nargs="+", action="extend", default=[], metavar="[ALGO,...:]KEY=VALUE")
    p.add_argument("--reuse", action="store_true", help="keep runs already in OUT (e.g. an interrupted comparison, "
                   "or runs linked in from another script) instead of training them again; shorter ones are "
                   "resumed to --steps")
    args = p.parse_args(argv)
    registered = set(algo_names())
    algos = [a for a in args.algos if a in registered]
    skipped = [a for a in args.algos if a not in registered]
    if skipped:
        print(f"not registered here, skipped: {', '.join(skipped)}")
    eval_interval = args.eval_interval or max(args.steps // 20, 1)
    out = Path(args.out)
    rows = []
    for task in args.tasks:
        dirs = []
        for algo in algos:
            for seed in range(args.seeds):
                run_dir = out / task.replace(":", "_") / algo / f"seed{seed}"
                wall = train(algo, task, seed, args.steps, eval_interval, args.sets, run_dir, args.reuse)
                rows.append({"task": task, "algo": algo, "seed": seed, "env_steps": args.steps, "wall_s": round(wall, 1),
                             "final_eval_return": read_final_eval(run_dir)})
                print(f"{task} {algo} seed {seed}: {wall:.0f} s, final evaluation return "
                      f"{rows[-1]['final_eval_return']:.4g}", flush=True)
                dirs.append(str(run_dir))
        figure = out / f"{task.replace(':', '_')}.png"
        subprocess.run([sys.executable, "-m", "meharl", "plot", *dirs, "--metric", "eval_return", "--out", str(figure),
                        "--title", f"{task}: evaluation return at equal environment steps ({args.steps})"], check=True)
    with open(out / "summary.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for task in args.tasks:
        stats = []
        for algo in algos:
            r = [x for x in rows if x["task"] == task and x["algo"] == algo]
            final = np.array([x["final_eval_return"] for x in r])
            stats.append((final.mean(), algo, final.std(), np.mean([x["wall_s"] for x in r])))
        print(f"\n{task}, {args.steps} env steps, {args.seeds} seeds:")
        for mean, algo, std, wall in sorted(stats, reverse=True):
            print(f"  {algo:10s} final evaluation return {mean:10.4g} +- {std:.3g}   wall time {wall:.0f} s per run")
        print("  ordering found: " + " > ".join(a for _, a, _, _ in sorted(stats, reverse=True)))
    print(f"\nwrote {out / 'summary.csv'} and one figure per task in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
