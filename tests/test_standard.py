import numpy as np
import pytest
from scipy.optimize import linprog

import tabular as T
from tabular.evaluation import expect_over
from tabular.paper import initial_policy, paper_matrix_game
from tabular.standard import clipped_surrogate_argmax

A_ONLY = [1.0, 0.0, 0.0]


def test_appendix_b_first_updates():
    g, pi0 = paper_matrix_game(), initial_policy()
    ev = T.soft_evaluate(g, pi0, 0.0)
    adv = ev.Q - ev.V[:, None, None]
    # MAPPO's first objective: argmax 3.2 p_A - 5.8 p_B - 3.8 p_C (Appendix B).
    np.testing.assert_allclose(expect_over(adv, pi0, [0])[0], [3.2, -5.8, -3.8], atol=1e-12)
    new = T.mappo_update(g, pi0)
    for i in range(2):
        np.testing.assert_array_equal(new[i][0], A_ONLY)
    # With clip 0.2 by hand: raising p_A gains 3.2 per unit up to 1.2 * 0.6; lowering p_B (p_C) gains 5.8 (3.8)
    # per unit down to 0.8 * 0.2, below which it would lose q_pos = 0.2 * 18.2 (0.2 * 28.2): p = (0.68, 0.16, 0.16).
    new = T.mappo_update(g, pi0, clip=0.2)
    for i in range(2):
        np.testing.assert_allclose(new[i][0], [0.68, 0.16, 0.16], atol=1e-15)
    # A step size mixes: pi_old + 0.25 (e_A - pi_old).
    np.testing.assert_allclose(T.mappo_update(g, pi0, step_size=0.25)[0][0], [0.7, 0.15, 0.15], atol=1e-15)


def test_happo_weights_by_the_updated_agents_and_mappo_does_not():
    # r = [[1, 0], [0, 2]], pi1 = (0.5, 0.5), pi2 = (0.8, 0.2): V = 0.5, A = [[0.5, -0.5], [-0.5, 1.5]].
    # Agent 1's coefficients (0.3, -0.1) pick action 0; agent 2's against the OLD agent 1 are (0, 0.5), so MAPPO
    # miscoordinates on (0, 1); HAPPO's agent 2 sees the NEW agent 1 (action 0), coefficients (0.5, -0.5).
    g = T.MatrixGame([[1.0, 0.0], [0.0, 2.0]])
    pi = T.JointPolicy.from_rows(g, [[0.5, 0.5], [0.8, 0.2]])
    m = T.mappo_update(g, pi)
    h = T.happo_update(g, pi, (0, 1))
    assert m.tolist() == [[[1.0, 0.0]], [[0.0, 1.0]]]
    assert h.tolist() == [[[1.0, 0.0]], [[1.0, 0.0]]]
    assert T.soft_evaluate(g, m, 0.0).J == 0.0 and T.soft_evaluate(g, h, 0.0).J == 1.0


def test_parameter_sharing_mappo_maximises_the_summed_surrogate():
    # r = [[2, 4], [1, 0]], both uniform: V = 1.75, A = [[0.25, 2.25], [-0.75, -1.75]]; agent 1's coefficients
    # (1.25, -1.25), agent 2's (-0.25, 0.25). Separate policies go to (0, 1); one shared policy maximises the sum
    # (1.0, -1.0) and both agents play 0.
    g = T.MatrixGame([[2.0, 4.0], [1.0, 0.0]])
    pi = T.JointPolicy.uniform(g)
    assert T.mappo_update(g, pi).tolist() == [[[1.0, 0.0]], [[0.0, 1.0]]]
    assert T.mappo_update(g, pi, shared=True).tolist() == [[[1.0, 0.0]], [[1.0, 0.0]]]
    # On the symmetric matrix game from a common start sharing changes nothing.
    mg, pi0 = paper_matrix_game(), initial_policy()
    for clip in (None, 0.2):
        a = T.standard_dynamics(mg, "mappo", pi0, clip, shared=True)
        b = T.standard_dynamics(mg, "mappo", pi0, clip)
        assert a.nit == b.nit and a.policy.max_abs_diff(b.policy) == 0.0
    with pytest.raises(T.GameError, match="same action set and policy"):
        T.mappo_update(g, T.JointPolicy.from_rows(g, [[0.5, 0.5], [0.4, 0.6]]), shared=True)


def test_clipped_surrogate_argmax_matches_linprog():
    """The greedy maximiser attains the LP optimum of the clipped surrogate (epigraph form, HiGHS)."""
    rng = np.random.default_rng(3)
    for _ in range(50):
        K = int(rng.integers(2, 6))
        q_pos, q_neg = rng.exponential(size=K) * (rng.random(K) < 0.8), rng.exponential(size=K)
        p_old = rng.dirichlet(np.ones(K)) * (rng.random(K) < 0.8)
        p_old = p_old / p_old.sum() if p_old.sum() else np.full(K, 1.0 / K)
        eps = float(rng.uniform(0.05, 0.5))
        p = clipped_surrogate_argmax(q_pos, q_neg, p_old, eps)

        def value(x):
            return float(q_pos @ np.minimum(x, (1 + eps) * p_old) - q_neg @ np.maximum(x, (1 - eps) * p_old))
        # variables (p, t, u): max q_pos.t - q_neg.u, t <= p, t <= (1+eps) p_old, u >= p, u >= (1-eps) p_old
        I, Z = np.eye(K), np.zeros((K, K))
        res = linprog(np.concatenate([np.zeros(K), -q_pos, q_neg]),
                      A_ub=np.block([[-I, I, Z], [I, Z, -I]]), b_ub=np.zeros(2 * K),
                      A_eq=np.concatenate([np.ones(K), np.zeros(2 * K)])[None], b_eq=[1.0],
                      bounds=[(0, None)] * K + [(None, (1 + eps) * x) for x in p_old]
                      + [((1 - eps) * x, None) for x in p_old], method="highs")
        assert res.status == 0
        assert abs(p.sum() - 1) < 1e-14 and p.min() >= 0
        assert value(p) >= -res.fun - 1e-12


@pytest.mark.parametrize("algorithm,clip,step", [
    ("mappo", None, 1.0), ("mappo", 0.2, 1.0), ("mappo", None, 0.1), ("mappo", 0.2, 0.5),
    ("happo", None, 1.0), ("happo", 0.2, 1.0), ("happo", None, 0.1), ("happo", 0.2, 0.5)])
def test_mappo_and_happo_converge_to_AA(algorithm, clip, step):
    g = paper_matrix_game()
    res = T.standard_dynamics(g, algorithm, initial_policy(g), clip, step, order=(0, 1))
    assert res.converged
    for i in range(2):
        np.testing.assert_allclose(res.policy[i][0], A_ONLY, atol=1e-9)
    assert abs(res.J_history[-1] - 5.0) < 1e-8
    assert len(res.history) == res.nit + 1


def test_haspi_alpha_10_reaches_the_CC_dominant_qre_where_mappo_and_happo_do_not():
    g = paper_matrix_game()
    pi0 = initial_policy(g)
    res = T.haspi(g, 10.0, init=pi0, order=(0, 1))
    assert res.converged and res.qre_gap < 1e-10
    for i in range(2):  # Table 3, alpha = 10, printed to 4 places
        np.testing.assert_allclose(res.policy[i][0], [0.0221, 0.0224, 0.9555], atol=5e-5)
    reward = float((res.policy.joint() * g.r).sum())
    for alg in ("mappo", "happo"):
        std = T.standard_dynamics(g, alg, pi0, clip=0.2, order=(0, 1))
        assert reward > 16.0 > 5.0 + 1e-9 >= std.J_history[-1]


def test_haspi_alpha_to_zero_limit():
    g = paper_matrix_game()
    pi0 = initial_policy(g)
    limit = T.standard_dynamics(g, "haspi", pi0, order=(0, 1))
    assert limit.nit == 2 and limit.policy.tolist() == [[A_ONLY], [A_ONLY]]
    for alpha in (0.5, 0.1, 0.01):  # the first update's gap to A is of order exp(-9 / alpha) (q = -5, -14, -12)
        res = T.haspi(g, alpha, init=pi0, order=(0, 1))
        assert res.policy.max_abs_diff(limit.policy) <= 3 * np.exp(-7.0 / alpha)
    # On a Markov game the alpha = 0 dynamics are exactly HASPI with the greedy update.
    mg = T.random_markov_game(3, (2, 3), gamma=0.9, seed=4)
    a = T.standard_dynamics(mg, "haspi", order="random", seed=5)
    b = T.haspi(mg, 0.0, order="random", seed=5, compute_gap=False)
    assert a.policy.max_abs_diff(b.policy) == 0.0 and a.orders == b.orders
    np.testing.assert_allclose(a.J_history, b.J_history, atol=1e-12)


def test_markov_game_dynamics_are_deterministic_and_improve_J():
    g = T.random_markov_game(4, (2, 2), gamma=0.8, seed=9)
    a = T.standard_dynamics(g, "happo", clip=0.2, step_size=0.5, seed=1, max_iter=50)
    b = T.standard_dynamics(g, "happo", clip=0.2, step_size=0.5, seed=1, max_iter=50)
    np.testing.assert_array_equal(a.J_history, b.J_history)
    assert a.J_history[-1] > a.J_history[0]


@pytest.mark.parametrize("kwargs,match", [
    ({"algorithm": "ippo"}, "algorithm must be"), ({"clip": 1.5}, "clip must be"),
    ({"step_size": 0.0}, "step_size must"), ({"order": (0, 0)}, "permutation")])
def test_bad_arguments(kwargs, match):
    args = {"game": paper_matrix_game(), "algorithm": "happo", **kwargs}
    with pytest.raises(T.GameError, match=match):
        T.standard_dynamics(**args)
