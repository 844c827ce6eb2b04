"""What a run reports while it trains: the logging window, the rows of ``progress.csv`` and ``eval.csv``,
TensorBoard (``tb/``) and the progress bar.

The window gathers, between two ``progress.csv`` rows, the returns and outcomes of the episodes that ended and
the statistics of the updates made (``time_*`` keys summed, the others averaged).  It is part of a checkpoint
(:meth:`RunLogger.window_state`), so a resumed run logs the rows an uninterrupted one would.
"""
from __future__ import annotations

import time

import numpy as np

from .evaluate import OUTCOMES
from .rundir import EVAL_FIELDS, RunDir, from_plain, to_plain


class RunLogger:
    """The logs of one run in ``directory``: ``train`` (its TrainSettings) says whether TensorBoard and the
    bar are on; ``progress_fields`` are the columns of ``progress.csv``."""

    def __init__(self, directory: RunDir, train, progress_fields: list[str], time_fields: tuple[str, ...]):
        self.dir, self.train = directory, train
        self.progress_fields, self.eval_fields = progress_fields, list(EVAL_FIELDS)
        self.time_fields = time_fields
        self.win: dict = {}
        self._writer = None
        self.start = time.time()  #: wall-clock start of the run (moved back on resume by the time already run)

    # ---------------------------------------------------------------- the logging window
    def reset_window(self, counters: dict) -> None:
        self.win = {"returns": [], "outcomes": {}, "stats": {}, "n_updates": 0, "t0": time.perf_counter(),
                    "steps0": counters["env_steps"], "updates0": counters["updates"]}

    def episode(self, ret: float, outcomes: dict) -> None:
        """One episode ended with return ``ret`` and ``{info key: outcome}``."""
        self.win["returns"].append(ret)
        for key, v in outcomes.items():
            self.win["outcomes"].setdefault(key, []).append(v)

    def update(self, stats: dict) -> None:
        """Add one update's statistics to the window."""
        self.win["n_updates"] += 1
        for k, v in stats.items():
            self.win["stats"][k] = self.win["stats"].get(k, 0.0) + v

    def add_time(self, key: str, seconds: float) -> None:
        self.win["stats"][key] = self.win["stats"].get(key, 0.0) + seconds

    def window_state(self) -> dict:
        """The window as plain checkpoint values (its start as the time elapsed since)."""
        win = dict(self.win, elapsed=time.perf_counter() - self.win["t0"])
        del win["t0"]
        return to_plain(win)

    def load_window(self, state: dict) -> None:
        win = from_plain(state)
        win.setdefault("outcomes", {})  # a checkpoint from before outcome rates were logged
        win["t0"] = time.perf_counter() - win.pop("elapsed")
        self.win = win

    # ---------------------------------------------------------------- rows
    def writer(self, env_steps: int):
        """The TensorBoard writer (None if off), opened at the first row, dropping events after ``env_steps``."""
        if self._writer is None and self.train.tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            self._writer = SummaryWriter(str(self.dir.path / "tb"), purge_step=env_steps or None)
        return self._writer

    def log_progress(self, counters: dict) -> dict:
        """Write the window's ``progress.csv`` row (and TensorBoard scalars), then start a new window."""
        w, c = self.win, counters
        dt = max(time.perf_counter() - w["t0"], 1e-9)
        row = {"env_steps": c["env_steps"], "updates": c["updates"], "episodes": c["episodes"],
               "episode_return": float(np.mean(w["returns"])) if w["returns"] else "",
               "env_steps_per_s": (c["env_steps"] - w["steps0"]) / dt,
               "updates_per_s": (c["updates"] - w["updates0"]) / dt, "wall_time": time.time() - self.start}
        for key, rate in OUTCOMES.items():
            got = w.get("outcomes", {}).get(key)
            row[rate] = float(np.mean(got)) if got else ""
        for k in self.time_fields:
            row[k] = w["stats"].get(k, 0.0)
        for k, v in w["stats"].items():
            if k not in self.time_fields:
                row[k] = v if k.startswith("time_") else v / max(w["n_updates"], 1)
        self.dir.append("progress.csv", row, self.progress_fields)
        writer = self.writer(c["env_steps"])
        if writer is not None:
            for k, v in row.items():
                if k != "env_steps" and v != "":
                    writer.add_scalar(f"train/{k}", v, c["env_steps"])
        self.reset_window(counters)
        return row

    def log_eval(self, row: dict, env_steps: int) -> dict:
        """Write an evaluation's ``eval.csv`` row (and TensorBoard scalars); ``env_steps``: the run's now."""
        self.dir.append("eval.csv", row, self.eval_fields)
        writer = self.writer(env_steps)
        if writer is not None:
            writer.add_scalar("eval/return", row["eval_return"], row["env_steps"])
            for rate in OUTCOMES.values():
                if row[f"eval_{rate}"] != "":
                    writer.add_scalar(f"eval/{rate}", row[f"eval_{rate}"], row["env_steps"])
            if row["qre_gap"] != "":
                writer.add_scalar("eval/qre_gap", row["qre_gap"], row["env_steps"])
        return row

    # ---------------------------------------------------------------- the progress bar
    def bar(self, total: int, done: int, desc: str):
        """A progress bar over ``total`` environment steps, ``done`` of them already run (off: disabled)."""
        from tqdm import tqdm
        return tqdm(total=total, initial=min(done, total), unit="step", dynamic_ncols=True,
                    disable=not self.train.progress, desc=desc)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
