"""HASAC throughput and memory at the reference settings, and optionally learning curves.

Throughput (default): MPE simple_spread_v3 (continuous), 20 rollout environments in-process, batch 1000,
[256, 256] networks, one gradient update per vector step (50 updates every 50 vector steps), n-step 20,
fp32 on the CPU (``--precision bf16``: bf16 autocast of the networks' hidden layers, ``algo.precision``).
The 10,000 warm-up steps run first and are not timed; then ``--phases`` training phases are timed.  Prints
gradient updates/s, environment steps/s, the time split (environment / acting / buffer sampling / critic
update / actor updates) and the peak resident memory of the process.
``--precision fp32 bf16`` builds one trainer per precision and interleaves their timed phases in one process,
so a loaded machine slows both alike: the printed ratio is the figure to trust there, not the absolute rates.
Reference (public HASAC code, same machine and settings): 10.8 updates/s, 216 env steps/s, about 1.5 GB.

``--learn STEPS``: also train to STEPS environment steps and print the evaluation returns (40 deterministic
episodes) at every evaluation with the wall time.  Example:

    python benchmarks/bench_hasac.py --threads 2
    python benchmarks/bench_hasac.py --threads 2 --precision fp32 bf16 --phases 8   # the ratio bf16 / fp32
    python benchmarks/bench_hasac.py --env smac --task 8m_vs_9m   # the paper's SMAC settings (issue 12)
    python benchmarks/bench_hasac.py --threads 2 --learn 200000 --seeds 0 1 2 --run-root runs/bench
    meharl plot runs/bench/learn*
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time


#: (env, task) -> the public reference code's updates/s, env steps/s and memory (GB) on this machine
REFERENCE = {("mpe", "simple_spread_v3"): (10.8, 216, 1.5), ("mamujoco", "HalfCheetah-2x3"): (15.4, 307, 1.6)}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # Linux: KiB


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default="mpe")
    ap.add_argument("--task", default="simple_spread_v3")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the machine has 2 cores)")
    ap.add_argument("--phases", type=int, default=4, help="timed training phases of 50 vector steps")
    ap.add_argument("--learn", type=int, default=0, help="train to this many env steps and print eval returns")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--run-root", default=None, help="keep the learning runs here (default: a temporary folder)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), nargs="+", default=["fp32"],
                    help="the networks' arithmetic (algo.precision); several: one trainer each, their timed phases "
                         "interleaved in this process, each one's updates/s also as a ratio to the first's")
    ap.add_argument("--set", dest="overrides", nargs="+", default=[], help="extra config overrides")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    from deep.config import resolve
    from deep.run import start

    base = ["train.progress=false", "train.tensorboard=false", f"threads={args.threads}",
            "train.checkpoint_interval=0", "train.log_interval=1000000000", *args.overrides]
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for precision in args.precision:
            cfg = resolve(args.env, args.task, args.seeds[0],
                          [*base, f"algo.precision={precision}", "train.eval_interval=0"])
            tr = start(cfg, os.path.join(tmp, f"throughput-{precision}"))
            t = cfg["train"]
            warm_vec = -(-t["warmup_steps"] // cfg["num_envs"])
            warm_vec += -warm_vec % t["train_interval"]
            tr.run(stop_after=warm_vec + t["train_interval"])  # warm-up plus one untimed training phase
            tr._reset_window()
            runs[precision] = {"cfg": cfg, "trainer": tr, "updates": 0, "steps": 0, "wall": 0.0}
        for _ in range(args.phases):   # several precisions: their phases interleaved, so load hits each alike
            for r in runs.values():
                tr = r["trainer"]
                u0, s0, w0 = tr.counters["updates"], tr.counters["env_steps"], time.perf_counter()
                tr.run(stop_after=r["cfg"]["train"]["train_interval"])
                r["wall"] += time.perf_counter() - w0
                r["updates"] += tr.counters["updates"] - u0
                r["steps"] += tr.counters["env_steps"] - s0
        ref = REFERENCE.get((args.env, args.task))
        ref_u, ref_s, ref_m = ref or (float("nan"),) * 3
        first = runs[args.precision[0]]
        for r in runs.values():
            cfg, w, wall, updates = r["cfg"], r["trainer"].win["stats"], r["wall"], r["updates"]
            print(f"HASAC {args.env}:{args.task}  batch {cfg['algo']['batch_size']}  hidden {cfg['algo']['hidden']}  "
                  f"n-step {cfg['algo']['n_step']}  {cfg['algo']['precision']}  {cfg['num_envs']} envs  "
                  f"torch {torch.__version__}  threads {torch.get_num_threads()}")
            print(f"  gradient updates/s : {updates / wall:8.2f}   "
                  + (f"(reference {ref_u}, target >= {3 * ref_u:.1f})" if ref else "(no reference measured for this task)"))
            if r is not first:
                print(f"  ratio to {args.precision[0]:5s}    : {updates / wall / (first['updates'] / first['wall']):8.3f}"
                      "   (updates/s, phases interleaved in this process)")
            print(f"  env steps/s        : {r['steps'] / wall:8.1f}   " + (f"(reference {ref_s})" if ref else ""))
            parts = {k: w.get(f"time_{k}", 0.0) for k in ("env", "act", "sample", "critic", "actors")}
            parts["other"] = wall - sum(parts.values())
            print("  time split         : " + "  ".join(f"{k} {v / wall:5.1%}" for k, v in parts.items())
                  + f"   ({wall:.1f} s for {updates} updates)")
            print(f"  per update (ms)    : critic {1e3 * parts['critic'] / updates:.1f}  "
                  f"actors {1e3 * parts['actors'] / updates:.1f}  sample {1e3 * parts['sample'] / updates:.1f}")
            r["trainer"].close()
        print(f"  peak memory (RSS)  : {peak_rss_gb():8.3f} GB  " + (f"(reference about {ref_m} GB, target <= {ref_m / 2} GB"
                                                              f"{' for one run' if len(runs) > 1 else ''})" if ref else ""))
        if args.learn:
            for seed in args.seeds:
                cfg = resolve(args.env, args.task, seed, [*base, f"algo.precision={args.precision[0]}",
                                                          f"train.total_steps={args.learn}"])
                run_dir = os.path.join(args.run_root or tmp, f"learn{seed}")
                tr = start(cfg, run_dir)
                t0 = time.perf_counter()
                tr.run()
                tr.close()
                import csv
                with open(os.path.join(run_dir, "eval.csv")) as fh:
                    rows = list(csv.DictReader(fh))
                print(f"seed {seed}: " + "  ".join(f"{int(r['env_steps'])}: {float(r['eval_return']):.1f}"
                                                    f" ({float(r['wall_time']):.0f} s)" for r in rows)
                      + f"   total {time.perf_counter() - t0:.0f} s")
            print(f"peak memory (RSS) over all runs: {peak_rss_gb():.3f} GB")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
