"""``meharl train``: start a run of an algorithm on a task, from its layered config (``deep/configs``)."""
from __future__ import annotations

import time
from pathlib import Path

NAME = "train"
HELP = ("train an algorithm (--algo, default hasac) on a task of an environment family; config: "
        "deep/configs/algos/ALGO.yaml <- tasks/ENV/TASK.yaml <- paper/ALGO/ENV_TASK.yaml <- --set")


def add_arguments(p):
    from deep.config import listed_algos
    from deep.envs.registry import FAMILIES, family_list
    p.add_argument("--algo", default="hasac", help=f"algorithm: {', '.join(listed_algos())} (default: hasac)")
    p.add_argument("--env", required=True, choices=list(FAMILIES),
                   help=f"environment family: {family_list()}")
    p.add_argument("--task", required=True, help="task, e.g. simple_spread_v3, HalfCheetah-2x3, paper-matrix, "
                   "a saved tabular game (.json or Gambit .nfg), or for --env pettingzoo the import path "
                   "module:factory of a PettingZoo ParallelEnv; `meharl tasks ENV` lists a family's tasks")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the config's, 0)")
    p.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="override config keys, e.g. algo.n_step=5 train.total_steps=200000")
    p.add_argument("--config", default=None, help="a YAML file to use instead of the task's and paper's configs")
    p.add_argument("--run-dir", default=None, help="run directory (default: runs/ENV_TASK_ALGO_seedN_TIME)")
    p.add_argument("--overwrite", action="store_true", help="replace the run or logs already in --run-dir")


def run(args) -> int:
    from deep.configure import resolve
    from deep.run import start
    from deep.run.loop import stop_signals
    cfg = resolve(args.env, args.task, args.seed, args.overrides, args.config, algo=args.algo)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe_task = Path(args.task).stem if args.env == "tabular" and Path(args.task).suffix else args.task
    run_dir = args.run_dir or f"runs/{args.env}_{safe_task}_{args.algo}_seed{cfg['seed']}_{stamp}"
    with stop_signals() as stop:  # a signal while the run is built stops it at step 0, with its checkpoint
        tr = start(cfg, run_dir, overwrite=args.overwrite)
        print(f"run directory: {run_dir}", flush=True)
        try:
            last = tr.run(stop=stop)
        finally:
            tr.close()
    if last["interrupted"]:
        return report_interrupted(tr, last)
    ev = last["eval"]
    if ev is not None:
        gap = f", QRE gap {ev['qre_gap']:.3g}" if ev["qre_gap"] != "" else ""
        print(f"{run_dir}: {ev['env_steps']} env steps, evaluation return {ev['eval_return']:.4g} "
              f"(std {ev['eval_return_std']:.3g} over {ev['eval_episodes']} episodes){gap}")
    return 0


def report_interrupted(run, last) -> int:
    """Say that a signal stopped ``run`` after saving its checkpoint; the exit status is 128 + the signal."""
    import signal
    import sys
    print(f"{last['interrupted']}: stopped at {run.counters['env_steps']} env steps; checkpoint saved to "
          f"{run.dir / 'checkpoint.pt'}; continue with `meharl resume {run.dir}`", file=sys.stderr)
    return 128 + int(signal.Signals[last["interrupted"]])
