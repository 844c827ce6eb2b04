"""What QMIX and FOP share: one recurrent network for every agent, acting on the episode loop
(:mod:`deep.run.episodic`) with masks for the available actions and an annealed exploration epsilon.

The agent network is pymarl's ``RNNAgent`` (fc -> ReLU -> GRUCell -> fc), shared by every agent (parameter
sharing); its input is the agent's observation zero-padded to the largest (``D``) and its one-hot id
(pymarl's ``obs_agent_id``).  Its outputs are Q-values for QMIX and policy logits for FOP, over the largest
action count ``A``.  pymarl also appends the last action; SMAC observations here already carry it (``smac``
option ``obs_last_action``, on by default), so it is not added twice.

``precision="bf16"`` (:class:`RecurrentParams`) runs the agent network's input layer under bf16 autocast and keeps
its GRU cell and output layer float32: the GRU's hidden state is carried from step to step over whole episodes, so
rounding it (or its gates) to bf16's 8 significant bits at every step would compound along the episode.  The
algorithms' other MLPs (QMIX's hypernetworks and V(s), FOP's critics and V(s)) run their hidden layers under
autocast as every :class:`~deep.nets.mlp.MLP`, their output layers float32.  These networks are small (64 units,
batches of 32 episodes), too small for bf16 to speed them up (benchmarks/README.md, "Deep algorithms").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deep.config import integer, number
from deep.envs.base import EnvSpec
from deep.nets.mlp import Autocastable, precision_setting, set_precision
from deep.storage.episodes import stack_avail, stack_obs

from ._checkpoint import Checkpointed
from .base import Acted, Algorithm


@dataclass(frozen=True)
class RecurrentParams:
    """The settings QMIX and FOP share, with the same defaults (pymarl's, which FOP's reference code keeps);
    each declares its others, with their sources."""

    optim_alpha: float = number(0.99, "RMSprop smoothing constant", lo=0, hi=1)
    optim_eps: float = number(1e-5, "RMSprop epsilon", lo=0, lo_open=True)
    gamma: float = number(0.99, "discount", lo=0, hi=1, hi_open=True, allow_none="for a tabular game's own discount")
    batch_size: int = integer(32, "episodes per gradient update")
    epsilon_anneal_steps: int = integer(50_000, "environment steps of linear epsilon annealing", minimum=0)
    target_update_interval: int = integer(200, "updates between hard copies into the target networks")
    grad_norm_clip: float = number(10.0, "gradient norm clip", lo=0, lo_open=True)
    precision: str = precision_setting("the agent network's input layer and the other MLPs' hidden layers "
                                       "(the GRU cell float32: deep/algos/_recurrent_agents.py)")


class RNNAgent(Autocastable, nn.Module):
    """fc -> ReLU -> GRUCell -> fc: one output per action from (observation + agent id, hidden state); under
    bf16 the first layer only runs under autocast (module docstring)."""

    def __init__(self, in_dim: int, hidden: int, n_actions: int):
        super().__init__()
        self.fc1, self.rnn, self.fc2 = nn.Linear(in_dim, hidden), nn.GRUCell(hidden, hidden), nn.Linear(hidden, n_actions)

    def forward(self, x, h):
        with self.autocast(x):
            x = torch.relu(self.fc1(x))
        h = self.rnn(x.to(h.dtype), h)
        return self.fc2(h), h


class RecurrentAgents(Checkpointed, Algorithm):
    """Base of the episodic value-decomposition algorithms: shapes, agent ids, memory, epsilon, unrolling.

    Params (a :class:`RecurrentParams`) must define ``rnn_hidden``, ``epsilon_start``, ``epsilon_finish`` and
    ``epsilon_anneal_steps``."""

    on_policy = False
    supports = frozenset({"discrete"})
    loop = "episodic"
    recurrent = True

    def __init__(self, spec: EnvSpec, params, *, device: str = "cpu"):
        super().__init__(spec, params, device=device)
        self.n = spec.n_agents
        self.D, self.n_actions = max(spec.obs_dims), [int(s.n) for s in spec.action_spaces]
        self.A = max(self.n_actions)
        self.act_steps = 0   #: environment steps acted on with exploration (the schedules' clock)
        self.updates = 0
        self._ids = torch.eye(self.n, device=self.device)

    @property
    def batch_episodes(self) -> int:
        """Episodes per update batch, what the episode replay is asked for (the algorithm computes its own
        targets from them)."""
        return self.params.batch_size

    def agent_net(self) -> RNNAgent:
        return set_precision(RNNAgent(self.D + self.n, self.params.rnn_hidden, self.A),
                             self.params.precision).to(self.device)

    # ------------------------------------------------------------------ acting
    def epsilon(self) -> float:
        p = self.params
        frac = min(self.act_steps / p.epsilon_anneal_steps, 1.0) if p.epsilon_anneal_steps else 1.0
        return p.epsilon_start + frac * (p.epsilon_finish - p.epsilon_start)

    def initial_memory(self, num_envs: int) -> torch.Tensor:
        return torch.zeros(num_envs, self.n, self.params.rnn_hidden, device=self.device)

    def reset_memory(self, memory, done):
        return memory * torch.as_tensor(~np.asarray(done), dtype=memory.dtype, device=self.device)[:, None, None]

    def _inputs(self, obs):
        """(..., n, D) observations -> (..., n, D + n) with the agents' one-hot ids."""
        return torch.cat([obs, self._ids.expand(*obs.shape[:-1], self.n)], -1)

    def _step(self, net, obs, h):
        """One step of ``net`` for every agent: (E, n, D) observations, (E, n, H) memory -> (E, n, A), memory."""
        E = obs.shape[0]
        out, h = net(self._inputs(obs).reshape(E * self.n, -1), h.reshape(E * self.n, -1))
        return out.view(E, self.n, self.A), h.view(E, self.n, -1)

    def _first_step(self, obs, avail, memory):
        """(E, n, A) outputs of the agent network and its memory, with the (E, n, A) mask of available actions."""
        E = obs[0].shape[0]
        if memory is None:
            raise ValueError(f"{self.name} is recurrent: act() needs memory= (initial_memory, then Acted.memory)")
        m = torch.as_tensor(stack_avail(avail, self.n_actions, self.A, E), device=self.device)
        out, h = self._step(self.agent, torch.as_tensor(stack_obs(obs, self.D), device=self.device), memory)
        return out, h, m

    def _explore(self, a: np.ndarray, m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``a`` (E, n) with each action replaced, with probability epsilon, by one drawn uniformly from the
        agent's available actions ``m`` (E, n, A); advances the schedules' clock."""
        explore = rng.random(a.shape) < self.epsilon()
        uniform = np.argmax(rng.random(m.shape) * m, axis=-1)   # uniform over the available actions
        self.act_steps += a.shape[0]
        return np.where(explore, uniform, a)

    def _acted(self, a: np.ndarray, memory):
        acts = [a[:, i].astype(np.int64) for i in range(self.n)]
        return Acted(acts, acts, None, memory=memory)

    # ------------------------------------------------------------------ learning
    def _unroll(self, agent, obs):
        """Outputs over whole episodes: (B, L+1, n, D) -> (B, L+1, n, A), memory from zeros."""
        h = self.initial_memory(obs.shape[0])
        outs = []
        for t in range(obs.shape[1]):
            out, h = self._step(agent, obs[:, t], h)
            outs.append(out)
        return torch.stack(outs, 1)
