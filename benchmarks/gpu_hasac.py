"""HASAC's gradient updates on a CUDA GPU: updates/s of the present update and of the former one
(benchmarks/hasac_reference.py), on synthetic batches shaped like the paper's settings, no environment needed.

Shapes: ``8m_vs_9m`` (8 agents, observations 240, state 316, Discrete(14) with about 30% of the actions
available, SMAC's HASAC settings: batch 1000, [256, 256], ValueNorm, Huber) and ``spread`` (MPE Spread: 3 agents,
observations 18, state 54, Box(0, 1, (5,)), batch 1000, [256, 256]).  ``--updates`` updates of each, after
``--warmup`` untimed ones, synchronised before and after; the GPU's name is printed beside the figures.
Exits with status 2 and one line when no CUDA device is present.

    python benchmarks/gpu_hasac.py
    python benchmarks/gpu_hasac.py --shape spread --precision bf16
"""
from __future__ import annotations

import argparse
import sys
import time

SHAPES = {"8m_vs_9m": (8, 240, 316, "discrete", 14), "spread": (3, 18, 54, "box", 5)}


def make(shape: str, precision: str, device: str):
    """A HASAC on ``shape``'s spaces at its paper settings, and a function drawing a random batch."""
    import torch
    from gymnasium.spaces import Box, Discrete

    from deep.algos.hasac import HASAC, HASACParams
    from deep.envs.base import EnvSpec

    n, obs, state, kind, k = SHAPES[shape]
    space = Discrete(k) if kind == "discrete" else Box(0.0, 1.0, (k,))
    spec = EnvSpec(shape, n, (obs,) * n, state, (space,) * n, 120)
    extra = dict(value_norm=True, critic_loss="huber") if kind == "discrete" else {}
    algo = HASAC(spec, HASACParams(precision=precision, **extra), device=device)
    B = algo.params.batch_size

    def batch():
        def avail():
            if kind != "discrete":
                return None
            m = torch.rand(B, k, device=device) < 0.3
            m[torch.arange(B, device=device), torch.randint(0, k, (B,), device=device)] = True
            return m
        av, nav = [avail() for _ in range(n)], [avail() for _ in range(n)]
        act = ([torch.multinomial(m.float(), 1).squeeze(1) for m in av] if kind == "discrete"
               else [torch.rand(B, k, device=device) * 2 - 1 for _ in range(n)])
        return {"state": torch.randn(B, state, device=device), "next_state": torch.randn(B, state, device=device),
                "obs": [torch.randn(B, obs, device=device) for _ in range(n)],
                "next_obs": [torch.randn(B, obs, device=device) for _ in range(n)], "avail": av, "next_avail": nav,
                "act": act, "reward_sum": torch.randn(B, device=device), "logp_sum": torch.randn(B, n, device=device),
                "disc": torch.full((B,), 0.9, device=device)}
    return algo, batch


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="8m_vs_9m")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--updates", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args(argv)
    import numpy as np
    import torch

    from benchmarks import hasac_reference

    if not torch.cuda.is_available():
        print("gpu_hasac: no CUDA device is available (torch.cuda.is_available() is False); nothing timed",
              file=sys.stderr)
        return 2
    torch.manual_seed(0)
    algo, batch = make(args.shape, args.precision, "cuda")
    batches = [batch() for _ in range(8)]
    print(f"hasac {args.shape}  {args.precision}  batch {algo.params.batch_size}  {torch.cuda.get_device_name()}  "
          f"torch {torch.__version__}")
    for name, update in (("present", algo.update), ("former", lambda b, r: hasac_reference.update(algo, b, r))):
        for k in range(args.warmup):
            update(batches[k % len(batches)], np.random.default_rng(k))
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for k in range(args.updates):
            update(batches[k % len(batches)], np.random.default_rng(k))
        torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        print(f"  {name:8s} update: {args.updates / wall:8.2f} updates/s  ({wall / args.updates * 1e3:.1f} ms each)")
    print(f"  peak GPU memory: {torch.cuda.max_memory_allocated() / 2 ** 30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
