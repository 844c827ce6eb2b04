import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tabular as T
from tabular.evaluation import expect_over

games = st.builds(
    lambda n, S, k, gamma, seed: T.random_markov_game(S, (k,) * n, gamma=gamma, seed=seed),
    st.integers(2, 4), st.integers(1, 3), st.integers(1, 3), st.floats(0.0, 0.95), st.integers(0, 2**31))


@settings(max_examples=200)
@given(game=games, alpha=st.floats(0.01, 10.0), seed=st.integers(0, 2**31))
def test_lemma_4_2_monotonic_improvement(game, alpha, seed):
    """Each HASPI iteration: Q_new >= Q_old pointwise and J_new >= J_old (to 1e-9)."""
    rng = np.random.default_rng(seed)
    pi = T.JointPolicy.random(game, seed=seed)
    ev = T.soft_evaluate(game, pi, alpha)
    for _ in range(4):
        new = T.sequential_update(game, pi, alpha, rng.permutation(game.n_agents), ev)
        ev_new = T.soft_evaluate(game, new, alpha)
        assert np.all(ev_new.Q >= ev.Q - 1e-9)
        assert ev_new.J >= ev.J - 1e-9
        pi, ev = new, ev_new


@pytest.mark.parametrize("n_states,counts,gamma,alpha", [
    (1, (3, 3), 0.0, 10.0), (3, (2, 3), 0.9, 0.5), (4, (2, 2, 2), 0.8, 2.0), (2, (3, 2, 2, 2), 0.5, 1.0)])
def test_converges_to_qre(n_states, counts, gamma, alpha):
    g = T.random_markov_game(n_states, counts, gamma=gamma, seed=11)
    res = T.haspi(g, alpha, seed=0)
    assert res.converged
    assert abs(res.qre_gap) < 1e-10
    assert np.all(np.diff(res.J_history) >= -1e-10)
    assert len(res.orders) == res.nit and all(sorted(o) == list(range(g.n_agents)) for o in res.orders)


def test_qre_gap_positive_away_from_qre_and_matches_one_agent_closed_form():
    # One state, gamma = 0: agent i's best-response gain is alpha*logsumexp(q_i/alpha) - (pi_i.q_i + alpha H).
    g = T.MatrixGame([[5.0, -20.0, -20.0], [-20.0, 10.0, -20.0], [-20.0, -20.0, 20.0]])
    pi = T.JointPolicy.from_rows(g, [[0.6, 0.2, 0.2]] * 2)
    q = np.array([-5.0, -14.0, -12.0])
    alpha = 2.0
    p = np.array([0.6, 0.2, 0.2])
    expected = alpha * np.log(np.exp(q / alpha).sum()) - (p @ q - alpha * (p * np.log(p)).sum())
    assert T.qre_gap(g, pi, alpha) == pytest.approx(expected, abs=1e-12)


def test_separable_game_closed_form_qre():
    # r(a1, a2) = f(a1) + g(a2): the unique QRE is softmax(f/alpha) x softmax(g/alpha), reached in one step.
    f, h, alpha = np.array([1.0, 3.0, -2.0]), np.array([0.5, -1.0]), 1.5
    game = T.MatrixGame(f[:, None] + h[None, :])
    res = T.haspi(game, alpha, order=(1, 0))
    sm = lambda x: np.exp(x / alpha) / np.exp(x / alpha).sum()  # noqa: E731
    np.testing.assert_allclose(res.policy[0][0], sm(f), atol=1e-14)
    np.testing.assert_allclose(res.policy[1][0], sm(h), atol=1e-14)
    assert res.nit == 2  # one update, then one iteration that changes nothing


def test_seeded_random_orders_are_reproducible():
    g = T.random_markov_game(3, (2, 2, 2), gamma=0.9, seed=2)
    a = T.haspi(g, 0.3, seed=7)
    b = T.haspi(g, 0.3, seed=7)
    assert a.orders == b.orders and np.array_equal(a.J_history, b.J_history)
    assert T.haspi(g, 0.3, seed=8).orders != a.orders


def test_alpha_zero_greedy_with_lowest_index_tie_break():
    game = T.MatrixGame([[1.0, 1.0], [1.0, 0.0]])  # ties everywhere except (1, 1)
    res = T.haspi(game, 0.0, order=(0, 1))
    assert res.converged and res.qre_gap == 0.0
    np.testing.assert_array_equal(res.policy[0][0], [1, 0])
    np.testing.assert_array_equal(res.policy[1][0], [1, 0])
    ev = T.soft_evaluate(game, res.policy, 0.0)
    assert ev.J == 1.0


def test_alpha_zero_markov_game_reaches_nash():
    g = T.random_markov_game(3, (2, 3), gamma=0.9, seed=4)
    res = T.haspi(g, 0.0, seed=1)
    assert res.converged and res.qre_gap <= 1e-10
    assert all(set(np.unique(p)) <= {0.0, 1.0} for p in res.policy)


@pytest.mark.parametrize("alpha", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("scale", [1.0, 1e6])
def test_numerically_stable_extremes(alpha, scale):
    g = T.random_markov_game(3, (3, 2), gamma=0.9, reward_scale=scale, seed=9)
    res = T.haspi(g, alpha, seed=0, max_iter=200)
    for arr in (*res.policy, res.J_history, res.evaluation.Q, res.evaluation.V):
        assert np.all(np.isfinite(arr))
    assert np.isfinite(res.qre_gap)
    # Gap relative to the value scale: rounding of values ~ scale/(1-gamma) dominates at 1e6.
    assert res.qre_gap <= 1e-10 * max(1.0, scale / (1 - g.gamma))


def test_bad_order():
    g = T.MatrixGame(np.zeros((2, 2)))
    with pytest.raises(T.GameError, match=r"order \[0, 0\] must be a permutation of the agents 0..1"):
        T.haspi(g, 1.0, order=[0, 0])
    with pytest.raises(T.GameError, match="order must be 'random' or a sequence"):
        T.haspi(g, 1.0, order="sequential")


def _value_iteration_best_response(game, policy, alpha, agent):
    """Reference V*_i: value iteration on agent ``agent``'s dense induced MDP, formed entry by entry."""
    S = game.n_states
    P = (game.P.toarray() if game.is_sparse else game.P).reshape(game.joint_shape + (S,))
    P_i = np.stack([expect_over(P[..., t], policy, [agent]) for t in range(S)], axis=-1)
    H = policy.entropies()
    r_i = expect_over(game.r, policy, [agent]) + alpha * (H.sum(axis=0) - H[agent])[:, None]
    V = np.zeros(S)
    for _ in range(20_000):
        q = r_i + game.gamma * P_i @ V
        top = q.max(axis=1)
        V_new = top + alpha * np.log(np.exp((q - top[:, None]) / alpha).sum(axis=1)) if alpha else top
        if np.max(np.abs(V_new - V)) <= 1e-15 * max(1.0, np.max(np.abs(V))):
            break
        V = V_new
    return V_new


@pytest.mark.parametrize("n_states,counts,sparse,gamma,alpha,direct_max", [
    (6, (2, 3), False, 0.9, 0.5, None),          # dense LU
    (6, (2, 3), False, 0.9, 0.0, None),          # alpha = 0: greedy policy iteration
    (40, (3, 2, 2), True, 0.95, 1.0, None),      # sparse LU
    (60, (3, 2, 2), True, 0.95, 1.0, 10),        # GMRES: inexact Newton steps, deflated
    (60, (3, 2, 2), True, 0.95, 0.1, 10)])
def test_best_response_and_gap_match_value_iteration_on_the_dense_induced_mdp(
        monkeypatch, n_states, counts, sparse, gamma, alpha, direct_max):
    import tabular.evaluation as E
    if direct_max is not None:
        monkeypatch.setattr(E, "SPARSE_DIRECT_MAX_STATES", direct_max)
    game = T.random_markov_game(n_states, counts, gamma=gamma, n_successors=5 if sparse else None,
                                sparse=sparse, seed=3)
    pi = T.JointPolicy.random(game, seed=4)
    ev = T.soft_evaluate(game, pi, alpha)
    gains = []
    for i in range(game.n_agents):
        ref = _value_iteration_best_response(game, pi, alpha, i)
        br = T.soft_best_response(game, pi, alpha, i, evaluation=ev)
        # 1e-12 relative to the values: the stopping test allows gamma / (1 - gamma) * 1e-14 * scale.
        np.testing.assert_allclose(br.V, ref, rtol=0, atol=1e-12 * np.max(np.abs(ref)))
        np.testing.assert_allclose(T.soft_best_response(game, pi, alpha, i).V, br.V, rtol=0, atol=1e-13)
        gains.append(np.max(ref - ev.V))
    assert T.qre_gap(game, pi, alpha, ev) == pytest.approx(max(gains), abs=1e-12 * np.max(np.abs(ev.V)))


def test_best_response_forms_nothing_the_size_of_the_kernel(monkeypatch):
    """The gap of a sparse game held to GMRES peaks at a few bytes per non-zero of P (P itself takes 12):
    one joint policy, one product with P, one Q and the Krylov basis; the induced kernels are never formed."""
    import tracemalloc

    import tabular.evaluation as E
    monkeypatch.setattr(E, "SPARSE_DIRECT_MAX_STATES", 10)
    game = T.random_markov_game(2000, (5, 5, 5), gamma=0.95, n_successors=5, sparse=True, seed=0)
    pi = T.JointPolicy.random(game, seed=1)
    ev = T.soft_evaluate(game, pi, 1.0)
    tracemalloc.start()
    try:
        gap = T.qre_gap(game, pi, 1.0, ev)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert gap > 0
    assert peak / game.P.nnz < 8


def test_newton_step_solves_to_the_sup_norm_asked_and_returns_the_induced_product():
    from tabular.best_response import _newton_step
    game = T.random_markov_game(50, (3, 2, 2), gamma=0.95, n_successors=5, sparse=True, seed=6)
    pi = T.JointPolicy.random(game, seed=7)
    b = np.random.default_rng(8).uniform(-1, 1, 50)
    S, P = game.n_states, game.P.toarray().reshape(game.joint_shape + (50,))
    P_1 = np.stack([expect_over(P[..., t], pi, [1]) for t in range(S)], axis=-1)  # agent 1's induced kernel
    P_mu = np.einsum("sk,skt->st", pi[1], P_1)
    for rtol, atol in [(0.0, 1e-12), (1e-3, 0.0)]:
        d, Pd = _newton_step(game, pi, 1, b, rtol, atol)
        residual = b - (d - game.gamma * P_mu @ d)
        if atol:
            assert np.max(np.abs(residual)) <= atol
        else:
            assert np.linalg.norm(residual) <= rtol * np.linalg.norm(b)
        np.testing.assert_allclose(Pd, P_1 @ d, rtol=0, atol=1e-13 * np.max(np.abs(d)))
