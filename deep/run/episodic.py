"""The episode loop of recurrent value-decomposition algorithms (QMIX, FOP): every vector step is acted on
with the algorithm's memory (reset where an episode ends) and staged per copy; finished episodes enter an
episode replay (:mod:`deep.storage.episodes`), and once it holds ``algo.batch_episodes`` episodes the algorithm
makes one update per ``episodes_per_update`` finished episodes on batches of whole episodes (pymarl: one per
episode)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..config import integer
from ..storage.episodes import EpisodeBuffer, stack_avail, stack_obs
from .loop import Run, TrainSettings


@dataclass(frozen=True)
class EpisodicTrain(TrainSettings):
    buffer_episodes: int = integer(5000, "replay capacity in episodes (pymarl's buffer_size)")
    episodes_per_update: int = integer(1, "finished episodes per gradient update (pymarl: 1)")


class EpisodicRun(Run):
    Train = EpisodicTrain
    time_fields = ("time_env", "time_act", "time_sample")

    def setup(self) -> None:
        a, spec = self.algo, self.env.spec
        self.buffer = EpisodeBuffer(self.train_cfg.buffer_episodes, self.env.num_envs, spec.episode_limit,
                                    spec.n_agents, spec.state_dim, a.D, a.A)
        self.memory = a.initial_memory(self.env.num_envs)
        self.pending = 0   #: finished episodes not yet trained on

    def _stack(self, obs, avail):
        return stack_obs(obs, self.algo.D), stack_avail(avail, self.algo.n_actions, self.algo.A, self.env.num_envs)

    def collect(self) -> None:
        t0 = time.perf_counter()
        r = self.obs
        acted = self.algo.act(r.obs, r.avail, rng=self.rng, memory=self.memory)
        t1 = time.perf_counter()
        s = self.env.step(acted.env_actions)
        t2 = time.perf_counter()
        obs, avail = self._stack(r.obs, r.avail)
        fobs, favail = self._stack(s.final_obs, s.final_avail)
        self.pending += self.buffer.add(r.state, obs, avail, np.stack(acted.stored, 1), s.reward, s.terminated,
                                        s.done, s.final_state, fobs, favail)
        self.memory = self.algo.reset_memory(acted.memory, s.done)
        self.observe(s)
        self.add_time("time_act", t1 - t0)
        self.add_time("time_env", t2 - t1)

    def ready_to_train(self) -> bool:
        return self.buffer.size >= self.algo.batch_episodes and self.pending >= self.train_cfg.episodes_per_update

    def train(self) -> None:
        every = self.train_cfg.episodes_per_update
        for _ in range(self.pending // every):
            t0 = time.perf_counter()
            batch = self.buffer.sample(self.algo.batch_episodes, self.rng)
            self.add_time("time_sample", time.perf_counter() - t0)
            self.record_update(self.algo.update(batch, self.rng))
        self.pending %= every

    def loop_state(self) -> dict:
        return {"buffer": self.buffer.state_dict(), "memory": self.memory.cpu(), "pending": self.pending}

    def load_loop_state(self, sd: dict) -> None:
        self.buffer.load_state_dict(sd["buffer"])
        self.memory = sd["memory"].to(self.algo.device)
        self.pending = int(sd["pending"])

    def episodes_cut(self, last) -> None:
        self.buffer.drop_staged()
        self.memory = self.algo.initial_memory(self.env.num_envs)


LOOP = EpisodicRun
