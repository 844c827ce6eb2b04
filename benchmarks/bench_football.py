"""Google Research Football: environment steps per second and a random policy's score rate.

For each task: steps/s of one copy in this process, of ``--envs`` copies in this process (``workers=0``) and
of the same copies in ``--workers`` worker processes (the speed-up is the ratio of the last two, measured in
the same run so a loaded machine affects both alike); then a uniformly random policy's score rate (the
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

from deep.envs import make_env


def random_actions(env, rng) -> list[np.ndarray]:
    return [rng.integers(0, sp.n, env.num_envs) for sp in env.spec.action_spaces]


def steps_per_second(task: str, num_envs: int, workers: int, steps: int, seed: int) -> float:
    """Copy-steps per second of ``steps`` batched random steps (engine creation and reset excluded)."""
    with make_env("football", task, num_envs, seed=seed, workers=workers) as env:
        env.reset()
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        for _ in range(steps):
            env.step(random_actions(env, rng))
        return steps * num_envs / (time.perf_counter() - start)


def random_policy_rates(task: str, num_envs: int, workers: int, episodes: int, seed: int):
    """(score rate, win rate, mean episode length, episodes) of a uniformly random policy."""
    scored, won, lengths = [], [], []
    with make_env("football", task, num_envs, seed=seed, workers=workers) as env:
        env.reset()
        rng = np.random.default_rng(seed)
        while len(scored) < episodes:
            s = env.step(random_actions(env, rng))
            for k in np.flatnonzero(s.done):
                scored.append(s.info["score"][k, 0] > 0)
                won.append(s.info["win"][k])
                lengths.append(s.info["episode_length"][k])
    n = len(scored)
    return float(np.mean(scored)), float(np.mean(won)), float(np.mean(lengths)), n


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+",
                   default=["academy_run_pass_and_shoot_with_keeper", "academy_corner"])
    p.add_argument("--steps", type=int, default=400, help="batched steps timed per configuration")
    p.add_argument("--envs", type=int, default=2, help="copies in the batched configurations")
    p.add_argument("--workers", type=int, default=2, help="worker processes of the process batcher")
    p.add_argument("--episodes", type=int, default=200, help="episodes of the random-policy baseline")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start "
          "(other jobs share this machine: compare the ratios, measured in the same run)")
    for task in a.tasks:
        one = steps_per_second(task, 1, 0, a.steps, a.seed)
        looped = steps_per_second(task, a.envs, 0, a.steps, a.seed)
        procs = steps_per_second(task, a.envs, a.workers, a.steps, a.seed)
        print(f"{task}: 1 copy {one:.0f} steps/s; {a.envs} copies in-process {looped:.0f} steps/s; "
              f"{a.envs} copies in {a.workers} workers {procs:.0f} steps/s "
              f"(speed-up x{procs / looped:.2f} over in-process)")
        score, win, length, n = random_policy_rates(task, a.envs, a.workers, a.episodes, a.seed)
        print(f"{task}: random policy over {n} episodes: score rate {score:.3f} "
              f"(+- {np.sqrt(score * (1 - score) / n):.3f} s.e.), win rate {win:.3f}, "
              f"mean episode length {length:.1f} steps; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
