"""QMIX on the paper's 3x3 matrix game (r(A,A)=5, r(B,B)=10, r(C,C)=20, mismatches -20): which joint action is
greedy after training, and is it a pure Nash equilibrium of the game (the engine's payoff matrix)?

Monotonic mixing cannot represent this payoff in general, so QMIX need not find the optimum (C,C); what the
engine can say is whether its greedy joint action is an equilibrium.  Usage:
``python benchmarks/qmix_matrix_game.py [--seeds 0 1 2 3 4]`` (config: deep/configs/paper/qmix/tabular_paper-matrix.yaml).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np
import torch

import deep
from tabular.paper import paper_matrix_game

ACTIONS = "ABC"


def greedy_joint_action(algo, env) -> tuple[int, ...]:
    r = env.reset(seed=0)
    acted = algo.act(r.obs, r.avail, deterministic=True, memory=algo.initial_memory(env.num_envs))
    return tuple(int(a[0]) for a in acted.env_actions)


def is_pure_nash(payoff: np.ndarray, joint: tuple[int, int]) -> bool:
    i, j = joint
    return bool(payoff[i, j] >= payoff[:, j].max() and payoff[i, j] >= payoff[i, :].max())


def train_one(seed: int, run_dir: str, overrides=()):
    run = deep.train("tabular", "paper-matrix", run_dir, algo="qmix", seed=seed,
                     overrides=["train.progress=false", "train.tensorboard=false", *overrides])
    joint = greedy_joint_action(run.algo, run.eval_env)
    return joint, run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    payoff = np.asarray(paper_matrix_game().payoff, dtype=float)
    counts = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            joint, run = train_one(seed, d)
        name = "".join(ACTIONS[a] for a in joint)
        ne = is_pure_nash(payoff, joint)
        counts[name] = counts.get(name, 0) + 1
        print(f"seed {seed}: greedy joint action ({','.join(name)}) payoff {payoff[joint]:g}, pure Nash "
              f"equilibrium: {ne}, {run.counters['updates']} updates, {time.perf_counter() - t0:.1f} s")
    print("greedy joint actions over seeds:", ", ".join(f"({','.join(k)}) x{v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
