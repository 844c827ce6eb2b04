"""Uniformly random available actions on SMAX 3m under both map-edge rules (SMAC's, and SMAX's lethal walls):
the mean return over the first 200 or more episodes (every copy ending on the same step counts) with its standard error, and the win rate.

    PYTHONPATH=. python benchmarks/learning_runs/smax_edge/edge_random.py
"""
import numpy as np

from deep.envs.smac import SmaxEnv

EPISODES = 200

for edge in ("smac", "smax"):
    env = SmaxEnv("3m", num_envs=32, seed=0, edge=edge)
    rng = np.random.default_rng(0)
    r = env.reset(seed=0)
    ret, rets, wins = np.zeros(env.num_envs), [], []
    while len(rets) < EPISODES:
        actions = [np.array([rng.choice(np.flatnonzero(row)) for row in np.asarray(avail)]) for avail in r.avail]
        r = env.step(actions)
        ret += r.reward
        for k in np.flatnonzero(r.done):
            rets.append(ret[k])
            wins.append(float(np.asarray(r.info["won"])[k]))
            ret[k] = 0.0
    print(f"edge={edge}: return {np.mean(rets):.2f} +- {np.std(rets) / np.sqrt(len(rets)):.2f}, "
          f"win rate {np.mean(wins):.3f} ({len(rets)} episodes)")
