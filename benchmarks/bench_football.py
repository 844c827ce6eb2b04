"""Google Research Football: environment steps per second and a random policy's score rate.

For each task: steps/s of one copy in this process, of ``--envs`` copies in this process (``workers=0``) and
of the same copies in ``--workers`` worker processes (the speed-up is the ratio of the last two, measured in
the same run), each with its steps per CPU-second and the cores it kept busy (CPU time of this process and
its workers over wall time: on a machine loaded by other jobs, the share of the cores it got); then a uniformly random policy's score rate (the
share of episodes in which the left team scores: the baseline for learning curves) and win rate over
``--episodes`` episodes, with its binomial standard error.

    python benchmarks/bench_football.py [--tasks academy_run_pass_and_shoot_with_keeper academy_corner]
        [--steps 400] [--envs 2] [--workers 2] [--episodes 200] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import psutil

from deep.envs import make_env


def random_actions(env, rng) -> list[np.ndarray]:
    return [rng.integers(0, sp.n, env.num_envs) for sp in env.spec.action_spaces]


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by this process and the worker processes ``pids``."""
    workers = sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pids)
    return time.process_time() + workers


def steps_per_second(task: str, num_envs: int, workers: int, steps: int, seed: int) -> tuple[float, float, float]:
    """Over ``steps`` batched random steps (engine creation and reset excluded): copy-steps per wall second,
    copy-steps per CPU second (this process and its workers) and the cores kept busy (CPU / wall time)."""
    with make_env("football", task, num_envs, seed=seed, workers=workers) as env:
        env.reset()
        rng = np.random.default_rng(seed)
        wall, cpu = time.perf_counter(), cpu_seconds(env.worker_pids)
        for _ in range(steps):
            env.step(random_actions(env, rng))
        cpu = cpu_seconds(env.worker_pids) - cpu
        wall = time.perf_counter() - wall
        return steps * num_envs / wall, steps * num_envs / cpu, cpu / wall


def random_policy_rates(task: str, num_envs: int, workers: int, episodes: int, seed: int):
    """(score rate, win rate, mean episode length, episode returns) of a uniformly random policy."""
    scored, won, lengths, returns = [], [], [], []
    with make_env("football", task, num_envs, seed=seed, workers=workers) as env:
        env.reset()
        rng = np.random.default_rng(seed)
        running = np.zeros(num_envs)
        while len(scored) < episodes:
            s = env.step(random_actions(env, rng))
            running += s.reward
            for k in np.flatnonzero(s.done):
                returns.append(running[k])
                running[k] = 0.0
                scored.append(s.info["score"][k, 0] > 0)
                won.append(s.info["won"][k])
                lengths.append(s.info["episode_length"][k])
    return float(np.mean(scored)), float(np.mean(won)), float(np.mean(lengths)), np.array(returns)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+",
                   default=["academy_run_pass_and_shoot_with_keeper", "academy_corner"])
    p.add_argument("--steps", type=int, default=400, help="batched steps timed per configuration")
    p.add_argument("--envs", type=int, default=2, help="copies in the batched configurations")
    p.add_argument("--workers", type=int, default=2, help="worker processes of the process batcher")
    p.add_argument("--episodes", type=int, default=200, help="episodes of the random-policy baseline (0: skip it)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start "
          "(other jobs share this machine: compare the ratios, measured in the same run)")
    for task in a.tasks:
        rates = {}
        for name, envs, workers in [("1 copy", 1, 0), (f"{a.envs} copies in-process", a.envs, 0),
                                    (f"{a.envs} copies in {a.workers} workers", a.envs, a.workers)]:
            rates[name] = steps_per_second(task, envs, workers, a.steps, a.seed)
            wall, per_cpu, cores = rates[name]
            print(f"{task}: {name}: {wall:.0f} steps/s, {per_cpu:.0f} steps per CPU-second, "
                  f"{cores:.2f} cores busy")
        looped, procs = (rates[k][0] for k in list(rates)[1:])
        print(f"{task}: worker-process speed-up x{procs / looped:.2f} over in-process "
              f"(load average now {os.getloadavg()[0]:.1f})")
        if not a.episodes:
            continue
        score, win, length, returns = random_policy_rates(task, a.envs, a.workers, a.episodes, a.seed)
        n = len(returns)
        print(f"{task}: random policy over {n} episodes: score rate {score:.3f} "
              f"(+- {np.sqrt(score * (1 - score) / n):.3f} s.e.), win rate {win:.3f}, "
              f"return {returns.mean():.3f} (+- {returns.std(ddof=1) / np.sqrt(n):.3f} s.e.), "
              f"mean episode length {length:.1f} steps; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
