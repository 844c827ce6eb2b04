"""``meharl train``: start a HASAC run from a task's YAML config (``deep/configs``)."""
from __future__ import annotations

import time
from pathlib import Path

NAME = "train"
HELP = "train HASAC on a tabular game, MPE or MAMuJoCo task (config: deep/configs/ENV_TASK.yaml)"


def add_arguments(p):
    p.add_argument("--algo", default="hasac", choices=["hasac"], help="algorithm")
    p.add_argument("--env", required=True, choices=["tabular", "mpe", "mamujoco"], help="environment family")
    p.add_argument("--task", required=True, help="task, e.g. simple_spread_v3, HalfCheetah-2x3, paper-matrix, "
                   "or a saved tabular game .json")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the config's, 0)")
    p.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="override config keys, e.g. algo.n_step=5 train.total_steps=200000")
    p.add_argument("--config", default=None, help="a YAML file to use instead of the task's shipped config")
    p.add_argument("--run-dir", default=None, help="run directory (default: runs/ENV_TASK_hasac_seedN_TIME)")


def run(args) -> int:
    from deep.config import resolve
    from deep.train import Trainer
    cfg = resolve(args.env, args.task, args.seed, [f"algo_name={args.algo}", *args.overrides], args.config)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe_task = Path(args.task).stem if args.task.endswith(".json") else args.task
    run_dir = args.run_dir or f"runs/{args.env}_{safe_task}_{args.algo}_seed{cfg['seed']}_{stamp}"
    tr = Trainer(cfg, run_dir)
    try:
        last = tr.run()
    finally:
        tr.close()
    ev = last["eval"]
    if ev is not None:
        gap = f", QRE gap {ev['qre_gap']:.3g}" if ev["qre_gap"] != "" else ""
        print(f"{run_dir}: {ev['env_steps']} env steps, evaluation return {ev['eval_return']:.4g} "
              f"(std {ev['eval_return_std']:.3g} over {ev['eval_episodes']} episodes){gap}")
    return 0
