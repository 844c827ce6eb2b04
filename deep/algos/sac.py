"""SAC (Haarnoja et al. 2018) as one centralised agent acting on the joint action: the paper's single-agent
baseline (Appendix H, Bi-DexHands).

The agent observes every agent's observation (concatenated) and draws the joint action from one policy:

* Box agents: one squashed Gaussian over the concatenated Box (each dimension keeps its own bounds);
* Discrete agents: one categorical over the joint action space ``A^1 x ... x A^n``, whose size must not exceed
  ``max_joint_actions`` (its output layer, and the exact expectations below, grow with it); a larger joint
  space, a mix of Box and Discrete agents, or MultiDiscrete agents are refused by name.  A joint action is
  available when every agent's part is.

Its optimum is the single-agent soft optimum of the joint action, ``pi(a|s) ∝ exp(Q*(s, a) / alpha)``, which is
not a product of per-agent policies in general (so there is no per-agent QRE gap: :meth:`temperature` is None).

One gradient update: the twin critics regress on the n-step soft target
(:class:`deep.algos.estimators.NStepReturn`) ``y = R - alpha L + disc * E_{a'~pi}[min Q_target(s', a') - alpha log pi(a'|o')]``; the actor minimises
``E_{a~pi}[alpha log pi(a|o) - min Q(s, a)]`` against the fixed critic (reparameterised for Box; for Discrete
both expectations are exact sums over the joint actions); the temperature, if tuned, minimises
``-log alpha (log pi + target entropy)``; Polyak averaging of the target critics.  The replay buffer keeps
per-agent actions; the joint log-probability is recorded in agent 0's column (the columns sum to it).
``precision="bf16"`` runs the actor's and critics' hidden layers under bf16 autocast, their output layers float32
(:class:`deep.nets.mlp.MLP`; :class:`~deep.algos.off_policy_base.OffPolicyParams`).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from gymnasium.spaces import Box, Discrete

from deep.config import flag, integer, number
from deep.envs.base import EnvSpec
from deep.nets.critics import TwinCritic, polyak_
from deep.nets.heads import make_actor
from deep.nets.mlp import set_precision
from deep.nets.optim import fused_adam, gradient_step

from .base import Acted, action_kind, register
from .off_policy_base import OffPolicyAlgorithm, OffPolicyParams, n_step_entropy_setting


@dataclass(frozen=True)
class SACParams(OffPolicyParams):
    """The common off-policy settings (:class:`~deep.algos.off_policy_base.OffPolicyParams`) and the
    temperature's.  Defaults: HASAC's (docs/settings.md common settings and MPE row), which the paper's SAC
    baseline is compared under; ``max_joint_actions`` is this project's limit."""

    alpha_lr: float = number(3e-4, "temperature's Adam learning rate (auto_alpha)", lo=0, lo_open=True)
    auto_alpha: bool = flag(True, "tune the temperature towards the target entropy")
    alpha: float = number(1.0, "initial temperature if auto_alpha, else the fixed temperature", lo=0, lo_open=True)
    n_step_entropy: bool = n_step_entropy_setting()
    target_entropy_fraction: float = number(0.1, "discrete target entropy = fraction * log(available joint actions)",
                                            lo=0, hi=1)   # HASAC's discrete temperature rule, docs/settings.md
    max_joint_actions: int = integer(256, "Discrete agents: the largest joint action space one categorical covers")


@register("sac")
class SAC(OffPolicyAlgorithm):
    supports = frozenset({"box", "discrete"})
    Params = SACParams
    state_parts = ("actor", "critic", "critic_target", "actor_opt", "critic_opt", "log_alpha", "alpha_opt",
                   "updates")

    def __init__(self, spec: EnvSpec, params: SACParams = SACParams(), *, device: str = "cpu"):
        super().__init__(spec, params, device=device)
        kinds = sorted({action_kind(s) for s in spec.action_spaces})
        if len(kinds) > 1:
            raise ValueError(f"sac draws one joint action: {spec.name} mixes {' and '.join(kinds)} agents")
        self.discrete = kinds == ["discrete"]
        if self.discrete:
            self.nvec = [int(s.n) for s in spec.action_spaces]
            n_joint = math.prod(self.nvec)  # a Python int: 35 ** 27 would overflow int64
            if n_joint > params.max_joint_actions:
                raise ValueError(f"sac on {spec.name}: the joint action space has {n_joint} actions "
                                 f"({' x '.join(map(str, self.nvec))}), more than algo.max_joint_actions="
                                 f"{params.max_joint_actions}")
            space = Discrete(n_joint)
        else:
            self.dims = [int(np.prod(s.shape)) for s in spec.action_spaces]
            space = Box(np.concatenate([np.ravel(s.low) for s in spec.action_spaces]),
                        np.concatenate([np.ravel(s.high) for s in spec.action_spaces]), dtype=np.float32)
        hidden = list(params.hidden)
        self.actor = set_precision(make_actor(sum(spec.obs_dims), space, hidden), params.precision).to(self.device)
        self.critic = TwinCritic(spec.state_dim, self.actor.rep_dim, hidden, params.precision).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = fused_adam(self.actor.parameters(), params.actor_lr)
        self.critic_opt = fused_adam(self.critic.parameters(), params.critic_lr)
        self.log_alpha = torch.tensor(float(np.log(params.alpha)), requires_grad=params.auto_alpha, device=self.device)
        self.alpha_opt = fused_adam([self.log_alpha], params.alpha_lr) if params.auto_alpha else None

    # ------------------------------------------------------------------ joint <-> per agent
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    def joint_obs(self, obs: Sequence) -> torch.Tensor:
        return torch.cat([self._t(o) for o in obs], -1)

    def joint_avail(self, avail: Sequence):
        """Discrete: the (B, |A|) mask of joint actions whose every part is available (None if no agent masks)."""
        if not self.discrete or all(m is None for m in avail):
            return None
        masks = [torch.ones(len(next(m for m in avail if m is not None)), k, dtype=torch.bool, device=self.device)
                 if m is None else self._t(m, torch.bool) for m, k in zip(avail, self.nvec)]
        joint = masks[0]
        for m in masks[1:]:
            joint = (joint[:, :, None] & m[:, None, :]).reshape(joint.shape[0], -1)
        return joint

    def split(self, joint: torch.Tensor) -> list[torch.Tensor]:
        """A joint action (stored form) as per-agent actions (stored form = what each agent's env takes)."""
        if self.discrete:
            return list(torch.unravel_index(joint, self.nvec))
        return list(torch.split(joint, self.dims, -1))

    def join(self, per_agent: Sequence[torch.Tensor]) -> torch.Tensor:
        """Inverse of :meth:`split`: the joint stored action (a joint index for Discrete agents)."""
        if self.discrete:
            idx = torch.zeros_like(per_agent[0], dtype=torch.long)
            for a, k in zip(per_agent, self.nvec):
                idx = idx * k + a.long()
            return idx
        return torch.cat(list(per_agent), -1)

    def _acted(self, s, n: int) -> Acted:
        env, stored = self.split(s.env.cpu()), self.split(s.stored.cpu())
        logp = [s.logp.cpu().numpy()] + [np.zeros(n, np.float32)] * (self.spec.n_agents - 1)
        return Acted([e.numpy() for e in env], [x.numpy() for x in stored], logp)

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs: Sequence[np.ndarray], avail: Sequence, *, deterministic: bool = False, rng=None) -> Acted:
        """A joint action drawn from pi (torch's generator), or its mean / argmax if ``deterministic``."""
        o, m = self.joint_obs(obs), self.joint_avail(avail)
        s = self.actor.act(o, m) if deterministic else self.actor.sample(o, m)
        return self._acted(s, o.shape[0])

    def random_act(self, avail: Sequence, num: int, rng: np.random.Generator) -> Acted:
        """Uniform warm-up joint actions over the available ones, with their log densities."""
        m = self.joint_avail(avail)
        return self._acted(self.actor.random(num, None if m is None else m.cpu().numpy(), rng), num)

    @torch.no_grad()
    def joint_action_probs(self, obs: Sequence, avail: Sequence | None = None) -> torch.Tensor:
        """``pi(a|o)`` over the joint actions (row-major in the agents' actions), shape (B, |A|); Discrete only."""
        if not self.discrete:
            raise ValueError("joint_action_probs needs Discrete agents")
        m = None if avail is None else self.joint_avail(avail)
        return self.actor.log_probs(self.joint_obs(obs), m).exp()

    # ------------------------------------------------------------------ losses
    def _all_joint(self, n_rows: int) -> torch.Tensor:
        """Every joint action's one-hot for each of ``n_rows`` rows: (n_rows * |A|, |A|)."""
        k = self.actor.n
        return torch.eye(k, device=self.device).expand(n_rows, k, k).reshape(n_rows * k, k)

    def critic_target_values(self, batch) -> torch.Tensor:
        """``y = R - alpha L + disc * E_{a'~pi}[min Q_target(s', a') - alpha log pi(a'|o')]``."""
        alpha = self.alpha()
        with torch.no_grad():
            o, m, s_next = torch.cat(batch["next_obs"], -1), self.joint_avail(batch["next_avail"]), batch["next_state"]
            if self.discrete:
                lp = self.actor.log_probs(o, m)
                B, K = lp.shape
                q = self.critic_target.min_q(s_next.repeat_interleave(K, 0), self._all_joint(B)).reshape(B, K)
                v = (lp.exp() * (q - alpha * lp)).sum(-1)
            else:
                s = self.actor.sample(o, m)
                v = self.critic_target.min_q(s_next, s.rep) - alpha * s.logp
            if self.params.n_step_entropy:
                return batch["reward_sum"] - alpha * batch["logp_sum"].sum(-1) + batch["disc"] * v
            return batch["reward_sum"] + batch["disc"] * v

    def critic_loss(self, batch) -> tuple[torch.Tensor, dict]:
        y = self.critic_target_values(batch)
        joint = self.actor.rep_of(self.join(batch["act"]))
        return self.critic.loss(batch["state"], joint, y, self.params.critic_loss, self.params.huber_delta)

    def actor_loss(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """``E_{a~pi}[alpha log pi(a|o) - min Q(s, a)]`` with the critic fixed; returns (loss, E[log pi])."""
        alpha = self.alpha()
        o, m = torch.cat(batch["obs"], -1), self.joint_avail(batch["avail"])
        features = self.critic.state_features(batch["state"])
        if self.discrete:
            lp = self.actor.log_probs(o, m)
            B, K = lp.shape
            q = self.critic.frozen_min_q([f.repeat_interleave(K, 0) for f in features],
                                         self._all_joint(B)).reshape(B, K)
            p = lp.exp()
            return (p * (alpha * lp - q)).sum(-1).mean(), (p * lp).sum(-1).mean()
        s = self.actor.sample(o, m)
        return (alpha * s.logp - self.critic.frozen_min_q(features, s.rep)).mean(), s.logp.mean()

    def target_entropy(self, avail: Sequence) -> float:
        """``-dim`` (Box), or the fraction of log(available joint actions), averaged over the batch."""
        te = self.actor.target_entropy(self.params.target_entropy_fraction, self.joint_avail(avail))
        return float(te.mean()) if torch.is_tensor(te) else float(te)

    def alpha_loss(self, mean_logp: torch.Tensor, avail: Sequence) -> torch.Tensor:
        return -self.log_alpha * (mean_logp.detach() + self.target_entropy(avail))

    def update(self, batch, rng: np.random.Generator) -> dict:
        t0 = time.perf_counter()
        loss, qstats = self.critic_loss(batch)
        gradient_step(self.critic_opt, loss)
        t1 = time.perf_counter()
        a_loss, mean_logp = self.actor_loss(batch)
        gradient_step(self.actor_opt, a_loss)
        if self.params.auto_alpha:
            gradient_step(self.alpha_opt, self.alpha_loss(mean_logp, batch["avail"]))
        polyak_(self.critic_target, self.critic, self.params.polyak)
        self.updates += 1
        out = {"critic_loss": float(loss.detach()), **{k: float(v.detach()) for k, v in qstats.items()},
               "actor_loss": float(a_loss.detach()), "entropy": -float(mean_logp.detach()), "alpha": float(self.alpha())}
        out["time_critic"], out["time_actors"] = t1 - t0, time.perf_counter() - t1
        return out

    def stat_names(self) -> list[str]:
        return ["time_critic", "time_actors", "critic_loss", "q1_mean", "q1_min", "q1_max", "target_mean",
                "actor_loss", "entropy", "alpha"]

    def losses(self, batch) -> dict[str, torch.Tensor]:
        out = {"critic": self.critic_loss(batch)[0]}
        out["actor"], mean_logp = self.actor_loss(batch)
        if self.params.auto_alpha:
            out["alpha"] = self.alpha_loss(mean_logp, batch["avail"])
        return out

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        groups = {"critic": list(self.critic.parameters()), "actor": list(self.actor.parameters())}
        if self.params.auto_alpha:
            groups["alpha"] = [self.log_alpha]
        return groups
