"""QMIX (Rashid et al., ICML 2018): per-agent recurrent Q-networks mixed monotonically into ``Q_tot``.

- Agents: one GRU Q-network shared by every agent (:mod:`deep.algos._recurrent_agents`, shared with FOP);
  action values of actions an agent lacks or may not take now are masked (``avail``) in action selection and
  in the target's max.
- Mixer: ``Q_tot = w_2^T elu(W_1^T q + b_1) + V(s)``, with ``W_1 = |hyper_1(s)|``, ``w_2 = |hyper_2(s)|``
  (absolute values: ``dQ_tot / dq_i >= 0``, the monotonicity constraint, eq. 5 of the paper), ``b_1`` a linear
  function of ``s`` and ``V`` a 2-layer MLP of ``s``; ``hyper_*`` are 2-layer MLPs (pymarl's
  ``hypernet_layers: 2``).
- Loss: ``sum_t mask_t (Q_tot(tau_t, a_t, s_t) - y_t)^2 / sum_t mask_t`` over sampled whole episodes, with the
  double-Q target ``y_t = r_t + gamma (1 - terminated_t) Q_tot^-(tau_{t+1}, argmax_a Q(tau_{t+1}, a), s_{t+1})``
  (actions chosen by the online agents, valued by the target agents and mixer).  A truncated episode
  bootstraps from its final observation.
- Targets: a *hard* copy every ``target_update_interval`` updates (200, pymarl's default, counted there in
  episodes with one update per episode): as in the paper and its reference code; Polyak averaging would
  depart from both for no measured gain.
- Exploration: epsilon-greedy over the available actions, epsilon annealed linearly from 1.0 to 0.05 over
  50,000 environment steps (the paper's SMAC setting; pymarl's ``epsilon_anneal_time``).
- Optimiser: RMSprop (lr 5e-4, alpha 0.99, eps 1e-5), gradient norm clipped at 10 (pymarl's defaults).
Defaults: pymarl (``src/config/default.yaml``, ``algs/qmix.yaml``): 64 GRU units, mixing embedding 32,
hypernetwork embedding 64, batches of 32 episodes, gamma 0.99.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deep.config import flag, integer, number
from deep.envs.base import EnvSpec
from deep.nets.mlp import mlp, set_precision
from deep.nets.optim import gradient_step

from ._recurrent_agents import RecurrentAgents, RecurrentParams
from .base import Acted, register
from .estimators import OneStepTD


@dataclass(frozen=True)
class QMIXParams(RecurrentParams):
    """QMIX's hyper-parameters; defaults from the paper / pymarl (module docstring); ``precision``:
    :class:`~deep.algos._recurrent_agents.RecurrentParams`."""

    rnn_hidden: int = integer(64, "GRU units of the agent network (pymarl rnn_hidden_dim)")
    mixing_embed: int = integer(32, "mixing network's hidden units (pymarl mixing_embed_dim)")
    hypernet_embed: int = integer(64, "hidden units of the hypernetworks (pymarl hypernet_embed)")
    lr: float = number(5e-4, "RMSprop learning rate", lo=0, lo_open=True)
    epsilon_start: float = number(1.0, "exploration epsilon at the start", lo=0, hi=1)
    epsilon_finish: float = number(0.05, "exploration epsilon after annealing", lo=0, hi=1)
    double_q: bool = flag(True, "double-Q targets (online argmax, target value)")


class QMixer(nn.Module):
    """The monotonic mixing network with state-conditioned hypernetworks (absolute weights)."""

    def __init__(self, n_agents: int, state_dim: int, embed: int, hyper_embed: int):
        super().__init__()
        self.n, self.embed = n_agents, embed
        self.hyper_w1 = mlp(state_dim, [hyper_embed], n_agents * embed)
        self.hyper_w2 = mlp(state_dim, [hyper_embed], embed)
        self.hyper_b1 = nn.Linear(state_dim, embed)
        self.v = mlp(state_dim, [embed], 1)

    def forward(self, qs, state):
        """``qs`` (..., n) agent values, ``state`` (..., S) -> ``Q_tot`` (...)."""
        w1 = self.hyper_w1(state).abs().view(*qs.shape[:-1], self.n, self.embed)
        hidden = nn.functional.elu((qs.unsqueeze(-2) @ w1).squeeze(-2) + self.hyper_b1(state))
        return (hidden * self.hyper_w2(state).abs()).sum(-1) + self.v(state).squeeze(-1)


@register("qmix")
class QMIX(RecurrentAgents):
    Params = QMIXParams
    state_parts = ("agent", "mixer", "target_agent", "target_mixer", "opt", "act_steps", "updates")

    def __init__(self, spec: EnvSpec, params: QMIXParams = QMIXParams(), *, device: str = "cpu"):
        super().__init__(spec, params, device=device)
        self.agent = self.agent_net()
        self.mixer = set_precision(QMixer(self.n, spec.state_dim, params.mixing_embed, params.hypernet_embed),
                                   params.precision).to(self.device)
        self.target_agent, self.target_mixer = copy.deepcopy(self.agent), copy.deepcopy(self.mixer)
        self.target_agent.requires_grad_(False)
        self.returns = OneStepTD(params.gamma)   #: the TD targets
        self.target_mixer.requires_grad_(False)
        self.opt = torch.optim.RMSprop(self.param_groups()["q"], lr=params.lr, alpha=params.optim_alpha,
                                       eps=params.optim_eps)

    @torch.no_grad()
    def act(self, obs, avail, *, deterministic: bool = False, rng: np.random.Generator | None = None,
            memory=None) -> Acted:
        """Greedy available actions, or epsilon-greedy (uniform over the available actions; ``rng`` draws)."""
        q, h, m = self._first_step(obs, avail, memory)
        a = q.masked_fill(~m, -torch.inf).argmax(-1).cpu().numpy()
        if not deterministic:
            if rng is None:
                raise ValueError("exploring actions need rng")
            a = self._explore(a, m.cpu().numpy(), rng)
        return self._acted(a, h)

    # ------------------------------------------------------------------ learning
    def _td(self, batch):
        p = self.params
        obs, avail, state = batch["obs"].to(self.device), batch["avail"].to(self.device), batch["state"].to(self.device)
        act, mask = batch["act"].to(self.device), batch["filled"].to(self.device).float()
        q = self._unroll(self.agent, obs)
        chosen = q[:, :-1].gather(-1, act.unsqueeze(-1)).squeeze(-1)
        q_tot = self.mixer(chosen, state[:, :-1])
        with torch.no_grad():
            tq = self._unroll(self.target_agent, obs)[:, 1:]
            if p.double_q:
                best = q[:, 1:].detach().masked_fill(~avail[:, 1:], -torch.inf).argmax(-1, keepdim=True)
                t_next = tq.gather(-1, best).squeeze(-1)
            else:
                t_next = tq.masked_fill(~avail[:, 1:], -torch.inf).max(-1).values
            y = self.returns(batch["reward"].to(self.device), batch["term"].to(self.device),
                             self.target_mixer(t_next, state[:, 1:]))
        err = (q_tot - y) * mask
        return (err ** 2).sum() / mask.sum(), q_tot, y, mask

    def losses(self, batch) -> dict:
        return {"q": self._td(batch)[0]}

    def update(self, batch, rng: np.random.Generator) -> dict:
        loss, q_tot, y, mask = self._td(batch)
        norm = gradient_step(self.opt, loss, self.param_groups()["q"], self.params.grad_norm_clip)
        self.updates += 1
        if self.updates % self.params.target_update_interval == 0:
            self.target_agent.load_state_dict(self.agent.state_dict())
            self.target_mixer.load_state_dict(self.mixer.state_dict())
        n = mask.sum()
        return {"q_loss": float(loss.detach()), "q_tot_mean": float((q_tot.detach() * mask).sum() / n),
                "target_mean": float((y * mask).sum() / n), "grad_norm": float(norm), "epsilon": self.epsilon()}

    def stat_names(self) -> list[str]:
        return ["q_loss", "q_tot_mean", "target_mean", "grad_norm", "epsilon"]

    def param_groups(self) -> dict:
        return {"q": [*self.agent.parameters(), *self.mixer.parameters()]}

    def target_params(self) -> list:
        return [*self.target_agent.parameters(), *self.target_mixer.parameters()]

    @torch.no_grad()
    def greedy_values(self, obs, avail) -> torch.Tensor:
        """Every agent's Q-values of its first step's observation, unavailable actions at -inf (for checks)."""
        q, _, m = self._first_step(obs, avail, self.initial_memory(obs[0].shape[0]))
        return q.masked_fill(~m, -torch.inf)
