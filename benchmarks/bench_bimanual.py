"""Bimanual tasks (``deep.envs`` family ``bimanual``, MuJoCo backend): speed and a random-policy baseline.

For each task:

- control steps/s on one core: one control step is 1/60 s of one copy (8 MuJoCo steps, observations,
  reward), under uniformly random actions in a 4-copy batch; beside it, in the same run, bare MuJoCo steps/s of
  the same scene (``mj_step`` alone) divided by 8, the ceiling the adapter's overhead is measured against;
- with ``--workers W``: the total control steps/s of W worker processes, each stepping its own batch;
- the random policy's success rate and mean episode return over ``--episodes`` episodes (the baseline for
  learning curves), with the standard error of the return.

    python benchmarks/bench_bimanual.py [--seconds 3] [--workers 2] [--episodes 40] [--tasks hand_over ...]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from deep.envs import make_env  # noqa: E402
from deep.envs.bimanual import TASKS  # noqa: E402
from deep.envs.bimanual.scene import SUBSTEPS  # noqa: E402


def random_actions(env, rng):
    return [rng.uniform(-1.0, 1.0, (env.num_envs, sp.shape[0])) for sp in env.spec.action_spaces]


def control_rate(task: str, seconds: float, num_envs: int = 4, seed: int = 0) -> float:
    """Control steps/s of one process stepping a ``num_envs`` batch of ``task`` under random actions."""
    env = make_env("bimanual", task, num_envs, seed=seed)
    rng = np.random.default_rng(seed)
    env.reset()
    for _ in range(10):
        env.step(random_actions(env, rng))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            env.step(random_actions(env, rng))
        steps += 10 * num_envs
    return steps / (time.perf_counter() - start)


def bare_physics_rate(task: str, seconds: float) -> float:
    """Control steps/s that bare ``mj_step`` calls on the same scene allow (MuJoCo steps/s / SUBSTEPS)."""
    env = make_env("bimanual", task, 1, seed=0)
    env.reset()
    model, data = env.model, env.data[0]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            mujoco.mj_step(model, data)
        steps += 200
    return steps / (time.perf_counter() - start) / SUBSTEPS


def _worker(args) -> float:
    task, seconds, seed = args
    return control_rate(task, seconds, seed=seed)


def random_baseline(task: str, episodes: int, seed: int = 0) -> tuple[float, float, float]:
    """(success rate, mean return, standard error of the return) of uniformly random actions."""
    env = make_env("bimanual", task, 4, seed=seed)
    rng = np.random.default_rng(seed)
    env.reset()
    successes, returns = [], []
    while len(returns) < episodes:
        s = env.step(random_actions(env, rng))
        successes += list(s.info["success"][s.done])
        returns += list(s.info["episode_return"][s.done])
    successes, returns = np.array(successes[:episodes]), np.array(returns[:episodes])
    return float(successes.mean()), float(returns.mean()), float(returns.std(ddof=1) / np.sqrt(episodes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPU cores, load average {load} (above the core count, the cores are shared with "
          f"other work: compare the ratio column); one control step = 1/60 s = {SUBSTEPS} MuJoCo steps")
    print(f"{'task':20s} {'ctrl steps/s':>12s} {'bare MuJoCo':>12s} {'ratio':>6s} "
          f"{f'{args.workers} workers':>11s} {'success':>8s} {'return (s.e.)':>16s}")
    ctx = multiprocessing.get_context("spawn")
    for task in args.tasks:
        rate = control_rate(task, args.seconds)
        bare = bare_physics_rate(task, args.seconds)
        workers = "-"
        if args.workers > 1:
            with ctx.Pool(args.workers) as pool:
                workers = f"{sum(pool.map(_worker, [(task, args.seconds, s) for s in range(args.workers)])):.0f}"
        success, ret, se = random_baseline(task, args.episodes)
        print(f"{task:20s} {rate:12.0f} {bare:12.0f} {rate / bare:6.2f} {workers:>11s} {success:8.3f} "
              f"{ret:9.3f} ({se:.3f})", flush=True)


if __name__ == "__main__":
    main()
