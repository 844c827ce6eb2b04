"""The off-policy loop: every vector step is stored in an n-step replay buffer; after ``warmup_steps`` of
uniformly random actions, every ``train_interval`` vector steps the algorithm makes ``updates_per_train``
gradient updates on sampled batches (docs/settings.md: 50 and 50, one update per vector step)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..config import integer
from ..storage.replay import ReplayBuffer
from .loop import Run, TrainSettings


@dataclass(frozen=True)
class OffPolicyTrain(TrainSettings):
    warmup_steps: int = integer(10_000, "environment steps of uniformly random actions before training", minimum=0)
    train_interval: int = integer(50, "vector steps between training phases")
    updates_per_train: int = integer(50, "gradient updates per training phase")
    buffer_size: int = integer(1_000_000, "replay buffer capacity in transitions")


class OffPolicyRun(Run):
    Train = OffPolicyTrain
    time_fields = ("time_env", "time_act", "time_sample")

    def setup(self) -> None:
        self.buffer = ReplayBuffer.for_env(self.train_cfg.buffer_size, self.env.spec, self.env.num_envs,
                                           self.obs.avail)

    def collect(self) -> None:
        t0 = time.perf_counter()
        r = self.obs
        if self.counters["env_steps"] < self.train_cfg.warmup_steps:
            acted = self.algo.random_act(r.avail, self.env.num_envs, self.rng)
        else:
            acted = self.algo.act(r.obs, r.avail)
        t1 = time.perf_counter()
        s = self.env.step(acted.env_actions)
        t2 = time.perf_counter()
        self.buffer.add(r.state, r.obs, r.avail, acted.stored, np.stack(acted.log_prob, axis=1), s.reward,
                        s.terminated, s.truncated, s.final_state, s.final_obs, s.final_avail)
        self.observe(s)
        self.add_time("time_act", t1 - t0)
        self.add_time("time_env", t2 - t1)

    def ready_to_train(self) -> bool:
        c, t = self.counters, self.train_cfg
        return (c["env_steps"] >= t.warmup_steps and c["vector_steps"] % t.train_interval == 0
                and self.buffer.can_sample(self.algo.replay.steps))

    def sample(self, rng) -> dict:
        """A batch of the algorithm's replay windows with their targets' terms (its estimator's)."""
        spec = self.algo.replay
        return self.algo.returns(self.buffer.sample(spec.batch, spec.steps, rng))

    def train(self) -> None:
        for _ in range(self.train_cfg.updates_per_train):
            t0 = time.perf_counter()
            batch = self.sample(self.rng)
            self.add_time("time_sample", time.perf_counter() - t0)
            self.record_update(self.algo.update(batch, self.rng))

    def loop_state(self) -> dict:
        return {"buffer": self.buffer.state_dict()}

    def load_loop_state(self, sd: dict) -> None:
        self.buffer.load_state_dict(sd["buffer"])

    def episodes_cut(self, last) -> None:
        self.buffer.truncate_last(last.state, last.obs, last.avail)


LOOP = OffPolicyRun
