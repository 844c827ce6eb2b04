"""Policies for likelihood-ratio methods (MAPPO, HAPPO, HATRPO, PPO).

An on-policy update needs, for an action already taken, its log-probability under the current policy, the
policy's entropy and (HATRPO) the KL divergence to the policy that collected it.  One class per action space:

* :class:`GaussianPolicy` (Box): ``N(mu(o), diag(sigma^2))`` with a learnable, state-independent log-std; the
  unbounded sample is what is stored and scored, the environment gets it clipped to the Box;
* :class:`CategoricalPolicy` (Discrete): logits masked by the available actions (an unavailable action has
  probability exactly 0);
* :class:`ProductCategoricalPolicy` (MultiDiscrete): independent categoricals, one per component, masks
  concatenated like the environments' (the centralised PPO's joint discrete action is one of these).

Networks are the reference implementation's (PKU-MARL/HARL ``MLPBase``, :func:`deep.nets.mlp.normed_body`);
the action layer has gain 0.01 (``model.gain``) so the first policy is close to uniform / zero-mean.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium.spaces import Box, Discrete, MultiDiscrete
from torch import nn
from torch.distributions import Categorical, Normal

from .heads import MASKED_LOGIT
from .mlp import normed_body, orthogonal

ACTION_GAIN = 0.01  #: orthogonal gain of the action layer (HARL model.gain)


class _Policy(nn.Module):
    """Shared parts: ``dist(obs, avail)`` returns a torch distribution over the stored action."""

    def log_prob(self, obs, avail, action) -> torch.Tensor:
        """``log pi(action|obs)``, shape (B,) (a joint action's components summed: HARL's "prod" aggregation)."""
        return self.dist(obs, avail).log_prob(action)

    def kl(self, old, obs, avail) -> torch.Tensor:
        """``KL(old || self)`` per row, (B,), with ``old`` a distribution from :meth:`dist` (held fixed)."""
        return torch.distributions.kl_divergence(old, self.dist(obs, avail))


class GaussianPolicy(_Policy):
    """Diagonal Gaussian with a learnable, state-independent std per action dimension, bounded as the reference
    code bounds it: ``std = std_max * sigmoid(w)`` (PKU-MARL/HARL ``DiagGaussian``: ``std_y_coef`` 0.5 with
    ``w`` starting at ``std_x_coef`` 1, i.e. ``init_std`` 0.3655).  The bound keeps the entropy bonus from
    inflating the std past ``std_max``; an unbounded ``exp(w)`` also moves ``log std`` ``1 / (1 - sigmoid(w))``
    (3.7x at the start) faster per optimiser step."""

    def __init__(self, obs_dim: int, space: Box, hidden, feature_norm: bool = True, init_std: float = 0.3655,
                 std_max: float = 0.5):
        super().__init__()
        if not 0 < init_std < std_max:
            raise ValueError(f"init_std must lie in (0, std_max = {std_max}), got {init_std}")
        low, high = np.asarray(space.low, np.float32).ravel(), np.asarray(space.high, np.float32).ravel()
        self.low, self.high, self.dim, self.std_max = low, high, int(low.size), float(std_max)
        self.body = normed_body(obs_dim, hidden, feature_norm)
        self.mean = orthogonal(nn.Linear(hidden[-1], self.dim), ACTION_GAIN)
        self.std_logit = nn.Parameter(torch.full((self.dim,), math.log(init_std / (std_max - init_std))))

    def std(self) -> torch.Tensor:
        return self.std_max * torch.sigmoid(self.std_logit)

    def dist(self, obs, avail=None):
        return torch.distributions.Independent(Normal(self.mean(self.body(obs)), self.std()), 1)

    def mode(self, obs, avail=None):
        return self.mean(self.body(obs))

    def to_env(self, action: np.ndarray) -> np.ndarray:
        """The stored (unbounded) action clipped to the Box, as the environment takes it."""
        return np.clip(action, self.low, self.high)


class CategoricalPolicy(_Policy):
    def __init__(self, obs_dim: int, n: int, hidden, feature_norm: bool = True):
        super().__init__()
        self.n = int(n)
        self.body = normed_body(obs_dim, hidden, feature_norm)
        self.logits_layer = orthogonal(nn.Linear(hidden[-1], self.n), ACTION_GAIN)

    def logits(self, obs, avail=None):
        z = self.logits_layer(self.body(obs))
        return z if avail is None else z.masked_fill(~avail, MASKED_LOGIT)

    def dist(self, obs, avail=None):
        return Categorical(logits=self.logits(obs, avail))

    def mode(self, obs, avail=None):
        return self.logits(obs, avail).argmax(-1)

    def to_env(self, action: np.ndarray) -> np.ndarray:
        return action


class ProductCategorical(torch.distributions.Distribution):
    """Independent categoricals over the columns of an integer action ``(B, k)``."""

    arg_constraints: dict = {}

    def __init__(self, parts: list[Categorical]):
        self.parts = parts
        super().__init__(batch_shape=parts[0].batch_shape, validate_args=False)

    def sample(self, sample_shape=torch.Size()):
        return torch.stack([p.sample(sample_shape) for p in self.parts], -1)

    def log_prob(self, value):
        return sum(p.log_prob(value[..., j]) for j, p in enumerate(self.parts))

    def entropy(self):
        return sum(p.entropy() for p in self.parts)


@torch.distributions.kl.register_kl(ProductCategorical, ProductCategorical)
def _kl_product(p: ProductCategorical, q: ProductCategorical):
    return sum(torch.distributions.kl_divergence(a, b) for a, b in zip(p.parts, q.parts, strict=True))


class ProductCategoricalPolicy(_Policy):
    def __init__(self, obs_dim: int, nvec, hidden, feature_norm: bool = True):
        super().__init__()
        self.nvec = [int(k) for k in nvec]
        self.body = normed_body(obs_dim, hidden, feature_norm)
        self.logits_layer = orthogonal(nn.Linear(hidden[-1], sum(self.nvec)), ACTION_GAIN)

    def _logits(self, obs, avail):
        z = self.logits_layer(self.body(obs))
        z = z if avail is None else z.masked_fill(~avail, MASKED_LOGIT)
        return torch.split(z, self.nvec, dim=-1)

    def dist(self, obs, avail=None):
        return ProductCategorical([Categorical(logits=z) for z in self._logits(obs, avail)])

    def mode(self, obs, avail=None):
        return torch.stack([z.argmax(-1) for z in self._logits(obs, avail)], -1)

    def to_env(self, action: np.ndarray) -> np.ndarray:
        return action


def make_policy(obs_dim: int, space, hidden, feature_norm: bool = True, init_std: float = 0.3655,
                std_max: float = 0.5) -> _Policy:
    """The policy class for a gymnasium action space (Box, Discrete or MultiDiscrete, starting at 0)."""
    if isinstance(space, Box):
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ValueError(f"Box action spaces need finite bounds (actions are clipped to them), got {space}")
        return GaussianPolicy(obs_dim, space, hidden, feature_norm, init_std, std_max)
    if isinstance(space, Discrete):
        if int(space.start) != 0:
            raise ValueError(f"Discrete spaces must start at 0, got {space!r}")
        return CategoricalPolicy(obs_dim, int(space.n), hidden, feature_norm)
    if isinstance(space, MultiDiscrete):
        if np.any(np.asarray(space.start) != 0) or np.asarray(space.nvec).ndim != 1:
            raise ValueError(f"MultiDiscrete spaces must be flat and start at 0, got {space!r}")
        return ProductCategoricalPolicy(obs_dim, np.asarray(space.nvec), hidden, feature_norm)
    raise ValueError(f"unsupported action space {space!r}; expected Box, Discrete or MultiDiscrete")


def start_from(policy: nn.Module, probs) -> None:
    """Make a categorical policy output ``probs`` for every observation: zero the weights of its last linear
    layer and set its bias to ``log probs`` (used to start the matrix game from the paper's (0.6, 0.2, 0.2))."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 1 or np.any(p <= 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"probs must be a positive probability vector, got {probs!r}")
    last = [m for m in policy.modules() if isinstance(m, nn.Linear)][-1]
    if last.out_features != p.size:
        raise ValueError(f"the policy has {last.out_features} logits, probs has {p.size} entries")
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.as_tensor(np.log(p), dtype=last.bias.dtype))


def one_hot_probs(policy: CategoricalPolicy, n_states: int) -> np.ndarray:
    """``pi(.|s)`` at every one-hot state (tabular games), float64 rows renormalised to sum to 1."""
    with torch.no_grad():
        p = F.softmax(policy.logits(torch.eye(n_states)), -1).double().numpy()
    return p / p.sum(axis=1, keepdims=True)
