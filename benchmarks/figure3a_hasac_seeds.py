"""Where sample-based HASAC ends on the matrix game (Fig. 3a's protocol), seed by seed.

Runs ``meharl figure3a``'s HASAC protocol (``meharl.commands.figure3a.train_one``) for each seed and prints the
joint action its final policies favour and both agents' action probabilities.  At alpha = 10 the game has two
stable symmetric QREs, (C, C) with p(C) = 0.9555 and (B, B) with p(B) = 0.7849 (``--qres`` finds them by damped
fixed-point iteration from random starts), so a run that ends on (B, B) has converged, to the other one.

    python benchmarks/figure3a_hasac_seeds.py --seeds 5-24 [--warmup-steps 80] [--qres]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def symmetric_qres(alpha: float = 10.0, starts: int = 2000) -> list[np.ndarray]:
    """The stable symmetric logit QREs ``p = softmax(R p / alpha)`` of the paper's matrix game."""
    from tabular.paper import paper_matrix_game
    r = np.asarray(paper_matrix_game().r, dtype=float).reshape(3, 3)
    found: list[np.ndarray] = []
    for p in np.random.default_rng(0).dirichlet([1, 1, 1], size=starts):
        for _ in range(3000):
            q = r @ p
            e = np.exp((q - q.max()) / alpha)
            p = 0.5 * p + 0.5 * e / e.sum()
        if not any(np.allclose(p, f, atol=1e-6) for f in found):
            found.append(p)
    return found


def parse_seeds(text: str) -> list[int]:
    lo, sep, hi = text.partition("-")
    try:
        seeds = list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds wants N or A-B, got {text!r}") from None
    if not seeds or seeds[0] < 0:
        raise argparse.ArgumentTypeError(f"--seeds wants non-negative seeds, got {text!r}")
    return seeds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=parse_seeds, default=parse_seeds("5-14"), help="N or A-B (default 5-14)")
    ap.add_argument("--episodes", type=int, default=200, help="learning episodes (default 200)")
    ap.add_argument("--warmup-steps", type=int, default=None,
                    help="override the protocol's train.warmup_steps (environment steps, 8 per episode)")
    ap.add_argument("--qres", action="store_true", help="first print the game's stable symmetric QREs at alpha 10")
    args = ap.parse_args(argv)
    if args.episodes < 1 or (args.warmup_steps is not None and args.warmup_steps < 0):
        ap.error("--episodes must be >= 1 and --warmup-steps >= 0")
    import torch
    import meharl.commands.figure3a as fig
    torch.set_num_threads(1)
    if args.qres:
        for p in symmetric_qres():
            print("QRE", np.round(p, 4).tolist())
    if args.warmup_steps is not None:
        steps, extra = fig.PROTOCOL["hasac"]
        fig.PROTOCOL["hasac"] = (steps, [e for e in extra if not e.startswith("train.warmup_steps=")]
                                 + [f"train.warmup_steps={args.warmup_steps}"])
    ends = []
    for s in args.seeds:
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            r = fig.train_one("hasac", s, args.episodes, Path(d) / "run")
        ends.append(fig.most_likely(r["policy"]))
        print(f"seed {s}: {ends[-1]}  {[np.round(p, 3).tolist() for p in r['policy']]}  "
              f"({time.perf_counter() - t:.0f} s)", flush=True)
    print(f"(C, C) in {ends.count('CC')} of {len(ends)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
