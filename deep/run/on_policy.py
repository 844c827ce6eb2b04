"""The on-policy loop (MAPPO, HAPPO, HATRPO, PPO): every :meth:`collect` fills a rollout of ``num_envs``
copies x ``algo.rollout_steps`` vector steps with the current policies, the algorithm's advantage estimator
(``algo.advantages``) turns it into a batch (:mod:`deep.storage.rollout`), and :meth:`train` makes one update
on it.  Logs, evaluation, checkpoints and exact resume are the loop skeleton's (:mod:`deep.run.loop`); a
checkpoint is only ever taken between rollouts, so it holds no partial rollout.
"""
from __future__ import annotations

import time

from ..storage.rollout import Rollout
from .loop import Run, TrainSettings


def make_rollout(algo, env, first) -> Rollout:
    """Storage shaped for ``algo``'s stored actions on ``env`` (``first``: a Reset, for the masks' sizes)."""
    shapes, dtypes = [], []
    for a in algo.act(first.obs, first.avail, deterministic=True).stored:
        shapes.append(a.shape[1:])
        dtypes.append(a.dtype)
    avail_dims = [None if m is None else m.shape[-1] for m in first.avail]
    return Rollout(algo.rollout_steps, env.num_envs, env.spec.state_dim, env.spec.obs_dims, shapes,
                   dtypes, avail_dims)


def collect(algo, env, rollout: Rollout, current, on_step=None, times: dict | None = None):
    """Fill ``rollout`` from ``current`` (the Reset / Step the copies are at) and finish it; returns (batch, the
    last Step).  ``on_step(step)`` is called after every vector step; ``times`` accumulates ``time_act``,
    ``time_env`` and ``time_gae`` (seconds)."""
    t_act = t_env = 0.0
    for _ in range(rollout.T):
        t0 = time.perf_counter()
        acted = algo.act(current.obs, current.avail)
        t1 = time.perf_counter()
        step = env.step(acted.env_actions)
        t2 = time.perf_counter()
        rollout.add(current.state, current.obs, current.avail, acted.stored, acted.log_prob, step.reward,
                    step.terminated, step.truncated, step.final_state)
        if on_step is not None:
            on_step(step)
        current = step
        t_act, t_env = t_act + t1 - t0, t_env + t2 - t1
    t0 = time.perf_counter()
    batch = rollout.finish(algo.values, current.state, algo.advantages)
    if times is not None:
        for k, v in (("time_act", t_act), ("time_env", t_env), ("time_gae", time.perf_counter() - t0)):
            times[k] = times.get(k, 0.0) + v
    return batch, current


class OnPolicyRun(Run):
    Train = TrainSettings
    time_fields = ("time_env", "time_act", "time_gae")

    def setup(self) -> None:
        self.rollout = make_rollout(self.algo, self.env, self.obs)
        self.batch = None

    def collect(self) -> None:
        times = {}
        self.batch, _ = collect(self.algo, self.env, self.rollout, self.obs, self.observe, times)
        for k, v in times.items():
            self.add_time(k, v)

    def train(self) -> None:
        self.record_update(self.algo.update(self.batch, self.rng))
        self.batch = None


LOOP = OnPolicyRun
