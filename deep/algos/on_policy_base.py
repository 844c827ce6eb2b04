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

``precision="bf16"`` runs the network bodies (LayerNorm, Linear, ReLU; :func:`deep.nets.mlp.normed_body`) of the
critic and of the actors (the critic's only, for an algorithm with ``autocast_actors = False``) under bf16
autocast; the action and value layers, the log-std, log-probabilities, ratios, entropies, KL divergences,
advantages, returns and losses stay float32, as do weights and optimiser state.  It shortens the update phases,
not the environment's share of the loop (benchmarks/README.md, "Deep algorithms").

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

from deep.config import choice, flag, integer, number, sizes
from deep.envs.base import EnvSpec
from deep.nets.critics import ValueCritic
from deep.nets.distributions import CategoricalPolicy, make_policy
from deep.nets.mlp import precision_setting, set_precision
from deep.nets.optim import gradient_step
from deep.nets.value_norm import ValueNorm

from ._checkpoint import Checkpointed
from .base import Acted, Algorithm
from .estimators import GAE

ADV_EPS = 1e-5  #: added to the advantages' std when normalising them (reference code)


@dataclass(frozen=True)
class OnPolicyParams:
    """Hyper-parameters every on-policy algorithm has.  Defaults: the reference code's tuned configs for MPE
    (PKU-MARL/HARL tuned_configs/pettingzoo_mpe/*/{mappo,happo,hatrpo}, equal across the three MPE tasks);
    what MAMuJoCo changes is in deep/configs/paper/<algo>/mamujoco_*.yaml."""

    hidden: tuple = sizes((128, 128), "hidden layer sizes of actors and critic (HARL MPE: [128, 128])")
    feature_norm: bool = flag(True, "LayerNorm on network inputs (HARL use_feature_normalization: true)")
    actor_lr: float = number(5e-4, "actors' Adam learning rate (HARL lr: 5e-4)", lo=0, lo_open=True)
    critic_lr: float = number(5e-4, "critic's Adam learning rate (HARL critic_lr: 5e-4)", lo=0, lo_open=True)
    adam_eps: float = number(1e-5, "Adam epsilon (HARL opti_eps: 1e-5)", lo=0, lo_open=True)
    gamma: float = number(0.99, "discount (HARL: 0.99)", lo=0, hi=1, hi_open=True,
                          allow_none="for a tabular game's own discount")
    gae_lambda: float = number(0.95, "GAE lambda (HARL gae_lambda: 0.95)", lo=0, hi=1)
    rollout_length: int = integer(200, "vector steps per rollout, one update each (HARL episode_length: 200)")
    normalize_advantage: bool = flag(True, "advantages to zero mean, unit std per rollout (HARL: always)")
    critic_epochs: int = integer(5, "passes over the rollout per critic update (HARL critic_epoch: 5)")
    critic_minibatches: int = integer(1, "minibatches per critic pass (HARL critic_num_mini_batch: 1)")
    clip: float = number(0.2, "PPO ratio clip and value-clip range (HARL clip_param: 0.2)", lo=0, hi=1,
                         lo_open=True, hi_open=True)
    value_clip: bool = flag(True, "clipped value loss (HARL use_clipped_value_loss: true)")
    value_loss: str = choice("huber", "critic loss: Huber or squared (HARL use_huber_loss: true)", "huber", "mse")
    huber_delta: float = number(10.0, "Huber loss threshold (HARL huber_delta: 10)", lo=0, lo_open=True)
    value_norm: bool = flag(True, "ValueNorm: critic targets in running-normalised units (HARL use_valuenorm)")
    max_grad_norm: float = number(10.0, "gradient norm clip of every step (HARL max_grad_norm: 10)", lo=0,
                                  lo_open=True)
    init_std: float = number(0.3655, "initial std of Gaussian policies (HARL: sigmoid(1) * std_y_coef 0.5)",
                             lo=0, lo_open=True)
    std_max: float = number(0.5, "largest std of Gaussian policies: std = std_max sigmoid(w) (HARL std_y_coef 0.5)",
                            lo=0, lo_open=True)
    share_params: bool = flag(False, "one actor network for all agents (MAPPO only; needs equal spaces)")
    precision: str = precision_setting("actors' and critic's network bodies (layers before the output layer)")


@dataclass(frozen=True)
class PPOClipParams(OnPolicyParams):
    """The PPO-clip algorithms' (MAPPO, HAPPO, PPO) further hyper-parameters (HARL MPE tuned configs)."""

    ppo_epochs: int = integer(5, "passes over the rollout per actor update (HARL ppo_epoch: 5)")
    actor_minibatches: int = integer(1, "minibatches per actor pass (HARL actor_num_mini_batch: 1)")
    entropy_coef: float = number(0.01, "entropy bonus coefficient (HARL entropy_coef: 0.01)", lo=0)


def minibatches(n: int, k: int, rng: np.random.Generator) -> list[torch.Tensor]:
    """A random permutation of ``range(n)`` cut into ``k`` nearly equal parts (index tensors)."""
    if k > n:
        raise ValueError(f"cannot cut {n} samples into {k} minibatches")
    return [torch.as_tensor(part) for part in np.array_split(rng.permutation(n), k)]


def same_spaces(spec: EnvSpec) -> bool:
    """Whether every agent has the same observation size and action space (parameter sharing possible)."""
    a0 = spec.action_spaces[0]
    return len(set(spec.obs_dims)) == 1 and all(type(a) is type(a0) and a == a0 for a in spec.action_spaces)


class OnPolicyAlgorithm(Checkpointed, Algorithm):
    """Base of the likelihood-ratio algorithms; subclasses define :meth:`update_actors`."""

    on_policy = True
    supports = frozenset({"box", "discrete", "multidiscrete"})
    shares = True  #: whether ``share_params`` is allowed (simultaneous updates only)
    state_parts = ("actors", "critic", "value_norm", "actor_opts", "critic_opt", "updates")
    state_renames = {"actors": "unique"}   # a shared network is saved once
    autocast_actors = True  #: whether ``precision`` applies to the actors too (else to the critic only)

    def __init__(self, spec: EnvSpec, params: OnPolicyParams, *, device: str = "cpu"):
        super().__init__(spec, params, device=device)
        if params.share_params and not self.shares:
            raise ValueError(f"{self.name} updates agents one by one; share_params is not allowed")
        if params.share_params and not same_spaces(spec):
            raise ValueError("share_params needs every agent to have the same observation size and action space")
        self.actors = self.build_actors()
        self.unique = list({id(p): p for p in self.actors}.values())
        self._opt_of = [next(k for k, u in enumerate(self.unique) if u is p) for p in self.actors]
        hidden = list(params.hidden)
        self.critic = set_precision(ValueCritic(spec.state_dim, hidden, params.feature_norm),
                                    params.precision).to(self.device)
        if self.autocast_actors:
            for u in self.unique:
                set_precision(u, params.precision)
        self.value_norm = ValueNorm().to(self.device) if params.value_norm else None
        self.advantages = GAE(params.gamma, params.gae_lambda)   #: finishes a rollout into a batch
        self.actor_opts = [torch.optim.Adam(u.parameters(), lr=params.actor_lr, eps=params.adam_eps, fused=True)
                           for u in self.unique]
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=params.critic_lr, eps=params.adam_eps,
                                           fused=True)
        self.updates = 0

    @property
    def rollout_steps(self) -> int:
        """Vector steps per rollout, what the rollout storage is sized for (one update each)."""
        return self.params.rollout_length

    # ------------------------------------------------------------------ policies and their inputs
    def build_actors(self) -> list:
        """One policy per agent (the same object for every agent when parameters are shared)."""
        s, hidden = self.spec, list(self.params.hidden)
        p = self.params
        first = make_policy(s.obs_dims[0], s.action_spaces[0], hidden, p.feature_norm, p.init_std, p.std_max)
        return [first if (i == 0 or p.share_params) else
                make_policy(s.obs_dims[i], s.action_spaces[i], hidden, p.feature_norm, p.init_std, p.std_max)
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


    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs, avail, *, deterministic: bool = False, rng=None) -> Acted:
        """Per agent: the environment action (a Box action clipped to the Box), the stored action (the
        unbounded sample) and its log-probability; ``deterministic`` takes the mean / most likely action."""
        stored, logps = [], []
        for k, (pol, (o, m)) in enumerate(zip(self.actors, self.policy_inputs(obs, avail))):
            dist = pol.dist(o, m)
            a = pol.mode(o, m) if deterministic else dist.sample()
            s, lp = self.to_agents(k, a, dist)
            stored += s
            logps += lp
        env = self.env_actions(stored)
        return Acted(env_actions=env, stored=stored, log_prob=logps, value=None)

    def env_actions(self, stored: list) -> list:
        return [pol.to_env(a) for pol, a in zip(self.actors, stored)]

    @torch.no_grad()
    def values(self, state) -> np.ndarray:
        """``V(s)`` in return units (ValueNorm undone), shape (B,)."""
        v = self.critic(self._t(state))
        return (self.value_norm.denormalize(v) if self.value_norm is not None else v).cpu().numpy()

    # ------------------------------------------------------------------ losses
    def tensors(self, batch) -> dict:
        """The batch as tensors, advantages normalised if ``normalize_advantage``."""
        adv = self._t(batch.advantage)
        if self.params.normalize_advantage:
            adv = (adv - adv.mean()) / (adv.std(unbiased=False) + ADV_EPS)
        return {"state": self._t(batch.state), "inputs": self.policy_inputs(batch.obs, batch.avail),
                "actions": self.policy_actions(batch.actions, self._t(batch.log_prob)), "adv": adv,
                "returns": self._t(batch.returns), "n": len(batch)}

    def ratio(self, k: int, d: dict, idx=None):
        """``(rho, dist)``: policy ``k``'s probability ratio ``pi(a|o) / pi_old(a|o)`` on rows ``idx``."""
        (o, m), (a, old) = d["inputs"][k], d["actions"][k]
        if idx is not None:
            o, m, a, old = o[idx], None if m is None else m[idx], a[idx], old[idx]
        dist = self.actors[k].dist(o, m)
        return torch.exp(dist.log_prob(a) - old), dist

    def clipped_surrogate(self, k: int, d: dict, idx=None, factor=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(-E[M min(rho A, clip(rho) A)], entropy)`` of policy ``k`` (eq. 13; ``M = factor`` or 1)."""
        rho, dist = self.ratio(k, d, idx)
        adv = d["adv"] if idx is None else d["adv"][idx]
        surr = torch.minimum(rho * adv, rho.clamp(1.0 - self.params.clip, 1.0 + self.params.clip) * adv)
        if factor is not None:
            surr = (factor if idx is None else factor[idx]) * surr
        return -surr.mean(), dist.entropy().mean()

    def value_loss(self, d: dict, idx=None, old=None) -> torch.Tensor:
        """The critic's loss on rows ``idx``; ``old`` the critic's outputs before this update (value clipping)."""
        state, ret = (d["state"], d["returns"]) if idx is None else (d["state"][idx], d["returns"][idx])
        pred = self.critic(state)
        target = self.value_norm.normalize(ret) if self.value_norm is not None else ret
        losses = [pred - target]
        if self.params.value_clip and old is not None:
            o = old if idx is None else old[idx]
            losses.append(o + (pred - o).clamp(-self.params.clip, self.params.clip) - target)
        if self.params.value_loss == "huber":
            losses = [F.huber_loss(e, torch.zeros_like(e), delta=self.params.huber_delta, reduction="none")
                      for e in losses]
        else:
            losses = [0.5 * e.pow(2) for e in losses]
        return (losses[0] if len(losses) == 1 else torch.maximum(*losses)).mean()

    def actor_loss(self, k: int, d: dict) -> torch.Tensor:
        """Policy ``k``'s loss on the whole batch (for :meth:`losses`); HATRPO overrides it."""
        loss, ent = self.clipped_surrogate(k, d)
        return loss - self.params.entropy_coef * ent

    def losses(self, batch) -> dict:
        """Named scalar losses on ``batch`` (nothing is stepped): ``actor/<k>`` per policy and ``critic``."""
        d = self.tensors(batch)
        out = {f"actor/{k}": self.actor_loss(k, d) for k in range(len(self.unique))}
        if len(self.unique) < len(self.actors):  # shared: one loss over all agents
            out = {"actor/0": sum(self.actor_loss(k, d) for k in range(len(self.actors))) / len(self.actors)}
        out["critic"] = self.value_loss(d)
        return out

    def param_groups(self) -> dict:
        groups = {f"actor/{k}": list(u.parameters()) for k, u in enumerate(self.unique)}
        groups["critic"] = list(self.critic.parameters())
        return groups

    def target_params(self) -> list:
        return []

    #: per-actor statistics of :meth:`update_actors`, logged as ``<key>/<actor>``
    actor_stat_keys: tuple = ("actor_loss", "entropy")

    def stat_names(self) -> list[str]:
        return (["time_actors", "time_critic", "critic_loss"]
                + [f"{key}/{k}" for key in self.actor_stat_keys for k in range(len(self.unique))])

    def action_probs(self, agent: int, obs: torch.Tensor, avail: torch.Tensor | None = None) -> torch.Tensor:
        actor = self.actors[agent]
        if not isinstance(actor, CategoricalPolicy):
            raise ValueError(f"agent {agent}'s policy is not categorical")
        with torch.no_grad():
            return actor.dist(obs.to(self.device), avail).probs

    # ------------------------------------------------------------------ update
    def step(self, opt: torch.optim.Optimizer, loss: torch.Tensor, params) -> float:
        """One optimiser step on ``loss`` with the gradient norm clipped to ``max_grad_norm``; returns the norm."""
        return float(gradient_step(opt, loss, params, self.params.max_grad_norm))

    def ppo_epochs(self, ks: Sequence[int], d: dict, rng: np.random.Generator, factor=None) -> dict:
        """``ppo_epochs`` passes of minibatch PPO-clip steps on the policy of the agents ``ks`` (one agent, or
        every agent of a shared network: the mean of their losses) with weights ``factor``."""
        k0 = ks[0]
        pol, opt = self.actors[k0], self.actor_opts[self._opt_of[k0]]
        total, ent_sum, steps = 0.0, 0.0, 0
        for _ in range(self.params.ppo_epochs):
            for idx in minibatches(d["n"], self.params.actor_minibatches, rng):
                parts = [self.clipped_surrogate(k, d, idx, factor) for k in ks]
                surr, ent = sum(q[0] for q in parts) / len(ks), sum(q[1] for q in parts) / len(ks)
                self.step(opt, surr - self.params.entropy_coef * ent, pol.parameters())
                total, ent_sum, steps = total + surr.item(), ent_sum + ent.item(), steps + 1
        return {f"actor_loss/{k0}": total / steps, f"entropy/{k0}": ent_sum / steps}

    def update_critic(self, d: dict, rng: np.random.Generator) -> dict:
        with torch.no_grad():
            old = self.critic(d["state"])
        total, steps = 0.0, 0
        for _ in range(self.params.critic_epochs):
            for idx in minibatches(d["n"], self.params.critic_minibatches, rng):
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
        perm = [int(i) for i in rng.permutation(len(self.actors))]
        factor = torch.ones(d["n"], device=self.device)
        stats = {}
        for i in perm:
            stats.update(agent_step(i, factor))
            with torch.no_grad():
                factor = factor * self.ratio(i, d)[0]
        self.last_order = perm
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
