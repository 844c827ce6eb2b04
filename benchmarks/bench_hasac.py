"""HASAC throughput and memory at the reference settings, and optionally learning curves; ``--algo`` times
another registered algorithm the same way (its shipped config for the task).

Throughput (default): MPE simple_spread_v3 (continuous), 20 rollout environments in-process, batch 1000,
[256, 256] networks, one gradient update per vector step (50 updates every 50 vector steps), n-step 20,
fp32 on the CPU (``--precision bf16``: bf16 autocast of the networks' hidden layers, ``algo.precision``;
the ratio bf16 / fp32 on a loaded machine: ``--compare algo.precision=bf16``).  The 10,000 warm-up
steps run first and are not timed; then ``--phases`` training phases are timed.  Prints gradient updates/s,
environment steps/s, the time split (environment / acting / buffer sampling / critic update / actor updates)
and the peak resident memory of the process.  ``--compare`` adds variants of the configuration, each its own
run, timed in alternating phases so that a loaded machine's drift affects each alike.
Reference (public HASAC code, same machine and settings): 10.8 updates/s, 216 env steps/s, about 1.5 GB.
With ``--algo``, the untimed start runs until the algorithm's first update, then one untimed phase; a phase is
``train_interval`` vector steps off-policy, one rollout and its update on-policy, and ``episode_limit`` vector
steps on the episodic loop (QMIX, FOP).

``--versus ENV:TASK`` adds HASAC on another task (its shipped config) to the interleaved phases and prints
the first run's updates/s as a ratio to it (the figure a loaded machine leaves comparable).  ``--reference N``
(HASAC) times N updates of the former update (benchmarks/hasac_reference.py) against the present one on
identical batches and random numbers, interleaved, and prints the speed-up and their largest difference.
``--profile`` names the largest costs (torch profiler, self time per operator) of one more phase of the first
run.  ``--flops`` counts the matrix products' floating-point operations of one update of the first run
(``torch.utils.flop_counter``) and prints the updates/s they alone would allow at this machine's rate for a
large product of the networks' width in the run's precision: a ceiling no reorganisation of the same
arithmetic can pass.  OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE`` unless set): on a machine
whose cores are shared with other busy processes, spinning OpenMP workers (libgomp's default) made every
operator of a 2-thread process wait for the scheduler, about 16 ms each, whatever its size.

``--learn STEPS``: also train to STEPS environment steps and print the evaluation returns (40 deterministic
episodes) at every evaluation with the wall time.  Example:

    python benchmarks/bench_hasac.py --threads 2
    python benchmarks/bench_hasac.py --env smac --task 8m_vs_9m   # the paper's SMAC settings (issue 12)
    python benchmarks/bench_hasac.py --env smac --task 8m_vs_9m --compare algo.value_norm=false
    python benchmarks/bench_hasac.py --env smac --task 8m_vs_9m --compare algo.discrete_actor_loss=gumbel
    python benchmarks/bench_hasac.py --env smac --task 8m_vs_9m --phases 2 --versus mpe:simple_spread_v3 --reference 5
    python benchmarks/bench_hasac.py --algo qmix --env smac --task 8m_vs_9m --phases 2 --profile
    python benchmarks/bench_hasac.py --threads 2 --learn 200000 --seeds 0 1 2 --run-root runs/bench
    python benchmarks/bench_hasac.py --algo mappo --phases 2 --compare algo.precision=bf16
    meharl plot runs/bench/learn*
"""
from __future__ import annotations

import argparse
import copy
import os
import resource
import sys
import tempfile
import time


#: (env, task) -> the public reference code's updates/s, env steps/s and memory (GB) on this machine
REFERENCE = {("mpe", "simple_spread_v3"): (10.8, 216, 1.5), ("mamujoco", "HalfCheetah-2x3"): (15.4, 307, 1.6)}


#: algo settings printed in the header (those the algorithm has) and per compared variant
SHAPE = ("batch_size", "hidden", "n_step", "rollout_length", "rnn_hidden")
VARIANT_KEYS = ("value_norm", "discrete_actor_loss", "critic_loss", "precision")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # Linux: KiB


def phase_length(run) -> int:
    """``run.run`` steps (collect calls) per timed phase: a training phase off-policy, a rollout on-policy, an
    episode's length on the episodic loop."""
    if run.algo.on_policy:
        return 1
    if run.algo.loop == "episodic":
        return int(run.algo.spec.episode_limit)
    return run.cfg["train"]["train_interval"]


def profile_phase(run, top: int = 12) -> None:
    """One more phase of ``run`` under the torch profiler: the operators with the largest self time."""
    from torch.profiler import ProfilerActivity, profile

    w0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run["tr"].run(stop_after=run["phase"])
    wall = time.perf_counter() - w0
    print(f"largest costs of one more phase of {run['name']} ({wall:.1f} s, torch profiler, self time):")
    for e in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:top]:
        print(f"  {e.key:40s} {e.self_cpu_time_total / 1e6:7.2f} s  {e.self_cpu_time_total / 1e6 / wall:6.1%}"
              f"  {e.count:6d} calls")


def arithmetic_ceiling(run, measured: float) -> None:
    """The matrix-product work of one HASAC update of ``run`` and the updates/s it alone allows at the best rate
    this machine reaches on a (4 batch, width) x (width, width) product in the run's precision, beside the
    ``measured`` updates/s."""
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    tr = run["tr"]
    algo = copy.deepcopy(tr.algo)              # the run itself goes on unchanged
    batch = tr.sample(np.random.default_rng(0))
    with FlopCounterMode(display=False) as counter:
        algo.update(batch, np.random.default_rng(0))
    flops = counter.get_total_flops()
    a = run["cfg"]["algo"]
    width, dtype = max(a["hidden"]), torch.bfloat16 if a["precision"] == "bf16" else torch.float32
    x, w = torch.randn(4 * a["batch_size"], width, dtype=dtype), torch.randn(width, width, dtype=dtype)
    best = float("inf")
    for _ in range(30):
        t0 = time.perf_counter()
        x @ w
        best = min(best, time.perf_counter() - t0)
    rate = 2 * x.shape[0] * width * width / best
    print(f"matrix products of one update: {flops / 1e9:.2f} GFLOP; this machine's best {dtype} rate "
          f"{rate / 1e9:.0f} GFLOP/s ({x.shape[0]}x{width} @ {width}x{width}); ceiling {rate / flops:.1f} updates/s, "
          f"measured {measured:.2f} ({measured * flops / rate:.0%} of the ceiling)")


def compare_reference(run, n: int) -> None:
    """``n`` updates of HASAC's former update against the present one from the same state, on the same
    replay batches and random numbers, interleaved one by one: the speed-up and the largest differences."""
    import numpy as np
    import torch

    from benchmarks import hasac_reference

    tr = run["tr"]
    new = tr.algo
    old = copy.deepcopy(new)
    rng = np.random.default_rng(12345)
    batches = [tr.sample(rng) for _ in range(n)]
    wall, worst_loss = [0.0, 0.0], 0.0
    for k, batch in enumerate(batches):
        state = torch.get_rng_state()
        t0 = time.perf_counter()
        stats = new.update(batch, np.random.default_rng(k))
        wall[0] += time.perf_counter() - t0
        torch.set_rng_state(state)
        t0 = time.perf_counter()
        ref = hasac_reference.update(old, batch, np.random.default_rng(k))
        wall[1] += time.perf_counter() - t0
        worst_loss = max([worst_loss] + [abs(stats[key] - v) / max(abs(v), 1e-6) for key, v in ref.items()])
    worst_p = max(float((a - b).detach().abs().max() / b.detach().abs().max().clamp_min(1e-12))
                  for a, b in zip([*new.critic.parameters(), *(x for m in new.unique for x in m.parameters())],
                                  [*old.critic.parameters(), *(x for m in old.unique for x in m.parameters())]))
    print(f"present / former HASAC update on {n} identical batches: {wall[1] / wall[0]:.2f}x the updates/s "
          f"({wall[0] / n * 1e3:.0f} ms against {wall[1] / n * 1e3:.0f} ms, interleaved, load average "
          f"{os.getloadavg()[0]:.1f}); largest relative difference: losses {worst_loss:.1e}, parameters "
          f"{worst_p:.1e}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algo", default="hasac", help="the registered algorithm to time (default hasac)")
    ap.add_argument("--env", default="mpe")
    ap.add_argument("--task", default="simple_spread_v3")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the machine has 2 cores)")
    ap.add_argument("--phases", type=int, default=4, help="timed training phases (HASAC: 50 vector steps)")
    ap.add_argument("--learn", type=int, default=0, help="train to this many env steps and print eval returns")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--run-root", default=None, help="keep the learning runs here (default: a temporary folder)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="the networks' arithmetic (algo.precision)")
    ap.add_argument("--set", dest="overrides", nargs="+", default=[], help="extra config overrides")
    ap.add_argument("--compare", nargs="+", default=[], metavar="OVERRIDES",
                    help="also time these variants (each a comma-separated override list), phases interleaved")
    ap.add_argument("--versus", metavar="ENV:TASK", help="also time HASAC on this task and print the ratio to it")
    ap.add_argument("--reference", type=int, default=0, metavar="N",
                    help="HASAC: time N former updates against N present ones on identical batches")
    ap.add_argument("--profile", action="store_true", help="name the largest costs of one more phase")
    ap.add_argument("--flops", action="store_true",
                    help="count one update's matrix-product work and print the updates/s it alone allows here")
    args = ap.parse_args(argv)
    if args.versus and ":" not in args.versus:
        ap.error(f"--versus takes ENV:TASK, got {args.versus!r}")
    if args.reference and args.algo != "hasac":
        ap.error("--reference times HASAC's former update: it needs --algo hasac")
    if args.flops and args.algo != "hasac":
        ap.error("--flops counts HASAC's update: it needs --algo hasac")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before torch loads OpenMP: see the docstring
    import torch

    from deep.configure import resolve
    from deep.run import start

    base = ["train.progress=false", "train.tensorboard=false", f"threads={args.threads}",
            "train.checkpoint_interval=0", "train.log_interval=1000000000", f"algo.precision={args.precision}",
            *args.overrides]
    with tempfile.TemporaryDirectory() as tmp:
        variants = [(args.algo, args.env, args.task, [])] + [(args.algo, args.env, args.task, v.split(","))
                                                             for v in args.compare]
        if args.versus:
            variants.append(("hasac", *args.versus.split(":", 1), []))
        runs = []
        for k, (algo, env, task, extra) in enumerate(variants):   # each warmed up: warm-up steps, one phase
            cfg = resolve(env, task, args.seeds[0], [*base, *extra, "train.eval_interval=0"], algo=algo)
            tr = start(cfg, os.path.join(tmp, f"throughput{k}"))
            phase = phase_length(tr)
            while tr.counters["updates"] == 0:   # warm-up (a training phase ends with the first update)
                tr.run(stop_after=1)
            tr.run(stop_after=phase)
            tr.log.reset_window(tr.counters)
            runs.append({"cfg": cfg, "tr": tr, "extra": extra, "phase": phase, "wall": 0.0, "updates": 0, "steps": 0,
                         "name": f"{algo} {env}:{task}"})
        for _ in range(args.phases):   # phases alternate between the variants: the machine's load hits each alike
            for r in runs:
                tr = r["tr"]
                u0, s0, w0 = tr.counters["updates"], tr.counters["env_steps"], time.perf_counter()
                tr.run(stop_after=r["phase"])
                r["wall"] += time.perf_counter() - w0
                r["updates"] += tr.counters["updates"] - u0
                r["steps"] += tr.counters["env_steps"] - s0
        cfg = runs[0]["cfg"]
        shape = "  ".join(f"{k} {cfg['algo'][k]}" for k in SHAPE if k in cfg["algo"])
        print(f"{args.algo} {args.env}:{args.task}  {shape}  {cfg['algo']['precision']}  {cfg['num_envs']} envs  "
              f"torch {torch.__version__}  threads {torch.get_num_threads()}  OMP_WAIT_POLICY "
              f"{os.environ['OMP_WAIT_POLICY']}  load average {os.getloadavg()[0]:.1f}")
        ref = REFERENCE.get((args.env, args.task)) if args.algo == "hasac" else None
        ref_u, ref_s, ref_m = ref or (float("nan"),) * 3
        for r in runs:
            wall, updates, steps, w = r["wall"], r["updates"], r["steps"], r["tr"].log.win["stats"]
            if len(runs) > 1:
                a = r["cfg"]["algo"]
                print(f"[{r['name']}: {','.join(r['extra']) or 'as configured'}]  "
                      + "  ".join(f"{k} {a[k]}" for k in VARIANT_KEYS if k in a))
            rel = (f"   ({updates / wall / (runs[0]['updates'] / runs[0]['wall']):.3f} x the first, same phases "
                   "interleaved)" if r is not runs[0] else "")
            versus = (f"(reference {ref_u}, target >= {3 * ref_u:.1f}: 3x, issue 17)" if ref
                      else "(no reference measured for this task)")
            print(f"  gradient updates/s : {updates / wall:8.2f}   {versus}{rel}")
            print(f"  env steps/s        : {steps / wall:8.1f}   " + (f"(reference {ref_s})" if ref else ""))
            parts = {k: w.get(f"time_{k}", 0.0) for k in ("env", "act", "sample", "critic", "actors")}
            parts["other"] = wall - sum(parts.values())
            print("  time split         : " + "  ".join(f"{k} {v / wall:5.1%}" for k, v in parts.items())
                  + f"   ({wall:.1f} s for {updates} updates)")
            print(f"  per update (ms)    : critic {1e3 * parts['critic'] / updates:.1f}  "
                  f"actors {1e3 * parts['actors'] / updates:.1f}  sample {1e3 * parts['sample'] / updates:.1f}")
        if args.versus:
            first, other = runs[0], runs[-1]
            print(f"{first['name']} / {other['name']} updates/s: "
                  f"{first['updates'] / first['wall'] / (other['updates'] / other['wall']):.3f} (same phases "
                  f"interleaved, load average {os.getloadavg()[0]:.1f})")
        if args.profile:
            profile_phase(runs[0])
        if args.reference:
            compare_reference(runs[0], args.reference)
        if args.flops:
            arithmetic_ceiling(runs[0], runs[0]["updates"] / runs[0]["wall"])
        for r in runs:
            r["tr"].close()
        print(f"  peak memory (RSS)  : {peak_rss_gb():8.3f} GB" + ("" if len(runs) == 1 else " (all variants together)")
              + (f"  (reference about {ref_m} GB, target <= {ref_m / 2} GB)" if ref else ""))
        if args.learn:
            for seed in args.seeds:
                cfg = resolve(args.env, args.task, seed, [*base, f"train.total_steps={args.learn}"], algo=args.algo)
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
