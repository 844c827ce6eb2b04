r"""The logit (QRE) equations as a smooth system ``F(x, lambda) = 0`` with analytic Jacobians.

Unknowns are log-probabilities ``x = log pi`` stacked agent by agent (state-major inside an agent).  With
``p_i = softmax(x_i)`` row by row (normalised even off the solution, so Newton iterates stay bounded and, in a
Markov game, ``P_pi`` stays stochastic) every agent and state must satisfy

.. math::  F_i(x, \lambda) = x_i - \log\operatorname{softmax}(q_i) = 0,

so at any root ``x_i`` is itself normalised, ``x = log pi``, and ``pi^i = softmax(q_i)``: the QRE condition of
Theorem 1.

* :class:`NormalFormSystem` (general sum, one payoff tensor per player): ``q_i = lambda E_{a^-i}[u_i]``.
* :class:`MarkovSystem` (cooperative Markov game, soft QRE of Theorem 1): ``q_i = E_{a^-i}[Q]`` where ``Q`` is
  the soft Q of eq. 4-6 for reward ``lambda r`` at temperature 1.  Because ``Q_{r, alpha} = alpha Q_{r/alpha, 1}``
  this is exactly Theorem 1 with ``alpha = 1/lambda``; ``Q`` contains the future entropy terms.

Both return ``F``, ``dF/dx`` and ``dF/dlambda`` exactly (no finite differences), which the Newton solver and
the path follower use.
"""
from __future__ import annotations

import string
from functools import reduce

import numpy as np
import scipy.linalg as sla

from .games import GameError, MarkovGame, MatrixGame, NormalFormGame, as_normal_form
from .policy import JointPolicy

#: Markov games are solved with a dense Jacobian; refuse ones whose dense kernel would exceed this many entries.
MAX_DENSE_KERNEL = 20_000_000


def _log_softmax(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise ``log softmax(q)`` and ``softmax(q)`` along the last axis (log-sum-exp stabilised)."""
    z = q - q.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=-1, keepdims=True))
    ls = z - lse
    return ls, np.exp(ls)


class _System:
    """Shared layout: ``counts`` per agent, ``n_states``, offsets of each agent's block in ``x``."""

    n_states: int
    counts: tuple

    def _layout(self):
        sizes = [self.n_states * k for k in self.counts]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.size = int(self.offsets[-1])

    def split(self, v: np.ndarray) -> list[np.ndarray]:
        """Per-agent views of a stacked vector, each of shape ``(S, |A^i|)``."""
        return [v[self.offsets[i]:self.offsets[i + 1]].reshape(self.n_states, k) for i, k in enumerate(self.counts)]

    def to_x(self, policy: JointPolicy, floor: float = 1e-300) -> np.ndarray:
        """Stack ``log pi`` (probabilities below ``floor`` are raised to it so the log is finite)."""
        policy.check_game(self)
        return np.concatenate([np.log(np.maximum(np.asarray(p), floor)).ravel() for p in policy])

    def probabilities(self, x: np.ndarray) -> list[np.ndarray]:
        """Per-agent arrays of the normalised profile ``exp(x)`` (rows renormalised, which is exact at a root)."""
        return [_log_softmax(xi)[1] for xi in self.split(x)]

    def to_policy(self, x: np.ndarray) -> JointPolicy:
        return JointPolicy(self.probabilities(x))

    def residual(self, policy, lam: float) -> float:
        """``max |pi^i(a|s) - softmax(q_i)(a|s)|`` over agents, states and actions at a normalised profile
        (a :class:`JointPolicy` or per-agent arrays)."""
        x = np.concatenate([np.asarray(p).ravel() for p in policy])
        with np.errstate(divide="ignore", invalid="ignore"):  # log 0 = -inf is exact here: weight 0
            q = self.logits(np.log(x), lam)
        return max(float(np.max(np.abs(np.asarray(p) - _log_softmax(qi)[1]))) for p, qi in zip(policy, q))

    def equations(self, x: np.ndarray, lam: float) -> np.ndarray:
        return np.concatenate([(xi - _log_softmax(qi)[0]).ravel()
                               for xi, qi in zip(self.split(x), self.logits(x, lam))])


class NormalFormSystem(_System):
    """Logit equations of a general-sum normal-form game at precision ``lambda``.

    All ``n (n - 1)`` blocks ``M_ij[a, b] = E_{a^-(i,j)}[u_i(a^i = a, a^j = b, .)]`` are formed by one batched
    matrix product: action axes are padded to the largest count (padding has probability 0 and payoff 0).
    """

    def __init__(self, game):
        nf = as_normal_form(game)
        self.game = nf
        self.common = nf.is_common_payoff  #: one shared payoff (a cooperative game)
        self.n_agents, self.n_states, self.counts = nf.n_agents, 1, tuple(nf.n_actions)
        self.n_actions = self.counts
        self._layout()
        n, K = self.n_agents, self.counts
        Km = max(K)
        self._Km = Km
        self._mask = np.arange(Km)[None, :] < np.array(K)[:, None]          # (n, Km): real actions
        self._flat = np.flatnonzero(self._mask)                              # their positions in (n*Km)
        self._padded = len(self._flat) != n * Km
        pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
        self._pi = np.array([i for i, _ in pairs], dtype=int)
        self._pj = np.array([j for _, j in pairs], dtype=int)
        self._others = np.array([[k for k in range(n) if k not in pair] for pair in pairs], dtype=int)
        U = np.zeros((len(pairs), Km, Km) + (Km,) * max(n - 2, 0))
        for idx, (i, j) in enumerate(pairs):
            t = np.transpose(nf.payoffs[i], [i, j] + list(self._others[idx]))
            U[(idx,) + tuple(slice(0, k) for k in t.shape)] = t
        self._U = U.reshape(len(pairs), Km * Km, Km ** max(n - 2, 0))
        # where each entry of the pair blocks lands in the flattened N x N Jacobian (real actions only)
        off = self.offsets
        r, c = np.indices((Km, Km))
        self._cmask = np.array([(r < K[i]) & (c < K[j]) for i, j in pairs], dtype=bool).reshape(-1, Km, Km)
        self._jidx = np.concatenate([((off[i] + r) * self.size + off[j] + c)[keep]
                                     for (i, j), keep in zip(pairs, self._cmask)] or [np.zeros(0, dtype=int)])
        # q_i = M_ij p_j with j = the first other agent: the pair index and that agent, per i
        self._qpair = np.array([pairs.index((i, 1 if i == 0 else 0)) for i in range(n)] if n > 1 else [], dtype=int)
        self._qother = self._pj[self._qpair] if n > 1 else self._qpair

    def _pad(self, v: np.ndarray) -> np.ndarray:
        """Stacked per-agent vector -> ``(n, Km)`` with zeros in the padding."""
        if not self._padded:
            return v.reshape(self.n_agents, self._Km)
        out = np.zeros((self.n_agents, self._Km))
        out[self._mask] = v
        return out

    def _real(self, a: np.ndarray) -> np.ndarray:
        """``(n, Km)`` -> stacked vector of the real actions (inverse of :meth:`_pad`)."""
        return a[self._mask] if self._padded else a.ravel()

    def _blocks(self, p: np.ndarray) -> np.ndarray:
        """All blocks ``M_ij`` for padded probabilities ``p`` (n, Km): shape ``(n (n - 1), Km, Km)``."""
        Km = self._Km
        if self.n_agents == 1:
            return np.zeros((0, Km, Km))
        if self.n_agents == 2:
            return self._U.reshape(-1, Km, Km)
        w = p[self._others[:, 0]]
        for c in range(1, self.n_agents - 2):
            w = (w[:, :, None] * p[self._others[:, c]][:, None, :]).reshape(len(w), -1)
        return (self._U @ w[:, :, None]).reshape(-1, Km, Km)

    def _values(self, p: np.ndarray, M: np.ndarray) -> np.ndarray:
        """``E_{a^-i}[u_i(a^i, .)]`` for every agent, padded, shape ``(n, Km)``."""
        if self.n_agents == 1:
            return self._pad(np.asarray(self.game.payoffs[0], dtype=float).ravel()).copy()
        return np.einsum("iab,ib->ia", M[self._qpair], p[self._qother])

    def _probs(self, x: np.ndarray) -> np.ndarray:
        """Padded ``p_i = softmax(x_i)`` (normalised even off the solution, so payoffs stay bounded)."""
        z = self._pad(x)
        if self._padded:
            z = np.where(self._mask, z, -np.inf)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def _logsoftmax(self, z: np.ndarray):
        if self._padded:
            z = np.where(self._mask, z, -np.inf)
        z = z - z.max(axis=1, keepdims=True)
        ls = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return ls, np.exp(ls)

    def logits(self, x: np.ndarray, lam: float) -> list[np.ndarray]:
        p = self._probs(x)
        u = self._values(p, self._blocks(p))
        return [lam * u[i, :k][None, :] for i, k in enumerate(self.counts)]

    def payoff_values(self, policy: JointPolicy) -> np.ndarray:
        """Each player's expected payoff ``E_pi[u_i]`` at a normalised profile."""
        p = self._pad(np.concatenate([np.asarray(pi[0]) for pi in policy]))
        return (p * self._values(p, self._blocks(p))).sum(axis=1)

    def offdiagonal(self, x: np.ndarray) -> np.ndarray:
        """The ``N x N`` matrix of the blocks ``M_ij`` (zero diagonal blocks) at ``p = softmax(x)``."""
        n, Km = self.n_agents, self._Km
        p = self._probs(x)
        full = np.zeros((n, Km, n, Km))
        if n > 1:
            full[self._pi, :, self._pj, :] = self._blocks(p)
        full = full.reshape(n * Km, n * Km)
        return full[np.ix_(self._flat, self._flat)] if self._padded else full

    def residual(self, policy: JointPolicy, lam: float) -> float:
        p = self._pad(np.concatenate([np.asarray(pi[0]) for pi in policy]))
        s = self._logsoftmax(lam * self._values(p, self._blocks(p)))[1]
        return float(np.max(np.abs(self._real(p - s))))

    def jacobian(self, x: np.ndarray, lam: float):
        """``F``, ``dF/dx`` (N x N) and ``dF/dlambda`` (N,) at ``(x, lambda)``."""
        N = self.size
        p = self._probs(x)
        M = self._blocks(p)
        pj = p[self._pj]
        Mp = np.einsum("pab,pb->pa", M, pj)               # M_ij p_j = E_{a^-i}[u_i] for every pair (i, j)
        u = Mp[self._qpair] if self.n_agents > 1 else self._values(p, M)
        ls, s = self._logsoftmax(lam * u)
        F = x - self._real(ls)
        Jl = self._real((s * u).sum(axis=1, keepdims=True) - u)
        J = np.zeros(N * N)
        if self.n_agents > 1:
            C = (M - Mp[:, :, None]) * pj[:, None, :]       # chain rule through p_j = softmax(x_j)
            C -= np.einsum("pa,pab->pb", s[self._pi], C)[:, None, :]  # d log softmax(z_i) = (I - 1 s_i^T) dz_i
            J[self._jidx] = -lam * (C[self._cmask] if self._padded else C.ravel())
        J[::N + 1] = 1.0
        return F, J.reshape(N, N), Jl


class MarkovSystem(_System):
    """Soft-QRE equations (Theorem 1) of a cooperative Markov game at precision ``lambda = 1/alpha``."""

    def __init__(self, game: MarkovGame):
        if not isinstance(game, MarkovGame):
            raise GameError(f"expected a MarkovGame, got {type(game).__name__}")
        S, A = game.n_states, game.n_joint_actions
        if game.gamma and S * A * S > MAX_DENSE_KERNEL:
            raise GameError(f"the soft-QRE solver uses a dense Jacobian; S*|A|*S = {S * A * S} exceeds "
                            f"{MAX_DENSE_KERNEL} (use tabular.haspi for large games)")
        self.game = game
        self.common = True  #: a Markov game here always has one shared reward
        self.n_agents, self.n_states, self.counts = game.n_agents, S, tuple(game.n_actions)
        self.n_actions = self.counts
        self._layout()
        self.gamma = game.gamma
        self.P = (game.P.toarray() if game.is_sparse else np.asarray(game.P)).reshape(*game.joint_shape, S)
        n = self.n_agents
        L = string.ascii_letters[1:]
        self._letters = L[:n]
        self._subs = {}

    def _contract(self, T: np.ndarray, p: list[np.ndarray], keep: list[int], trailing: str = "") -> np.ndarray:
        """Average tensor ``T`` (state, actions..., [trailing]) over every agent not in ``keep``."""
        key = (tuple(keep), trailing)
        if key not in self._subs:
            L, n = self._letters, self.n_agents
            specs = ["a" + L + trailing] + ["a" + L[j] for j in range(n) if j not in keep]
            out = "a" + "".join(L[i] for i in keep) + trailing
            self._subs[key] = ",".join(specs) + "->" + out
        ops = [p[j] for j in range(self.n_agents) if j not in keep]
        return np.einsum(self._subs[key], T, *ops, optimize=len(ops) > 1)

    def _evaluate(self, x: np.ndarray, lam: float):
        """Soft ``Q`` for reward ``lambda r`` at temperature 1 under ``p = softmax(x)`` (row-wise, so ``P_pi`` is
        always stochastic), with ``G = (I - gamma P_pi)^-1``; also returns ``log p``."""
        g, S = self.game, self.n_states
        logp, p = zip(*(_log_softmax(xi) for xi in self.split(x)))
        pi = reduce(lambda a, b: a[..., None] * b.reshape((S,) + (1,) * (a.ndim - 1) + (-1,)), p[1:], p[0])
        r_pi = (pi * g.r).reshape(S, -1).sum(axis=1)
        h = -sum(np.where(pi_i > 0, pi_i * li, 0.0).sum(axis=1) for pi_i, li in zip(p, logp))  # 0 log 0 = 0
        if self.gamma:
            P_pi = np.einsum("sa,sat->st", pi.reshape(S, -1), self.P.reshape(S, -1, S))
            G = sla.inv(np.eye(S) - self.gamma * P_pi)
            V = G @ (lam * r_pi + h)
            Q = lam * g.r + self.gamma * self.P @ V
        else:
            G, Q = None, lam * g.r
        return list(p), list(logp), G, r_pi, Q

    def logits(self, x: np.ndarray, lam: float) -> list[np.ndarray]:
        p, _, _, _, Q = self._evaluate(x, lam)
        return [self._contract(Q, p, [i]) for i in range(self.n_agents)]

    def jacobian(self, x: np.ndarray, lam: float):
        r"""``F``, ``dF/dx`` and ``dF/dlambda``.

        With ``g_j(s, b) = q_j(s, b) - log p_j(b|s) - 1`` a change of ``p_j(b|s)`` moves ``V`` by ``G[:, s] g_j(s, b)``,
        so ``dq_i(s', a)/dp_j(b|s) = [s = s', j != i] E_{a^-(i,j)}[Q(s, a, b, .)]
        + gamma E_{a^-i}[P(.|s', a)] G[:, s] g_j(s, b)``;
        ``dq_i/dlambda = E_{a^-i}[Q^r]`` with ``Q^r`` the reward-only Q of the same policy.
        """
        n, S, off, N = self.n_agents, self.n_states, self.offsets, self.size
        xs = self.split(x)
        p, logp, G, r_pi, Q = self._evaluate(x, lam)
        q = [self._contract(Q, p, [i]) for i in range(n)]
        Qr = self.game.r + (self.gamma * self.P @ (G @ r_pi) if self.gamma else 0.0)
        D = np.zeros((N, N))  # dq/dp
        for i in range(n):
            for j in range(n):
                if i != j:
                    Mij = self._contract(Q, p, [i, j])  # (S, K_i, K_j)
                    Ki, Kj = self.counts[i], self.counts[j]
                    blk = D[off[i]:off[i + 1], off[j]:off[j + 1]].reshape(S, Ki, S, Kj)
                    blk[np.arange(S), :, np.arange(S), :] = Mij
        if self.gamma:
            Pbar = np.concatenate([self._contract(self.P, p, [i], "t").reshape(-1, S) for i in range(n)])
            gvec = np.concatenate([(qj - lj - 1.0).ravel() for qj, lj in zip(q, logp)])
            state_of = np.concatenate([np.repeat(np.arange(S), k) for k in self.counts])
            D += self.gamma * (Pbar @ G)[:, state_of] * gvec[None, :]
        # chain rule through p_j(.|s) = softmax(x_j(s, .)): column c of group (j, s) becomes
        # p_c (D_c - sum_c' p_c' D_c')
        for j in range(n):
            cols = D[:, off[j]:off[j + 1]].reshape(N, S, self.counts[j])
            cols -= np.einsum("nsb,sb->ns", cols, p[j])[:, :, None]
            cols *= p[j][None]
        F, Jl = np.empty(N), np.empty(N)
        for i in range(n):
            ls, s = _log_softmax(q[i])
            sl = slice(off[i], off[i + 1])
            F[sl] = (xs[i] - ls).ravel()
            qr = self._contract(Qr, p, [i])
            Jl[sl] = -(qr - (s * qr).sum(axis=1, keepdims=True)).ravel()
            rows = D[sl].reshape(S, self.counts[i], N)
            D[sl] = (rows - np.einsum("sa,san->sn", s, rows)[:, None, :]).reshape(-1, N)
        return F, np.eye(N) - D, Jl


def make_system(game):
    """The logit system for ``game``: a normal-form game (general sum) or a cooperative Markov game.

    Games are immutable (their arrays are read-only), so the system, whose setup rearranges the payoffs into
    the batched layout, is built once per game object and kept on it for later solves.
    """
    system = game.__dict__.get("_logit_system") if hasattr(game, "__dict__") else None
    if system is not None:
        return system
    if isinstance(game, (NormalFormGame, MatrixGame)):
        system = NormalFormSystem(game)
    elif isinstance(game, MarkovGame):
        system = MarkovSystem(game)
    else:
        raise GameError(f"expected a NormalFormGame, MatrixGame or MarkovGame, got {type(game).__name__}")
    game.__dict__["_logit_system"] = system
    return system
