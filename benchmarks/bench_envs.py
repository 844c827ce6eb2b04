"""Environment throughput: env steps per second of 20 batched copies under uniformly random actions.

Measures the adapters of ``deep.envs`` (MPE simple_spread_v3 with continuous actions, MAMuJoCo
HalfCheetah 2x3 with full+id observations) and, for comparison, the same copies stepped one by one
through the packages' public PettingZoo parallel API.  An "env step" is one step of one copy, so a vector
step of 20 copies counts 20.  For scale: the public reference HASAC trained at 216 (MPE) and 307
(HalfCheetah) env steps/s in all on this machine, i.e. its whole training step per vector step took
about 93 ms and 65 ms.

    python benchmarks/bench_envs.py [--num-envs 20] [--seconds 3] [--all]
"""
from __future__ import annotations

import argparse
import importlib
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from gymnasium.spaces import Discrete  # noqa: E402

from deep.envs import env_tasks, make_env  # noqa: E402


def _actions(spaces, n, rng):
    return [rng.integers(0, sp.n, n) if isinstance(sp, Discrete)
            else rng.uniform(sp.low, sp.high, (n, *sp.shape)).astype(np.float32) for sp in spaces]


def bench_batched(env, seconds: float) -> float:
    """Env steps/s of ``env.step`` (random actions drawn inside the timed loop)."""
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(20):  # warm-up
        env.step(_actions(env.spec.action_spaces, env.num_envs, rng))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(25):
            env.step(_actions(env.spec.action_spaces, env.num_envs, rng))
        steps += 25 * env.num_envs
    return steps / (time.perf_counter() - start)


def bench_public(make_copy, n: int, seconds: float) -> float:
    """Env steps/s of ``n`` PettingZoo parallel envs stepped one after another, resetting when done."""
    envs = [make_copy() for _ in range(n)]
    rng = np.random.default_rng(0)
    for k, e in enumerate(envs):
        e.reset(seed=k)
    agents = envs[0].possible_agents
    spaces = [envs[0].action_space(a) for a in agents]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(25):
            acts = _actions(spaces, n, rng)
            for k, e in enumerate(envs):
                e.step({a: acts[i][k] for i, a in enumerate(agents)})
                if not e.agents:
                    e.reset()
        steps += 25 * n
    return steps / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-envs", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=3.0, help="timed seconds per figure")
    ap.add_argument("--all", action="store_true", help="also time every other MPE and MAMuJoCo task")
    args = ap.parse_args()
    n, sec = args.num_envs, args.seconds
    from gymnasium_robotics import mamujoco_v1

    print(f"{n} copies, random actions, {sec:g} s per figure (env steps/s; one env step = one copy)")
    rows = [
        ("mpe simple_spread_v3 continuous", make_env("mpe", "simple_spread_v3", n, continuous_actions=True),
         lambda: importlib.import_module("mpe2.simple_spread_v3").parallel_env(continuous_actions=True)),
        ("mamujoco HalfCheetah-2x3 full+id", make_env("mamujoco", "HalfCheetah-2x3", n),
         lambda: mamujoco_v1.parallel_env("HalfCheetah", "2x3", agent_obsk=1)),
    ]
    for name, env, public in rows:
        ours = bench_batched(env, sec)
        theirs = bench_public(public, n, sec)
        print(f"{name:40s} batched adapter {ours:7.0f}   public parallel API loop {theirs:7.0f}   "
              f"vector step {1e3 * n / ours:5.2f} ms")
    if args.all:
        for task in env_tasks("mpe"):
            for cont in (False, True):
                env = make_env("mpe", task, n, continuous_actions=cont)
                name = f"mpe {task} {'continuous' if cont else 'discrete'}"
                print(f"{name:40s} batched adapter {bench_batched(env, sec):7.0f}")
        for task in env_tasks("mamujoco"):
            for mode in ("full+id", "khop"):
                env = make_env("mamujoco", task, n, obs_mode=mode)
                name = f"mamujoco {task} {mode}"
                print(f"{name:40s} batched adapter {bench_batched(env, sec):7.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
