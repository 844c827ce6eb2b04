"""``meharl resume RUN_DIR``: continue a run from its checkpoint, exactly as if it had never stopped."""
from __future__ import annotations

NAME = "resume"
HELP = "continue a run from RUN_DIR/checkpoint.pt (same run: same final parameters)"


def add_arguments(p):
    p.add_argument("run_dir", help="a run directory written by `meharl train`")
    p.add_argument("--total-steps", type=int, default=None, help="raise (or lower) train.total_steps")


def run(args) -> int:
    from deep.run import resume
    from deep.run.loop import stop_signals

    from .train import report_interrupted
    if args.total_steps is not None and args.total_steps < 1:
        raise ValueError(f"--total-steps must be >= 1, got {args.total_steps}")
    with stop_signals() as stop:  # a signal while the run is rebuilt stops it where it was, checkpoint kept
        tr = resume(args.run_dir, args.total_steps)
        start = tr.counters["env_steps"]
        print(f"run directory: {args.run_dir} (resuming at {start} env steps)", flush=True)
        try:
            last = tr.run(stop=stop)
        finally:
            tr.close()
    if last["interrupted"]:
        return report_interrupted(tr, last)
    ev = last["eval"]
    tail = f", evaluation return {ev['eval_return']:.4g}" if ev is not None else " (already complete)"
    print(f"{args.run_dir}: resumed at {start} env steps, now {tr.counters['env_steps']}{tail}")
    return 0
