"""The loop skeleton shared by every training loop: :class:`Run`.

A run builds its environments and algorithm from a checked config, seeds every stream (:mod:`.seeding`),
steps the loop's hooks until its budget is spent, evaluates and checkpoints on schedule, and stops cleanly on
SIGINT / SIGTERM.  Its files are the run directory's (:class:`.rundir.RunDir`), its logs the logger's
(:class:`.logger.RunLogger`).  The checkpoint holds everything the next step depends on (networks, optimiser
states, the loop's own state, every RNG state, the environments' state, the counters and the open logging
window), so :meth:`Run.resume` continues the *same* run.

A loop (:mod:`deep.run.off_policy`, :mod:`deep.run.on_policy`, :mod:`deep.run.episodic`) subclasses
:class:`Run` with its ``Train`` settings and the hooks :meth:`Run.collect` (act and step the environments,
reporting each vector step to :meth:`Run.observe`), :meth:`Run.ready_to_train`, :meth:`Run.train` (update the
algorithm, reporting each update's statistics to :meth:`Run.record_update`) and :meth:`Run.loop_state` /
:meth:`Run.load_loop_state` (and :meth:`Run.episodes_cut`, for environments that cannot save their state: a
resume restarts their episodes).  Environment steps count every transition, warm-up included.
"""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ..algos.base import Algorithm, algo_class, check_device, check_supported, make_algo
from ..config import flag, integer, make_settings, with_game_discount
from ..configure import validate
from ..envs.base import Reset
from .evaluate import OUTCOMES, episode_outcomes, evaluate, qre_gap
from .logger import RunLogger
from .rundir import CHECKPOINT_FORMAT, MISFIT, RunDir, build_env, from_plain, to_plain
from .seeding import seeds


@contextlib.contextmanager
def stop_signals():
    """Within the block, SIGINT and SIGTERM are appended to the list it yields instead of raising: the loop
    stops at its next step and saves a checkpoint.  Open it before building a run too, because a
    KeyboardInterrupt raised while a library compiles (JAX, in a garbage-collector callback) can be swallowed.
    Signals reach the main thread only; elsewhere the block changes nothing."""
    stop: list[int] = []
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {sig: signal.signal(sig, lambda signum, frame: stop.append(signum))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, h in handlers.items():
            signal.signal(sig, h)


@dataclass(frozen=True)
class TrainSettings:
    """The ``train`` section common to every loop (budget, evaluation, logs, checkpoints)."""

    total_steps: int = integer(10_000_000, "environment steps of the run")
    eval_interval: int = integer(200_000, "environment steps between evaluations (0: none during training)",
                                 minimum=0)
    eval_episodes: int = integer(40, "episodes per evaluation, spread evenly over the evaluation copies")
    final_eval: bool = flag(True, "evaluate at the end of the run (whatever eval_interval)")
    log_interval: int = integer(10_000, "environment steps between progress.csv rows")
    checkpoint_interval: int = integer(200_000, "environment steps between checkpoints (0: only at the end)",
                                       minimum=0)
    progress: bool = flag(True, "show a progress bar")
    tensorboard: bool = flag(True, "write TensorBoard logs to tb/")


class Run:
    """One run: ``Loop(cfg, run_dir).run()`` or ``Loop.resume(run_dir).run()`` for a loop subclass.

    ``cfg`` is checked here, once (:func:`deep.configure.validate`), and never changed: the run keeps a frozen
    copy, :attr:`cfg`, with a tabular game's ``algo.gamma: null`` resolved (:func:`deep.config.with_game_discount`),
    and that is what ``config.yaml`` holds.
    """

    Train: ClassVar[type] = TrainSettings
    #: the loop's own timing columns of progress.csv (seconds per logging window)
    time_fields: ClassVar[tuple[str, ...]] = ("time_env", "time_act")
    evaluation_only = False  #: rebuilt by ``resume(..., truncate_logs=False)``: its loop memory was not loaded

    def __init__(self, cfg: dict, run_dir, *, overwrite: bool = False, _resuming: bool = False):
        validate(cfg)
        self.dir = Path(run_dir)
        self.files = RunDir(self.dir)
        if not _resuming:
            RunDir.probe_new(self.dir, overwrite)
        check_device(cfg["device"])
        self.train_cfg = make_settings(self.Train, cfg["train"])
        self._build(cfg)
        self.setup()
        t = self.train_cfg
        self.counters = {"env_steps": 0, "vector_steps": 0, "updates": 0, "episodes": 0,
                         "next_log": t.log_interval, "next_eval": t.eval_interval or math.inf,
                         "next_ckpt": t.checkpoint_interval or math.inf, "wall_time": 0.0}
        self.ep_ret = np.zeros(self.env.num_envs)
        rates = list(OUTCOMES.values())
        self.log = RunLogger(self.files, t, ["env_steps", "updates", "episodes", "episode_return", *rates,
                                             "env_steps_per_s", "updates_per_s", *self.time_fields,
                                             *self.algo.stat_names(), "wall_time"], self.time_fields)
        self.log.reset_window(self.counters)
        if not _resuming:
            self.files = RunDir.create(self.dir, self.cfg, overwrite)

    def _build(self, cfg) -> None:
        """Seed the streams, build the environments and the algorithm, and reset the training copies."""
        torch.set_num_threads(cfg["threads"])
        self.seeds = seeds(cfg["seed"])
        self.seeds.seed_torch()
        self.env = build_env(cfg, cfg["num_envs"], self.seeds.env_seed)
        check_supported(cfg["algo_name"], self.env.spec)  # before the evaluation copies and the networks
        self.cfg = with_game_discount(cfg, getattr(self.env, "game", None))
        self.eval_env = build_env(self.cfg, self.cfg["eval_num_envs"], self.seeds.eval_seed)
        params = make_settings(algo_class(self.cfg["algo_name"]).Params, self.cfg["algo"])
        self.algo: Algorithm = make_algo(self.cfg["algo_name"], self.env.spec, params, device=self.cfg["device"])
        self.rng = self.seeds.sampling()
        self.obs = self.env.reset(seed=self.seeds.env_seed)

    # ---------------------------------------------------------------- hooks of a loop
    def setup(self) -> None:
        """Build the loop's own state (called once the algorithm and the first observation exist)."""

    def collect(self) -> None:
        """Act and step the environments (one or more vector steps, each reported to :meth:`observe`)."""
        raise NotImplementedError

    def ready_to_train(self) -> bool:
        return True

    def train(self) -> None:
        """Update the algorithm (each update's statistics reported to :meth:`record_update`)."""
        raise NotImplementedError

    def loop_state(self) -> dict:
        """The loop's own checkpoint state (plain tensors and containers)."""
        return {}

    def load_loop_state(self, sd: dict) -> None:
        pass

    def episodes_cut(self, last: Reset) -> None:
        """The environments' episodes were cut at the observation ``last`` and restarted (a resume of an
        environment that cannot save its state): drop or end whatever the loop keeps of them."""

    # ---------------------------------------------------------------- bookkeeping for the hooks
    def observe(self, step) -> None:
        """Count one vector step ``step`` of the training environments and the episodes it ended."""
        self.ep_ret += step.reward
        got = episode_outcomes(step)
        for k in np.flatnonzero(step.done):
            self.log.episode(float(self.ep_ret[k]), {key: float(v[k]) for key, v in got.items()})
            self.ep_ret[k] = 0.0
            self.counters["episodes"] += 1
        self.obs = step
        self.counters["vector_steps"] += 1
        self.counters["env_steps"] += self.env.num_envs

    def record_update(self, stats: dict) -> None:
        """Add one update's statistics to the logging window (``time_*`` summed, the others averaged)."""
        self.counters["updates"] += 1
        self.log.update(stats)

    def add_time(self, key: str, seconds: float) -> None:
        self.log.add_time(key, seconds)

    # ---------------------------------------------------------------- checkpoints and resume
    @classmethod
    def resume(cls, run_dir, total_steps: int | None = None, *, truncate_logs: bool = True) -> "Run":
        """Rebuild the run of ``run_dir`` from its checkpoint to continue it: the directory is locked (see
        :func:`.rundir.lock_run_dir`) and log rows written after the checkpoint are dropped.
        ``truncate_logs=False`` rebuilds it only to evaluate it: nothing is written, nothing locked, and the
        loop's memory (replay buffer, episode store) is not restored, so that evaluating a long run does not
        need its buffer's size in RAM; :meth:`run` refuses to train such a run."""
        files = RunDir.open(run_dir, lock=truncate_logs)
        try:
            cfg = files.read_config()
            sd = files.load_checkpoint()
            if total_steps is not None:
                cfg = {**cfg, "train": {**cfg["train"], "total_steps": int(total_steps)}}
            run = cls(cfg, run_dir, _resuming=True)
            run.files, files = files, None
            run.evaluation_only = not truncate_logs
        finally:
            if files is not None:
                files.release()
        try:
            run.load_state_dict(sd, memory=truncate_logs)
            fits = None
        except MISFIT as exc:
            fits = run.files.misfit(exc)
        done = run.counters.get("env_steps", 0)
        if fits is None and total_steps is not None and total_steps < done:
            fits = ValueError(f"--total-steps {total_steps} is below the {done} env steps {run_dir} has already "
                              f"run; give at least {done}")
        if fits is not None:
            run.close()
            raise fits
        if total_steps is not None:
            run.files.write_config(run.cfg)
        if truncate_logs:
            run.files.truncate_logs(run.counters["env_steps"])
        return run

    def state_dict(self) -> dict:
        self.counters["wall_time"] = time.time() - self.log.start
        win = self.log.window_state()
        env_state = self.env.get_state() if hasattr(self.env, "get_state") else None
        obs = Reset(self.obs.obs, self.obs.state, self.obs.avail)
        return {"format": CHECKPOINT_FORMAT, "algo": self.algo.state_dict(), "loop": self.loop_state(),
                "counters": to_plain(self.counters), "window": win,
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "env": to_plain(env_state), "obs": to_plain(vars(obs)), "ep_ret": to_plain(self.ep_ret)}

    def load_state_dict(self, sd: dict, memory: bool = True) -> None:
        """Restore the run from a checkpoint's contents; ``memory=False`` leaves out the loop's memory (see
        :meth:`resume`)."""
        self.algo.load_state_dict(sd["algo"])
        if memory:
            self.load_loop_state(sd["loop"])
        self.counters = dict(sd["counters"])
        self.log.start = time.time() - float(self.counters["wall_time"])
        self.log.load_window(sd["window"])
        self.rng.bit_generator.state = sd["rng"]
        torch.set_rng_state(sd["torch_rng"])
        if sd["env"] is not None and hasattr(self.env, "set_state"):
            self.env.set_state(from_plain(sd["env"]))
            self.obs, self.ep_ret = Reset(**from_plain(sd["obs"])), from_plain(sd["ep_ret"]).copy()
        else:  # an environment without state capture restarts its episodes, on a stream of its own
            self.episodes_cut(Reset(**from_plain(sd["obs"])))
            restart = np.random.SeedSequence((self.seeds.env_seed, self.counters["vector_steps"]))
            self.obs = self.env.reset(seed=int(restart.generate_state(1)[0]))

    def save_checkpoint(self) -> None:
        """Write the checkpoint atomically (:meth:`.rundir.RunDir.save_checkpoint`)."""
        self.files.save_checkpoint(self.state_dict)

    # ---------------------------------------------------------------- evaluation
    def run_evaluation(self, episodes: int | None = None) -> dict:
        """Deterministic-policy episodes on the evaluation copies (and the QRE gap on a tabular game)."""
        episodes = episodes or self.train_cfg.eval_episodes
        outcomes: dict = {}
        rets = evaluate(self.algo, self.eval_env, episodes, self.seeds.eval_seed, outcomes)
        row = {"env_steps": self.counters["env_steps"], "eval_return": float(rets.mean()),
               "eval_return_std": float(rets.std()), "eval_episodes": len(rets), "qre_gap": "",
               "wall_time": time.time() - self.log.start}
        for key, rate in OUTCOMES.items():
            row[f"eval_{rate}"] = float(outcomes[key].mean()) if key in outcomes else ""
        if hasattr(self.env, "game") and self.algo.temperature() is not None:
            row["qre_gap"] = qre_gap(self.algo, self.env)
        return row

    def _eval_and_log(self) -> dict:
        return self.log.log_eval(self.run_evaluation(), self.counters["env_steps"])

    # ---------------------------------------------------------------- the loop
    def run(self, stop_after: int | None = None, stop: list | None = None) -> dict:
        """Train until ``train.total_steps`` (or ``stop_after`` more :meth:`collect` calls); returns the last
        progress and evaluation rows, and ``interrupted``: the name of the signal (SIGINT, SIGTERM) that
        stopped the run, after a checkpoint was saved (``meharl resume`` continues it), or None.  ``stop``: the
        list of a :func:`stop_signals` block opened by the caller (one opened here otherwise)."""
        if self.evaluation_only:
            raise RuntimeError(f"{self.dir} was rebuilt only to evaluate it (its replay memory was not loaded); "
                               f"resume it with truncate_logs=True to train it further")
        if stop is None:
            with stop_signals() as stop:
                return self.run(stop_after, stop)
        t, c = self.train_cfg, self.counters
        last = {"progress": None, "eval": None, "interrupted": None}
        bar = self.log.bar(t.total_steps, c["env_steps"],
                           f"{self.cfg['algo_name']} {self.cfg['env']}:{self.cfg['task']}")
        done = 0
        try:
            while c["env_steps"] < t.total_steps and (stop_after is None or done < stop_after) and not stop:
                before = c["env_steps"]
                self.collect()
                done += 1
                bar.update(c["env_steps"] - before)
                self._after_collect(last, bar)
            self._finish(last, stop, done)
        finally:
            bar.close()
            self.log.flush()
        return last

    def _after_collect(self, last: dict, bar) -> None:
        """Train if the loop is ready, then log, evaluate and checkpoint where their intervals fall."""
        t, c = self.train_cfg, self.counters
        if self.ready_to_train():
            self.train()
        if c["env_steps"] >= c["next_log"]:
            last["progress"] = self.log.log_progress(c)
            c["next_log"] = _next(c["next_log"], c["env_steps"], t.log_interval)
            if last["progress"]["episode_return"] != "":
                bar.set_postfix(ret=f"{last['progress']['episode_return']:.3g}")
        if c["env_steps"] >= c["next_eval"]:
            last["eval"] = self._eval_and_log()
            c["next_eval"] = _next(c["next_eval"], c["env_steps"], t.eval_interval)
        if c["env_steps"] >= c["next_ckpt"]:
            c["next_ckpt"] = _next(c["next_ckpt"], c["env_steps"], t.checkpoint_interval)
            self.save_checkpoint()

    def _finish(self, last: dict, stop: list[int], done: int) -> None:
        """After the loop: a checkpoint if a signal stopped it early; the final evaluation and checkpoint if
        the budget is spent (and this call ran at least one collect)."""
        t, c = self.train_cfg, self.counters
        if stop and c["env_steps"] < t.total_steps:
            self.save_checkpoint()
            last["interrupted"] = signal.Signals(stop[0]).name
        elif c["env_steps"] >= t.total_steps and done:
            if t.final_eval and (last["eval"] is None or last["eval"]["env_steps"] != c["env_steps"]):
                last["eval"] = self._eval_and_log()
            self.save_checkpoint()

    def close(self):
        self.env.close()
        self.eval_env.close()
        self.log.close()
        self.files.release()


def _next(threshold: int, steps: int, interval: int) -> int:
    """The first multiple of ``interval`` past ``threshold`` that lies above ``steps``."""
    return threshold + interval * math.ceil((steps - threshold + 1) / interval)
