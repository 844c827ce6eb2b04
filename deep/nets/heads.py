"""Action heads: per-agent stochastic actors for Box, Discrete and MultiDiscrete action spaces.

Every actor maps an observation to a distribution and offers the same operations:

* ``sample(obs, avail)`` -> :class:`Sample` with ``rep`` (the action as the critic sees it, reparameterised so
  gradients flow back to the actor: eq. 10), ``env`` (what the environment takes) and ``logp`` (its log
  probability; for Box actions the log density in tanh units, see below);
* ``act(obs, avail)``: the deterministic action used for evaluation (mean / argmax);
* ``rep_of(stored)``: critic representation of an action stored in the replay buffer;
* ``random(n, avail, rng)``: uniform warm-up actions with their log density;
* ``target_entropy(fraction, avail)``: ``-dim`` for Box (in tanh units), ``fraction * log|A^i|`` for discrete
  spaces, of the available actions of each row where a mask is given.

Box actions are squashed Gaussians mapped affinely onto ``[low, high]`` (each Box's own bounds, not an assumed
symmetric ``[-1, 1]``).  Their ``logp`` is the log density of the squashed value ``tanh(u)`` in ``[-1, 1]^d``
("tanh units"), as in the reference code: the affine map's log-Jacobian ``sum_j log((high_j - low_j) / 2)`` is a
constant that the entropy terms leave out, so the target entropy ``-dim`` (SAC's heuristic) asks for the same
policy on every Box.  Counting it would shift the target by that constant: on MPE's Box(0, 1), ``-dim`` in
environment units is ``-0.31 dim`` in tanh units, a much more random policy.  Discrete actions are Gumbel-softmax
samples (straight-through) from logits masked by the available actions: an unavailable action has probability
exactly 0, so it is never sampled nor chosen as the argmax.

The networks are the reference code's (PKU-MARL/HARL): the squashed Gaussian's trunk is a ReLU MLP whose last
hidden layer ends in tanh, with linear mean and log-std outputs; categorical actors use its normalised MLP
(:func:`~deep.nets.mlp.normed_mlp`: input LayerNorm, ``Linear -> ReLU -> LayerNorm`` blocks, orthogonal
initialisation, logits layer of gain 0.01), which matters on unnormalised observations (SMAC, GRF).

The deterministic actors of HATD3 and deterministic HASAC (:func:`make_deterministic_actor`) reuse the spaces'
common parts (a Box's bounds; the one-hot critic form and uniform warm-up draws of discrete spaces) and choose
an action from a proto-action with exploration noise instead of sampling (:class:`_Deterministic`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium.spaces import Box, Discrete, MultiDiscrete
from torch import nn

from .mlp import mlp, normed_mlp

#: orthogonal gain of a categorical actor's logits layer (the reference code's ``model.gain``)
LOGITS_GAIN = 0.01

#: Logit given to unavailable actions: exp() of it underflows to exactly 0 in float32.
MASKED_LOGIT = -1e9
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


@dataclass
class Sample:
    rep: torch.Tensor      #: (B, rep_dim) critic input; differentiable w.r.t. the actor
    env: torch.Tensor      #: (B,) int64 for Discrete, (B, d) float / int64 otherwise: the environment action
    logp: torch.Tensor     #: (B,) log-probability of the action (Box: log density of ``stored``, tanh units)
    stored: torch.Tensor   #: what the replay buffer keeps (Box: the squashed value in [-1, 1]; else indices)
    #: (B,) ``E_{a~pi}[log pi(a|o)]`` (minus the entropy) in closed form, differentiable w.r.t. the actor, for
    #: Discrete and MultiDiscrete heads (None for Box, whose ``logp`` is already reparameterised).  The entropy
    #: term of a Gumbel-sampled loss must use it: ``logp`` of a sampled index has a zero-mean gradient.
    mean_logp: torch.Tensor | None = None
    #: (B, n) ``log pi(.|o)`` of every action (Discrete heads only; masked actions at about -1e9), from the
    #: same logits as the sample and differentiable like it: eq. 10's exact expectation reuses them
    log_probs: torch.Tensor | None = None

    def entropy_logp(self) -> torch.Tensor:
        """What an entropy term ``alpha E[log pi]`` takes: ``mean_logp`` where a closed form exists, else ``logp``."""
        return self.logp if self.mean_logp is None else self.mean_logp


def _check_avail(avail, n: int, what: str):
    if avail is None:
        return None
    if avail.shape[-1] != n:
        raise ValueError(f"{what}: availability mask has {avail.shape[-1]} entries, expected {n}")
    if not bool(avail.any(dim=-1).all()):
        raise ValueError(f"{what}: some row of the availability mask has no available action")
    return avail


class _BoxActor(nn.Module):
    """What every actor of a Box space shares: the affine map of ``[-1, 1]^d`` onto ``[low, high]`` (each Box's
    own bounds), the stored and critic form (the value in ``[-1, 1]^d``) and uniform warm-up actions."""

    def __init__(self, space: Box):
        super().__init__()
        low, high = np.asarray(space.low, dtype=np.float64), np.asarray(space.high, dtype=np.float64)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"Box action spaces need finite bounds for a squashed Gaussian, got {space}")
        if np.any(high <= low):
            raise ValueError(f"Box action space with high <= low: {space}")
        self.dim = int(low.size)
        self.rep_dim = self.dim
        self.register_buffer("low", torch.as_tensor(low.ravel(), dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor((high - low).ravel() / 2, dtype=torch.float32))

    def _to_env(self, squashed):
        return self.low + (squashed + 1.0) * self.scale

    def rep_of(self, stored):
        return stored

    def random(self, n: int, avail, rng: np.random.Generator):
        squashed = torch.as_tensor(rng.uniform(-1.0, 1.0, size=(n, self.dim)), dtype=torch.float32)
        logp = torch.full((n,), -self.dim * math.log(2.0))   # uniform on [-1, 1]^d, tanh units
        return Sample(rep=squashed, env=self._to_env(squashed), logp=logp, stored=squashed)


class SquashedGaussianActor(_BoxActor):
    """``a = low + (tanh(u) + 1) (high - low) / 2`` with ``u ~ N(mu(o), sigma(o))``; ``logp`` is
    ``log N(u) - sum_j log(1 - tanh(u_j)^2)``, the density of ``tanh(u)`` (see the module docstring).  One linear
    output layer holds ``mu`` and ``log sigma`` (the same initial distribution as two separate layers)."""

    def __init__(self, obs_dim: int, space: Box, hidden):
        super().__init__(space)
        self.body = mlp(obs_dim, hidden, 2 * self.dim, tanh_trunk=True)

    def sample(self, obs, avail=None) -> Sample:
        mu, log_std = self.body(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        eps = torch.randn_like(mu)
        u = mu + log_std.exp() * eps
        squashed = torch.tanh(u)
        # log N(u) - log|d tanh/du|, with log(1 - tanh^2 u) = 2 (log 2 - u - softplus(-2u))
        logp = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1)
        return Sample(rep=squashed, env=self._to_env(squashed), logp=logp, stored=squashed)

    def act(self, obs, avail=None) -> Sample:
        mu, _ = self.body(obs).chunk(2, dim=-1)
        squashed = torch.tanh(mu)
        return Sample(rep=squashed, env=self._to_env(squashed), logp=torch.zeros(obs.shape[0]), stored=squashed)

    def target_entropy(self, fraction: float, avail=None) -> float:
        """``-dim`` in tanh units, whatever the Box's bounds (``fraction`` applies to discrete spaces only)."""
        return -float(self.dim)


def _uniform_discrete(k: int, n: int, avail, rng: np.random.Generator) -> Sample:
    """``n`` uniform draws among the available ones of ``k`` actions, with their log-probabilities."""
    m = np.ones((n, k), dtype=bool) if avail is None else np.asarray(avail, dtype=bool)
    counts = m.sum(axis=1)
    if np.any(counts == 0):
        raise ValueError("Discrete actor: some row of the availability mask has no available action")
    pick = np.floor(rng.random(n) * counts).astype(np.int64)  # pick-th available action of each row
    idx = torch.as_tensor((np.cumsum(m, axis=1) > pick[:, None]).argmax(axis=1))
    return Sample(rep=F.one_hot(idx, k).float(), env=idx, logp=torch.as_tensor(-np.log(counts), dtype=torch.float32),
                  stored=idx)


def _gumbel_sample(z, tau: float) -> Sample:
    """A straight-through Gumbel-softmax sample from masked logits ``z`` (B, k): the one-hot forward with the
    relaxed sample's gradient, the sampled index's log-probability and ``E[log pi]`` in closed form."""
    logpi = F.log_softmax(z, dim=-1)
    g = -torch.log(-torch.log(torch.rand_like(z).clamp_min(1e-20)))
    idx = (z + g).argmax(-1)
    soft = F.softmax((logpi + g) / tau, dim=-1)
    rep = F.one_hot(idx, z.shape[-1]).to(z.dtype) - soft.detach() + soft
    return Sample(rep=rep, env=idx, logp=logpi.gather(-1, idx[:, None]).squeeze(-1), stored=idx,
                  mean_logp=(logpi.exp() * logpi).sum(-1), log_probs=logpi)


class CategoricalActor(nn.Module):
    """Gumbel-softmax actor over ``n`` actions, masked by availability."""

    def __init__(self, obs_dim: int, n: int, hidden, tau: float = 1.0, feature_norm: bool = True):
        super().__init__()
        if n < 1:
            raise ValueError(f"a Discrete space needs at least one action, got {n}")
        self.n, self.rep_dim, self.tau = int(n), int(n), float(tau)
        self.body = normed_mlp(obs_dim, hidden, self.n, LOGITS_GAIN, feature_norm)

    def logits(self, obs, avail=None):
        z = self.body(obs)
        if avail is not None:
            z = z.masked_fill(~_check_avail(avail, self.n, "Discrete actor"), MASKED_LOGIT)
        return z

    def log_probs(self, obs, avail=None):
        """``log pi(.|o)`` for every action, shape (B, n) (masked actions at about -1e9)."""
        return F.log_softmax(self.logits(obs, avail), dim=-1)

    def sample(self, obs, avail=None) -> Sample:
        return _gumbel_sample(self.logits(obs, avail), self.tau)

    def act(self, obs, avail=None) -> Sample:
        idx = self.logits(obs, avail).argmax(-1)
        return Sample(rep=F.one_hot(idx, self.n).float(), env=idx, logp=torch.zeros(obs.shape[0]), stored=idx)

    def rep_of(self, stored):
        return F.one_hot(stored.long(), self.n).float()

    def random(self, n: int, avail, rng: np.random.Generator):
        return _uniform_discrete(self.n, n, avail, rng)

    def target_entropy(self, fraction: float, avail=None):
        """``fraction * log|A^i|``; with a mask (B, n), ``fraction * log(available actions)`` per row (B,)."""
        if avail is None:
            return float(fraction) * math.log(self.n)
        return float(fraction) * torch.log(avail.sum(-1).double())


class _MultiDiscrete(nn.Module):
    """What every actor of a MultiDiscrete space shares: one output block per entry of ``nvec`` (masks
    concatenate the components' masks in the same order), the critic form (the components' one-hots,
    concatenated) and uniform warm-up actions, drawn component by component."""

    def __init__(self, obs_dim: int, space: MultiDiscrete, hidden, normed: bool = False, feature_norm: bool = True):
        super().__init__()
        self.nvec = [int(k) for k in np.asarray(space.nvec).ravel()]
        self.rep_dim = sum(self.nvec)
        self.body = (normed_mlp(obs_dim, hidden, self.rep_dim, LOGITS_GAIN, feature_norm) if normed
                     else mlp(obs_dim, hidden, self.rep_dim))

    def _components(self, z, avail, fill: float):
        """``z`` (B, sum(nvec)) with unavailable entries set to ``fill``, split into the components' blocks."""
        if avail is not None:
            z = z.masked_fill(~_check_avail(avail, self.rep_dim, "MultiDiscrete actor"), fill)
        return torch.split(z, self.nvec, dim=-1)

    def rep_of(self, stored):
        stored = stored.long()
        return torch.cat([F.one_hot(stored[:, j], k).float() for j, k in enumerate(self.nvec)], -1)

    def random(self, n: int, avail, rng: np.random.Generator):
        m = np.ones((n, self.rep_dim), dtype=bool) if avail is None else np.asarray(avail, dtype=bool)
        parts = [_uniform_discrete(k, n, block, rng)
                 for k, block in zip(self.nvec, np.split(m, np.cumsum(self.nvec)[:-1], axis=1))]
        idx = torch.stack([s.env for s in parts], -1)
        return Sample(rep=self.rep_of(idx), env=idx, logp=sum(s.logp for s in parts), stored=idx)


class MultiDiscreteActor(_MultiDiscrete):
    """Independent Gumbel-softmax components, one per entry of ``nvec``, on the normalised MLP of
    :class:`CategoricalActor`."""

    def __init__(self, obs_dim: int, space: MultiDiscrete, hidden, tau: float = 1.0, feature_norm: bool = True):
        super().__init__(obs_dim, space, hidden, normed=True, feature_norm=feature_norm)
        self.tau = float(tau)

    def _split(self, obs, avail):
        return self._components(self.body(obs), avail, MASKED_LOGIT)

    def sample(self, obs, avail=None) -> Sample:
        parts = [_gumbel_sample(z, self.tau) for z in self._split(obs, avail)]
        idx = torch.stack([p.env for p in parts], -1)
        # independent components: log-probabilities and entropies add
        return Sample(rep=torch.cat([p.rep for p in parts], -1), env=idx, logp=sum(p.logp for p in parts),
                      stored=idx, mean_logp=sum(p.mean_logp for p in parts))

    def act(self, obs, avail=None) -> Sample:
        idx = torch.stack([z.argmax(-1) for z in self._split(obs, avail)], -1)
        return Sample(rep=self.rep_of(idx), env=idx, logp=torch.zeros(obs.shape[0]), stored=idx)

    def target_entropy(self, fraction: float, avail=None):
        """``fraction * sum_j log|A^i_j|``; with a mask, of the available actions of each component, per row."""
        if avail is None:
            return float(fraction) * sum(math.log(k) for k in self.nvec)
        return float(fraction) * sum(torch.log(m.sum(-1).double()) for m in torch.split(avail, self.nvec, -1))


class _Deterministic:
    """Deterministic actors (HATD3, deterministic HASAC): the proto-action ``x = tanh(f(o))`` is a
    differentiable point of ``[-1, 1]^d``; :meth:`act` perturbs it with clipped Gaussian noise (exploration,
    target policy smoothing) and maps it to an action (``to_action``)."""

    def proto(self, obs, avail=None):
        return torch.tanh(self.body(obs))

    def act(self, obs, avail=None, noise: float = 0.0, clip: float | None = None) -> Sample:
        x = self.proto(obs, avail)
        if noise > 0:
            eps = noise * torch.randn_like(x)
            if clip is not None:
                eps = eps.clamp(-clip, clip)
            x = (x + eps).clamp(-1.0, 1.0)
        return self.to_action(x, avail)


class DeterministicBoxActor(_Deterministic, _BoxActor):
    """``a = low + (tanh(f(o)) + 1) (high - low) / 2``; noise is added to ``tanh(f(o))``, so a noise of
    ``sigma`` is ``sigma (high - low) / 2`` in the environment's units (as the reference code scales it)."""

    def __init__(self, obs_dim: int, space: Box, hidden):
        super().__init__(space)
        self.body = mlp(obs_dim, hidden, self.dim)

    def to_action(self, x, avail=None) -> Sample:
        return Sample(rep=x, env=self._to_env(x), logp=torch.zeros(x.shape[0], device=x.device), stored=x)


#: Below every proto-action coordinate (``tanh`` is in [-1, 1]): an unavailable action never wins an argmax.
MASKED_PROTO = -2.0


class DeterministicDiscreteActor(_Deterministic, nn.Module):
    """A deterministic policy over ``n`` actions through a proto-action ``x = tanh(f(o))`` in ``[-1, 1]^n``
    (Dulac-Arnold et al. 2015, "Deep RL in large discrete action spaces", with one neighbour): the action is
    the available one nearest to ``(x + 1) / 2`` among the one-hot vectors, i.e. ``argmax`` of ``x`` over the
    available actions.  The critic sees one-hot actions, as HASAC's does; the actor's loss evaluates it at the
    differentiable proto-action ``(x + 1) / 2`` (a one-hot vector exactly where ``x`` is at a corner with
    one +1).  Exploration noise and target smoothing perturb ``x``."""

    def __init__(self, obs_dim: int, n: int, hidden):
        super().__init__()
        if n < 1:
            raise ValueError(f"a Discrete space needs at least one action, got {n}")
        self.n = self.rep_dim = int(n)
        self.body = mlp(obs_dim, hidden, self.n)

    def to_action(self, x, avail=None) -> Sample:
        z = x if avail is None else x.masked_fill(~_check_avail(avail, self.n, "Discrete actor"), MASKED_PROTO)
        idx = z.argmax(-1)
        return Sample(rep=(x + 1.0) / 2.0, env=idx, logp=torch.zeros(x.shape[0], device=x.device), stored=idx)

    def rep_of(self, stored):
        return F.one_hot(stored.long(), self.n).float()

    def random(self, n: int, avail, rng: np.random.Generator):
        return _uniform_discrete(self.n, n, avail, rng)


class DeterministicMultiDiscreteActor(_Deterministic, _MultiDiscrete):
    """:class:`DeterministicDiscreteActor` per component: the proto-action ``x = tanh(f(o))`` has one block
    ``x_j`` in ``[-1, 1]^{nvec_j}`` per component and component ``j`` plays ``argmax`` of ``x_j`` over its
    available actions.  The critic sees the components' one-hots concatenated (as HASAC's MultiDiscrete
    actor gives it); the actor's loss evaluates the critic at the differentiable ``(x + 1) / 2``.

    Exploration and target smoothing add independent Gaussian noise (clipped for smoothing) to every
    coordinate of ``x``, so each component is perturbed on its own: component ``j`` leaves its greedy action
    only when the noise overturns the margin between its top available coordinates, with a probability set by
    that component's margin alone, as a Discrete agent's.  Per component, because the components are separate
    decisions (altitude, heading, speed, shoot in air combat) that the environment combines: noise on the
    joint action would need one coordinate per combination (``prod(nvec)``) instead of ``sum(nvec)``.  The
    smoothed bootstrap action is again one one-hot per component, so the target averages the critic over
    the actions near the target actor's in each component separately."""

    def to_action(self, x, avail=None) -> Sample:
        idx = torch.stack([z.argmax(-1) for z in self._components(x, avail, MASKED_PROTO)], -1)
        return Sample(rep=(x + 1.0) / 2.0, env=idx, logp=torch.zeros(x.shape[0], device=x.device), stored=idx)


def _check_space(space) -> None:
    """A ValueError unless actors support ``space``: a Box, a Discrete from 0, a flat MultiDiscrete from 0."""
    if isinstance(space, Discrete) and int(space.start) != 0:
        raise ValueError(f"Discrete spaces must start at 0, got {space!r}")
    if isinstance(space, MultiDiscrete) and (np.any(np.asarray(space.start) != 0) or np.asarray(space.nvec).ndim != 1):
        raise ValueError(f"MultiDiscrete spaces must be flat and start at 0, got {space!r}")
    if not isinstance(space, (Box, Discrete, MultiDiscrete)):
        raise ValueError(f"unsupported action space {space!r}; expected Box, Discrete or MultiDiscrete")


def make_deterministic_actor(obs_dim: int, space, hidden) -> nn.Module:
    """A deterministic actor (HATD3, deterministic HASAC) for a Box, Discrete or MultiDiscrete space."""
    _check_space(space)
    if isinstance(space, Box):
        return DeterministicBoxActor(obs_dim, space, hidden)
    if isinstance(space, Discrete):
        return DeterministicDiscreteActor(obs_dim, int(space.n), hidden)
    return DeterministicMultiDiscreteActor(obs_dim, space, hidden)


def make_actor(obs_dim: int, space, hidden, gumbel_tau: float = 1.0, feature_norm: bool = True) -> nn.Module:
    """A stochastic actor (HASAC, SAC) for a Box, Discrete or MultiDiscrete space; ``feature_norm``: LayerNorm
    of a discrete actor's input (the reference code's ``use_feature_normalization``)."""
    _check_space(space)
    if isinstance(space, Box):
        return SquashedGaussianActor(obs_dim, space, hidden)
    if isinstance(space, Discrete):
        return CategoricalActor(obs_dim, int(space.n), hidden, gumbel_tau, feature_norm)
    return MultiDiscreteActor(obs_dim, space, hidden, gumbel_tau, feature_norm)


def stored_layout(space) -> tuple[tuple, type]:
    """(shape, dtype) of one action of ``space`` as a buffer stores it (``Sample.stored``): a Box's squashed
    value in [-1, 1]^d, a Discrete index, a MultiDiscrete vector of indices."""
    if isinstance(space, Box):
        return (int(np.prod(space.shape)),), np.float32
    if isinstance(space, MultiDiscrete):
        return (int(np.asarray(space.nvec).size),), np.int64
    if isinstance(space, Discrete):
        return (), np.int64
    raise ValueError(f"unsupported action space {space!r}; expected Box, Discrete or MultiDiscrete")
