"""The HASAC run loop: collect, train, log, evaluate, checkpoint; and exact resumption.

A run directory holds ``config.yaml`` (the resolved config), ``progress.csv`` (training statistics every
``log_interval`` environment steps), ``eval.csv`` (deterministic evaluations), ``tb/`` (TensorBoard) and
``checkpoint.pt``.  The checkpoint holds everything the next step depends on: networks, targets, optimiser
states, temperatures, the replay buffer, every RNG state (numpy, torch, the environments'), the environments'
own state and the counters, so ``resume`` continues the *same* run: its final parameters equal those of an
uninterrupted run with the same seed.  Checkpoints are written atomically (temporary file, fsync, rename).

Environment steps count every transition, warm-up included.
"""
from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from tabular._io import atomic_write, atomic_write_text

from .config import validate
from .envs.registry import make_env
from .hasac import HASAC, HASACParams, ReplayBuffer
from .hasac.actors import SquashedGaussianActor

CHECKPOINT = "checkpoint.pt"
EVAL_SEED_OFFSET = 1_000_003  #: evaluation environments are seeded apart from the training ones


def build_env(cfg: dict, num_envs: int, seed: int):
    return make_env(cfg["env"], cfg["task"], num_envs, seed=seed, **(cfg.get("env_options") or {}))


def resolve_gamma(cfg: dict, env) -> None:
    """``algo.gamma: null`` takes a tabular game's own discount; a tabular run must use the game's discount."""
    game = getattr(env, "game", None)
    g = cfg["algo"]["gamma"]
    if g is None:
        if game is None:
            raise ValueError("algo.gamma=null is only allowed for tabular games (it takes the game's discount)")
        cfg["algo"]["gamma"] = float(game.gamma)
    elif game is not None and not math.isclose(g, game.gamma, abs_tol=1e-12):
        raise ValueError(f"algo.gamma={g} differs from the tabular game's discount {game.gamma}; the deep "
                         f"objective would not be the engine's (use algo.gamma=null)")


def build_agent(cfg: dict, spec) -> HASAC:
    a = dict(cfg["algo"])
    a["hidden"] = tuple(a["hidden"])
    return HASAC(spec, HASACParams(**a), device=cfg["device"])


def make_buffer(cfg: dict, agent: HASAC, env, first) -> ReplayBuffer:
    shapes, dtypes = [], []
    for actor in agent.actors:
        if isinstance(actor, SquashedGaussianActor):
            shapes.append((actor.dim,)), dtypes.append(np.float32)
        elif hasattr(actor, "nvec"):
            shapes.append((len(actor.nvec),)), dtypes.append(np.int64)
        else:
            shapes.append(()), dtypes.append(np.int64)
    avail_dims = [None if m is None else m.shape[-1] for m in first.avail]
    return ReplayBuffer(cfg["train"]["buffer_size"], env.num_envs, env.spec.state_dim, env.spec.obs_dims,
                        shapes, dtypes, avail_dims)


def evaluate(agent: HASAC, env, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``episodes`` deterministic-policy episodes (mean / argmax actions), in the order they end."""
    r = env.reset(seed=seed)
    ret = np.zeros(env.num_envs)
    out = []
    while len(out) < episodes:
        actions, _, _ = agent.act(r.obs, r.avail, deterministic=True)
        s = env.step(actions)
        ret += s.reward
        for k in np.flatnonzero(s.done):
            out.append(ret[k])
            ret[k] = 0.0
        r = s
    return np.array(out[:episodes])


def _csv_append(path: Path, row: dict, fields: list) -> None:
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        if new:
            w.writeheader()
        w.writerow(row)


def _csv_truncate(path: Path, max_steps: int) -> None:
    """Drop rows logged after the checkpoint a run is resumed from (they will be logged again)."""
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
        fields = list(rows[0].keys()) if rows else None
    if fields is None:
        return
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    w.writerows(r for r in rows if int(float(r["env_steps"])) <= max_steps)
    atomic_write_text(path, buf.getvalue())


class Trainer:
    """Owns one run: ``Trainer(cfg, run_dir).run()`` or ``Trainer.resume(run_dir).run()``."""

    def __init__(self, cfg: dict, run_dir, *, _resuming: bool = False):
        self.cfg = validate(cfg)
        self.dir = Path(run_dir)
        if not _resuming and (self.dir / CHECKPOINT).exists():
            raise ValueError(f"{self.dir} already holds a run; continue it with `meharl resume {self.dir}`")
        torch.set_num_threads(cfg["threads"])
        seed = cfg["seed"]
        torch.manual_seed(seed)
        self.env = build_env(cfg, cfg["num_envs"], seed)
        resolve_gamma(self.cfg, self.env)
        self.eval_env = build_env(cfg, cfg["eval_num_envs"], seed + EVAL_SEED_OFFSET)
        self.agent = build_agent(self.cfg, self.env.spec)
        self.rng = np.random.default_rng(seed)
        self.obs = self.env.reset(seed=seed)
        self.buffer = make_buffer(self.cfg, self.agent, self.env, self.obs)
        t = self.cfg["train"]
        self.c = {"env_steps": 0, "vector_steps": 0, "updates": 0, "episodes": 0,
                  "next_log": t["log_interval"], "next_eval": t["eval_interval"] or math.inf,
                  "next_ckpt": t["checkpoint_interval"] or math.inf}
        self.ep_ret = np.zeros(self.env.num_envs)
        self._reset_window()
        n = self.env.spec.n_agents
        self.progress_fields = (["env_steps", "updates", "episodes", "episode_return", "env_steps_per_s",
                                 "updates_per_s", "time_env", "time_act", "time_sample", "time_critic",
                                 "time_actors", "critic_loss", "q1_mean", "q1_min", "q1_max", "target_mean"]
                                + [f"{k}/{i}" for k in ("actor_loss", "alpha", "entropy") for i in range(n)]
                                + ["wall_time"])
        self.eval_fields = ["env_steps", "eval_return", "eval_return_std", "eval_episodes", "qre_gap", "wall_time"]
        self._writer = None
        self._start = time.time()
        if not _resuming:
            self.dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.dir / "config.yaml", yaml.safe_dump(self.cfg, sort_keys=False))

    # ------------------------------------------------------------------ resume
    @classmethod
    def resume(cls, run_dir, total_steps: int | None = None, *, truncate_logs: bool = True) -> "Trainer":
        """Rebuild the run of ``run_dir`` from its checkpoint; ``truncate_logs`` drops log rows written after it."""
        run_dir = Path(run_dir)
        ck = run_dir / CHECKPOINT
        if not ck.exists():
            raise FileNotFoundError(f"no checkpoint in {run_dir} (expected {ck})")
        with open(run_dir / "config.yaml", encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh)
        if total_steps is not None:
            cfg["train"]["total_steps"] = int(total_steps)
        tr = cls(cfg, run_dir, _resuming=True)
        if total_steps is not None:
            atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(tr.cfg, sort_keys=False))
        tr.load(torch.load(ck, weights_only=False))
        for name in ("progress.csv", "eval.csv") if truncate_logs else ():
            _csv_truncate(run_dir / name, tr.c["env_steps"])
        return tr

    def state_dict(self) -> dict:
        env_state = self.env.get_state() if hasattr(self.env, "get_state") else None
        self.c["wall_time"] = time.time() - self._start
        return {"agent": self.agent.state_dict(), "buffer": self.buffer.state_dict(), "counters": dict(self.c),
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "env": env_state,
                "obs": self.obs, "ep_ret": self.ep_ret.copy(), "config": self.cfg}

    def load(self, sd: dict) -> None:
        self.agent.load_state_dict(sd["agent"])
        self.buffer.load_state_dict(sd["buffer"])
        self.c = dict(sd["counters"])
        self._start = time.time() - float(self.c.get("wall_time", 0.0))
        self.rng.bit_generator.state = sd["rng"]
        torch.set_rng_state(sd["torch_rng"])
        if sd["env"] is not None and hasattr(self.env, "set_state"):
            self.env.set_state(sd["env"])
            self.obs, self.ep_ret = sd["obs"], np.array(sd["ep_ret"])
        else:  # an environment without state capture restarts its episodes (documented departure)
            self.obs = self.env.reset(seed=self.cfg["seed"] + self.c["vector_steps"])

    def save_checkpoint(self) -> None:
        """Stream the checkpoint into a temporary file beside it, fsync, then rename it into place (atomic;
        no in-memory copy of the replay buffer)."""
        atomic_write(self.dir / CHECKPOINT, lambda fh: torch.save(self.state_dict(), fh))

    # ------------------------------------------------------------------ logging
    def _reset_window(self):
        self.win = {"returns": [], "stats": {}, "n_updates": 0, "time_env": 0.0, "time_act": 0.0,
                    "time_sample": 0.0, "time_critic": 0.0, "time_actors": 0.0, "t0": time.perf_counter(),
                    "steps0": self.c["env_steps"], "updates0": self.c["updates"]}

    @property
    def writer(self):
        if self._writer is None and self.cfg["train"]["tensorboard"]:
            from torch.utils.tensorboard import SummaryWriter
            self._writer = SummaryWriter(str(self.dir / "tb"), purge_step=self.c["env_steps"] or None)
        return self._writer

    def _log(self):
        w, c = self.win, self.c
        dt = max(time.perf_counter() - w["t0"], 1e-9)
        row = {"env_steps": c["env_steps"], "updates": c["updates"], "episodes": c["episodes"],
               "episode_return": float(np.mean(w["returns"])) if w["returns"] else "",
               "env_steps_per_s": (c["env_steps"] - w["steps0"]) / dt, "updates_per_s": (c["updates"] - w["updates0"]) / dt,
               "wall_time": time.time() - self._start}
        for k in ("time_env", "time_act", "time_sample", "time_critic", "time_actors"):
            row[k] = w[k]
        for k, v in w["stats"].items():
            row[k] = v / max(w["n_updates"], 1)
        _csv_append(self.dir / "progress.csv", row, self.progress_fields)
        if self.writer is not None:
            for k, v in row.items():
                if k != "env_steps" and v != "":
                    self.writer.add_scalar(f"train/{k}", v, c["env_steps"])
        self._reset_window()
        return row

    def run_evaluation(self, episodes: int | None = None) -> dict:
        episodes = episodes or self.cfg["train"]["eval_episodes"]
        rets = evaluate(self.agent, self.eval_env, episodes, self.cfg["seed"] + EVAL_SEED_OFFSET)
        row = {"env_steps": self.c["env_steps"], "eval_return": float(rets.mean()),
               "eval_return_std": float(rets.std()), "eval_episodes": len(rets), "qre_gap": "",
               "wall_time": time.time() - self._start}
        if hasattr(self.env, "game") and not self.cfg["algo"]["auto_alpha"]:
            from .hasac.bridge import qre_gap
            row["qre_gap"] = qre_gap(self.agent, self.env)
        return row

    # ------------------------------------------------------------------ loop
    def _collect(self):
        t0 = time.perf_counter()
        r = self.obs
        if self.c["env_steps"] < self.cfg["train"]["warmup_steps"]:
            env_a, stored, logp = self.agent.random_act(r.avail, self.env.num_envs, self.rng)
        else:
            env_a, stored, logp = self.agent.act(r.obs, r.avail)
        t1 = time.perf_counter()
        s = self.env.step(env_a)
        t2 = time.perf_counter()
        self.buffer.add(r.state, r.obs, r.avail, stored, logp, s.reward, s.terminated, s.truncated,
                        s.final_state, s.final_obs, s.final_avail)
        self.ep_ret += s.reward
        for k in np.flatnonzero(s.done):
            self.win["returns"].append(self.ep_ret[k])
            self.ep_ret[k] = 0.0
            self.c["episodes"] += 1
        self.obs = s
        self.c["vector_steps"] += 1
        self.c["env_steps"] += self.env.num_envs
        self.win["time_act"] += t1 - t0
        self.win["time_env"] += t2 - t1

    def _train(self):
        t, a = self.cfg["train"], self.cfg["algo"]
        for _ in range(t["updates_per_train"]):
            t0 = time.perf_counter()
            batch = self.buffer.sample(a["batch_size"], a["n_step"], self.agent.p.gamma, self.rng)
            self.win["time_sample"] += time.perf_counter() - t0
            st = self.agent.update(batch, self.rng)
            self.c["updates"] += 1
            self.win["n_updates"] += 1
            self.win["time_critic"] += st.pop("time_critic")
            self.win["time_actors"] += st.pop("time_actors")
            st.pop("permutation")
            for k, v in st.items():
                self.win["stats"][k] = self.win["stats"].get(k, 0.0) + v

    def run(self, stop_after: int | None = None) -> dict:
        """Train until ``train.total_steps`` (or ``stop_after`` more vector steps); returns the last logs."""
        from tqdm import tqdm
        t = self.cfg["train"]
        total = t["total_steps"]
        last = {"progress": None, "eval": None}
        bar = tqdm(total=total, initial=min(self.c["env_steps"], total), unit="step", dynamic_ncols=True,
                   disable=not t["progress"], desc=f"hasac {self.cfg['env']}:{self.cfg['task']}")
        done_steps = 0
        try:
            while self.c["env_steps"] < total and (stop_after is None or done_steps < stop_after):
                self._collect()
                done_steps += 1
                bar.update(self.env.num_envs)
                c = self.c
                if (c["env_steps"] >= t["warmup_steps"] and c["vector_steps"] % t["train_interval"] == 0
                        and self.buffer.can_sample(self.cfg["algo"]["n_step"])):
                    self._train()
                if c["env_steps"] >= c["next_log"]:
                    last["progress"] = self._log()
                    c["next_log"] += t["log_interval"] * math.ceil((c["env_steps"] - c["next_log"] + 1) / t["log_interval"])
                    if last["progress"]["episode_return"] != "":
                        bar.set_postfix(ret=f"{last['progress']['episode_return']:.3g}")
                if c["env_steps"] >= c["next_eval"]:
                    last["eval"] = self._eval_and_log()
                    c["next_eval"] += t["eval_interval"] * math.ceil((c["env_steps"] - c["next_eval"] + 1) / t["eval_interval"])
                if c["env_steps"] >= c["next_ckpt"]:
                    c["next_ckpt"] += t["checkpoint_interval"] * math.ceil((c["env_steps"] - c["next_ckpt"] + 1) / t["checkpoint_interval"])
                    self.save_checkpoint()
            if self.c["env_steps"] >= total and done_steps:
                if last["eval"] is None or last["eval"]["env_steps"] != self.c["env_steps"]:
                    last["eval"] = self._eval_and_log()
                self.save_checkpoint()
        finally:
            bar.close()
            if self._writer is not None:
                self._writer.flush()
        return last

    def _eval_and_log(self) -> dict:
        row = self.run_evaluation()
        _csv_append(self.dir / "eval.csv", row, self.eval_fields)
        if self.writer is not None:
            self.writer.add_scalar("eval/return", row["eval_return"], row["env_steps"])
            if row["qre_gap"] != "":
                self.writer.add_scalar("eval/qre_gap", row["qre_gap"], row["env_steps"])
        return row

    def close(self):
        self.env.close()
        self.eval_env.close()
        if self._writer is not None:
            self._writer.close()
