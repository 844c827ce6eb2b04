"""What HATD3 and deterministic HASAC share: deterministic actors, twin centralised critics and the
heterogeneous-agent sequential update of the actors against a fixed critic.

One gradient update (:meth:`DeterministicActorCritic.update`) is

1. the critic: both networks regress on the n-step target ``y = R + disc * min Q_target(s', a')``
   (:class:`deep.algos.estimators.NStepReturn`), with bootstrap actions ``a'`` from :meth:`next_actions`;
2. when :meth:`actors_due`: a fresh random permutation ``i_{1:n}``; agent ``i_m`` maximises
   :meth:`actor_value` at ``(s, a^{i_{1:m-1}}_new, mu^{i_m}(o^{i_m}), a^{-i_{1:m}}_old)`` against the fixed
   critic, the agents before it entering with the actions of their *updated* actors; then Polyak averaging of
   the target actors (if any) and critics.

Acting adds Gaussian exploration noise ``expl_noise`` (in units of half the action range) to the
deterministic action.  A Discrete agent acts through a proto-action (``deep.nets.heads.DeterministicDiscreteActor``;
the reference code has no discrete HATD3): this lets the deterministic baselines play the paper's matrix game.
A MultiDiscrete agent (air combat's hierarchical action) has one proto-action block per component
(``DeterministicMultiDiscreteActor``): exploration noise and target smoothing perturb every component's
block independently, so each component explores and is smoothed as a Discrete agent would be (why per
component: that class's docstring).  There is no entropy: the log-probabilities the replay buffer keeps are
not used.

``precision="bf16"`` (:class:`~deep.algos.off_policy_base.OffPolicyParams`) runs the hidden layers of every
actor, target actor and critic under bf16 autocast, their output layers float32 (:class:`deep.nets.mlp.MLP`).
"""
from __future__ import annotations

import copy
import time
from typing import ClassVar, Sequence

import numpy as np
import torch

from deep.envs.base import EnvSpec
from deep.nets.critics import TwinCritic, polyak_
from deep.nets.heads import make_deterministic_actor
from deep.nets.mlp import set_precision
from deep.nets.optim import fused_adam, gradient_step

from .base import Acted
from .off_policy_base import OffPolicyAlgorithm


class DeterministicActorCritic(OffPolicyAlgorithm):
    """Base of the deterministic actor-critics; a subclass defines :meth:`next_actions`, :meth:`actor_value`
    and :meth:`actors_due`, and its ``Params`` has ``expl_noise``."""

    state_parts = ("actors", "actor_targets", "critic", "critic_target", "actor_opts", "critic_opt", "updates",
                   "last_actor_loss")
    target_actors: ClassVar[bool]   #: whether target actors are kept (and Polyak-averaged)

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

    # ------------------------------------------------------------------ what a subclass defines
    def next_actions(self, batch) -> list[torch.Tensor]:
        """Critic inputs of the bootstrap actions at the next observations, per agent."""
        raise NotImplementedError

    def actor_value(self, state: torch.Tensor, joint: torch.Tensor) -> torch.Tensor:
        """What an actor maximises at ``(s, a)``, the critic's parameters held fixed (no gradient to them)."""
        raise NotImplementedError

    def actors_due(self) -> bool:
        """Whether this update (``updates`` already counts it) moves the actors and the targets."""
        raise NotImplementedError

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
