r"""FOP (Zhang et al., ICML 2021): factorising the optimal joint policy of maximum-entropy MARL.

The joint soft-optimal policy ``pi_jt(a|s) = exp((Q_tot(s, a) - V_tot(s)) / alpha)`` factorises into individual
policies ``pi^i(a_i|tau_i) = exp((Q_i(tau_i, a_i) - V_i(tau_i)) / alpha_i)`` when the joint soft Q-function is
mixed as (the paper's IGO condition and its factorisation)

    Q_tot(s, a) = sum_i lambda_i(s, a) [Q_i(tau_i, a_i) - V_i(tau_i)] + V_tot(s),   lambda_i = alpha / alpha_i > 0,

with ``V_i = alpha_i log sum_{a_i} exp(Q_i / alpha_i)``: the non-negative weights are the ratios of the joint
temperature to the per-agent temperatures.  As in the reference code (github.com/liyheng/FOP, a pymarl fork):

- Agents: one GRU policy network shared by every agent (:mod:`deep.algos._recurrent_agents`), softmax over the
  available actions; acting samples from it, with probability epsilon an available action uniformly
  (pymarl's ``multinomial`` selector), evaluation takes the most probable action (``test_greedy``).
- Per-agent soft critics ``Q_i``: an MLP (64, 64) of the observation and the one-hot agent id, shared by the
  agents, twice (twin critics, each with its own mixer; the minimum is used in targets and in the actor loss).
- Mixer: ``Q_tot = sum_i Q_i + V(s) + sum_i (lambda_i - 1) sg[Q_i - V_i]`` (``sg``: stop-gradient), equal to
  the factorised form above with ``V_tot = sum_i V_i + V(s)``; ``lambda_i(s, a) = sum_h |k_h(s)|
  sigmoid(w_h(s))_i sigmoid(u_h(s, a))_i`` over ``n_head`` heads (linear ``k, w`` of the state, ``u`` of the
  state and the joint one-hot action), so every weight is non-negative and state (and action) dependent;
  ``V(s)`` is a 2-layer MLP of the state.  ``V_i`` is computed with the common temperature ``alpha``, as the
  reference code does: the per-agent temperatures ``alpha_i = alpha / lambda_i`` are carried by the weights.
- Critic target: a soft TD(lambda) return, ``G_t = r_t + gamma (1 - term_t) [(1 - l) U_{t+1} + l (G_{t+1} -
  alpha sum_i log pi^i(a_{t+1}))]`` with ``U_{t+1} = min_k Q_tot^{k-}(s_{t+1}, a') - alpha sum_i log pi^i(a'_i)``,
  ``a' ~ pi`` sampled (the last step of an episode bootstraps from ``U`` alone, a truncated one from its final
  observation).  Departure from the reference code, which adds the mean (not the sum) of the agents' entropy
  bonuses once, undiscounted and after the lambda-return, and drops the intermediate entropy terms: the form
  here is the soft Bellman target of the joint policy ``prod_i pi^i``.
- Actor loss (discrete SAC): ``E_t sum_i sum_{a_i} pi^i(a_i) (alpha log pi^i(a_i) - min_k Q_i^k(a_i))`` averaged
  over agents and filled steps, so ``pi^i ∝ exp(Q_i / alpha)`` at its minimum.
- Temperature: ``alpha = max(0.05, 0.5 - t / 200000)`` over environment steps ``t`` (the reference code's
  ``fop_learner.py``), i.e. linear from 0.5 to 0.05 over 90,000 steps; fixed if start = finish.
- Targets: hard copies every ``target_update_interval`` updates (200, pymarl's, counted there in episodes
  with one update per episode).  Optimisers: RMSprop (lr 5e-4 for actor and critics, alpha 0.99, eps 1e-5),
  gradient norms clipped at 10.
Three further departures from the reference learner (``fop_learner.py``, ``basic_controller.py``), kept because
each follows FOP's own objective more closely; none has been measured against the reference on SMAC:

- the actor loss and the entropy terms use the policy ``pi`` itself; the reference trains on its exploration
  mixture ``(1 - epsilon) pi + epsilon / |A|`` (pymarl's epsilon floor), whose gradient with respect to ``pi``
  is scaled by ``1 - epsilon``, nearly 0 while epsilon is near 1 early in training;
- ``V_i`` is a log-sum-exp over the agent's *available* actions (the soft value of the masked policy); the
  reference sums over every action, unavailable ones included;
- training starts once ``batch_size`` (32) episodes are stored; the reference waits for 100.

Defaults: the reference code's ``src/config/algs/fop.yaml`` (lr, c_lr, td_lambda 0.8, mixing_embed_dim 32,
n_head 4, epsilon 1.0 -> 0.05 over 50,000 steps, target_update_interval 200, buffer_size 5000) and
``src/config/default.yaml`` (gamma 0.99, batch 32 episodes, rnn_hidden_dim 64, RMSprop alpha / eps, clip 10);
the critic width 64 is hard-coded in its ``modules/critics/fop.py``.  These are the settings of the paper's
SMAC experiments (one configuration for every map).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deep.config import integer, number
from deep.envs.base import EnvSpec
from deep.nets.mlp import mlp, set_precision
from deep.nets.optim import gradient_step

from ._recurrent_agents import RecurrentAgents, RecurrentParams
from .base import Acted, register
from .estimators import SoftTDLambda

#: logit of an unavailable action: finite, so that ``pi * log pi`` is an exact 0 with a finite gradient
MASKED_LOGIT = -1e10


@dataclass(frozen=True)
class FOPParams(RecurrentParams):
    """FOP's hyper-parameters; defaults from the reference code (module docstring); ``precision``:
    :class:`~deep.algos._recurrent_agents.RecurrentParams`."""

    rnn_hidden: int = integer(64, "GRU units of the policy network (pymarl rnn_hidden_dim)")
    critic_hidden: int = integer(64, "units of each of the critic MLP's two hidden layers (FOPCritic's 64)")
    mixing_embed: int = integer(32, "hidden units of the mixer's state value V(s) (FOP mixing_embed_dim)")
    n_head: int = integer(4, "heads of the mixing weights lambda_i(s, a) (FOP n_head)")
    lr: float = number(5e-4, "RMSprop learning rate of the policy (FOP lr)", lo=0, lo_open=True)
    critic_lr: float = number(5e-4, "RMSprop learning rate of the critics and mixers (FOP c_lr)", lo=0, lo_open=True)
    td_lambda: float = number(0.8, "lambda of the soft TD(lambda) critic target (FOP td_lambda)", lo=0, hi=1)
    alpha_start: float = number(0.5, "entropy temperature at the start (FOP: 0.5)", lo=0, lo_open=True)
    alpha_finish: float = number(0.05, "entropy temperature after annealing (FOP: 0.05)", lo=0, lo_open=True)
    alpha_anneal_steps: int = integer(90_000, "environment steps of linear temperature annealing (FOP: 0.5 - t/2e5)",
                                      minimum=0)
    epsilon_start: float = number(1.0, "probability of a uniform available action at the start", lo=0, hi=1)
    epsilon_finish: float = number(0.05, "probability of a uniform available action after annealing", lo=0, hi=1)


class FOPMixer(nn.Module):
    """``Q_tot`` from the agents' chosen soft values, their soft state values and non-negative weights."""

    def __init__(self, n_agents: int, n_actions: int, state_dim: int, embed: int, n_head: int):
        super().__init__()
        self.n, self.heads = n_agents, n_head
        self.key = nn.Linear(state_dim, n_head)
        self.agents = nn.Linear(state_dim, n_head * n_agents)
        self.action = nn.Linear(state_dim + n_agents * n_actions, n_head * n_agents)
        self.v = mlp(state_dim, [embed], 1)

    def weights(self, state, joint_action):
        """``lambda_i(s, a) >= 0``: (..., S) states, (..., n * A) joint one-hot actions -> (..., n)."""
        heads = (*state.shape[:-1], self.heads, self.n)
        agents = torch.sigmoid(self.agents(state)).view(heads)
        action = torch.sigmoid(self.action(torch.cat([state, joint_action], -1))).view(heads)
        return (self.key(state).abs().unsqueeze(-1) * agents * action).sum(-2)

    def forward(self, q_chosen, v_agents, state, joint_action):
        """(..., n) chosen ``Q_i``, (..., n) ``V_i``, states and joint actions -> ``Q_tot`` (...)."""
        lam = self.weights(state, joint_action)
        adv = (q_chosen - v_agents).detach()
        return q_chosen.sum(-1) + self.v(state).squeeze(-1) + ((lam - 1) * adv).sum(-1)


class SoftCritic(nn.Module):
    """Every agent's soft Q-values from its observation and one-hot id; a mixer makes ``Q_tot`` of them."""

    def __init__(self, in_dim: int, hidden: int, n_agents: int, n_actions: int, state_dim: int, embed: int,
                 n_head: int):
        super().__init__()
        self.q = mlp(in_dim, [hidden, hidden], n_actions)
        self.mixer = FOPMixer(n_agents, n_actions, state_dim, embed, n_head)


@register("fop")
class FOP(RecurrentAgents):
    Params = FOPParams
    state_parts = ("agent", "critics", "target_critics", "actor_opt", "critic_opts", "act_steps", "updates")

    def __init__(self, spec: EnvSpec, params: FOPParams = FOPParams(), *, device: str = "cpu"):
        super().__init__(spec, params, device=device)
        p = params
        self.agent = self.agent_net()
        self.critics = set_precision(nn.ModuleList(
            SoftCritic(self.D + self.n, p.critic_hidden, self.n, self.A, spec.state_dim, p.mixing_embed, p.n_head)
            for _ in range(2)), p.precision).to(self.device)
        self.target_critics = copy.deepcopy(self.critics).requires_grad_(False)
        self.returns = SoftTDLambda(p.gamma, p.td_lambda)   #: the critics' targets
        self.actor_opt = torch.optim.RMSprop(self.agent.parameters(), lr=p.lr, alpha=p.optim_alpha, eps=p.optim_eps)
        # one optimiser per critic (as the reference code): each critic's loss is clipped on its own
        self.critic_opts = [torch.optim.RMSprop(c.parameters(), lr=p.critic_lr, alpha=p.optim_alpha, eps=p.optim_eps)
                            for c in self.critics]

    # ------------------------------------------------------------------ acting
    def alpha(self) -> float:
        """The joint temperature at the current environment step (linear annealing)."""
        p = self.params
        frac = min(self.act_steps / p.alpha_anneal_steps, 1.0) if p.alpha_anneal_steps else 1.0
        return p.alpha_start + frac * (p.alpha_finish - p.alpha_start)

    @torch.no_grad()
    def act(self, obs, avail, *, deterministic: bool = False, rng: np.random.Generator | None = None,
            memory=None) -> Acted:
        """The most probable available action, or a sample of the policy (epsilon: uniform available action)."""
        logits, h, m = self._first_step(obs, avail, memory)
        probs = torch.softmax(logits.masked_fill(~m, MASKED_LOGIT), -1).double().cpu().numpy()
        if deterministic:
            return self._acted(probs.argmax(-1), h)
        if rng is None:
            raise ValueError("exploring actions need rng")
        cdf = np.cumsum(probs, -1)
        a = np.minimum((cdf < rng.random(probs.shape[:-1])[..., None] * cdf[..., -1:]).sum(-1), self.A - 1)
        return self._acted(self._explore(a, m.cpu().numpy(), rng), h)

    def _policy(self, obs, avail):
        """``pi`` and ``log pi`` over whole episodes, (B, L+1, n, A), unavailable actions at probability 0."""
        logp = torch.log_softmax(self._unroll(self.agent, obs).masked_fill(~avail, MASKED_LOGIT), -1)
        return logp.exp(), logp

    def _soft_values(self, q, avail, alpha):
        """``V_i = alpha log sum_{available a} exp(Q_i(a) / alpha)``."""
        return alpha * torch.logsumexp(q.masked_fill(~avail, -torch.inf) / alpha, -1)

    def _joint(self, act):
        """(..., n) actions -> (..., n * A) joint one-hot."""
        return nn.functional.one_hot(act, self.A).flatten(-2).float()

    # ------------------------------------------------------------------ learning
    def _batch(self, batch):
        return {k: v.to(self.device) for k, v in batch.items()}

    def _targets(self, b, gen: torch.Generator):
        """The soft TD(lambda) returns ``G_t`` (B, L) (module docstring)."""
        alpha = self.alpha()
        obs, avail, state, act = b["obs"], b["avail"], b["state"], b["act"]
        inputs = self._inputs(obs)
        with torch.no_grad():
            pi, logp = self._policy(obs, avail)
            B, L1 = pi.shape[:2]
            nxt = torch.multinomial(pi.reshape(-1, self.A), 1, generator=gen).view(B, L1, self.n)
            ent_sampled = -alpha * logp.gather(-1, nxt.unsqueeze(-1)).squeeze(-1).sum(-1)          # (B, L+1)
            u = []
            for c in self.target_critics:
                q = c.q(inputs)
                u.append(c.mixer(q.gather(-1, nxt.unsqueeze(-1)).squeeze(-1), self._soft_values(q, avail, alpha),
                                 state, self._joint(nxt)))
            u = (torch.minimum(*u) + ent_sampled)[:, 1:]                                           # U_{t+1}
            ent_taken = -alpha * logp[:, 1:-1].gather(-1, act[:, 1:].unsqueeze(-1)).squeeze(-1).sum(-1)
            return self.returns(b["reward"], b["term"], b["filled"], u, ent_taken)

    def _critic_losses(self, b, gen: torch.Generator):
        """Each critic's masked squared TD(lambda) error, and its ``Q_tot``, the target and the mask."""
        y = self._targets(b, gen)
        obs, avail, state, act = b["obs"], b["avail"], b["state"], b["act"]
        mask = b["filled"].float()
        inputs, alpha = self._inputs(obs[:, :-1]), self.alpha()
        losses, q_tots = [], []
        for c in self.critics:
            q = c.q(inputs)
            q_tot = c.mixer(q.gather(-1, act.unsqueeze(-1)).squeeze(-1), self._soft_values(q, avail[:, :-1], alpha),
                            state[:, :-1], self._joint(act))
            losses.append((((q_tot - y) * mask) ** 2).sum() / mask.sum())
            q_tots.append(q_tot)
        return losses, q_tots[0], y, mask

    def _actor_loss(self, b):
        obs, avail = b["obs"][:, :-1], b["avail"][:, :-1]
        alpha, mask = self.alpha(), b["filled"].float()
        logits = self._unroll(self.agent, b["obs"])[:, :-1]
        logp = torch.log_softmax(logits.masked_fill(~avail, MASKED_LOGIT), -1)
        pi = logp.exp()
        with torch.no_grad():
            q = torch.minimum(*(c.q(self._inputs(obs)) for c in self.critics))
        per_agent = (pi * (alpha * logp - q)).masked_fill(~avail, 0.0).sum(-1).mean(-1)          # (B, L)
        entropy = -(pi.detach() * logp.detach()).masked_fill(~avail, 0.0).sum(-1).mean(-1)
        return (per_agent * mask).sum() / mask.sum(), float((entropy * mask).sum() / mask.sum())

    def losses(self, batch) -> dict:
        b = self._batch(batch)
        critic, _, _, _ = self._critic_losses(b, torch.Generator(device=self.device).manual_seed(0))
        return {"actor": self._actor_loss(b)[0], "critic": sum(critic)}

    def update(self, batch, rng: np.random.Generator) -> dict:
        p, b = self.params, self._batch(batch)
        actor_loss, entropy = self._actor_loss(b)
        actor_norm = gradient_step(self.actor_opt, actor_loss, self.agent.parameters(), p.grad_norm_clip)

        gen = torch.Generator(device=self.device).manual_seed(int(rng.integers(2 ** 63)))
        critic_losses, q_tot, y, mask = self._critic_losses(b, gen)
        norms = []
        for loss, c, opt in zip(critic_losses, self.critics, self.critic_opts):
            norms.append(float(gradient_step(opt, loss, c.parameters(), p.grad_norm_clip)))
        self.updates += 1
        if self.updates % p.target_update_interval == 0:
            self.target_critics.load_state_dict(self.critics.state_dict())
        n = mask.sum()
        with torch.no_grad():
            lam = self.critics[0].mixer.weights(b["state"][:, :-1], self._joint(b["act"]))
        return {"actor_loss": float(actor_loss.detach()), "critic_loss": float(critic_losses[0].detach()),
                "q_tot_mean": float((q_tot.detach() * mask).sum() / n), "target_mean": float((y * mask).sum() / n),
                "lambda_mean": float((lam.mean(-1) * mask).sum() / n), "entropy": entropy,
                "actor_grad_norm": float(actor_norm), "critic_grad_norm": norms[0], "alpha": self.alpha(),
                "epsilon": self.epsilon()}

    def stat_names(self) -> list[str]:
        return ["actor_loss", "critic_loss", "q_tot_mean", "target_mean", "lambda_mean", "entropy",
                "actor_grad_norm", "critic_grad_norm", "alpha", "epsilon"]

    def param_groups(self) -> dict:
        return {"actor": list(self.agent.parameters()), "critic": list(self.critics.parameters())}

    def target_params(self) -> list:
        return list(self.target_critics.parameters())

    # ------------------------------------------------------------------ the engine's view
    def action_probs(self, agent: int, obs: torch.Tensor, avail: torch.Tensor | None = None) -> torch.Tensor:
        """``pi^agent(.|o)`` at an episode's first step (zero memory), for (B, obs_dim) observations."""
        obs = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        stacked = torch.zeros(obs.shape[0], self.n, self.D, device=self.device)
        stacked[:, agent, :obs.shape[1]] = obs
        with torch.no_grad():
            logits, _ = self._step(self.agent, stacked, self.initial_memory(obs.shape[0]))
        k = self.n_actions[agent]
        m = torch.zeros(obs.shape[0], self.A, dtype=torch.bool, device=self.device)
        m[:, :k] = True if avail is None else torch.as_tensor(avail, dtype=torch.bool, device=self.device)
        return torch.softmax(logits[:, agent].masked_fill(~m, MASKED_LOGIT), -1)[:, :k]

    def temperature(self) -> float | None:
        """``alpha`` if it is fixed and episodes last one step (a recurrent policy is Markov only then)."""
        p = self.params
        return p.alpha_start if p.alpha_start == p.alpha_finish and self.spec.episode_limit == 1 else None
