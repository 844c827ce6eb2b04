"""FOP on the paper's 3x3 matrix game (r(A,A)=5, r(B,B)=10, r(C,C)=20, mismatches -20) at a fixed temperature:
is the product policy it reaches a logit QRE of the game at that temperature, and which one?

Why near a QRE: with one-step episodes (gamma 0) each agent's policy is trained towards
``pi^i ∝ exp(Q_i / alpha)``, and the critic loss reaches ``Q_i`` through ``sum_i Q_i + V`` (the advantage term of
the mixer is stop-gradient), a least-squares fit of ``r`` on joint actions drawn from the (nearly current)
policies, whose minimiser over ``Q_i`` is ``E_{a_-i ~ pi^-i}[r(a_i, a_-i)]`` up to a constant: were that the
whole residual, every agent would soft-best-respond to the others at a fixed point, the QRE condition.  The
learnt weights ``lambda_i`` absorb part of the residual, so FOP need not reach a QRE exactly; this measures
how close it ends.  The engine answers exactly: ``tabular.qre_gap`` (the largest MaxEnt gain of a unilateral
soft best response, 0 exactly at a QRE) and ``tabular.qre.enumerate_qre`` (the QRE to compare with).  Settings (:data:`EXACT`): the temperature fixed, no epsilon exploration (the policies' own sampling
explores), and a replay of the last 256 episodes (32 vector steps), so that the fitted values are those of the
current policies up to a short lag.  Usage:
``python benchmarks/fop_matrix_game.py [--seeds 0 1 2 3 4] [--alpha 10] [--total-steps 6400]``
(config: deep/configs/paper/fop/tabular_paper-matrix.yaml).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np
import torch

import deep
from deep.run.evaluate import joint_policy, qre_gap
from tabular.paper import paper_matrix_game
from tabular.qre import enumerate_qre

#: the exactness setting (module docstring); the temperature is added by :func:`train_one`
EXACT = ("algo.epsilon_start=0", "algo.epsilon_finish=0", "train.buffer_episodes=256")


def train_one(seed: int, run_dir: str, alpha: float, overrides=()):
    """A FOP run at fixed ``alpha`` on the matrix game: (its joint policy as the engine's, its QRE gap, the run)."""
    run = deep.train("tabular", "paper-matrix", run_dir, algo="fop", seed=seed,
                     overrides=["train.progress=false", "train.tensorboard=false", f"algo.alpha_start={alpha}",
                                f"algo.alpha_finish={alpha}", *EXACT, *overrides])
    return joint_policy(run.algo, run.eval_env), qre_gap(run.algo, run.eval_env), run


def nearest_qre(policy, records):
    """(index, max |probability difference|) of the QRE in ``records`` closest to ``policy``."""
    dist = [policy.max_abs_diff(r.policy) for r in records]
    k = int(np.argmin(dist))
    return k, dist[k]


def describe(policy) -> str:
    return " ".join(f"agent {i}: ({', '.join(f'{x:.3f}' for x in p[0])})" for i, p in enumerate(policy))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--alpha", type=float, default=10.0)
    ap.add_argument("--total-steps", type=int, default=6400)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    records = enumerate_qre(paper_matrix_game(), args.alpha)
    print(f"alpha {args.alpha}: {len(records)} QRE found by the engine (multistart Newton), best MaxEnt value first:")
    for k, r in enumerate(records):
        print(f"  QRE {k}: J {r.J:.3f}, {describe(r.policy)}")
    counts = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            policy, gap, run = train_one(seed, d, args.alpha, [f"train.total_steps={args.total_steps}"])
        k, dist = nearest_qre(policy, records)
        counts[k] = counts.get(k, 0) + 1
        print(f"seed {seed}: {describe(policy)}; QRE gap {gap:.4f}; nearest QRE {k} (J {records[k].J:.3f}), "
              f"max |diff| {dist:.4f}; {run.counters['updates']} updates, {time.perf_counter() - t0:.1f} s")
    print("nearest QRE over seeds:", ", ".join(f"QRE {k} x{v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
