"""Which pure equilibrium of the paper's matrix game (Section 3.2) the deterministic methods reach, over seeds.

HATD3 and deterministic HASAC (``hasac-det``) are trained on ``tabular paper-matrix`` with the shipped configs
(deep/configs/paper/<algo>/tabular_paper-matrix.yaml); the joint action their deterministic (evaluation)
policies take at the end is printed per seed, with a tally, e.g.

    python benchmarks/matrix_game_deterministic.py --seeds 5 --steps 4800

tests/test_offpolicy.py asserts the equilibrium on one seed; this script gives the spread the note reports.
"""
from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

import numpy as np

from deep.configure import resolve
from deep.run import start

ACTIONS = "ABC"


def final_joint_action(algo: str, seed: int, steps: int, run_dir: Path) -> str:
    cfg = resolve("tabular", "paper-matrix", seed, ["train.progress=false", "train.tensorboard=false",
                                                      "train.eval_interval=0", f"train.total_steps={steps}"], algo=algo)
    run = start(cfg, run_dir)
    run.run()
    run.close()
    acts = run.algo.act([np.ones((1, 1), np.float32)] * 2, [np.ones((1, 3), bool)] * 2, deterministic=True)
    return "".join(ACTIONS[int(a[0])] for a in acts.env_actions)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algos", nargs="+", default=["hatd3", "hasac-det"])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, default=4800, help="environment steps per run")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for algo in args.algos:
            tally = collections.Counter()
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                joint = final_joint_action(algo, seed, args.steps, Path(tmp) / f"{algo}_{seed}")
                tally[joint] += 1
                print(f"{algo} seed {seed}: ({joint[0]}, {joint[1]})  {time.perf_counter() - t0:.1f} s", flush=True)
            summary = ", ".join(f"({j[0]}, {j[1]}) {k}/{args.seeds}" for j, k in sorted(tally.items()))
            print(f"{algo}: {summary} after {args.steps} env steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
