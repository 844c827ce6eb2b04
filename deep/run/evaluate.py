"""Deterministic evaluation of any algorithm, and deep policies on a tabular game in the engine's language
(a ``tabular.JointPolicy`` and its QRE gap)."""
from __future__ import annotations

import numpy as np
import torch

import tabular
from deep.envs.tabular_env import TabularGameEnv


def evaluate(algo, env, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``episodes`` deterministic-policy episodes (mean / argmax actions), spread evenly over the
    copies: copy ``k`` plays ``episodes // E`` episodes, one more if ``k < episodes % E``, from
    ``env.reset(seed)``.  Every episode that is started is played to its end, so no copy's episodes are
    preferred for ending early.  Ordered by copy, then by episode."""
    E = env.num_envs
    quota = np.full(E, episodes // E) + (np.arange(E) < episodes % E)
    r = env.reset(seed=seed)
    ret = np.zeros(E)
    out = [[] for _ in range(E)]
    while any(len(o) < q for o, q in zip(out, quota)):
        s = env.step(algo.act(r.obs, r.avail, deterministic=True).env_actions)
        ret += s.reward
        for k in np.flatnonzero(s.done):
            if len(out[k]) < quota[k]:
                out[k].append(ret[k])
            ret[k] = 0.0
        r = s
    return np.array([x for o in out for x in o])


def joint_policy(algo, env: TabularGameEnv) -> tabular.JointPolicy:
    """``pi^i(.|s)`` of every deep agent at every state of ``env.game`` (observations are one-hot states)."""
    if not isinstance(env, TabularGameEnv):
        raise ValueError(f"joint_policy needs a TabularGameEnv, got {type(env).__name__}")
    eye = torch.eye(env.game.n_states)
    rows = [algo.action_probs(i, eye).double().cpu().numpy() for i in range(env.game.n_agents)]
    # float32 softmax rows sum to 1 within ~1e-7; renormalise in float64 for the engine's 1e-9 check
    return tabular.JointPolicy([p / p.sum(axis=1, keepdims=True) for p in rows])


def qre_gap(algo, env: TabularGameEnv, alpha: float | None = None) -> float:
    """``tabular.qre_gap`` of the deep policies; ``alpha`` defaults to the algorithm's fixed temperature."""
    if alpha is None:
        alpha = algo.temperature()
        if alpha is None:
            raise ValueError(f"{algo.name} has no fixed temperature shared by its agents; pass alpha explicitly")
    return tabular.qre_gap(env.game, joint_policy(algo, env), alpha)
