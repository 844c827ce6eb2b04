r"""MEHAML, the maximum-entropy heterogeneous-agent mirror learning template (Definition 2, Algorithm 1).

Iteration ``k``: evaluate :math:`Q_{\pi_k}` exactly; draw a permutation :math:`i_{1:n}`; agent :math:`i_m` (with
:math:`i_{1:m-1}` already updated) takes, at every state with positive sampling weight,

.. math::
    \pi^{i_m}_{k+1}(\cdot|s) = \arg\max_{\hat\pi \in U(\pi^{i_m}_k(\cdot|s))}
    \mathbb{E}_{a^{i_{1:m-1}} \sim \pi_{k+1},\, a^{i_m} \sim \hat\pi}\big[Q^{i_{1:m}}_{\pi_k}(s, a^{i_{1:m}})
    - \alpha \log \hat\pi(a^{i_m})\big] - D(\hat\pi \,|\, s),

the maximiser of the state-averaged mirror operator :math:`\mathbb{E}_{s \sim \beta_{\pi_k}}[M V](s)`.  Drift and
neighbourhood act per state, so the average separates: the sampling distribution ``beta`` only decides
*which* states are updated (those with ``beta(s) > 0``; elsewhere the policy is kept, which is optimal because
such states carry no weight).  ``"uniform"`` updates every state; ``"visitation"`` uses the discounted
visitation of :math:`\pi_k` from ``d``, :math:`(1-\gamma) d^\top (I - \gamma P_{\pi_k})^{-1}`.
The per-state maximisation is exact for the built-in drifts and neighbourhoods (:mod:`tabular.mehaml_exact`)
and a verified SLSQP solve for user-defined ones (:mod:`tabular.mehaml_solvers`).  Theorem 3: ``J`` never
decreases and limit points are QRE.  HASPI is ``drift=ZeroDrift(), neighbourhood=Simplex()`` (eq. 8).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .evaluation import SoftEvaluation, _check_alpha, expect_over, policy_kernel, soft_evaluate
from .games import GameError, MarkovGame
from .haspi import HASPIResult, _check_order, iterate_updates
from .mehaml_solvers import (KLBall, KLDrift, L2Drift, Simplex, TVBall, ZeroDrift, check_components,
                             mirror_objective, mirror_step, mirror_steps)
from .policy import JointPolicy

__all__ = ["ZeroDrift", "KLDrift", "L2Drift", "Simplex", "KLBall", "TVBall", "MEHAMLResult", "mehaml",
           "mehaml_update", "mirror_step", "mirror_steps", "mirror_objective", "visitation"]

SAMPLINGS = ("uniform", "visitation")


def visitation(game: MarkovGame, policy: JointPolicy) -> np.ndarray:
    """Discounted state visitation ``(1 - gamma) d^T (I - gamma P_pi)^{-1}`` of ``policy`` (sums to 1).

    Parameters
    ----------
    game : MarkovGame
        The game (its initial distribution ``d``).
    policy : JointPolicy
        The joint policy.

    Returns
    -------
    ndarray
        Shape ``(S,)``.

    Examples
    --------
    >>> from tabular.mehaml import visitation
    >>> game = T.random_markov_game(3, (2, 2), seed=0)
    >>> beta = visitation(game, T.JointPolicy.uniform(game))
    >>> beta.shape, round(float(beta.sum()), 4)
    ((3,), 1.0)
    """
    g = game.gamma
    if g == 0.0:
        return game.d.copy()
    P_pi = policy_kernel(game, policy.joint())
    if sp.issparse(P_pi):
        M = (sp.identity(game.n_states, format="csc") - g * P_pi.T.tocsc()).tocsc()
        rho = spla.spsolve(M, game.d)
    else:
        rho = sla.solve(np.eye(game.n_states) - g * P_pi.T, game.d)
    return (1.0 - g) * np.asarray(rho)


def _check_components(drift, neighbourhood, sampling) -> None:
    check_components(drift, neighbourhood)
    if sampling not in SAMPLINGS:
        raise GameError(f"sampling must be 'uniform' or 'visitation', got {sampling!r}")


def mehaml_update(game: MarkovGame, policy: JointPolicy, alpha: float, order, drift=ZeroDrift(),
                  neighbourhood=Simplex(), sampling: str = "uniform",
                  evaluation: SoftEvaluation | None = None) -> JointPolicy:
    """One iteration of Algorithm 1 with the permutation ``order``.

    Parameters
    ----------
    game : MarkovGame
        The game.
    policy : JointPolicy
        The current joint policy ``pi_k``.
    alpha : float
        Temperature ``>= 0``.
    order : sequence of int
        A permutation of the agents.
    drift : callable, optional
        ``ZeroDrift()``, ``KLDrift(w)``, ``L2Drift(w)`` or any ``D(p, p_old)`` vanishing at ``p_old``.
    neighbourhood : optional
        ``Simplex()``, ``KLBall(r)``, ``TVBall(r)`` or any object with ``distance(p, p_old)`` and ``radius``.
    sampling : {"uniform", "visitation"}, optional
        Which states are updated: all, or those the discounted visitation of ``pi_k`` reaches.
    evaluation : SoftEvaluation, optional
        :func:`soft_evaluate` of ``policy`` at ``alpha``, when already known.

    Returns
    -------
    JointPolicy
        ``pi_{k+1}``.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> new = T.mehaml_update(game, pi, alpha=1.0, order=(0, 1), drift=T.KLDrift(1.0))
    >>> np.round(new[0], 4)  # a smaller step towards A than HASPI's (0.999, 0.0001, 0.0009)
    array([[0.9767, 0.0063, 0.017 ]])
    """
    alpha = _check_alpha(alpha)
    _check_components(drift, neighbourhood, sampling)
    perm = _check_order(order, game.n_agents)
    policy.check_game(game)
    ev = soft_evaluate(game, policy, alpha) if evaluation is None else evaluation
    # Visitation below 1e-15 (it sums to 1) is round-off of a structural zero: such states are not updated.
    update = np.ones(game.n_states, dtype=bool) if sampling == "uniform" else visitation(game, policy) > 1e-15
    current = list(policy)
    for i in perm:
        q_i = expect_over(ev.Q, current, [i])  # agents before i new, after i old (eq. 8's argument)
        new = np.array(policy[i])
        if update.any():
            new[update] = mirror_steps(q_i[update], policy[i][update], alpha, drift, neighbourhood)
        current[i] = new
    return JointPolicy(current)


@dataclass(frozen=True)
class MEHAMLResult(HASPIResult):
    """Outcome of :func:`mehaml`: the fields of :class:`HASPIResult` and the components used.

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> res = T.mehaml(game, alpha=1.0, neighbourhood=T.TVBall(0.1), init=pi, order=(0, 1))
    >>> res.neighbourhood, res.converged, res.nit
    (TVBall(radius=0.1), True, 6)
    """

    drift: object = None
    neighbourhood: object = None
    sampling: str = "uniform"


def mehaml(game: MarkovGame, alpha: float, drift=ZeroDrift(), neighbourhood=Simplex(), sampling: str = "uniform",
           init: JointPolicy | None = None, order="random", seed=None, tol: float = 1e-12,
           max_iter: int = 10_000, *, compute_gap: bool = True) -> MEHAMLResult:
    """Run Algorithm 1 until no probability changes by more than ``tol`` in an iteration.

    Parameters
    ----------
    game : MarkovGame
        The game.
    alpha : float
        Temperature ``>= 0``.
    drift, neighbourhood, sampling
        The template's components, as in :func:`mehaml_update`.
    init : JointPolicy, optional
        The first policy (uniform by default).  A KL drift or KL ball keeps zero probabilities at zero: a warning
        says so when ``init`` has any.
    order : "random" or sequence of int, optional
        ``"random"`` (a fresh permutation per iteration from ``np.random.default_rng(seed)``) or a fixed sequence
        of agent indices.
    seed : int or numpy.random.Generator, optional
        Seed of the random orders.
    tol : float, optional
        Stopping tolerance on the change of any probability.
    max_iter : int, optional
        Most iterations.
    compute_gap : bool, optional
        Compute the QRE gap of the final policy.

    Returns
    -------
    MEHAMLResult
        As :class:`HASPIResult`; ``J_history`` is non-decreasing (Theorem 3, property 1).

    Examples
    --------
    >>> from tabular.paper import paper_matrix_game, initial_policy
    >>> game, pi = paper_matrix_game(), initial_policy()  # the 3x3 game, both agents at (0.6, 0.2, 0.2)
    >>> res = T.mehaml(game, alpha=1.0, drift=T.KLDrift(1.0), init=pi, order=(0, 1))
    >>> res.converged, bool(np.all(np.diff(res.J_history) >= 0)), res.qre_gap < 1e-12
    (True, True, True)
    """
    alpha = _check_alpha(alpha)
    _check_components(drift, neighbourhood, sampling)
    if (isinstance(drift, KLDrift) or isinstance(neighbourhood, KLBall)) and init is not None \
            and any(np.any(p == 0) for p in init):
        warnings.warn("init gives some actions probability 0: a KL drift or KL ball keeps them at 0, so the "
                      "limit need not be a QRE (Theorem 3 assumes full support)", RuntimeWarning, stacklevel=2)

    def update(pi, perm, ev):
        return mehaml_update(game, pi, alpha, perm, drift, neighbourhood, sampling, ev)

    fields = iterate_updates(game, alpha, update, init, order, seed, tol, max_iter, compute_gap=compute_gap)
    return MEHAMLResult(**fields, drift=drift, neighbourhood=neighbourhood, sampling=sampling)
