"""Does ``torch.compile`` pay for HASAC's gradient updates on this CPU (issue 17)?  Prints, per variant, the
compile time, the updates/s compiled and uncompiled, the break-even number of updates and the equality of the
two on the same batches.

One trainer of the task's config (seed 0) collects ``--warmup`` environment steps and takes one uncompiled
update.  For each variant its algorithm is deep-copied and the variant's parts of the copy are compiled with
inductor (a fresh cache folder, so the compile is cold):

- ``mlp``: every network body (the critics' and actors' ``Autocastable`` MLPs: forward, and backward through
  AOTAutograd);
- ``sample``: each actor's whole ``sample`` (body, head and the squashed-Gaussian or Gumbel draw);
- ``update``: the whole ``update`` method (dynamo splits it at the ``.item()`` calls of the statistics).

The copy's first update and one acting call with ``num_envs`` rows compile; their time beyond the uncompiled
calls is the compile time.  Then ``--blocks`` blocks of ``--per-block`` updates alternate between the
uncompiled and the compiled algorithm on the same replay batches, so that a loaded machine's drift hits both
alike (the ratio is the figure that counts).  Only the update is timed: environment stepping, acting and
sampling (about 12% of a training run at the paper's settings) are not.  Break-even = compile time / time
saved per update.  Equality: the first ``--check`` updates of both from identical batches and random states
(inductor set to draw eager's random numbers, ``fallback_random``).

    python benchmarks/compile_hasac.py --threads 1
    python benchmarks/compile_hasac.py --threads 1 --precision bf16 --variants mlp update
    python benchmarks/compile_hasac.py --env mamujoco --task HalfCheetah-2x3 --threads 1
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time

VARIANTS = ("mlp", "sample", "update")


def compile_variant(algo, variant: str) -> int:
    """Compile ``variant``'s parts of ``algo`` in place; returns how many objects were compiled."""
    import torch
    from deep.nets.mlp import Autocastable

    if variant == "mlp":
        mods = [m for net in [*algo.unique, algo.critic, algo.critic_target] for m in net.modules()
                if isinstance(m, Autocastable)]
        for m in mods:
            m.compile(dynamic=False)
        return len(mods)
    if variant == "sample":
        for a in algo.unique:
            a.sample = torch.compile(a.sample, dynamic=False)
        return len(algo.unique)
    algo.update = torch.compile(algo.update, dynamic=False)
    return 1


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def measure(a, variant: str, batches, obs, avail, args) -> None:
    import numpy as np
    import torch
    import torch._dynamo.utils as dutils
    import torch._inductor.config

    torch._inductor.config.fallback_random = True   # eager's random numbers, so that the two can be compared
    torch._dynamo.reset()
    dutils.counters.clear()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor_cold_")
    b = copy.deepcopy(a)
    n = compile_variant(b, variant)
    worst_stat = 0.0
    for k in range(args.check):            # equal batches and random states; the first compiled call compiles
        state = torch.get_rng_state()
        sa, ta = timed(a.update, batches[k], np.random.default_rng(k))
        torch.set_rng_state(state)
        sb, tb = timed(b.update, batches[k], np.random.default_rng(k))
        if k == 0:
            compile_update = tb - ta
        worst_stat = max([worst_stat] + [abs(sa[key] - sb[key]) / max(abs(sa[key]), 1e-3)
                                         for key in sa if not key.startswith("time")])
    worst_p = max(float((pa - pb).detach().abs().max() / pa.detach().abs().max())
                  for pa, pb in zip([*a.critic.parameters(), *(q for m in a.unique for q in m.parameters())],
                                    [*b.critic.parameters(), *(q for m in b.unique for q in m.parameters())]))
    _, ta = timed(a.act, obs, avail)
    _, tb = timed(b.act, obs, avail)
    compile_s = compile_update + tb - ta
    wall = [0.0, 0.0]
    for _ in range(args.blocks):
        for j, algo in enumerate((a, b)):
            t0 = time.perf_counter()
            for k, batch in enumerate(batches[:args.per_block]):
                algo.update(batch, np.random.default_rng(k))
            wall[j] += time.perf_counter() - t0
    ua, ub = (args.blocks * args.per_block / w for w in wall)
    saved = 1 / ua - 1 / ub
    c = dutils.counters
    print(f"[{variant}] {n} compiled objects; compile ~ {compile_s:.1f} s (first update {compile_update:.1f} s)  "
          f"graph breaks {sum(c['graph_break'].values())}  graphs {c['stats'].get('unique_graphs')}")
    print(f"  updates/s uncompiled {ua:.2f}  compiled {ub:.2f}  ratio {ub / ua:.3f}  "
          f"({args.blocks} x {args.per_block} updates each, interleaved)  load average {os.getloadavg()[0]:.1f}")
    print(f"  break-even ~ {compile_s / saved:.0f} updates" if saved > 0 else "  never breaks even")
    print(f"  equality after {args.check} updates: statistics {worst_stat:.1e}, parameters {worst_p:.1e} "
          "(largest relative difference)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default="mpe")
    ap.add_argument("--task", default="simple_spread_v3")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    ap.add_argument("--warmup", type=int, default=2000, help="environment steps before the first update")
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--per-block", type=int, default=25)
    ap.add_argument("--check", type=int, default=3, help="updates compared for equality (the first compiles)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if args.check < 1:
        ap.error("--check must be at least 1 (the first compared update is the compiling one)")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import numpy as np
    import torch

    from deep.configure import resolve
    from deep.run import start

    base = ["train.progress=false", "train.tensorboard=false", f"threads={args.threads}",
            "train.checkpoint_interval=0", "train.log_interval=1000000000", f"algo.precision={args.precision}",
            "train.eval_interval=0", f"train.warmup_steps={args.warmup}"]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = resolve(args.env, args.task, 0, base)
        tr = start(cfg, os.path.join(tmp, "run"))
        while tr.counters["updates"] == 0:
            tr.run(stop_after=1)
        a, p = tr.algo, tr.algo.params
        rng = np.random.default_rng(1)
        batches = [tr.sample(rng) for _ in range(max(args.per_block, args.check))]
        print(f"hasac {args.env}:{args.task} {args.precision}  batch {p.batch_size}  torch {torch.__version__}  "
              f"threads {torch.get_num_threads()}")
        for variant in args.variants:
            measure(a, variant, batches, tr.obs.obs, tr.obs.avail, args)
        tr.close()
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
