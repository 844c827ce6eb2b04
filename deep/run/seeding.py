"""One seed -> independent random streams, from ``numpy.random.SeedSequence(seed)``.

A run's seed ``s`` is split as ``SeedSequence(s).spawn(4)`` into, in this order:

0. the training environments: ``env_seed`` is an integer drawn from child 0; ``make_env(..., seed=env_seed)``
   seeds copy ``k`` from ``SeedSequence(env_seed).spawn(num_envs)[k]`` (:func:`deep.envs.base.copy_seeds`);
1. the evaluation environments: ``eval_seed`` from child 1, split over their copies the same way (every
   evaluation replays the same episodes' randomness, so evaluations differ only through the policy);
2. the loop's sampling generator ``sampling`` (``numpy.random.Generator(PCG64(child 2))``): warm-up actions,
   replay batches, agent orders, minibatches;
3. torch's global generator, ``torch.manual_seed(torch_seed)`` with ``torch_seed`` drawn from child 3: network
   initialisation and the actors' action noise.

Spawned streams are statistically independent, so runs with neighbouring seeds share no stream (with
``seed + k`` offsets, seeds s and s + 1 would share all but one environment copy's stream).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

STREAMS = ("env", "eval", "sampling", "torch")


def _int_seed(seq: np.random.SeedSequence) -> int:
    return int(seq.generate_state(1, dtype=np.uint32)[0])


@dataclass(frozen=True)
class Seeds:
    """The streams of one run (see the module docstring)."""

    seed: int
    env_seed: int
    eval_seed: int
    torch_seed: int
    sampling_seq: np.random.SeedSequence

    def sampling(self) -> np.random.Generator:
        """A fresh generator on the sampling stream (the loop keeps one and checkpoints its state)."""
        return np.random.Generator(np.random.PCG64(self.sampling_seq))

    def seed_torch(self) -> None:
        torch.manual_seed(self.torch_seed)


def seeds(seed: int) -> Seeds:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"a seed must be an integer >= 0, got {seed!r}")
    env, ev, sampling, tor = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return Seeds(seed=int(seed), env_seed=_int_seed(env), eval_seed=_int_seed(ev), torch_seed=_int_seed(tor),
                 sampling_seq=sampling)
