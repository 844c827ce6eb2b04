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
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.special import xlogy

from .games import GameError, MarkovGame, MatrixGame, NormalFormGame, as_normal_form, mix_rows
from .policy import JointPolicy

#: Markov games whose dense kernel ``S * |A| * S`` has at most this many entries get a dense Jacobian; larger
#: ones the matrix-free linearisation of :class:`SparseMarkovSystem`, solved by GMRES.
MAX_DENSE_KERNEL = 20_000_000
#: ... and at most this many unknowns ``S * sum |A^i|``: a dense LU of the Jacobian costs ``size^3``, so above
#: this the matrix-free Newton-Krylov solve is the faster one (benchmarks/README.md).
MAX_DENSE_SIZE = 500
#: Relative accuracy of the GMRES solves of the matrix-free linearisation (Newton and the path follower then
#: converge as with exact solves: each correction is accurate to far below the step it makes).
KRYLOV_RTOL = 1e-13
#: Normal-form games with ``N ** n`` at most this (``N`` actions in all, ``n`` players) form their payoff blocks
#: with one dense matrix-vector product; larger ones with a batched product over the pairs of players.
DENSE_BLOCKS = 2 ** 15


def _others_weight(policy: JointPolicy, agent: int) -> np.ndarray:
    """``W[s, k, a] = 1[a^i = k] * prod_{j != i} pi^j(a^j|s)``, shape ``(S, |A^i|, |A|)``."""
    n, S, counts = len(policy), policy.n_states, policy.n_actions
    w = np.ones((S,) + (1,) * n)
    for j in range(n):
        if j != agent:
            w = w * policy[j].reshape((S,) + tuple(counts[j] if m == j else 1 for m in range(n)))
    K = counts[agent]
    mask = np.eye(K).reshape((1, K) + tuple(K if m == agent else 1 for m in range(n)))
    return np.broadcast_to(w[:, None] * mask, (S, K) + counts).reshape(S, K, -1)


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
        #: ``log pi`` of uniform play, the start of the principal branch
        counts = np.asarray(self.counts)
        self.uniform_x = np.repeat(-np.log(counts.astype(float)), self.n_states * counts)
        self.uniform_x.setflags(write=False)

    def split(self, v: np.ndarray) -> list[np.ndarray]:
        """Per-agent views of a stacked vector.

        Parameters
        ----------
        v : ndarray
            Length ``size``: every agent's block, in agent order.

        Returns
        -------
        list of ndarray
            Agent ``i``'s block, shape ``(S, |A^i|)``.

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> system.split(np.arange(4.0))
        [array([[0., 1.]]), array([[2., 3.]])]
        """
        return [v[self.offsets[i]:self.offsets[i + 1]].reshape(self.n_states, k) for i, k in enumerate(self.counts)]

    def to_x(self, policy: JointPolicy, floor: float = 1e-300) -> np.ndarray:
        """Stack ``log pi`` (probabilities below ``floor`` are raised to it so the log is finite).

        Parameters
        ----------
        policy : JointPolicy
            A profile of the system's game.
        floor : float, optional
            The least probability whose log is taken.

        Returns
        -------
        ndarray
            Length ``size``.

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> np.round(system.to_x(T.JointPolicy.uniform(system)), 4)
        array([-0.6931, -0.6931, -0.6931, -0.6931])
        """
        policy.check_game(self)
        return np.concatenate([np.log(np.maximum(np.asarray(p), floor)).ravel() for p in policy])

    def probabilities(self, x: np.ndarray) -> list[np.ndarray]:
        """Per-agent arrays of the normalised profile ``exp(x)`` (rows renormalised, which is exact at a root).

        Parameters
        ----------
        x : ndarray
            Stacked log-probabilities.

        Returns
        -------
        list of ndarray
            Agent ``i``'s probabilities, shape ``(S, |A^i|)``.

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> x = np.log([0.9, 0.1, 0.9, 0.1])  # both agents at (0.9, 0.1), stacked
        >>> system.probabilities(x)
        [array([[0.9, 0.1]]), array([[0.9, 0.1]])]
        """
        return [_log_softmax(xi)[1] for xi in self.split(x)]

    def to_policy(self, x: np.ndarray) -> JointPolicy:
        """The normalised profile ``exp(x)`` as a :class:`JointPolicy`.

        Parameters
        ----------
        x : ndarray
            Stacked log-probabilities.

        Returns
        -------
        JointPolicy

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> x = np.log([0.9, 0.1, 0.9, 0.1])  # both agents at (0.9, 0.1), stacked
        >>> system.to_policy(x)[0]
        array([[0.9, 0.1]])
        """
        return JointPolicy(self.probabilities(x))

    def residual(self, policy, lam: float) -> float:
        """``max |pi^i(a|s) - softmax(q_i)(a|s)|`` over agents, states and actions at a normalised profile.

        Parameters
        ----------
        policy : JointPolicy or sequence of ndarray
            The profile.
        lam : float
            The precision.

        Returns
        -------
        float
            0 exactly at a QRE.

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> x = np.log([0.9, 0.1, 0.9, 0.1])  # both agents at (0.9, 0.1), stacked
        >>> round(system.residual(system.probabilities(x), 3.0), 4)  # near the QRE (0.9293, 0.0707)
        0.0168
        """
        x = np.concatenate([np.asarray(p).ravel() for p in policy])
        with np.errstate(divide="ignore", invalid="ignore"):  # log 0 = -inf is exact here: weight 0
            q = self.logits(np.log(x), lam)
        return max(float(np.max(np.abs(np.asarray(p) - _log_softmax(qi)[1]))) for p, qi in zip(policy, q))

    def profiles(self, xs, lams) -> tuple[tuple, np.ndarray]:
        """Per-agent probability arrays and residual at each point ``(x, lambda)`` of a trace.

        Parameters
        ----------
        xs : sequence of ndarray
            Stacked log-probabilities of each point.
        lams : sequence of float
            The precision of each point.

        Returns
        -------
        points : tuple of list of ndarray
            As :meth:`probabilities`, per point.
        residuals : ndarray
            As :meth:`residual`, per point.

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> x = np.log([0.9, 0.1, 0.9, 0.1])  # both agents at (0.9, 0.1), stacked
        >>> points, residuals = system.profiles([system.uniform_x, x], [0.0, 3.0])
        >>> points[1], np.round(residuals, 4)
        ([array([[0.9, 0.1]]), array([[0.9, 0.1]])], array([0.    , 0.0168]))
        """
        points = tuple(self.probabilities(x) for x in xs)
        return points, np.array([self.residual(p, lam) for p, lam in zip(points, lams)])

    def equations(self, x: np.ndarray, lam: float) -> np.ndarray:
        """``F(x, lambda)``: ``x_i - log softmax(q_i)``, stacked; zero exactly at a QRE.

        Parameters
        ----------
        x : ndarray
            Stacked log-probabilities.
        lam : float
            The precision.

        Returns
        -------
        ndarray
            Length ``size``.

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> x = np.log([0.9, 0.1, 0.9, 0.1])  # both agents at (0.9, 0.1), stacked
        >>> np.round(system.equations(x, 3.0), 4)
        array([-0.0185,  0.1843, -0.0185,  0.1843])
        """
        return np.concatenate([(xi - _log_softmax(qi)[0]).ravel()
                               for xi, qi in zip(self.split(x), self.logits(x, lam))])


class NormalFormSystem(_System):
    """Logit equations of a general-sum normal-form game at precision ``lambda``.

    Everything lives on the stacked vector of all agents' actions (length ``N``), and per-agent pieces are
    segment reductions (``np.ufunc.reduceat``) rather than loops: these games are small, so numpy call
    overhead, i.e. the number of array operations per Jacobian, is the cost that matters.  The ``N x N``
    matrix ``B`` of blocks ``M_ij[a, b] = E_{a^-(i,j)}[u_i(a^i = a, a^j = b, .)]`` (zero diagonal blocks) is a
    constant for two players; for more it is linear in the product of the other players' distributions, see
    :meth:`_prepare_blocks`.

    Parameters
    ----------
    game : NormalFormGame or MatrixGame
        The game.

    Examples
    --------
    >>> from tabular.qre_system import NormalFormSystem
    >>> system = NormalFormSystem(T.MatrixGame(np.eye(2)))
    >>> system.size, np.round(system.uniform_x, 4)  # stacked log-probabilities of uniform play
    (4, array([-0.6931, -0.6931, -0.6931, -0.6931]))
    >>> F, dF_dx, dF_dlam = system.jacobian(system.uniform_x, 1.0)
    >>> float(np.abs(F).max()), dF_dx.shape  # uniform play is a QRE of this game at every lambda
    (0.0, (4, 4))
    """

    def __init__(self, game):
        nf = as_normal_form(game)
        self.game = nf
        self.common = nf.is_common_payoff  #: one shared payoff (a cooperative game)
        self.n_agents, self.n_states, self.counts = nf.n_agents, 1, tuple(nf.n_actions)
        self.n_actions = self.counts
        self._layout()
        n, N = self.n_agents, self.size
        self._starts = self.offsets[:-1]                    # segment starts for reduceat
        self._agent = np.repeat(np.arange(n), self.counts)  # agent of each stacked entry
        self._member = (self._agent[:, None] == np.arange(n)).astype(float)  # (N, n) indicator of the agent
        self._offmask = (self._agent[:, None] != self._agent[None, :]).astype(float)  # 1 off the diagonal blocks
        self._D = self._B = None
        if n == 1:
            self._u1 = np.asarray(nf.payoffs[0], dtype=float).ravel()
        elif n == 2:
            B = np.zeros((N, N))
            B[self._offmask > 0] = np.concatenate([np.ravel(nf.payoffs[0]), np.ravel(np.transpose(nf.payoffs[1]))])
            B.setflags(write=False)
            self._B = B
        else:
            self._prepare_blocks(nf.payoffs)

    def _prepare_blocks(self, payoffs):
        """Layout of ``B`` for three or more players.

        Small games (``N ** n <= DENSE_BLOCKS``): ``B.ravel() = D @ (p x ... x p)`` with ``n - 2`` factors, one
        matrix-vector product.  Larger ones: for each ordered pair ``(i, j)`` the block ``M_ij`` is ``u_i``
        (axes ``i, j`` first) contracted with the product of the others' distributions, all pairs in one batched
        matrix product with action axes padded to the largest count (padding has payoff 0), then scattered.
        """
        n, K, N = self.n_agents, self.counts, self.size
        rows = [self.offsets[i] + np.arange(k) for i, k in enumerate(K)]
        pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
        others = [[k for k in range(n) if k not in pair] for pair in pairs]
        blocks = [np.transpose(payoffs[i], [i, j] + rest) for (i, j), rest in zip(pairs, others)]
        if N ** n <= DENSE_BLOCKS:
            D = np.zeros((N * N, N ** (n - 2)))
            for (i, j), rest, t in zip(pairs, others, blocks):
                cols = np.ravel_multi_index(np.ix_(*[rows[k] for k in rest]), (N,) * (n - 2)).ravel()
                D[np.ix_((rows[i][:, None] * N + rows[j]).ravel(), cols)] = t.reshape(K[i] * K[j], -1)
            self._D = D
            return
        Km = max(K)
        U = np.zeros((len(pairs), Km, Km) + (Km,) * (n - 2))
        widx = np.zeros((n - 2, len(pairs), Km), dtype=int)  # each other agent's probabilities (padding: any)
        bidx = np.full((len(pairs), Km, Km), N * N)          # where each block entry lands in [B.ravel(), spare]
        for idx, ((i, j), rest, t) in enumerate(zip(pairs, others, blocks)):
            U[(idx,) + tuple(slice(0, k) for k in t.shape)] = t
            for c, k in enumerate(rest):
                widx[c, idx, :K[k]] = rows[k]
            bidx[idx, :K[i], :K[j]] = rows[i][:, None] * N + rows[j][None, :]
        self._U = U.reshape(len(pairs), Km * Km, -1)
        self._widx, self._bidx = widx, bidx.ravel()

    def _softmax(self, z: np.ndarray) -> np.ndarray:
        """Per-agent ``softmax`` of a stacked vector (normalised even off the solution, so payoffs stay bounded)."""
        e = np.exp(z - np.maximum.reduceat(z, self._starts)[self._agent])
        return e / np.add.reduceat(e, self._starts)[self._agent]

    def _log_softmax(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-agent ``log softmax`` and ``softmax`` of a stacked vector (log-sum-exp stabilised)."""
        z = z - np.maximum.reduceat(z, self._starts)[self._agent]
        ls = z - np.log(np.add.reduceat(np.exp(z), self._starts))[self._agent]
        return ls, np.exp(ls)

    def _offdiag(self, p: np.ndarray) -> np.ndarray:
        """``B`` at the stacked profile ``p``."""
        N = self.size
        if self.n_agents == 1:
            return np.zeros((N, N))
        if self.n_agents == 2:
            return self._B
        if self._D is not None:  # B.ravel() = D @ (p x ... x p)
            w = p
            for _ in range(self.n_agents - 3):
                w = np.multiply.outer(w, p).ravel()
            return (self._D @ w).reshape(N, N)
        w = p[self._widx[0]]
        for wi in self._widx[1:]:  # product distribution of the agents outside each pair
            w = (w[:, :, None] * p[wi][:, None, :]).reshape(len(w), -1)
        out = np.zeros(N * N + 1)
        out[self._bidx] = (self._U @ w[:, :, None]).ravel()
        return out[:-1].reshape(N, N)

    def _payoffs(self, p: np.ndarray):
        """``B`` and ``u = E_{a^-i}[u_i(a^i, .)]`` stacked: every block row gives ``M_ij p_j = u_i``, so
        ``B p = (n - 1) u``."""
        if self.n_agents == 1:
            return None, self._u1
        B = self._offdiag(p)
        u = B @ p
        return B, (u if self.n_agents == 2 else u * (1.0 / (self.n_agents - 1)))

    def _stack(self, policy) -> np.ndarray:
        return np.concatenate([np.asarray(pi).ravel() for pi in policy])

    def probabilities(self, x: np.ndarray) -> list[np.ndarray]:
        p, off = self._softmax(x), self.offsets
        return [p[off[i]:off[i + 1]].reshape(1, -1) for i in range(self.n_agents)]

    def logits(self, x: np.ndarray, lam: float) -> list[np.ndarray]:
        """Each agent's logits ``q_i = lambda E_{a^-i}[u_i]`` at ``p = softmax(x)``.

        Parameters
        ----------
        x : ndarray
            Stacked log-probabilities.
        lam : float
            The precision.

        Returns
        -------
        list of ndarray
            Agent ``i``'s logits, shape ``(1, |A^i|)``.

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> x = np.log([0.9, 0.1, 0.9, 0.1])  # both agents at (0.9, 0.1), stacked
        >>> [np.round(q, 4) for q in system.logits(x, 3.0)]
        [array([[2.7, 0.3]]), array([[2.7, 0.3]])]
        """
        q, off = lam * self._payoffs(self._softmax(x))[1], self.offsets
        return [q[off[i]:off[i + 1]].reshape(1, -1) for i in range(self.n_agents)]

    def offdiagonal(self, x: np.ndarray) -> np.ndarray:
        """The ``N x N`` matrix ``B`` of the blocks ``M_ij`` (zero diagonal blocks) at ``p = softmax(x)``.

        Parameters
        ----------
        x : ndarray
            Stacked log-probabilities.

        Returns
        -------
        ndarray
            Shape ``(size, size)``.

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> system.offdiagonal(system.uniform_x)
        array([[0., 0., 1., 0.],
               [0., 0., 0., 1.],
               [1., 0., 0., 0.],
               [0., 1., 0., 0.]])
        """
        return self._offdiag(self._softmax(x))

    def assess(self, policy, lam: float) -> tuple[float, np.ndarray, float]:
        """The residual, each player's expected payoff and the entropy sum, from one evaluation of the payoffs.

        Parameters
        ----------
        policy : JointPolicy or sequence of ndarray
            A normalised profile.
        lam : float
            The precision.

        Returns
        -------
        residual : float
            As :meth:`residual`.
        payoffs : ndarray
            ``E_pi[u_i]`` per player.
        entropy : float
            ``sum_i H(pi^i)``.

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> x = np.log([0.9, 0.1, 0.9, 0.1])  # both agents at (0.9, 0.1), stacked
        >>> residual, payoffs, entropy = system.assess(system.probabilities(x), 3.0)
        >>> round(residual, 4), np.round(payoffs, 4), round(entropy, 4)
        (0.0168, array([0.82, 0.82]), 0.6502)
        """
        p = self._stack(policy)
        u = self._payoffs(p)[1]
        res = float(np.max(np.abs(p - self._log_softmax(lam * u)[1])))
        return res, np.add.reduceat(p * u, self._starts), float(-xlogy(p, p).sum())

    def residual(self, policy, lam: float) -> float:
        return self.assess(policy, lam)[0]

    def profiles(self, xs, lams) -> tuple[tuple, np.ndarray]:
        """As :meth:`_System.profiles`, with the softmaxes of all points done at once (the same arithmetic as
        :meth:`probabilities` and :meth:`residual` point by point, so the same numbers)."""
        st, ag, off = self._starts, self._agent, self.offsets
        X = np.array(xs, dtype=float).reshape(len(xs), self.size)
        P = np.exp(X - np.maximum.reduceat(X, st, axis=1)[:, ag])
        P /= np.add.reduceat(P, st, axis=1)[:, ag]
        P.setflags(write=False)
        Z = np.array([self._payoffs(p)[1] for p in P]).reshape(P.shape) * np.asarray(lams, dtype=float)[:, None]
        Z -= np.maximum.reduceat(Z, st, axis=1)[:, ag]
        S = np.exp(Z - np.log(np.add.reduceat(np.exp(Z), st, axis=1))[:, ag])
        points = tuple([p[off[i]:off[i + 1]].reshape(1, -1) for i in range(self.n_agents)] for p in P)
        return points, np.abs(P - S).max(axis=1)

    def equations(self, x: np.ndarray, lam: float) -> np.ndarray:
        return x - self._log_softmax(lam * self._payoffs(self._softmax(x))[1])[0]

    def jacobian(self, x: np.ndarray, lam: float):
        """``F``, ``dF/dx`` and ``dF/dlambda`` at ``(x, lambda)``, exactly (no finite differences).

        Parameters
        ----------
        x : ndarray
            Stacked log-probabilities.
        lam : float
            The precision.

        Returns
        -------
        F : ndarray
            As :meth:`equations`.
        dF_dx : ndarray
            Shape ``(size, size)``.
        dF_dlam : ndarray
            Length ``size``.

        Examples
        --------
        >>> from tabular.qre_system import make_system
        >>> system = make_system(T.MatrixGame(np.eye(2)))  # two agents, two actions, a payoff of 1 for matching
        >>> x = np.log([0.9, 0.1, 0.9, 0.1])  # both agents at (0.9, 0.1), stacked
        >>> F, dF_dx, dF_dlam = system.jacobian(x, 3.0)
        >>> np.round(dF_dlam, 4)
        array([-0.0665,  0.7335, -0.0665,  0.7335])
        """
        p = self._softmax(x)
        B, u = self._payoffs(p)
        ls, s = self._log_softmax(lam * u)
        Jl = np.add.reduceat(s * u, self._starts)[self._agent] - u
        if B is None or lam == 0.0:  # no opponents, or lambda = 0: F = x + const
            return x - ls, np.eye(self.size), Jl
        # -lambda du/dx = -lambda B (diag p - blockdiag(p_j p_j^T)) (chain rule through p = softmax(x)); then
        # d log softmax(z_i) = (I - 1 s_i^T) dz_i on each agent's rows
        C = (B - u[:, None] * self._offmask) * (-lam * p)  # (M_ij p_j)_a = u_i(a) for every j != i
        C -= ((self._member * s[:, None]).T @ C)[self._agent]
        C.flat[::self.size + 1] = 1.0  # dF/dx = I + C: the diagonal blocks of C are zero
        return x - ls, C, Jl


class MarkovSystem(_System):
    """Soft-QRE equations (Theorem 1) of a cooperative Markov game at precision ``lambda = 1/alpha``.

    Parameters
    ----------
    game : MarkovGame
        The game (dense ``dF/dx``; :class:`SparseMarkovSystem` for large ones).

    Raises
    ------
    GameError
        For anything but a :class:`MarkovGame`.

    Examples
    --------
    >>> from tabular.qre_system import MarkovSystem
    >>> game = T.random_markov_game(3, (2, 2), seed=0)
    >>> system = MarkovSystem(game)
    >>> system.size  # S * (|A^1| + |A^2|) unknowns
    12
    >>> system.residual(T.logit_qre(game, alpha=1.0).policy, 1.0) < 1e-12
    True
    """

    def __init__(self, game: MarkovGame):
        if not isinstance(game, MarkovGame):
            raise GameError(f"expected a MarkovGame, got {type(game).__name__}")
        S = game.n_states
        self.game = game
        self.common = True  #: a Markov game here always has one shared reward
        self.n_agents, self.n_states, self.counts = game.n_agents, S, tuple(game.n_actions)
        self.n_actions = self.counts
        self._layout()
        self.gamma = game.gamma
        if not isinstance(self, SparseMarkovSystem):
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
        """Each agent's logits ``q_i = E_{a^-i}[Q]``, ``Q`` the soft Q of reward ``lambda r`` at temperature 1.

        Parameters
        ----------
        x : ndarray
            Stacked log-probabilities.
        lam : float
            The precision.

        Returns
        -------
        list of ndarray
            Agent ``i``'s logits, shape ``(S, |A^i|)``.

        Examples
        --------
        >>> from tabular.qre_system import MarkovSystem
        >>> system = MarkovSystem(T.random_markov_game(3, (2, 2), seed=0))
        >>> [q.shape for q in system.logits(system.uniform_x, 1.0)]
        [(3, 2), (3, 2)]
        """
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


class SparseMarkovSystem(MarkovSystem):
    """The soft-QRE equations of :class:`MarkovSystem` for games too large for a dense Jacobian: ``P`` stays
    sparse and ``dF/dx`` is an operator (a :class:`scipy.sparse.linalg.LinearOperator`), never a matrix.

    ``dF/dx = I - R (D_loc + gamma Pbar G E diag(g)) C`` (the dense :meth:`MarkovSystem.jacobian`, factored):
    ``C`` is the softmax chain rule on the columns (``diag p - p p^T`` per agent and state), ``R`` the one on
    the rows (``I - 1 s^T``), ``D_loc`` the same-state blocks ``E_{a^-(i,j)}[Q]``, ``E`` sums a vector over the
    entries of each state, ``G = (I - gamma P_pi)^{-1}`` (one LU of the ``S x S`` kernel per point) and ``Pbar``
    stacks every agent's sparse induced kernel.  A product with it costs one product with each ``Pbar_i`` and
    one solve with ``G``.  The per-state blocks ``I - R D_loc C`` are inverted exactly and precondition GMRES.

    Parameters
    ----------
    game : MarkovGame
        The game, dense or sparse.

    Examples
    --------
    >>> from tabular.qre_system import SparseMarkovSystem
    >>> system = SparseMarkovSystem(T.random_markov_game(40, (3, 3), n_successors=3, sparse=True, seed=0))
    >>> F, dF_dx, dF_dlam = system.jacobian(system.uniform_x, 1.0)
    >>> from scipy.sparse.linalg import LinearOperator
    >>> isinstance(dF_dx, LinearOperator), dF_dx.shape  # an operator, never a matrix
    (True, (240, 240))
    """

    matrix_free = True

    def _evaluate(self, x: np.ndarray, lam: float):
        g, S = self.game, self.n_states
        logp, p = zip(*(_log_softmax(xi) for xi in self.split(x)))
        pi = reduce(lambda a, b: a[..., None] * b.reshape((S,) + (1,) * (a.ndim - 1) + (-1,)), p[1:], p[0])
        P_pi = mix_rows(g.P, pi.reshape(S, 1, -1))  # sparse
        self._P_pi = P_pi  # kept for det_sign of the Jacobian at this point
        r_pi = (pi * g.r).reshape(S, -1).sum(axis=1)
        h = -sum(np.where(pi_i > 0, pi_i * li, 0.0).sum(axis=1) for pi_i, li in zip(p, logp))
        if self.gamma:
            G = sla.lu_factor(np.eye(S) - self.gamma * P_pi.toarray())
            Q = lam * g.r + self.gamma * g.expected_next(sla.lu_solve(G, lam * r_pi + h))
        else:
            G, Q = None, lam * g.r
        return list(p), list(logp), G, r_pi, Q

    def jacobian(self, x: np.ndarray, lam: float):
        """``F``, ``dF/dx`` as a :class:`scipy.sparse.linalg.LinearOperator` (with ``.precondition``, the exact
        inverse of its per-state blocks) and ``dF/dlambda``."""
        n, S, off, N, K = self.n_agents, self.n_states, self.offsets, self.size, self.counts
        xs = self.split(x)
        p, logp, G, r_pi, Q = self._evaluate(x, lam)
        q = [self._contract(Q, p, [i]) for i in range(n)]
        soft = [_log_softmax(qi)[1] for qi in q]
        F = np.concatenate([(xi - _log_softmax(qi)[0]).ravel() for xi, qi in zip(xs, q)])
        Qr = self.game.r + (self.gamma * self.game.expected_next(sla.lu_solve(G, r_pi)) if self.gamma else 0.0)
        Jl = np.concatenate([-(qr - (si * qr).sum(axis=1, keepdims=True)).ravel()
                             for qr, si in ((self._contract(Qr, p, [i]), soft[i]) for i in range(n))])
        M = {(i, j): self._contract(Q, p, [i, j]) for i in range(n) for j in range(n) if i != j}
        if self.gamma:  # every agent's induced kernel (S*|A^i|, S), sparse
            P_pi = self._P_pi
            Pbar = [mix_rows(self.game.P, _others_weight(JointPolicy(p), i)) for i in range(n)]
            gvec = np.concatenate([(qj - lj - 1.0).ravel() for qj, lj in zip(q, logp)])

        def columns(v):  # C: the softmax chain rule on the columns, per agent and state
            return [pj * (vj - (pj * vj).sum(axis=1, keepdims=True)) for pj, vj in zip(p, self.split(v))]

        def rows(y):  # R: the chain rule of log softmax(q_i) on the rows
            return np.concatenate([(yi - (si * yi).sum(axis=1, keepdims=True)).ravel() for yi, si in zip(y, soft)])

        def matvec(v):
            v = np.ravel(v)
            cv = columns(v)
            y = [sum(np.einsum("sab,sb->sa", M[i, j], cv[j]) for j in range(n) if j != i) for i in range(n)]
            if self.gamma:  # gamma Pbar G E diag(g) C v
                z = sla.lu_solve(G, self._state_sums(gvec * np.concatenate([c.ravel() for c in cv])))
                y = [yi + self.gamma * (Pb @ z).reshape(S, K[i]) for i, (yi, Pb) in enumerate(zip(y, Pbar))]
            return v - rows(y)

        Jx = spla.LinearOperator((N, N), matvec=matvec, dtype=float)
        blocks = self._blocks(p, soft, M)
        Jx.precondition = None if blocks is None else blocks[0]

        def det_sign() -> int:
            """Sign of ``det dF/dx`` (0 if unknown: a singular per-state block).  By the matrix determinant lemma,
            with ``dF/dx = J_loc - U W``, ``U = gamma R Pbar``, ``W = G E diag(g) C``:
            ``det = det J_loc det(G) det(G^-1 - E diag(g) C J_loc^-1 U)``; ``det G > 0`` (the eigenvalues of
            ``I - gamma P_pi`` have positive real parts) and the last matrix is ``S x S``, its second term a
            sparse product because ``E diag(g) C J_loc^-1 R`` has one row of ``sum |A^i|`` entries per state."""
            if blocks is None:
                return 0
            _, Binv, C, order, sign = blocks
            if not self.gamma:
                return sign
            w = np.einsum("sk,skl,slm->sm", gvec[order].reshape(S, -1), C, Binv)
            start = np.concatenate([[0], np.cumsum(K)])
            Y = 0
            for i in range(n):
                wi = w[:, start[i]:start[i + 1]]
                wi = wi - wi.sum(axis=1, keepdims=True) * soft[i]  # times R_i = I - 1 s_i^T
                per_state = sp.csr_matrix((wi.ravel(), np.arange(S * K[i]), np.arange(0, S * K[i] + 1, K[i])),
                                          shape=(S, S * K[i]))
                Y = Y + per_state @ Pbar[i]
            cap = np.eye(S) - self.gamma * (P_pi.toarray() + Y.toarray())
            return sign * int(np.linalg.slogdet(cap)[0])
        Jx.det_sign = det_sign
        return F, Jx, Jl

    def _blocks(self, p, soft, M):
        """The per-state blocks ``J_loc,s = I - R_s D_loc,s C_s`` of ``dF/dx`` without the coupling through the
        future (all of it at ``gamma = 0``): ``(preconditioner v -> J_loc^-1 v, J_loc,s^-1, C_s, the permutation
        from the stacked (agent, state, action) order to the per-state (agent, action) order, sign det J_loc)``;
        ``None`` where a block is singular."""
        n, S, K, off = self.n_agents, self.n_states, self.counts, self.offsets
        start = np.concatenate([[0], np.cumsum(K)])
        Kt = int(start[-1])
        D = np.zeros((S, Kt, Kt))
        C = np.zeros((S, Kt, Kt))
        R = np.zeros((S, Kt, Kt))
        for i in range(n):
            a = slice(start[i], start[i + 1])
            C[:, a, a] = np.einsum("sa,ab->sab", p[i], np.eye(K[i])) - p[i][:, :, None] * p[i][:, None, :]
            R[:, a, a] = np.eye(K[i]) - soft[i][:, None, :]
            for j in range(n):
                if j != i:
                    D[:, a, start[j]:start[j + 1]] = M[i, j]
        B = np.eye(Kt) - R @ D @ C
        signs = np.linalg.slogdet(B)[0]
        if np.any(signs == 0):
            return None
        Binv = np.linalg.inv(B)
        # stacked (agent, state, action) order <-> per-state (agent, action) order
        order = np.concatenate([(off[i] + np.arange(S)[:, None] * K[i] + np.arange(K[i])[None, :])
                                for i in range(n)], axis=1).ravel()

        def apply(v):
            out = np.empty(self.size)
            out[order] = np.einsum("skl,sl->sk", Binv, np.ravel(v)[order].reshape(S, Kt)).ravel()
            return out
        return (spla.LinearOperator((self.size, self.size), matvec=apply, dtype=float), Binv, C, order,
                int(np.prod(signs)))

    def _state_sums(self, u: np.ndarray) -> np.ndarray:
        """``E u``: the sum of a stacked vector over every agent's actions at each state."""
        return sum(ui.sum(axis=1) for ui in self.split(u))


def make_system(game):
    """The logit system for ``game``: a normal-form game (general sum) or a cooperative Markov game.

    Games are immutable (their arrays are read-only), so the system, whose setup rearranges the payoffs into the
    batched layout, is built once per game object and kept on it for later solves.

    Parameters
    ----------
    game : NormalFormGame, MatrixGame or MarkovGame
        The game.

    Returns
    -------
    NormalFormSystem, MarkovSystem or SparseMarkovSystem
        :class:`SparseMarkovSystem` for Markov games above ``MAX_DENSE_KERNEL`` kernel entries or
        ``MAX_DENSE_SIZE`` unknowns.

    Raises
    ------
    GameError
        For any other object.

    Examples
    --------
    >>> from tabular.qre_system import make_system
    >>> game = T.random_markov_game(3, (2, 2), seed=0)
    >>> type(make_system(game)).__name__, make_system(game) is make_system(game)
    ('MarkovSystem', True)
    >>> type(make_system(T.random_markov_game(600, (2,), n_successors=3, sparse=True, seed=0))).__name__
    'SparseMarkovSystem'
    """
    system = game.__dict__.get("_logit_system") if hasattr(game, "__dict__") else None
    if system is not None:
        return system
    if isinstance(game, (NormalFormGame, MatrixGame)):
        system = NormalFormSystem(game)
    elif isinstance(game, MarkovGame):
        S = game.n_states
        size = S * sum(game.n_actions)
        dense = not game.gamma or (S * game.n_joint_actions * S <= MAX_DENSE_KERNEL and size <= MAX_DENSE_SIZE)
        system = MarkovSystem(game) if dense else SparseMarkovSystem(game)
    else:
        raise GameError(f"expected a NormalFormGame, MatrixGame or MarkovGame, got {type(game).__name__}")
    game.__dict__["_logit_system"] = system
    return system
