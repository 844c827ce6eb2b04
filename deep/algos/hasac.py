"""HASAC (docs/mathematics.md, "HASAC", eq. 9-10): twin centralised soft Q critics and actors improved one by one.

One gradient update (:meth:`HASAC.update`) is

1. joint soft policy evaluation, approximately: one step on the soft Bellman residual of both critics
   against the n-step target (:class:`deep.algos.estimators.NStepReturn`) with ``V(s') = min Q_target(s', a')
   - sum_i alpha_i log pi^i(a'^i|o'^i)``, ``a'`` fresh from the current actors (eq. 4-6, Lemma 4.1);
2. a fresh random permutation ``i_{1:n}``; agent ``i_m`` minimises eq. 10,
   ``E[alpha_i log pi^{i_m}(a^{i_m}|o) - min Q(s, a^{i_{1:m-1}}_new, a^{i_m}, a^{-i_{1:m}}_old)]``, where the
   already-updated agents' actions are re-sampled from their *new* policies (Proposition 1);
3. per-agent temperature steps (auto alpha: minimise ``-log alpha_i (log pi^i + target entropy)``): ``-dim`` in
   tanh units for Box agents (:mod:`deep.nets.heads`), ``target_entropy_fraction * log|A^i_avail|`` for discrete
   ones, 0.1 by default (the discrete temperature rule of docs/settings.md: the paper's 0.98 is nearly the
   uniform policy's entropy, which a learning policy stays below, so alpha grew without bound);
4. Polyak averaging of the target critics.

With ``value_norm`` (HARL ``use_valuenorm``, docs/settings.md's SMAC rows) the critics regress the targets in
running-normalised units (:class:`deep.nets.value_norm.ValueNorm`, the on-policy algorithms' normaliser):
as in the reference code's soft twin critic, each update first folds its batch of targets ``y`` (return units,
the target critic's output denormalised) into the running statistics, then regresses on ``normalize(y)``.
Everywhere else a critic value is used (bootstrap values, eq. 10) it is denormalised first, so targets,
temperatures and target entropies keep their meaning in return units.  The reference code's actors use the
*normalised* Q instead, which scales their temperature by ``std`` against the critic's (one more way its
actor and critic temperatures differ, docs/mathematics.md, the reference code's departures); this follows the paper.

For a Discrete agent, ``discrete_actor_loss="expected"`` takes eq. 10's expectation over the agent's own
action exactly (a sum over its available actions, the others having probability 0: unbiased and
noiseless); ``"gumbel"`` puts the straight-through Gumbel-softmax sample into the critic like the reference
code.  MultiDiscrete agents always use the latter.  With a sample, the entropy term ``alpha E[log pi]`` is
still taken in closed form (``Sample.mean_logp``): the log-probability of a sampled index has a zero-mean
gradient, so it would not regularise the policy at all (the entropy collapses while auto alpha grows without
bound).
The critic never receives gradient from actor losses (they see it through ``TwinCritic.frozen_min_q``, which
treats its parameters as constants) and actors never from the critic loss (their actions enter it detached);
targets are never trained.

``precision="bf16"`` runs every actor's and critic's hidden layers under bf16 autocast (deep/nets/mlp.py).  HASAC's
default is ``auto``, bf16 on a CPU with native bf16 (else fp32): it learns as well in bf16 as in fp32, in less
time (benchmarks/README.md, "Deep algorithms").  The agents' actors stay separate networks: eq. 10 updates them
one after another, so only the no-grad forward passes of the critic's targets could share one batched product,
which was slower than separate passes.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from deep.config import choice, flag, number, setting_like
from deep.envs.base import EnvSpec
from deep.nets.critics import TwinCritic, polyak_
from deep.nets.heads import CategoricalActor, make_actor
from deep.nets.mlp import set_precision
from deep.nets.optim import fused_adam, gradient_step
from deep.nets.value_norm import ValueNorm

from .base import Acted, register
from .off_policy_base import OffPolicyAlgorithm, OffPolicyParams, n_step_entropy_setting


@dataclass(frozen=True)
class HASACParams(OffPolicyParams):
    """HASAC's hyper-parameters (the config's ``algo`` section): the common off-policy ones
    (:class:`~deep.algos.off_policy_base.OffPolicyParams`, whose defaults are HASAC's) and the temperature's.
    Defaults: docs/settings.md, common settings and the MPE row (the paper's Table 8-10 / reference code's
    tuned configs)."""

    alpha_lr: float = number(3e-4, "temperatures' Adam learning rate (auto_alpha)", lo=0, lo_open=True)
    auto_alpha: bool = flag(True, "tune each agent's temperature towards its target entropy")
    alpha: float = number(1.0, "initial temperature if auto_alpha, else the fixed temperature", lo=0, lo_open=True)
    target_entropy_fraction: float = number(0.1, "discrete target entropy = fraction * log(available actions)",
                                            lo=0, hi=1)   # the discrete temperature rule, docs/settings.md
    share_params: bool = flag(False, "one actor network for all agents (needs equal spaces)")
    gumbel_tau: float = number(1.0, "Gumbel-softmax temperature of discrete actions", lo=0, lo_open=True)
    n_step_entropy: bool = n_step_entropy_setting()
    feature_norm: bool = flag(True, "LayerNorm on discrete actors' inputs (HARL use_feature_normalization: true)")
    discrete_actor_loss: str = choice("expected", "Discrete agents' eq. 10: exact expectation or Gumbel sample",
                                      "expected", "gumbel")
    value_norm: bool = flag(False, "ValueNorm: critics regress running-normalised targets (HARL use_valuenorm)")
    precision: str = setting_like(OffPolicyParams, "precision", "auto")   # shown to learn as well (docstring)


def _spaces_equal(a, b) -> bool:
    return type(a) is type(b) and a == b


def _add(first, *more):
    """The networkwise sum of tuples of tensors (the critic's first-layer parts, one tensor per network)."""
    return tuple(sum(ts[1:], ts[0]) for ts in zip(first, *more))


@register("hasac")
class HASAC(OffPolicyAlgorithm):
    Params = HASACParams
    state_parts = ("actors", "critic", "critic_target", "actor_opts", "critic_opt", "log_alpha", "alpha_opts",
                   "updates", "value_norm")
    state_renames = {"actors": "unique"}   # a shared network is saved once

    def __init__(self, spec: EnvSpec, params: HASACParams = HASACParams(), *, device: str = "cpu"):
        super().__init__(spec, params, device=device)
        n = spec.n_agents
        hidden = list(params.hidden)
        share = params.share_params
        if share and not (len(set(spec.obs_dims)) == 1 and
                          all(_spaces_equal(s, spec.action_spaces[0]) for s in spec.action_spaces)):
            raise ValueError("share_params needs every agent to have the same observation size and action space")
        first = make_actor(spec.obs_dims[0], spec.action_spaces[0], hidden, params.gumbel_tau, params.feature_norm)
        self.actors = [first if (share or i == 0) else make_actor(spec.obs_dims[i], spec.action_spaces[i], hidden,
                                                                  params.gumbel_tau, params.feature_norm)
                       for i in range(n)]
        self.unique = list({id(a): a for a in self.actors}.values())
        for a in self.unique:
            set_precision(a.to(self.device), params.precision)
        self.rep_dims = [a.rep_dim for a in self.actors]
        self.offsets = [int(k) for k in np.cumsum([0, *self.rep_dims[:-1]])]   #: agents' columns in the joint action
        self.critic = TwinCritic(spec.state_dim, sum(self.rep_dims), hidden, params.precision).to(self.device)
        self.critic_target = copy.deepcopy(self.critic)
        self.critic_target.requires_grad_(False)
        self.value_norm = ValueNorm().to(self.device) if params.value_norm else None
        self.actor_opts = [fused_adam(a.parameters(), params.actor_lr) for a in self.unique]
        self._opt_of = [next(k for k, u in enumerate(self.unique) if u is a) for a in self.actors]
        self.critic_opt = fused_adam(self.critic.parameters(), params.critic_lr)
        self.log_alpha = [torch.tensor(float(np.log(params.alpha)), requires_grad=params.auto_alpha,
                                       device=self.device) for _ in range(n)]
        self.alpha_opts = ([fused_adam([la], params.alpha_lr) for la in self.log_alpha]
                           if params.auto_alpha else [])
        self.target_entropy = [a.target_entropy(params.target_entropy_fraction) for a in self.actors]
        self.last_order: list[int] = []  #: the agent permutation of the last update

    # ------------------------------------------------------------------ helpers
    def alphas(self) -> torch.Tensor:
        return torch.stack([la.detach().exp() for la in self.log_alpha])

    def target_entropy_of(self, i: int, avail) -> float:
        """Agent ``i``'s target entropy on a batch: ``target_entropy[i]`` unless its mask ``avail`` removes
        actions, then the batch mean of the configured fraction of log(available actions) per state."""
        if avail is None or bool(avail.all()):
            return self.target_entropy[i]
        return float(self.actors[i].target_entropy(self.params.target_entropy_fraction, avail).mean())

    def _expected(self, i: int) -> bool:
        return isinstance(self.actors[i], CategoricalActor) and self.params.discrete_actor_loss == "expected"

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs: Sequence[np.ndarray], avail: Sequence, *, deterministic: bool = False, rng=None) -> Acted:
        """Every agent's action: a sample of pi^i (torch's generator), or its mean / argmax if ``deterministic``."""
        env_a, stored, logp = [], [], []
        for i, actor in enumerate(self.actors):
            o, m = self._t(obs[i]), self._t(avail[i], torch.bool)
            s = actor.act(o, m) if deterministic else actor.sample(o, m)
            env_a.append(s.env.cpu().numpy())
            stored.append(s.stored.cpu().numpy())
            logp.append(s.logp.cpu().numpy())
        return Acted(env_a, stored, logp)

    @torch.no_grad()
    def action_probs(self, agent: int, obs: torch.Tensor, avail: torch.Tensor | None = None) -> torch.Tensor:
        actor = self.actors[agent]
        if not isinstance(actor, CategoricalActor):
            raise ValueError(f"agent {agent}'s actor is not categorical")
        return actor.log_probs(obs.to(self.device), avail).exp()

    def temperature(self) -> float | None:
        if self.params.auto_alpha:
            return None
        return float(self.params.alpha)

    # ------------------------------------------------------------------ update
    def in_return_units(self, q: torch.Tensor) -> torch.Tensor:
        """A critic output in return units: ValueNorm undone (the identity without ValueNorm)."""
        return q if self.value_norm is None else self.value_norm.denormalize(q)

    def _next_value_terms(self, batch):
        """Fresh next actions (critic inputs) and sum_i alpha_i * (log pi^i or -H^i for discrete agents)."""
        alphas = self.alphas()
        reps, ent = [], 0.0
        for i, actor in enumerate(self.actors):
            o, m = batch["next_obs"][i], batch["next_avail"][i]
            s = actor.sample(o, m)
            reps.append(s.rep)
            ent = ent + alphas[i] * s.entropy_logp()  # discrete: the exact E[log pi] = -H
        return torch.cat(reps, -1), ent

    def critic_target_values(self, batch) -> torch.Tensor:
        """``y = R + disc * (min Q_target(s', a') - sum_i alpha_i log pi^i(a'^i|o'^i))``, in return units
        (``min Q_target`` denormalised with ValueNorm), minus ``sum_i alpha_i L_i`` (the intermediate actions'
        discounted log-probabilities) if ``n_step_entropy``."""
        with torch.no_grad():
            joint, ent = self._next_value_terms(batch)
            v_next = self.in_return_units(self.critic_target.min_q(batch["next_state"], joint)) - ent
            if self.params.n_step_entropy:
                return batch["reward_sum"] - batch["logp_sum"] @ self.alphas() + batch["disc"] * v_next
            return batch["reward_sum"] + batch["disc"] * v_next

    def critic_loss(self, batch, y: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """Both critics' regression loss to the targets ``y`` (return units; computed here if not given),
        normalised first with ValueNorm; the statistics of Q1 and of the targets are in return units."""
        if y is None:
            y = self.critic_target_values(batch)
        joint = torch.cat([a.rep_of(act) for a, act in zip(self.actors, batch["act"])], -1)
        if self.value_norm is None:
            return self.critic.loss(batch["state"], joint, y, self.params.critic_loss, self.params.huber_delta)
        loss, stats = self.critic.loss(batch["state"], joint, self.value_norm.normalize(y), self.params.critic_loss,
                                       self.params.huber_delta)
        return loss, {k: self.value_norm.denormalize(v.detach()) for k, v in stats.items()}

    def _context(self, total, part) -> tuple[torch.Tensor, ...]:
        """Each critic network's first-layer pre-activation without one agent's action: ``total`` (from the
        state and every agent's action) less that agent's ``part`` (:meth:`TwinCritic.action_features`)."""
        return tuple(t - p for t, p in zip(total, part))

    def actor_loss(self, i: int, batch, reps: list, own=None, context=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 10 for agent ``i`` with the other agents' actions ``reps``; returns (loss, E[log pi^i]).

        ``own``: agent i's sample, if already drawn (with its graph) from its current policy.
        ``context``: :meth:`_context` of the batch's states and ``reps``, if already computed.  The critic is
        held fixed (:meth:`TwinCritic.frozen_min_q`): no gradient reaches its parameters.
        """
        actor, alpha = self.actors[i], self.alphas()[i]
        o, m = batch["obs"][i], batch["avail"][i]
        if context is None:
            parts = [self.critic.action_features(r, k) for r, k in zip(reps, self.offsets)]
            context = self._context(_add(self.critic.state_features(batch["state"]), *parts), parts[i])
        if self._expected(i):
            lp = actor.log_probs(o, m) if own is None else own.log_probs
            if m is None or bool(m.all()):
                q = self.in_return_units(self.critic.min_q_each_action(context, self.offsets[i], lp.shape[1]))
            else:
                # the sum over i's actions needs the critic at the available ones only: the others have
                # probability exactly 0 (their logits are masked), so their terms are 0 whatever Q there
                rows, acts = m.nonzero(as_tuple=True)
                q = torch.zeros_like(lp)
                q[rows, acts] = self.in_return_units(self.critic.frozen_min_q(
                    [c[rows] for c in context], F.one_hot(acts, lp.shape[1]).to(lp.dtype), self.offsets[i]))
            p = lp.exp()
            loss = (p * (alpha * lp - q)).sum(-1).mean()
            return loss, (p * lp).sum(-1).mean()
        s = actor.sample(o, m) if own is None else own
        logp = s.entropy_logp()  # Gumbel: the entropy term in closed form
        q = self.critic.frozen_min_q(context, s.rep, self.offsets[i])
        loss = (alpha * logp - self.in_return_units(q)).mean()
        return loss, logp.mean()

    def alpha_loss(self, i: int, mean_logp: torch.Tensor, avail) -> torch.Tensor:
        """Agent ``i``'s temperature loss ``-log alpha_i (E[log pi^i] + target entropy)``."""
        return -(self.log_alpha[i] * (mean_logp.detach() + self.target_entropy_of(i, avail)))

    def update(self, batch, rng: np.random.Generator) -> dict:
        """One HASAC gradient update; ``rng`` draws the permutation.  Returns statistics and timings."""
        t0 = time.perf_counter()
        y = self.critic_target_values(batch)
        if self.value_norm is not None:                 # the reference code: statistics first, then normalise
            self.value_norm.update(y)
        loss, qstats = self.critic_loss(batch, y)       # 1. soft Bellman residual, eq. 4-6
        gradient_step(self.critic_opt, loss)
        t1 = time.perf_counter()

        stats = {"critic_loss": loss.detach(), **{k: v.detach() for k, v in qstats.items()}}
        perm = [int(i) for i in rng.permutation(self.n_agents)]   # 2. a fresh order i_{1:n} (Algorithm 1)
        # a ~ pi_old for every agent.  An agent's parameters do not change before its own turn, so its
        # sample, drawn now with its graph, also gives its loss's reparameterised action or log-probabilities
        # (unless the network is shared and updated by an earlier agent).  The critic's first layer is linear
        # in the joint action: its pre-activation (``total``) is the state's part plus each agent's, and an
        # agent's part is recomputed only when its action changes.
        own, reps, parts = {}, [], []
        for i, actor in enumerate(self.actors):
            reusable = not self.params.share_params or i == perm[0]
            with torch.set_grad_enabled(reusable):
                s = actor.sample(batch["obs"][i], batch["avail"][i])
            own[i] = s if reusable else None
            reps.append(s.rep.detach())
            parts.append(self.critic.action_features(reps[i], self.offsets[i]))
        total = _add(self.critic.state_features(batch["state"]), *parts)
        for m, i in enumerate(perm):
            context = self._context(total, parts[i])
            a_loss, mean_logp = self.actor_loss(i, batch, reps, own[i], context)   # eq. 10 for agent i_m
            gradient_step(self.actor_opts[self._opt_of[i]], a_loss)
            if self.params.auto_alpha:                  # 3. temperature towards the target entropy
                gradient_step(self.alpha_opts[i], self.alpha_loss(i, mean_logp, batch["avail"][i]))
            if m + 1 < len(perm):
                with torch.no_grad():  # eq. 10: later agents see i's action from its new policy
                    reps[i] = self.actors[i].sample(batch["obs"][i], batch["avail"][i]).rep
                parts[i] = self.critic.action_features(reps[i], self.offsets[i])
                total = _add(context, parts[i])
            stats[f"actor_loss/{i}"] = a_loss.detach()
            stats[f"entropy/{i}"] = -mean_logp.detach()
        polyak_(self.critic_target, self.critic, self.params.polyak)   # 4. Polyak targets
        t2 = time.perf_counter()
        self.updates += 1
        out = {k: float(v) for k, v in stats.items()}
        for i, al in enumerate(self.alphas().tolist()):
            out[f"alpha/{i}"] = al
        out["time_critic"], out["time_actors"] = t1 - t0, t2 - t1
        self.last_order = perm
        return out

    def stat_names(self) -> list[str]:
        n = self.n_agents
        return (["time_critic", "time_actors", "critic_loss", "q1_mean", "q1_min", "q1_max", "target_mean"]
                + [f"{k}/{i}" for k in ("actor_loss", "alpha", "entropy") for i in range(n)])

    # ------------------------------------------------------------------ named losses (for the isolation test)
    def losses(self, batch) -> dict[str, torch.Tensor]:
        """The critic loss (eq. 4-6), each agent's eq. 10 loss against the current critic with the other
        agents' actions sampled from their current policies, and (auto_alpha) each temperature's loss."""
        out = {"critic": self.critic_loss(batch)[0]}
        with torch.no_grad():
            reps = [a.sample(batch["obs"][i], batch["avail"][i]).rep for i, a in enumerate(self.actors)]
        for i in range(self.n_agents):
            loss, mean_logp = self.actor_loss(i, batch, reps)
            out[f"actor/{i}"] = loss
            if self.params.auto_alpha:
                out[f"alpha/{i}"] = self.alpha_loss(i, mean_logp, batch["avail"][i])
        return out

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        groups = {"critic": list(self.critic.parameters())}
        groups.update({f"actor/{i}": list(a.parameters()) for i, a in enumerate(self.actors)})
        if self.params.auto_alpha:
            groups.update({f"alpha/{i}": [la] for i, la in enumerate(self.log_alpha)})
        return groups
