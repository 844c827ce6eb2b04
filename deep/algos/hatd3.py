"""HATD3 (Zhong et al., "Heterogeneous-Agent Reinforcement Learning", JMLR 2024; the paper's baseline):
deterministic actors, twin centralised critics, target policy smoothing, delayed sequential actor updates
(:mod:`deep.algos.deterministic_base`).

One gradient update (:meth:`HATD3.update`) is

1. the critic: both networks regress on the n-step target (:class:`deep.algos.estimators.NStepReturn`)
   ``y = R + disc * min Q_target(s', a')``, where ``a'^i`` is agent i's *target* actor's action perturbed by
   Gaussian noise ``policy_noise`` clipped to ``+-noise_clip`` (target policy smoothing, TD3);
2. every ``policy_freq``-th update (delayed policy updates): a fresh random permutation ``i_{1:n}``; agent
   ``i_m`` maximises ``Q1(s, a^{i_{1:m-1}}_new, mu^{i_m}(o^{i_m}), a^{-i_{1:m}}_old)`` against the fixed critic,
   the agents before it entering with the actions of their *updated* actors (the heterogeneous-agent
   sequential scheme); then Polyak averaging of the target actors and critics.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from deep.config import integer, number, setting_like

from .base import register
from .deterministic_base import DeterministicActorCritic
from .off_policy_base import OffPolicyParams


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
class HATD3(DeterministicActorCritic):
    Params = HATD3Params
    target_actors = True

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
