"""``meharl sweep``: every (algorithm, task, seed) of a grid as one run directory, run as Ray tasks; resumable.
See :mod:`meharl.sweep`."""
from __future__ import annotations

from . import finite_float

NAME = "sweep"
HELP = ("run algorithms x tasks x seeds as Ray tasks, one run directory each (re-run to resume; "
        "exit status 1 if a run failed or was stopped, 143 if SIGTERM stopped the sweep)")


def add_arguments(p):
    p.add_argument("file", nargs="?", default=None,
                   help="a YAML sweep file (keys algos, tasks, seeds, set, root, cpus_per_run, gpus_per_run); "
                   "an algos entry is a name or {label, algo, set: [KEY=VALUE ...]}; options below override it")
    p.add_argument("--algos", default=None, help="comma-separated algorithms, e.g. hasac,mappo")
    p.add_argument("--tasks", default=None, help="comma-separated ENV:TASK, e.g. mpe:simple_spread_v3,"
                   "mamujoco:HalfCheetah-2x3")
    p.add_argument("--seeds", default=None, help="seeds: 0-4, 0,2,5 or 3")
    p.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="override config keys of every run, e.g. train.total_steps=200000")
    p.add_argument("--root", default=None, help="folder of the run directories (default: runs/sweep); may be "
                   "a shared filesystem path")
    p.add_argument("--address", default=None, help="join this Ray cluster (default: start a local Ray instance)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    p.add_argument("--cpus-per-run", type=int, default=None, help="CPUs (and torch threads) per run (default 1)")
    p.add_argument("--gpus-per-run", type=finite_float, default=None, help="GPUs per run (default 0)")
    p.add_argument("--poll", type=finite_float, default=10.0, help="seconds between progress lines (default 10)")


def run(args) -> int:
    from meharl.sweep import make_sweep, run_sweep
    if args.num_cpus is not None and args.num_cpus < 1:
        raise ValueError(f"--num-cpus must be >= 1, got {args.num_cpus}")
    if args.poll <= 0:
        raise ValueError(f"--poll must be > 0, got {args.poll}")
    sweep = make_sweep(args.file, args.algos, args.tasks, args.seeds, args.overrides, args.root,
                       args.cpus_per_run, args.gpus_per_run)
    return run_sweep(sweep, args.address, args.num_cpus, args.poll)
