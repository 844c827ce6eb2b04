"""HATD3 (Zhong et al., "Heterogeneous-Agent Reinforcement Learning", JMLR 2024; the paper's baseline):
deterministic actors, twin centralised critics, target policy smoothing, delayed sequential actor updates.

One gradient update (:meth:`HATD3.update`) is

1. the critic: both networks regress on the n-step target (:mod:`deep.storage.replay`)
   ``y = R + disc * min Q_target(s', a')``, where ``a'^i`` is agent i's *target* actor's action perturbed by
   Gaussian noise ``policy_noise`` clipped to ``+-noise_clip`` (target policy smoothing, TD3);
2. every ``policy_freq``-th update (delayed policy updates): a fresh random permutation ``i_{1:n}``; agent
   ``i_m`` maximises ``Q1(s, a^{i_{1:m-1}}_new, mu^{i_m}(o^{i_m}), a^{-i_{1:m}}_old)`` against the fixed critic,
   the agents before it entering with the actions of their *updated* actors (the heterogeneous-agent
   sequential scheme); then Polyak averaging of the target actors and critics.

Acting adds Gaussian exploration noise ``expl_noise`` (in units of half the action range) to the
deterministic action.  A Discrete agent acts through a proto-action (``deep.nets.heads.DeterministicDiscreteActor``;
the reference code has no discrete HATD3): this lets the deterministic baselines play the paper's matrix game.
A MultiDiscrete agent (air combat's hierarchical action) has one proto-action block per component
(``DeterministicMultiDiscreteActor``): exploration noise and target smoothing perturb every component's
block independently, so each component explores and is smoothed as a Discrete agent would be (why per
component: that class's docstring).  There is no entropy: the log-probabilities the replay buffer keeps are
not used.

:class:`HATD3` is also the body of the deterministic HASAC ablation (``deep.algos.hasac_det``), which
replaces :meth:`next_actions`, :meth:`actor_value` and :meth:`actors_due`.

``precision="bf16"`` (:class:`~deep.algos.off_policy_base.OffPolicyParams`) runs the hidden layers of every
actor, target actor and critic under bf16 autocast, their output layers float32 (:class:`deep.nets.mlp.MLP`).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np
import torch

from deep.config import integer, number, setting_like
from deep.envs.base import EnvSpec
from deep.nets.critics import TwinCritic, polyak_
from deep.nets.heads import make_deterministic_actor
from deep.nets.mlp import set_precision
from deep.nets.optim import fused_adam, gradient_step

from .base import Acted, register
from .off_policy_base import OffPolicyAlgorithm, OffPolicyParams


@dataclass(frozen=True)
class HATD3Params(OffPolicyParams):
    """HATD3's hyper-parameters: the common off-policy ones (:class:`~deep.algos.off_policy_base.OffPolicyParams`)
    and the noises and delay.  Defaults: the reference code's (PKU-MARL/HARL) ``configs/algos_cfgs/hatd3.yaml``,
    which its tuned MPE configs (spread, reference, speaker_listener, continuous) keep unchanged (it differs
    from HASAC's in the networks, critic rate and n-step, redeclared here); its tuned MAMuJoCo configs change
    the pair's ``deep/configs/paper/hatd3/`` entries (256x256 networks, n-step).  Its ``use_huber_loss`` is
    not read by HATD3's critic (harl/algorithms/critics/twin_continuous_q_critic.py: squared loss), hence
    ``critic_loss: mse``."""

    hidden: tuple = setting_like(OffPolicyParams, "hidden", (128, 128))
    critic_lr: float = setting_like(OffPolicyParams, "critic_lr", 1e-3)
    n_step: int = setting_like(OffPolicyParams, "n_step", 1)
    expl_noise: float = number(0.1, "std of the Gaussian exploration noise, in half action ranges", lo=0)
    policy_noise: float = number(0.2, "std of the target policy smoothing noise, in half action ranges", lo=0)
    noise_clip: float = number(0.5, "the smoothing noise is clipped to +-noise_clip", lo=0)
    policy_freq: int = integer(2, "critic updates per (delayed) actor and target update")


@register("hatd3")
class HATD3(OffPolicyAlgorithm):
    Params = HATD3Params
    state_parts = ("actors", "actor_targets", "critic", "critic_target", "actor_opts", "critic_opt", "updates",
                   "last_actor_loss")
    target_actors: ClassVar[bool] = True   #: HATD3 bootstraps with target actors; deterministic HASAC does not

    def __init__(self, spec: EnvSpec, params=None, *, device: str = "cpu"):
        params = self.Params() if params is None else params
        super().__init__(spec, params, device=device)
        hidden = list(params.hidden)
        self.actors = [set_precision(make_deterministic_actor(spec.obs_dims[i], spec.action_spaces[i], hidden),
                                     params.precision).to(self.device) for i in range(spec.n_agents)]
        self.actor_targets = [copy.deepcopy(a).requires_grad_(False) for a in self.actors] if self.target_actors else []
        self.critic = TwinCritic(spec.state_dim, sum(a.rep_dim for a in self.actors), hidden,
                                 params.precision).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opts = [fused_adam(a.parameters(), params.actor_lr) for a in self.actors]
        self.critic_opt = fused_adam(self.critic.parameters(), params.critic_lr)
        self.last_actor_loss = [0.0] * spec.n_agents   #: each agent's latest actor loss (logged every update)
        self.last_order: list[int] = []                #: the agent permutation of the latest actor phase

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs: Sequence[np.ndarray], avail: Sequence, *, deterministic: bool = False, rng=None) -> Acted:
        """Every agent's deterministic action, plus exploration noise unless ``deterministic`` (torch's generator)."""
        noise = 0.0 if deterministic else self.params.expl_noise
        samples = [a.act(self._t(obs[i]), self._t(avail[i], torch.bool), noise) for i, a in enumerate(self.actors)]
        return Acted([s.env.cpu().numpy() for s in samples], [s.stored.cpu().numpy() for s in samples],
                     [s.logp.cpu().numpy() for s in samples])

    # ------------------------------------------------------------------ the three places deterministic HASAC differs
    def next_actions(self, batch) -> list[torch.Tensor]:
        """Critic inputs of the bootstrap actions: target actors with clipped smoothing noise (TD3)."""
        p = self.params
        return [a.rep_of(t.act(batch["next_obs"][i], batch["next_avail"][i], p.policy_noise, p.noise_clip).stored)
                for i, (a, t) in enumerate(zip(self.actors, self.actor_targets))]

    def actor_value(self, state: torch.Tensor, joint: torch.Tensor) -> torch.Tensor:
        """What an actor maximises: ``Q1(s, a)`` (TD3), the critic's parameters held fixed (no gradient to them)."""
        q1 = self.critic.q1
        fixed = {k: v.detach() for k, v in q1.named_parameters()}
        return torch.func.functional_call(q1, fixed, (torch.cat([state, joint], -1),)).squeeze(-1)

    def actors_due(self) -> bool:
        """Delayed policy updates: the actors (and all targets) move on every ``policy_freq``-th update."""
        return self.updates % self.params.policy_freq == 0

    # ------------------------------------------------------------------ losses
    def critic_target_values(self, batch) -> torch.Tensor:
        with torch.no_grad():
            joint = torch.cat(self.next_actions(batch), -1)
            return batch["reward_sum"] + batch["disc"] * self.critic_target.min_q(batch["next_state"], joint)

    def critic_loss(self, batch) -> tuple[torch.Tensor, dict]:
        y = self.critic_target_values(batch)
        joint = torch.cat([a.rep_of(act) for a, act in zip(self.actors, batch["act"])], -1)
        return self.critic.loss(batch["state"], joint, y, self.params.critic_loss, self.params.huber_delta)

    @torch.no_grad()
    def _current_reps(self, batch, i: int) -> torch.Tensor:
        """Agent ``i``'s current deterministic action on the batch, as the critic sees it."""
        a = self.actors[i]
        return a.rep_of(a.act(batch["obs"][i], batch["avail"][i]).stored)

    def actor_loss(self, i: int, batch, reps: list) -> torch.Tensor:
        """``-actor_value(s, a)`` with agent i's differentiable action and the others' ``reps``."""
        own = self.actors[i].act(batch["obs"][i], batch["avail"][i]).rep
        joint = torch.cat([own if j == i else r for j, r in enumerate(reps)], -1)
        return -self.actor_value(batch["state"], joint).mean()

    def update(self, batch, rng: np.random.Generator) -> dict:
        """One gradient update; ``rng`` draws the agent permutation.  Returns statistics and timings."""
        t0 = time.perf_counter()
        loss, qstats = self.critic_loss(batch)
        gradient_step(self.critic_opt, loss)
        self.updates += 1
        t1 = time.perf_counter()
        if self.actors_due():
            perm = [int(i) for i in rng.permutation(self.n_agents)]
            reps = [self._current_reps(batch, i) for i in range(self.n_agents)]
            for i in perm:
                a_loss = self.actor_loss(i, batch, reps)
                gradient_step(self.actor_opts[i], a_loss)
                reps[i] = self._current_reps(batch, i)   # later agents see i's updated action
                self.last_actor_loss[i] = float(a_loss.detach())
            for a, t in zip(self.actors, self.actor_targets):
                polyak_(t, a, self.params.polyak)
            polyak_(self.critic_target, self.critic, self.params.polyak)
            self.last_order = perm
        out = {"critic_loss": float(loss.detach()), **{k: float(v.detach()) for k, v in qstats.items()}}
        out.update({f"actor_loss/{i}": v for i, v in enumerate(self.last_actor_loss)})
        out["time_critic"], out["time_actors"] = t1 - t0, time.perf_counter() - t1
        return out

    def stat_names(self) -> list[str]:
        return (["time_critic", "time_actors", "critic_loss", "q1_mean", "q1_min", "q1_max", "target_mean"]
                + [f"actor_loss/{i}" for i in range(self.n_agents)])

    def losses(self, batch) -> dict[str, torch.Tensor]:
        """The critic loss and each agent's actor loss with the others' current actions."""
        out = {"critic": self.critic_loss(batch)[0]}
        reps = [self._current_reps(batch, i) for i in range(self.n_agents)]
        out.update({f"actor/{i}": self.actor_loss(i, batch, reps) for i in range(self.n_agents)})
        return out

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        groups = {"critic": list(self.critic.parameters())}
        groups.update({f"actor/{i}": list(a.parameters()) for i, a in enumerate(self.actors)})
        return groups

    def target_params(self) -> list[torch.nn.Parameter]:
        return super().target_params() + [p for t in self.actor_targets for p in t.parameters()]
