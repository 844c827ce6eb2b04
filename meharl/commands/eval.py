"""``meharl eval RUN_DIR``: re-evaluate a run's checkpoint with the deterministic policy, or (``--video``) film
one deterministic episode (:mod:`deep.run.video`)."""
from __future__ import annotations

import json

from . import finite_float

NAME = "eval"
HELP = "re-evaluate the checkpoint of RUN_DIR (deterministic policy; QRE gap on tabular games)"
MAX_SIDE = 4096  #: the largest video frame side (pixels): larger frames exceed renderers' buffers and memory


def add_arguments(p):
    p.add_argument("run_dir", help="a run directory written by `meharl train`")
    p.add_argument("--episodes", type=int, default=None, help="episodes (default: the config's eval_episodes)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--video", nargs="?", const="", default=None, metavar="PATH",
                   help="instead, film one deterministic episode to PATH (.gif, or .mp4 with imageio-ffmpeg; "
                        "default RUN_DIR/eval.gif); for families with render(), e.g. bimanual")
    p.add_argument("--fps", type=finite_float, default=30.0, help="frames per second of the video (default 30)")
    p.add_argument("--size", default="640x480", metavar="WxH",
                   help=f"frame size in pixels, at most {MAX_SIDE} a side (default 640x480)")


def run(args) -> int:
    if args.video is not None:
        return film(args)
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


def film(args) -> int:
    from deep.run.video import record_episode
    width, _, height = args.size.partition("x")
    if not (width.isdigit() and height.isdigit() and 0 < int(width) <= MAX_SIDE and 0 < int(height) <= MAX_SIDE):
        raise ValueError(f"--size must be WIDTHxHEIGHT in pixels, each from 1 to {MAX_SIDE}, e.g. 640x480; "
                         f"got {args.size!r}")
    path, frames, ret = record_episode(args.run_dir, args.video or None, fps=args.fps, width=int(width),
                                       height=int(height))
    if args.json:
        print(json.dumps({"video": str(path), "frames": frames, "return": ret}))
    else:
        print(f"{path}: one deterministic episode, {frames} frames, return {ret:.4g}")
    return 0
