"""SMAX throughput: env steps per second of the batched ``smac`` adapter (64 copies, one core).

An "env step" is one step of one copy (a vector step of 64 copies counts 64); the figure includes drawing
uniformly random *available* actions in numpy, the transfer of every output to numpy, SMAC's observation
extras (last action, agent id) and the auto-reset.  The reference in the same run is SMAX alone: jaxmarl's
own ``jit(vmap(env.step))`` (its auto-reset included) with the actions sent in and the observations,
world state, masks, rewards and dones brought back to numpy, without the adapter's bookkeeping.  Target
(issue 12): at least 10,000 env steps/s on 3m and 8m_vs_9m.  The process is pinned to one core.

    python benchmarks/bench_smac.py [--maps 3m 8m_vs_9m] [--num-envs 64] [--seconds 5] [--no-reference]
        [--xla-flags default]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def random_available(avail: np.ndarray, rng) -> np.ndarray:
    """One uniformly random available action per row of the (B, A) mask."""
    return np.argmax(rng.random(avail.shape) * avail, axis=1)


def bench_adapter(task: str, n: int, seconds: float) -> tuple[float, float]:
    """(env steps/s of ``SmaxEnv.step``, compile + first-reset seconds)."""
    from deep.envs import make_env
    t0 = time.perf_counter()
    env = make_env("smac", task, n, seed=0)
    s = env.reset()
    setup = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    for _ in range(10):  # warm-up
        s = env.step([random_available(m, rng) for m in s.avail])
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(20):
            s = env.step([random_available(m, rng) for m in s.avail])
        steps += 20 * n
    return steps / (time.perf_counter() - start), setup


def bench_smax(task: str, n: int, seconds: float) -> float:
    """Env steps/s of jaxmarl's own batched SMAX step with the numpy round trip (the reference)."""
    from deep.envs.smac import MAPS, UNIT_TYPES, _import_smax
    jax, HeuristicEnemySMAX, Scenario = _import_smax()
    jnp = jax.numpy
    m = MAPS[task]
    types = jnp.array([UNIT_TYPES.index(u) for u in m.allies + m.enemies], jnp.uint8)
    env = HeuristicEnemySMAX(scenario=Scenario(types, len(m.allies), len(m.enemies), False, False),
                             max_steps=m.limit)
    agents = env.agents

    def step(keys, states, actions):
        keys, sub = jax.vmap(jax.random.split, out_axes=1)(keys)
        obs, states, rew, dones, _ = jax.vmap(env.step)(sub, states, {a: actions[:, i] for i, a in
                                                                        enumerate(agents)})
        avail = jax.vmap(env.get_avail_actions)(states)
        out = (jnp.stack([obs[a] for a in agents]), obs["world_state"], jnp.stack([avail[a] for a in agents]),
               rew[agents[0]], dones["__all__"])
        return keys, jax.tree.map(lambda x: x.astype(x.dtype), states), out

    keys = jax.random.split(jax.random.PRNGKey(0), n)
    _, states = jax.vmap(env.reset)(keys)
    states = jax.tree.map(lambda x: x.astype(x.dtype), states)
    step = jax.jit(step)
    avail = np.ones((len(agents), n, 5 + env.num_enemies), bool)
    rng = np.random.default_rng(0)

    def one(keys, states, avail):
        actions = np.stack([random_available(a, rng) for a in avail], axis=1).astype(np.int32)
        keys, states, out = step(keys, states, actions)
        return keys, states, jax.device_get(out)[2]

    for _ in range(10):
        keys, states, avail = one(keys, states, avail)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(20):
            keys, states, avail = one(keys, states, avail)
        steps += 20 * n
    return steps / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maps", nargs="+", default=["3m", "8m_vs_9m"])
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=5.0, help="timed seconds per figure")
    ap.add_argument("--no-reference", action="store_true", help="skip the SMAX-alone reference (one compile less)")
    ap.add_argument("--xla-flags", choices=("single-thread", "default"), default="single-thread",
                    help="the adapter's single-threaded XLA flags, or XLA's defaults (for comparison)")
    args = ap.parse_args()
    if args.xla_flags == "default":
        os.environ["XLA_FLAGS"] = ""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.num_envs} copies, one core, XLA flags {args.xla_flags}, random available actions, "
          f"{args.seconds:g} s per figure; load average {load:.1f} on {os.cpu_count()} cores "
          f"(other processes share the machine: figures are noisy, compare within a run)", flush=True)
    target = 10_000
    for task in args.maps:
        rate, setup = bench_adapter(task, args.num_envs, args.seconds)
        line = (f"smac {task:>12}: {rate:9,.0f} env steps/s (adapter, numpy out)  "
                f"[{'meets' if rate >= target else 'BELOW'} the {target:,} target]  compile+reset {setup:.1f} s")
        if not args.no_reference:
            ref = bench_smax(task, args.num_envs, args.seconds)
            line += f"  | SMAX alone {ref:9,.0f} env steps/s, adapter/SMAX {rate / ref:.2f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
