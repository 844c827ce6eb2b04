"""Deep policies on a tabular game, in the engine's language: a ``tabular.JointPolicy`` and its QRE gap."""
from __future__ import annotations

import numpy as np
import torch

import tabular
from deep.envs.tabular_env import TabularGameEnv

from .actors import CategoricalActor


def joint_policy(hasac, env: TabularGameEnv) -> tabular.JointPolicy:
    """``pi^i(.|s)`` of every deep actor at every state of ``env.game`` (observations are one-hot states)."""
    if not isinstance(env, TabularGameEnv):
        raise ValueError(f"joint_policy needs a TabularGameEnv, got {type(env).__name__}")
    eye = torch.eye(env.game.n_states)
    rows = []
    with torch.no_grad():
        for i, actor in enumerate(hasac.actors):
            if not isinstance(actor, CategoricalActor):
                raise ValueError(f"agent {i}'s actor is not categorical; tabular games have Discrete actions")
            rows.append(actor.log_probs(eye.to(hasac.device)).exp().double().cpu().numpy())
    # float32 softmax rows sum to 1 within ~1e-7; renormalise in float64 for the engine's 1e-9 check
    return tabular.JointPolicy([p / p.sum(axis=1, keepdims=True) for p in rows])


def qre_gap(hasac, env: TabularGameEnv, alpha: float | None = None) -> float:
    """``tabular.qre_gap`` of the deep policies; ``alpha`` defaults to the agents' (equal, fixed) temperature."""
    if alpha is None:
        alphas = hasac.alphas().cpu().numpy()
        if not np.allclose(alphas, alphas[0]):
            raise ValueError(f"the agents' temperatures differ ({alphas.tolist()}); pass alpha explicitly")
        alpha = float(alphas[0])
    return tabular.qre_gap(env.game, joint_policy(hasac, env), alpha)
