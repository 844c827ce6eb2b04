import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tabular as T
from tabular._math import entropy


def test_closed_form_two_state_chain():
    # Two states: state 0 moves to the absorbing state 1 whatever the agents do. Two agents, 2 actions each.
    r = np.array([[[1.0, 0.0], [0.0, 2.0]], [[3.0, -1.0], [0.5, 0.0]]])
    P = np.zeros((2, 2, 2, 2))
    P[:, :, :, 1] = 1.0
    g = T.MarkovGame(P, r, 0.8, initial=[1.0, 0.0])
    p1 = np.array([[0.3, 0.7], [0.9, 0.1]])
    p2 = np.array([[0.5, 0.5], [0.2, 0.8]])
    pi = T.JointPolicy([p1, p2])
    alpha = 0.7
    r_pi = np.einsum("sa,sb,sab->s", p1, p2, r)
    H = entropy(p1) + entropy(p2)
    V1 = (r_pi[1] + alpha * H[1]) / (1 - 0.8)
    V0 = r_pi[0] + alpha * H[0] + 0.8 * V1
    for method in ("exact", "iterative"):
        ev = T.soft_evaluate(g, pi, alpha, method=method, tol=1e-14)
        np.testing.assert_allclose(ev.V, [V0, V1], rtol=0, atol=1e-11)
        np.testing.assert_allclose(ev.Q[1], r[1] + 0.8 * V1, atol=1e-11)
        assert ev.J == pytest.approx(V0, abs=1e-11)


@pytest.mark.parametrize("sparse", [False, True])
def test_exact_and_iterative_agree(sparse):
    g = T.random_markov_game(6, (2, 3, 2), gamma=0.9, n_successors=3, sparse=sparse, seed=3)
    pi = T.JointPolicy.random(g, seed=4)
    a = T.soft_evaluate(g, pi, 0.5)
    b = T.soft_evaluate(g, pi, 0.5, method="iterative", tol=1e-13)
    # The backup stops when successive iterates differ by <= 1e-13, so it is within
    # gamma/(1-gamma) * 1e-13 = 9e-13 of the fixed point.
    np.testing.assert_allclose(a.V, b.V, atol=1e-11)
    np.testing.assert_allclose(a.Q, b.Q, atol=1e-11)
    assert a.residual < 1e-12


def test_sparse_large_game_uses_gmres_to_machine_precision(monkeypatch):
    import tabular.evaluation as E
    g = T.random_markov_game(40, (2, 2), gamma=0.95, n_successors=4, sparse=True, seed=0)
    pi = T.JointPolicy.random(g, seed=1)
    direct = T.soft_evaluate(g, pi, 0.3)
    monkeypatch.setattr(E, "SPARSE_DIRECT_MAX_STATES", 10)
    krylov = T.soft_evaluate(g, pi, 0.3)
    assert direct.method == "exact-splu" and krylov.method == "exact-gmres"
    np.testing.assert_allclose(krylov.V, direct.V, atol=1e-10)


def test_sparse_kernels_equal_the_dense_ones():
    """P_pi from a sparse P (a CSR sharing P's column indices, with repeated columns) and the matrix-free
    operator used above SPARSE_DIRECT_MAX_STATES both equal the dense P_pi."""
    from tabular.evaluation import policy_kernel, policy_operator
    sparse = T.random_markov_game(30, (3, 2, 2), gamma=0.9, n_successors=4, sparse=True, seed=2)
    dense = T.MarkovGame(sparse.P.toarray(), sparse.r, sparse.gamma)
    pi = T.JointPolicy.random(sparse, seed=3).joint()
    expected = policy_kernel(dense, pi)
    shared = policy_kernel(sparse, pi)
    assert np.shares_memory(shared.indices, sparse.P.indices)
    np.testing.assert_allclose(shared.toarray(), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(policy_operator(sparse, pi) @ np.eye(30), expected, rtol=0, atol=1e-15)


def test_matrix_free_gmres_equals_dense_lu(monkeypatch):
    import tabular.evaluation as E
    sparse = T.random_markov_game(60, (3, 2, 2), gamma=0.95, n_successors=5, sparse=True, seed=4)
    dense = T.MarkovGame(sparse.P.toarray(), sparse.r, sparse.gamma)
    pi = T.JointPolicy.random(sparse, seed=5)
    lu = T.soft_evaluate(dense, pi, 0.7)
    monkeypatch.setattr(E, "SPARSE_DIRECT_MAX_STATES", 10)
    krylov = T.soft_evaluate(sparse, pi, 0.7)
    assert lu.method == "exact-lu" and krylov.method == "exact-gmres"
    scale = np.max(np.abs(lu.Q))  # 1e-10 relative to the values compared
    np.testing.assert_allclose(krylov.Q, lu.Q, rtol=0, atol=1e-10 * scale)
    assert krylov.residual <= 1e-12 * scale


def test_bad_alpha_and_method():
    g = T.MatrixGame([[1.0, 0.0], [0.0, 1.0]])
    pi = T.JointPolicy.uniform(g)
    with pytest.raises(T.GameError, match="alpha must be a finite number >= 0"):
        T.soft_evaluate(g, pi, -1.0)
    with pytest.raises(T.GameError, match="unknown evaluation method 'lu'"):
        T.soft_evaluate(g, pi, 1.0, method="lu")


def test_multiagent_q_limits():
    g = T.random_markov_game(3, (2, 3, 2), gamma=0.7, seed=5)
    pi = T.JointPolicy.random(g, seed=6)
    ev = T.soft_evaluate(g, pi, 0.4)
    np.testing.assert_allclose(T.multiagent_q(ev, pi, [0, 1, 2]), ev.Q)
    np.testing.assert_allclose(T.multiagent_q(ev, pi, []), ev.V, atol=1e-12)
    # Order matters only for the axes.
    np.testing.assert_allclose(T.multiagent_q(ev, pi, [2, 0]),
                               np.transpose(T.multiagent_q(ev, pi, [0, 2]), (0, 2, 1)))
    with pytest.raises(T.GameError, match="distinct agents"):
        T.multiagent_q(ev, pi, [0, 0])


games = st.builds(
    lambda n, S, k, gamma, seed: T.random_markov_game(S, (k,) * n, gamma=gamma, seed=seed),
    st.integers(2, 4), st.integers(1, 3), st.integers(1, 3), st.floats(0.0, 0.95), st.integers(0, 2**31))


@settings(max_examples=200)
@given(game=games, alpha=st.floats(0.0, 5.0), seed=st.integers(0, 2**31), data=st.data())
def test_lemma_a1_advantage_decomposition(game, alpha, seed, data):
    """A^{i_{1:m}}(s, a^{i_{1:m}}) = sum_j A^{i_j}(s, a^{i_{1:j-1}}, a^{i_j}) (Lemma A.1)."""
    pi = T.JointPolicy.random(game, seed=seed)
    ev = T.soft_evaluate(game, pi, alpha)
    order = data.draw(st.permutations(range(game.n_agents)))
    m = data.draw(st.integers(1, game.n_agents))
    agents = list(order[:m])
    lhs = T.multiagent_advantage(ev, pi, agents)
    rhs = np.zeros_like(lhs)
    for j in range(m):
        a = T.multiagent_advantage(ev, pi, [agents[j]], given=agents[:j])
        rhs = rhs + a.reshape(a.shape + (1,) * (m - j - 1))
    np.testing.assert_allclose(lhs, rhs, atol=1e-9)
