"""HASAC's gradient update as it was before the actors' phase was made incremental (issue 27): every agent's
eq. 10 rebuilds the whole joint action and, for the exact expectation over a Discrete agent's own actions,
evaluates the critic on every (row, action) pair, available or not.

Kept as the reference that the present update (:meth:`deep.algos.hasac.HASAC.update`) must equal to float32
rounding on identical batches and random numbers (tests/test_hasac.py) and as the baseline of the speed-up
that benchmarks/bench_hasac.py prints.  It runs on a :class:`~deep.algos.hasac.HASAC` instance and changes it
exactly as ``update`` does; it returns the update's losses, without statistics or timings.
"""
from __future__ import annotations

import numpy as np
import torch

from deep.nets.critics import polyak_


def actor_loss(algo, i: int, batch, reps: list, own=None, features=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 10 for agent ``i`` with the other agents' actions ``reps``; returns (loss, E[log pi^i])."""
    actor, alpha = algo.actors[i], algo.alphas()[i]
    o, m = batch["obs"][i], batch["avail"][i]
    if features is None:
        features = algo.critic.state_features(batch["state"])
    if algo._expected(i):
        lp = actor.log_probs(o, m)
        B, K = lp.shape
        eye = torch.eye(K, device=algo.device)
        joint = torch.cat([eye.expand(B, K, K) if j == i else r[:, None, :].expand(B, K, r.shape[-1])
                           for j, r in enumerate(reps)], -1).reshape(B * K, -1)
        q = algo.in_return_units(algo.critic.frozen_min_q([f.repeat_interleave(K, 0) for f in features],
                                                          joint)).reshape(B, K)
        p = lp.exp()
        loss = (p * (alpha * lp - q)).sum(-1).mean()
        return loss, (p * lp).sum(-1).mean()
    s = actor.sample(o, m) if own is None else own
    joint = torch.cat([s.rep if j == i else r for j, r in enumerate(reps)], -1)
    logp = s.entropy_logp()
    loss = (alpha * logp - algo.in_return_units(algo.critic.frozen_min_q(features, joint))).mean()
    return loss, logp.mean()


def update(algo, batch, rng: np.random.Generator) -> dict[str, float]:
    """One HASAC gradient update the former way; returns the critic's and each agent's loss."""
    y = algo.critic_target_values(batch)
    if algo.value_norm is not None:
        algo.value_norm.update(y)
    loss, _ = algo.critic_loss(batch, y)
    algo.critic_opt.zero_grad(set_to_none=True)
    loss.backward()
    algo.critic_opt.step()
    out = {"critic_loss": float(loss.detach())}
    perm = [int(i) for i in rng.permutation(algo.n_agents)]
    features = algo.critic.state_features(batch["state"])
    own, reps = {}, []
    for i, actor in enumerate(algo.actors):
        reusable = not algo._expected(i) and (not algo.params.share_params or i == perm[0])
        with torch.set_grad_enabled(reusable):
            s = actor.sample(batch["obs"][i], batch["avail"][i])
        own[i] = s if reusable else None
        reps.append(s.rep.detach())
    for m, i in enumerate(perm):
        a_loss, mean_logp = actor_loss(algo, i, batch, reps, own[i], features)
        opt = algo.actor_opts[algo._opt_of[i]]
        opt.zero_grad(set_to_none=True)
        a_loss.backward()
        opt.step()
        if algo.params.auto_alpha:
            al = -(algo.log_alpha[i] * (mean_logp.detach() + algo.target_entropy_of(i, batch["avail"][i])))
            algo.alpha_opts[i].zero_grad(set_to_none=True)
            al.backward()
            algo.alpha_opts[i].step()
        if m + 1 < len(perm):
            with torch.no_grad():
                reps[i] = algo.actors[i].sample(batch["obs"][i], batch["avail"][i]).rep
        out[f"actor_loss/{i}"] = float(a_loss.detach())
    polyak_(algo.critic_target, algo.critic, algo.params.polyak)
    algo.updates += 1
    algo.last_order = perm
    return out
