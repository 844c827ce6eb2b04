"""SMAX throughput: env steps per second of the batched ``smac`` adapter (64 copies, one core).

An "env step" is one step of one copy (a vector step of 64 copies counts 64); the figures include drawing
uniformly random *available* actions in numpy, the transfer of every output to numpy, SMAC's observation
extras (last action, agent id) and the auto-reset.  The reference in the same run is SMAX alone: jaxmarl's
own ``jit(vmap(env.step))`` (its auto-reset included) with the actions sent in and the observations,
world state, masks, rewards and dones brought back to numpy, without the adapter's bookkeeping; the two
alternate in short rounds and medians are printed.  The process is pinned to one core; rates are given per
wall-clock second and per CPU second of the process (what one unshared core would do: on a loaded machine
the wall-clock rate also counts the time other processes hold the core).  Target (issue 12): at least
10,000 env steps/s on 3m and 8m_vs_9m.

    python benchmarks/bench_smac.py [--maps 3m 8m_vs_9m] [--num-envs 64] [--seconds 8] [--rounds 8] [--no-reference]
        [--xla-flags single-thread]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def random_available(avail: np.ndarray, rng) -> np.ndarray:
    """One uniformly random available action per row of the (B, A) mask."""
    return np.argmax(rng.random(avail.shape) * avail, axis=1)


def adapter_stepper(task: str, n: int):
    """A function making one vector step of ``SmaxEnv`` (compiled and warmed up here)."""
    from deep.envs import make_env
    env = make_env("smac", task, n, seed=0)
    rng = np.random.default_rng(0)
    box = [env.reset()]

    def one():
        box[0] = env.step([random_available(m, rng) for m in box[0].avail])
    for _ in range(10):
        one()
    return one


def smax_stepper(task: str, n: int):
    """A function making one vector step of jaxmarl's own batched SMAX step with the numpy round trip."""
    from deep.envs.smac import MAPS, smax_env
    env = smax_env(task, MAPS[task].limit)  # imports jaxmarl quietly
    import jax
    jnp = jax.numpy
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
    states = jax.tree.map(lambda x: x.astype(x.dtype), jax.vmap(env.reset)(keys)[1])
    step = jax.jit(step)
    rng = np.random.default_rng(0)
    box = [keys, states, np.ones((len(agents), n, 5 + env.num_enemies), bool)]

    def one():
        actions = np.stack([random_available(a, rng) for a in box[2]], axis=1).astype(np.int32)
        box[0], box[1], out = step(box[0], box[1], actions)
        box[2] = jax.device_get(out)[2]
    for _ in range(10):
        one()
    return one


def timed(one, n: int, seconds: float) -> tuple[float, float]:
    """(env steps per wall-clock second, env steps per CPU second of this process) over ``seconds``."""
    steps, wall, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < seconds:
        for _ in range(10):
            one()
        steps += 10 * n
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maps", nargs="+", default=["3m", "8m_vs_9m"])
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=8.0, help="timed seconds per figure")
    ap.add_argument("--rounds", type=int, default=8, help="alternating rounds the seconds are split into")
    ap.add_argument("--no-reference", action="store_true", help="skip the SMAX-alone reference (one compile less)")
    ap.add_argument("--xla-flags", choices=("default", "single-thread"), default="default",
                    help=f"XLA's defaults, or XLA_FLAGS={SINGLE_THREAD!r} (measured: no difference)")
    args = ap.parse_args()
    if args.xla_flags == "single-thread":
        os.environ["XLA_FLAGS"] = SINGLE_THREAD
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.num_envs} copies, one core, XLA flags {args.xla_flags}, random available actions, "
          f"{args.seconds:g} s per figure; load average {load:.1f} on {os.cpu_count()} cores "
          f"(other processes share the machine: figures are noisy, compare within a run)", flush=True)
    target = 10_000
    for task in args.maps:
        t0 = time.perf_counter()
        runners = {"adapter": adapter_stepper(task, args.num_envs)}
        setup = time.perf_counter() - t0
        if not args.no_reference:
            runners["SMAX alone"] = smax_stepper(task, args.num_envs)
        # short alternating rounds, medians: the load drifts less within a round than over the whole run
        rates = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, one in runners.items():
                rates[name].append(timed(one, args.num_envs, args.seconds / args.rounds))
        med = {name: np.median(np.array(r), axis=0) for name, r in rates.items()}
        wall, cpu = med["adapter"]
        line = (f"smac {task:>9}: {wall:8,.0f} env steps/s wall-clock, {cpu:8,.0f} per CPU second "
                f"[{'meets' if cpu >= target else 'BELOW'} the {target:,} target per core]; compile+reset+warm-up "
                f"{setup:.0f} s")
        if not args.no_reference:
            ratio = np.median([a[1] / b[1] for a, b in zip(rates["adapter"], rates["SMAX alone"])])
            line += f" | SMAX alone {med['SMAX alone'][1]:8,.0f} per CPU second; adapter/SMAX {ratio:.2f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
