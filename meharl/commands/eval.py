"""``meharl eval RUN_DIR``: re-evaluate a run's checkpoint with the deterministic policy."""
from __future__ import annotations

import json

NAME = "eval"
HELP = "re-evaluate the checkpoint of RUN_DIR (deterministic policy; QRE gap on tabular games)"


def add_arguments(p):
    p.add_argument("run_dir", help="a run directory written by `meharl train`")
    p.add_argument("--episodes", type=int, default=None, help="episodes (default: the config's eval_episodes)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def run(args) -> int:
    from deep.run import resume
    if args.episodes is not None and args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    tr = resume(args.run_dir, truncate_logs=False)
    try:
        row = tr.run_evaluation(args.episodes)
    finally:
        tr.close()
    if args.json:
        print(json.dumps(row))
    else:
        gap = f"  QRE gap {row['qre_gap']:.4g}" if row["qre_gap"] != "" else ""
        print(f"{args.run_dir}: checkpoint at {row['env_steps']} env steps: evaluation return "
              f"{row['eval_return']:.4g} +- {row['eval_return_std']:.3g} ({row['eval_episodes']} episodes){gap}")
    return 0
