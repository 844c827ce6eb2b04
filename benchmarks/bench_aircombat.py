"""Air combat (LAG on JSBSim): decisions per second, the share spent inside JSBSim, and baseline returns.

A "decision" is one step of one copy (12 physics steps of each of its aircraft).  For scale, measured in
the same run: the bare F-16 model's JSBSim steps per second, which bounds a 2v2 decision rate at
steps/s / 48 if everything but JSBSim were free.  The public reference environment runs 89 decisions/s
(NoWeapon, one core; docs/simulators/aircombat.md), with JSBSim about 7% of a decision.

Baselines for learning curves: the team return of uniformly random and of hold-course commands (all-zero
changes, shoot flag on) over whole episodes, with episode lengths and aircraft lost per team.

    python benchmarks/bench_aircombat.py [--num-envs 8] [--seconds 10] [--rounds 5] [--episodes 4]
                                         [--skip-baselines]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from deep.envs import make_env  # noqa: E402
from deep.envs.aircombat.env import HOLD  # noqa: E402

TASKS = ("2v2-NoWeapon-vsBaseline", "2v2-ShootMissile-vsBaseline")


def bare_f16():
    """The packaged F-16 alone (no autopilot), trimmed-ish at the task's start condition."""
    import jsbsim
    jsbsim.FGJSBBase().debug_lvl = 0
    fdm = jsbsim.FGFDMExec(None)
    fdm.set_debug_level(0)
    fdm.load_model("f16")
    for name, value in (("ic/h-sl-ft", 20000), ("ic/long-gc-deg", 120), ("ic/lat-geod-deg", 60),
                        ("ic/u-fps", 800), ("ic/psi-true-deg", 0)):
        fdm[name] = value
    fdm.set_dt(1 / 60)
    fdm.run_ic()
    fdm["propulsion/set-running"] = -1
    fdm["fcs/throttle-cmd-norm"] = 0.43
    return fdm


def steps_per_second(fdm, seconds: float) -> float:
    """JSBSim steps/s of one model called in a tight loop."""
    run, steps, start = fdm.run, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(600):
            run()
        steps += 600
    return steps / (time.perf_counter() - start)


def policy_actions(env, policy: str, rng) -> list[np.ndarray]:
    n = env.num_envs
    if policy == "hold":
        row = np.concatenate([HOLD, [1]]) if env.weapons else HOLD
        return [np.tile(row, (n, 1)) for _ in range(env.spec.n_agents)]
    return [np.stack([rng.integers(0, k, n) for k in sp.nvec], axis=1) for sp in env.spec.action_spaces]


def speed(task: str, num_envs: int, seconds: float, rounds: int) -> dict:
    """Decisions/s under random commands (resets included), the share of that time inside JSBSim's physics
    steps, and the bare-JSBSim bound (bare F-16 steps/s / 48), measured in alternating rounds so that both
    see the same machine load; medians over the rounds."""
    env = make_env("aircombat", task, num_envs, seed=0)
    env.reset()
    bare, rng = bare_f16(), np.random.default_rng(0)
    for _ in range(5):
        env.step(policy_actions(env, "random", rng))
    rates, shares, bounds = [], [], []
    for _ in range(rounds):
        bounds.append(steps_per_second(bare, seconds / rounds / 2) / (4 * 12))
        env.jsbsim_seconds, decisions, start = 0.0, 0, time.perf_counter()
        while time.perf_counter() - start < seconds / rounds:
            for _ in range(5):
                env.step(policy_actions(env, "random", rng))
            decisions += 5 * num_envs
        wall = time.perf_counter() - start
        rates.append(decisions / wall)
        shares.append(env.jsbsim_seconds / wall)
    ratios = np.array(rates) / np.array(bounds)
    return {"rate": np.median(rates), "share": np.median(shares), "bound": np.median(bounds),
            "ratio": np.median(ratios)}


def baseline(task: str, policy: str, episodes: int) -> dict:
    """Team returns, lengths and aircraft lost of ``episodes`` whole episodes (copies run in parallel)."""
    env = make_env("aircombat", task, episodes, seed=0)
    env.reset()
    rng = np.random.default_rng(0)
    ret = np.full(episodes, np.nan)
    length = np.zeros(episodes, int)
    lost = np.zeros((episodes, 2), int)
    while np.isnan(ret).any():
        s = env.step(policy_actions(env, policy, rng))
        for k in np.flatnonzero(s.done & np.isnan(ret)):
            ret[k], length[k] = s.info["episode_return"][k], s.info["episode_length"][k]
            out = s.info["aircraft_out"][k]
            lost[k] = [out[:env.team_size].sum(), out[env.team_size:].sum()]
    return {"return": ret, "length": length, "lost": lost}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-envs", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0, help="timed seconds per speed figure")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds of bare JSBSim and environment")
    ap.add_argument("--episodes", type=int, default=4, help="episodes per baseline figure")
    ap.add_argument("--skip-baselines", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores (other jobs share this machine: compare ratios)")
    for task in TASKS:
        f = speed(task, args.num_envs, args.seconds, args.rounds)
        print(f"{task:30s} {args.num_envs} copies: {f['rate']:5.0f} decisions/s, {100 * f['share']:4.1f}% inside "
              f"JSBSim's physics steps; bare-JSBSim bound {f['bound']:5.0f}/s (bare F-16 steps/s / 48): "
              f"{100 * f['ratio']:4.1f}% of it")
    if args.skip_baselines:
        return 0
    for task in TASKS:
        for policy in ("random", "hold"):
            b = baseline(task, policy, args.episodes)
            print(f"{task:30s} {policy:6s} team return {b['return'].mean():8.2f} +- {b['return'].std():6.2f} "
                  f"(episodes {np.round(b['return'], 2).tolist()}), length {b['length'].tolist()}, "
                  f"aircraft lost A/B {b['lost'].sum(axis=0).tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
