"""What MAPPO, HAPPO, HATRPO and PPO share: policies, the centralised ``V(s)`` critic and its loss, GAE
advantages, minibatches and the PPO-clip surrogate.

One update (:meth:`OnPolicyAlgorithm.update`) on a finished rollout (:class:`deep.storage.rollout.RolloutBatch`):

1. advantages normalised over the batch (``(A - mean) / (std + 1e-5)``, as the reference code);
2. the actors' phase, the one thing each algorithm defines (:meth:`update_actors`), built from
   :meth:`clipped_surrogate` (``E[M * min(rho A, clip(rho, 1 +- eps) A)]``, eq. 13 of the paper with ``M`` the
   heterogeneous-agent factor) or, for HATRPO, a trust-region step;
3. ``critic_epochs`` passes of minibatch steps on the value loss: Huber (delta 10) or squared error against the
   returns, optionally in ValueNorm units and with the value clipping of the reference code
   ``max(l(V - R), l(V_old + clip(V - V_old, +-eps) - R))``.

Actions are sampled with torch's global generator (seeded by the run's seeding streams, saved in checkpoints).
Defaults and their sources are in ``deep/configs/algos/<algo>.yaml``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from deep.envs.base import EnvSpec
from deep.nets.distributions import ValueCritic, ValueNorm, make_policy

ADV_EPS = 1e-5  #: added to the advantages' std when normalising them (reference code)


@dataclass
class Acted:
    env_actions: list
    stored: list
    log_prob: list | None
    value: np.ndarray | None


@dataclass(frozen=True)
class OnPolicyParams:
    """Hyper-parameters every on-policy algorithm has (descriptions and sources in the algos YAMLs)."""

    hidden: tuple = (128, 128)
    feature_norm: bool = True
    actor_lr: float = 5e-4
    critic_lr: float = 5e-4
    adam_eps: float = 1e-5
    gamma: float | None = 0.99
    gae_lambda: float = 0.95
    rollout_length: int = 200
    normalize_advantage: bool = True
    critic_epochs: int = 5
    critic_minibatches: int = 1
    clip: float = 0.2
    value_clip: bool = True
    value_loss: str = "huber"
    huber_delta: float = 10.0
    value_norm: bool = True
    max_grad_norm: float = 10.0
    init_std: float = 0.3655
    share_params: bool = False

    def __post_init__(self):
        checks = [("hidden", len(self.hidden) > 0 and all(int(h) > 0 for h in self.hidden), "positive sizes"),
                  ("gae_lambda", 0.0 <= self.gae_lambda <= 1.0, "in [0, 1]"),
                  ("clip", 0.0 < self.clip < 1.0, "in (0, 1)"),
                  ("value_loss", self.value_loss in ("huber", "mse"), "huber or mse"),
                  ("rollout_length", self.rollout_length >= 1, ">= 1"),
                  ("critic_epochs", self.critic_epochs >= 1, ">= 1"),
                  ("critic_minibatches", self.critic_minibatches >= 1, ">= 1"),
                  ("init_std", self.init_std > 0, "> 0")]
        for name, ok, what in checks:
            if not ok:
                raise ValueError(f"{name} must be {what}, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class PPOClipParams(OnPolicyParams):
    ppo_epochs: int = 5
    actor_minibatches: int = 1
    entropy_coef: float = 0.01


def minibatches(n: int, k: int, rng: np.random.Generator) -> list[torch.Tensor]:
    """A random permutation of ``range(n)`` cut into ``k`` nearly equal parts (index tensors)."""
    if k > n:
        raise ValueError(f"cannot cut {n} samples into {k} minibatches")
    return [torch.as_tensor(part) for part in np.array_split(rng.permutation(n), k)]


def same_spaces(spec: EnvSpec) -> bool:
    """Whether every agent has the same observation size and action space (parameter sharing possible)."""
    a0 = spec.action_spaces[0]
    return len(set(spec.obs_dims)) == 1 and all(type(a) is type(a0) and a == a0 for a in spec.action_spaces)


class OnPolicyAlgorithm:
    """Base of the likelihood-ratio algorithms; subclasses define :meth:`update_actors`."""

    on_policy = True
    supports = frozenset({"box", "discrete", "multidiscrete"})
    shares = True  #: whether ``share_params`` is allowed (simultaneous updates only)

    def __init__(self, spec: EnvSpec, params: OnPolicyParams, *, device: str = "cpu"):
        self.spec, self.p, self.device = spec, params, torch.device(device)
        if params.share_params and not self.shares:
            raise ValueError(f"{self.name} updates agents one by one; share_params is not allowed")
        if params.share_params and not same_spaces(spec):
            raise ValueError("share_params needs every agent to have the same observation size and action space")
        self.policies = self.build_policies()
        self.unique = list({id(p): p for p in self.policies}.values())
        self._opt_of = [next(k for k, u in enumerate(self.unique) if u is p) for p in self.policies]
        hidden = list(params.hidden)
        self.critic = ValueCritic(spec.state_dim, hidden, params.feature_norm).to(self.device)
        self.value_norm = ValueNorm().to(self.device) if params.value_norm else None
        self.actor_opts = [torch.optim.Adam(u.parameters(), lr=params.actor_lr, eps=params.adam_eps)
                           for u in self.unique]
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=params.critic_lr, eps=params.adam_eps)
        self.updates = 0

    # ------------------------------------------------------------------ policies and their inputs
    def build_policies(self) -> list:
        """One policy per agent (the same object for every agent when parameters are shared)."""
        s, hidden = self.spec, list(self.p.hidden)
        first = make_policy(s.obs_dims[0], s.action_spaces[0], hidden, self.p.feature_norm, self.p.init_std)
        return [first if (i == 0 or self.p.share_params) else
                make_policy(s.obs_dims[i], s.action_spaces[i], hidden, self.p.feature_norm, self.p.init_std)
                for i in range(s.n_agents)]

    def policy_inputs(self, obs: Sequence, avail: Sequence) -> list[tuple]:
        """``(obs, avail)`` tensors of each policy (here: each agent's own)."""
        return [(self._t(o), self._t(m, torch.bool)) for o, m in zip(obs, avail)]

    def policy_actions(self, actions: Sequence, log_prob: torch.Tensor) -> list[tuple]:
        """Each policy's stored actions and their old log-probabilities (here: each agent's)."""
        return [(self._t(a, None), log_prob[:, i]) for i, a in enumerate(actions)]

    def to_agents(self, k: int, action: torch.Tensor, dist) -> tuple[list, list]:
        """Policy ``k``'s sampled action as (stored actions, log-probabilities) of the agents it acts for."""
        return [action.cpu().numpy()], [dist.log_prob(action).cpu().numpy()]

    def _t(self, x, dtype=torch.float32):
        if x is None:
            return None
        t = torch.as_tensor(x, device=self.device)
        return t if dtype is None else t.to(dtype)

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs, avail, *, deterministic: bool = False, rng=None) -> Acted:
        """Per agent: the environment action (a Box action clipped to the Box), the stored action (the
        unbounded sample) and its log-probability; ``deterministic`` takes the mean / most likely action."""
        stored, logps = [], []
        for k, (pol, (o, m)) in enumerate(zip(self.policies, self.policy_inputs(obs, avail))):
            dist = pol.dist(o, m)
            a = pol.mode(o, m) if deterministic else dist.sample()
            s, lp = self.to_agents(k, a, dist)
            stored += s
            logps += lp
        env = self.env_actions(stored)
        return Acted(env_actions=env, stored=stored, log_prob=logps, value=None)

    def env_actions(self, stored: list) -> list:
        return [pol.to_env(a) for pol, a in zip(self.policies, stored)]

    @torch.no_grad()
    def values(self, state) -> np.ndarray:
        """``V(s)`` in return units (ValueNorm undone), shape (B,)."""
        v = self.critic(self._t(state))
        return (self.value_norm.denormalize(v) if self.value_norm is not None else v).cpu().numpy()

    # ------------------------------------------------------------------ losses
    def tensors(self, batch) -> dict:
        """The batch as tensors, advantages normalised if ``normalize_advantage``."""
        adv = self._t(batch.advantage)
        if self.p.normalize_advantage:
            adv = (adv - adv.mean()) / (adv.std(unbiased=False) + ADV_EPS)
        return {"state": self._t(batch.state), "inputs": self.policy_inputs(batch.obs, batch.avail),
                "actions": self.policy_actions(batch.actions, self._t(batch.log_prob)), "adv": adv,
                "returns": self._t(batch.returns), "n": len(batch)}

    def ratio(self, k: int, d: dict, idx=None):
        """``(rho, dist)``: policy ``k``'s probability ratio ``pi(a|o) / pi_old(a|o)`` on rows ``idx``."""
        (o, m), (a, old) = d["inputs"][k], d["actions"][k]
        if idx is not None:
            o, m, a, old = o[idx], None if m is None else m[idx], a[idx], old[idx]
        dist = self.policies[k].dist(o, m)
        return torch.exp(dist.log_prob(a) - old), dist

    def clipped_surrogate(self, k: int, d: dict, idx=None, factor=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(-E[M min(rho A, clip(rho) A)], entropy)`` of policy ``k`` (eq. 13; ``M = factor`` or 1)."""
        rho, dist = self.ratio(k, d, idx)
        adv = d["adv"] if idx is None else d["adv"][idx]
        surr = torch.minimum(rho * adv, rho.clamp(1.0 - self.p.clip, 1.0 + self.p.clip) * adv)
        if factor is not None:
            surr = (factor if idx is None else factor[idx]) * surr
        return -surr.mean(), dist.entropy().mean()

    def value_loss(self, d: dict, idx=None, old=None) -> torch.Tensor:
        """The critic's loss on rows ``idx``; ``old`` the critic's outputs before this update (value clipping)."""
        state, ret = (d["state"], d["returns"]) if idx is None else (d["state"][idx], d["returns"][idx])
        pred = self.critic(state)
        target = self.value_norm.normalize(ret) if self.value_norm is not None else ret
        losses = [pred - target]
        if self.p.value_clip and old is not None:
            o = old if idx is None else old[idx]
            losses.append(o + (pred - o).clamp(-self.p.clip, self.p.clip) - target)
        if self.p.value_loss == "huber":
            losses = [F.huber_loss(e, torch.zeros_like(e), delta=self.p.huber_delta, reduction="none") for e in losses]
        else:
            losses = [0.5 * e.pow(2) for e in losses]
        return (losses[0] if len(losses) == 1 else torch.maximum(*losses)).mean()

    def actor_loss(self, k: int, d: dict) -> torch.Tensor:
        """Policy ``k``'s loss on the whole batch (for :meth:`losses`); HATRPO overrides it."""
        loss, ent = self.clipped_surrogate(k, d)
        return loss - self.p.entropy_coef * ent

    def losses(self, batch) -> dict:
        """Named scalar losses on ``batch`` (nothing is stepped): ``actor/<k>`` per policy and ``critic``."""
        d = self.tensors(batch)
        out = {f"actor/{k}": self.actor_loss(k, d) for k in range(len(self.unique))}
        if len(self.unique) < len(self.policies):  # shared: one loss over all agents
            out = {"actor/0": sum(self.actor_loss(k, d) for k in range(len(self.policies))) / len(self.policies)}
        out["critic"] = self.value_loss(d)
        return out

    def param_groups(self) -> dict:
        groups = {f"actor/{k}": list(u.parameters()) for k, u in enumerate(self.unique)}
        groups["critic"] = list(self.critic.parameters())
        return groups

    def target_params(self) -> list:
        return []

    # ------------------------------------------------------------------ update
    def step(self, opt: torch.optim.Optimizer, loss: torch.Tensor, params) -> float:
        """One optimiser step on ``loss`` with the gradient norm clipped to ``max_grad_norm``; returns the norm."""
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, self.p.max_grad_norm)
        opt.step()
        return float(norm)

    def ppo_epochs(self, ks: Sequence[int], d: dict, rng: np.random.Generator, factor=None) -> dict:
        """``ppo_epochs`` passes of minibatch PPO-clip steps on the policy of the agents ``ks`` (one agent, or
        every agent of a shared network: the mean of their losses) with weights ``factor``."""
        k0 = ks[0]
        pol, opt = self.policies[k0], self.actor_opts[self._opt_of[k0]]
        total, ent_sum, steps = 0.0, 0.0, 0
        for _ in range(self.p.ppo_epochs):
            for idx in minibatches(d["n"], self.p.actor_minibatches, rng):
                parts = [self.clipped_surrogate(k, d, idx, factor) for k in ks]
                surr, ent = sum(q[0] for q in parts) / len(ks), sum(q[1] for q in parts) / len(ks)
                self.step(opt, surr - self.p.entropy_coef * ent, pol.parameters())
                total, ent_sum, steps = total + surr.item(), ent_sum + ent.item(), steps + 1
        return {f"actor_loss/{k0}": total / steps, f"entropy/{k0}": ent_sum / steps}

    def update_critic(self, d: dict, rng: np.random.Generator) -> dict:
        with torch.no_grad():
            old = self.critic(d["state"])
        total, steps = 0.0, 0
        for _ in range(self.p.critic_epochs):
            for idx in minibatches(d["n"], self.p.critic_minibatches, rng):
                if self.value_norm is not None:
                    self.value_norm.update(d["returns"][idx])
                loss = self.value_loss(d, idx, old)
                self.step(self.critic_opt, loss, self.critic.parameters())
                total, steps = total + loss.item(), steps + 1
        return {"critic_loss": total / steps}

    def sequential_turns(self, d: dict, rng: np.random.Generator, agent_step) -> dict:
        """The heterogeneous-agent scheme (HAPPO, HATRPO): a fresh random permutation; each agent in turn runs
        ``agent_step(i, M)`` with ``M`` the product of the already-updated agents' ratios ``pi_new / pi_old`` on
        every sample (no gradient through it)."""
        perm = [int(i) for i in rng.permutation(len(self.policies))]
        factor = torch.ones(d["n"], device=self.device)
        stats = {}
        for i in perm:
            stats.update(agent_step(i, factor))
            with torch.no_grad():
                factor = factor * self.ratio(i, d)[0]
        stats["permutation"] = perm
        return stats

    def update_actors(self, d: dict, rng: np.random.Generator) -> dict:
        raise NotImplementedError

    def update(self, batch, rng: np.random.Generator) -> dict:
        """One update on a finished rollout: the actors' phase, then the critic's; returns statistics."""
        t0 = time.perf_counter()
        d = self.tensors(batch)
        stats = self.update_actors(d, rng)
        t1 = time.perf_counter()
        stats.update(self.update_critic(d, rng))
        stats["time_actors"], stats["time_critic"] = t1 - t0, time.perf_counter() - t1
        self.updates += 1
        return stats

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {"policies": [u.state_dict() for u in self.unique], "critic": self.critic.state_dict(),
                "value_norm": None if self.value_norm is None else self.value_norm.state_dict(),
                "actor_opts": [o.state_dict() for o in self.actor_opts], "critic_opt": self.critic_opt.state_dict(),
                "updates": self.updates}

    def load_state_dict(self, sd: dict) -> None:
        for u, s in zip(self.unique, sd["policies"], strict=True):
            u.load_state_dict(s)
        self.critic.load_state_dict(sd["critic"])
        if self.value_norm is not None:
            self.value_norm.load_state_dict(sd["value_norm"])
        for o, s in zip(self.actor_opts, sd["actor_opts"], strict=True):
            o.load_state_dict(s)
        self.critic_opt.load_state_dict(sd["critic_opt"])
        self.updates = int(sd["updates"])
