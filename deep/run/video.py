"""A video of one deterministic evaluation episode of a run's checkpoint (``meharl eval RUN --video``).

Only environments with ``render(k, width, height)`` (an RGB frame of copy ``k``) can be filmed; others are
refused by name before anything is built.  Frames go to a GIF (Pillow, always installed with imageio) or an
MP4 (needs an ffmpeg plugin of imageio: ``imageio-ffmpeg`` or ``av``).  The file is written beside its final
name and renamed into place, so a failure leaves no half-written video.

Headless machines: MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when it is first imported;
:func:`use_headless_gl` makes that OSMesa (software rendering; Debian/Ubuntu package ``libosmesa6``) where no
display is set and the user chose nothing (``MUJOCO_GL=egl`` is faster where a GPU driver offers EGL).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

FORMATS = (".gif", ".mp4")


def use_headless_gl() -> None:
    """``MUJOCO_GL=osmesa`` unless a display or a user's choice exists (call before mujoco is imported)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("MUJOCO_GL", "osmesa")


def _check_path(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"--video {path}: the file must end in {' or '.join(FORMATS)}")
    if path.suffix.lower() == ".mp4" and not any(importlib.util.find_spec(m) for m in ("imageio_ffmpeg", "av")):
        raise ValueError(f"--video {path}: writing MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); "
                         f"or write a .gif")
    if not path.parent.is_dir():
        raise ValueError(f"--video {path}: no directory {path.parent}")


def record_episode(run_dir, path=None, *, fps: float = 30.0, width: int = 640, height: int = 480):
    """Film one deterministic-policy episode of ``run_dir``'s checkpoint from the run's evaluation seed on one
    copy; returns (the video's path, frames, the episode's return).  The state after the last step is not
    filmed: a copy that ends is reset within that step."""
    from deep.algos.base import make_algo
    from deep.envs.registry import family_module

    from .rundir import RunDir, build_env, load_algo_state
    from .seeding import seeds

    use_headless_gl()
    files = RunDir(run_dir)
    cfg = files.read_config()
    path = Path(path) if path else files.path / "eval.gif"
    _check_path(path)
    if not (fps > 0):
        raise ValueError(f"--fps must be > 0, got {fps}")
    sd = files.load_checkpoint()
    family = family_module(cfg["env"])
    eval_seed = seeds(cfg["seed"]).eval_seed
    env = build_env(cfg, 1, eval_seed)
    try:
        if not callable(getattr(env, "render", None)):
            raise ValueError(f"env {cfg['env']} cannot render frames ({family.__name__} has no render()); "
                             f"--video works for families that render, e.g. bimanual")
        algo = make_algo(cfg["algo_name"], env.spec, cfg["algo"], device=cfg["device"])
        load_algo_state(algo, sd, files.checkpoint, files.path)
        r = env.reset(seed=eval_seed)
        frames, total = [env.render(0, width=width, height=height)], 0.0
        while True:
            s = env.step(algo.act(r.obs, r.avail, deterministic=True).env_actions)
            total += float(s.reward[0])
            if s.done[0]:
                break
            frames.append(env.render(0, width=width, height=height))
            r = s
    finally:
        env.close()
    _write(path, np.stack(frames), fps)
    return path, len(frames), total


def _write(path: Path, frames: np.ndarray, fps: float) -> None:
    import imageio.v3 as iio
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    tmp.unlink(missing_ok=True)  # a link left there would be written through
    try:
        if path.suffix.lower() == ".gif":
            iio.imwrite(tmp, frames, duration=1000.0 / fps, loop=0)
        else:
            iio.imwrite(tmp, frames, fps=fps)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
