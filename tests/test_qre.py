"""QRE solvers: closed forms, bifurcations of symmetric coordination games, the paper's 3x3 game, Markov games."""
import numpy as np
import pytest

import tabular as T
from tabular.paper import initial_policy, paper_matrix_game
from tabular.qre_path import trace_branch
from tabular.qre_system import MarkovSystem, SparseMarkovSystem, make_system

METHODS = ("branch", "newton", "fixed-point")


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


# ------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("lam,gain", [(0.7, 1.5), (4.0, 2.0), (25.0, 0.8)])
def test_dominant_action_closed_form(method, lam, gain):
    # Player 0's action 0 beats action 1 by `gain` whatever player 1 does, so its logit probability of the
    # dominated action is 1/(1 + exp(lam * gain)); player 1 then logit-responds to that mix.
    c = np.array([0.3, -1.1, 2.0])
    u0 = np.stack([c + gain, c])
    u1 = np.array([[1.0, 0.0, 2.0], [-1.0, 3.0, 0.5]])
    game = T.NormalFormGame([u0, u1])
    res = T.logit_qre(game, lam=lam, method=method, fixed_point="simultaneous")
    p_dom = 1.0 / (1.0 + np.exp(lam * gain))
    p0 = np.array([1.0 - p_dom, p_dom])
    assert np.max(np.abs(res.policy[0][0] - p0)) < 1e-12
    assert np.max(np.abs(res.policy[1][0] - softmax(lam * (p0 @ u1)))) < 1e-12
    assert res.residual <= 1e-12 and res.method == method and res.converged


def test_one_player_game_and_lambda_zero():
    res = T.logit_qre(T.NormalFormGame([np.array([1.0, 2.0, 4.0])]), alpha=0.5, method="newton")
    assert np.max(np.abs(res.policy[0][0] - softmax(np.array([2.0, 4.0, 8.0])))) < 1e-13
    uni = T.logit_qre(paper_matrix_game(), lam=0.0)
    assert np.max(np.abs(uni.policy[0][0] - 1 / 3)) == 0.0 and np.isnan(uni.J)


def test_alpha_and_lambda_are_reciprocal():
    g = paper_matrix_game()
    a = T.logit_qre(g, alpha=4.0)
    b = T.logit_qre(g, lam=0.25)
    assert a.policy.max_abs_diff(b.policy) < 1e-13 and a.lam == 0.25 and b.alpha == 4.0


# ------------------------------------------------------------------ bifurcations (identical-interest games)
@pytest.mark.parametrize("k,lam_star,gained", [(2, 2.0, 1), (3, 3.0, 2)])
def test_symmetric_coordination_branch_passes_bifurcation(k, lam_star, gained):
    # u = identity: uniform play is a QRE for every lambda; it loses stability at lambda* = k (softmax
    # Jacobian lambda/k on the tangent space), where k - 1 branches' worth of directions split off.
    game = T.MatrixGame(np.eye(k))
    br = T.qre_branch(game, 10.0)
    assert br.lam[0] == 0.0 and br.lam[-1] == 10.0 and np.all(np.diff(br.lam) > 0)
    assert all(p.max_abs_diff(T.JointPolicy.uniform(game)) < 1e-15 for p in br.policies)
    assert np.max(br.residuals) <= 1e-15
    (bif,) = br.bifurcations
    assert bif.bracket[0] < lam_star < bif.bracket[1]
    if k == 2:  # a simple branch point: the determinant test brackets it to the BIFURCATION_STEP scale
        assert bif.bracket[1] - bif.bracket[0] < 1e-4 and "determinant changed sign" in bif.detail
    assert f"0 -> {gained}" in bif.detail and "principal branch" in br.branch and "passed straight" in br.branch
    assert br.ascent_directions[0] == 0 and br.ascent_directions[-1] == gained
    res = T.logit_qre(game, lam=5.0)
    assert res.residual == 0.0 and "branch point" in res.branch
    for lam in (lam_star, 40.0):  # landing exactly on the singular point, and far beyond it
        r = T.logit_qre(game, lam=lam)
        assert r.lam == lam and r.residual == 0.0 and r.policy.max_abs_diff(T.JointPolicy.uniform(game)) == 0.0
    # the branches that split off exist: Newton from an off-uniform start finds a non-uniform QRE
    start = T.JointPolicy.from_rows(game, [np.eye(k)[0] * 0.85 + 0.15 / k] * 2)
    off = T.logit_qre(game, lam=5.0, method="newton", start=start)
    assert off.converged and off.residual <= 1e-12 and off.policy[0][0][0] > 0.9 and off.J > res.J


def test_folds_are_reported_where_lambda_turns():
    # A random 3x3 game (seed 18) whose principal branch runs up to lambda ~ 16.9, back down to ~ 2.76 and
    # up again (checked against pygambit in test_qre_gambit.py): both turns are reported where the traced
    # lambda sequence changes direction (the turn lies between the event's point and the one before it), and
    # every point of the S-shaped branch is a QRE.
    rng = np.random.default_rng(18)
    br = T.qre_branch(T.NormalFormGame([rng.normal(size=(3, 3)) for _ in range(2)]), 20.0)
    assert [f.detail for f in br.folds] == ["lambda turns back", "lambda turns forward"]
    assert not br.bifurcations
    for f, peak in zip(br.folds, (1, -1)):
        k = list(br.lam).index(f.lam)
        assert peak * (br.lam[k - 1] - br.lam[k - 2]) > 0 and peak * (br.lam[k] - br.lam[k + 1]) > 0
        assert f.bracket == (br.lam[k - 1], br.lam[k])
    assert 16.9 < br.folds[0].lam < 16.95 and 2.75 < br.folds[1].lam < 2.77
    assert br.lam[-1] == 20.0 and np.max(br.residuals) <= 1e-12


# ------------------------------------------------------------------ the paper's 3x3 game
def test_paper_game_seven_symmetric_qre_at_alpha_1():
    game = paper_matrix_game()
    recs = T.enumerate_qre(game, alpha=1.0)
    assert len(recs) == 7
    for r in recs:
        assert r.residual <= 1e-12
        assert np.max(np.abs(r.policy[0] - r.policy[1])) < 1e-12  # symmetric
        assert abs(r.J - T.soft_evaluate(game, r.policy, 1.0).J) < 1e-9
    Js = [r.J for r in recs]
    assert Js == sorted(Js, reverse=True)
    assert recs[0].policy[0][0][2] > 1 - 1e-12 and abs(Js[0] - 20.0) < 1e-9     # (C, C) is the best
    # local maxima of J: the three (near-)pure profiles; the fully mixed one has two ascent directions
    assert [r.ascent_directions for r in recs] == [0, 0, 0, 1, 1, 1, 2]


def test_paper_game_branches_connect_the_seven_qre():
    # Traced down in lambda from alpha = 1, (C, C) lies on the principal branch (it reaches uniform play at
    # lambda = 0); each other QRE lies on a branch that folds once and returns to lambda = 1 at its partner:
    # (B, B) with the B/C mix, (A, A) with the A/C mix, the A/B mix with the full mix.
    game = paper_matrix_game()
    recs = T.enumerate_qre(game, alpha=1.0)
    partner = {}
    for k, r in enumerate(recs):
        br = T.qre_branch(game, 0.0, start=r.policy, start_lam=1.0)
        assert np.max(br.residuals) <= 1e-12 and br.lam[0] == 1.0 and "given QRE" in br.branch
        end = br.policies[-1]
        if br.lam[-1] == 0.0:
            assert not br.folds and end.max_abs_diff(T.JointPolicy.uniform(game)) < 1e-15
            partner[k] = "uniform"
        else:
            assert br.lam[-1] == 1.0 and len(br.folds) == 1 and 0.05 < br.folds[0].lam < 0.25
            hit = [j for j, o in enumerate(recs) if o.policy.max_abs_diff(end) < 1e-9]
            partner[k] = hit[0]
    assert partner[0] == "uniform"                       # recs[0] is (C, C)
    assert {frozenset((k, v)) for k, v in partner.items() if k} == {frozenset((1, 3)), frozenset((2, 4)),
                                                                    frozenset((5, 6))}


@pytest.mark.parametrize("alpha,selects_best", [(1.0, False), (2.0, False), (5.0, False), (10.0, True)])
def test_sequential_update_selection(alpha, selects_best):
    # HASPI from (0.6, 0.2, 0.2), order (agent 1, agent 2), as in Table 3: it lands on one of the enumerated
    # QRE, and it is the best one only for alpha = 10.
    game = paper_matrix_game()
    recs = T.enumerate_qre(game, alpha=alpha)
    res = T.haspi(game, alpha, init=initial_policy(game), order=(0, 1), tol=1e-14)
    hit = [r for r in recs if r.policy.max_abs_diff(res.policy) < 1e-8]
    assert len(hit) == 1
    assert (hit[0] is recs[0]) == selects_best


def test_enumeration_is_deterministic():
    rng = np.random.default_rng(3)
    g = T.NormalFormGame([rng.normal(size=(3, 3)) for _ in range(2)])
    a, b = T.enumerate_qre(g, lam=4.0, seed=5), T.enumerate_qre(g, lam=4.0, seed=5)
    assert len(a) == len(b) >= 1 and all(x.policy.max_abs_diff(y.policy) == 0 for x, y in zip(a, b))
    assert all(np.isnan(r.J) and r.values.shape == (2,) for r in a)  # general sum: per-player values only


# ------------------------------------------------------------------ methods agree; residuals are honest
def test_methods_agree_on_a_contraction_game():
    # Payoffs in [0, 1], 3 players, lambda (n - 1) < 1: the logit map is a contraction, one QRE.
    rng = np.random.default_rng(7)
    g = T.NormalFormGame([rng.uniform(0, 1, size=(3, 4, 2)) for _ in range(3)])
    ref = T.logit_qre(g, lam=0.45)
    start = T.JointPolicy([rng.dirichlet(np.ones(k))[None, :] for k in (3, 4, 2)])
    for kw in [dict(method="newton", start=start),
               dict(method="fixed-point", fixed_point="simultaneous", damping=0.7),
               dict(method="fixed-point", fixed_point="sequential", seed=0)]:
        r = T.logit_qre(g, lam=0.45, **kw)
        assert r.converged and r.residual <= 1e-12 and r.policy.max_abs_diff(ref.policy) < 1e-12


def test_unconverged_fixed_point_reports_its_residual():
    g = paper_matrix_game()
    r = T.logit_qre(g, alpha=10.0, method="fixed-point", start=initial_policy(g), max_iter=2)
    assert not r.converged and "no convergence" in r.message
    assert r.residual == make_system(g).residual(r.policy, 0.1) and r.residual > 1e-3


@pytest.mark.parametrize("which", range(7))
def test_newton_from_a_nearby_start_returns_to_that_qre(which):
    g = paper_matrix_game()
    target = T.enumerate_qre(g, alpha=1.0)[which]
    start = T.JointPolicy([0.97 * np.asarray(p) + 0.01 for p in target.policy])  # 3% of uniform mixed in
    r = T.logit_qre(g, alpha=1.0, method="newton", start=start)
    assert r.converged and r.residual <= 1e-12 and r.policy.max_abs_diff(target.policy) < 1e-12
    assert abs(r.J - target.J) < 1e-9


def test_sequential_logit_responses_with_a_fixed_order():
    rng = np.random.default_rng(11)
    g = T.NormalFormGame([rng.uniform(0, 1, size=(2, 3, 2)) for _ in range(3)])
    ref = T.logit_qre(g, lam=0.4)
    start = [np.array([[0.9, 0.1]]), np.array([[0.2, 0.3, 0.5]]), np.array([[0.5, 0.5]])]  # arrays are accepted
    r = T.logit_qre(g, lam=0.4, method="fixed-point", order=(2, 0, 1), start=start)
    assert r.converged and "Gauss-Seidel" in r.message and r.policy.max_abs_diff(ref.policy) < 1e-12
    with pytest.raises(T.GameError, match="permutation"):
        T.logit_qre(g, lam=0.4, method="fixed-point", order=(0, 0, 1))


# ------------------------------------------------------------------ cooperative Markov games (Theorem 1)
@pytest.mark.parametrize("method", METHODS)
def test_markov_soft_qre(method):
    game = T.random_markov_game(3, (2, 3), gamma=0.9, seed=4)
    alpha = 2.0
    res = T.logit_qre(game, alpha=alpha, method=method, seed=0)
    assert res.converged and res.residual <= 1e-12
    assert T.qre_gap(game, res.policy, alpha) < 1e-10            # no agent gains by deviating alone
    assert abs(res.J - T.soft_evaluate(game, res.policy, alpha).J) < 1e-10


def test_markov_branch_matches_haspi_when_unique():
    # small lambda: strongly entropy-regularised, a single QRE; HASPI (Theorem 2) must reach the same one
    game = T.random_markov_game(4, (2, 2, 2), gamma=0.8, seed=9)
    br = T.qre_branch(game, 0.5)
    hs = T.haspi(game, 2.0, seed=1, tol=1e-14)
    assert br.policies[-1].max_abs_diff(hs.policy) < 1e-11 and np.max(br.residuals) <= 1e-12


def test_markov_enumeration_returns_verified_soft_qre():
    game = T.random_markov_game(2, (2, 2), gamma=0.7, reward_scale=3.0, seed=5)
    recs = T.enumerate_qre(game, alpha=0.3, n_random=12)
    assert recs and [r.J for r in recs] == sorted((r.J for r in recs), reverse=True)
    for r in recs:
        assert r.residual <= 1e-12 and T.qre_gap(game, r.policy, 0.3) < 1e-9
        assert abs(r.J - T.soft_evaluate(game, r.policy, 0.3).J) < 1e-10 and r.ascent_directions == -1
    assert all(a.policy.max_abs_diff(b.policy) > 1e-6 for i, a in enumerate(recs) for b in recs[i + 1:])


@pytest.mark.parametrize("game", [
    T.NormalFormGame([np.random.default_rng(1).normal(size=(2, 3, 2)) for _ in range(3)]),
    T.random_markov_game(3, (2, 3), gamma=0.9, seed=2)])
def test_analytic_jacobian_matches_finite_differences(game):
    s = make_system(game)
    x = s.to_x(T.JointPolicy.random(s, seed=3)) + 0.05 * np.random.default_rng(0).normal(size=s.size)
    F, Jx, Jl = s.jacobian(x, 1.3)
    h = 1e-6  # central differences: truncation O(h^2) ~ 1e-12, rounding ~ 1e-16/h = 1e-10 times |F| ~ 10
    fd = np.stack([(s.equations(x + h * e, 1.3) - s.equations(x - h * e, 1.3)) / (2 * h) for e in np.eye(s.size)], 1)
    assert np.allclose(F, s.equations(x, 1.3), atol=1e-14)
    assert np.max(np.abs(fd - Jx)) < 1e-7
    assert np.max(np.abs((s.equations(x, 1.3 + h) - s.equations(x, 1.3 - h)) / (2 * h) - Jl)) < 1e-7


# ------------------------------------------------------------------ large Markov games: the matrix-free system
def _folding_game():
    """A small sparse Markov game whose principal branch folds four times before lambda = 3."""
    return T.random_markov_game(8, (2, 3, 2), gamma=0.9, n_successors=3, sparse=True, seed=4, reward_scale=2.0)


def test_matrix_free_linearisation_equals_the_dense_jacobian():
    game = _folding_game()
    dense, free = MarkovSystem(game), SparseMarkovSystem(game)
    x = dense.to_x(T.JointPolicy.random(game, seed=3)) + 0.5 * np.random.default_rng(0).normal(size=dense.size)
    for lam in (0.3, 1.3, 20.0):
        F, Jx, Jl = dense.jacobian(x, lam)
        Ff, op, Jlf = free.jacobian(x, lam)
        columns = np.stack([op @ e for e in np.eye(free.size)], axis=1)
        scale = max(1.0, np.max(np.abs(Jx)))  # 1e-10 relative to the entries compared
        assert np.max(np.abs(Ff - F)) <= 1e-10 * scale and np.max(np.abs(Jlf - Jl)) <= 1e-10 * scale
        assert np.max(np.abs(columns - Jx)) <= 1e-10 * scale
        assert op.det_sign() == np.linalg.slogdet(Jx)[0]  # the sign the path follower orients itself by
        inverse = np.stack([op.precondition @ e for e in np.eye(free.size)], axis=1)
        assert np.all(np.isfinite(inverse))
    local = SparseMarkovSystem(T.MarkovGame(game.P, game.r, 0.0))  # no coupling through the future:
    _, op, _ = local.jacobian(x, 1.3)                                  # the preconditioner is the exact inverse
    J = np.stack([op @ e for e in np.eye(local.size)], axis=1)
    P = np.stack([op.precondition @ e for e in np.eye(local.size)], axis=1)
    assert np.max(np.abs(P @ J - np.eye(local.size))) <= 1e-10


def test_matrix_free_newton_and_branch_equal_the_dense_ones():
    game = _folding_game()
    dense, free = MarkovSystem(game), SparseMarkovSystem(game)
    a, b = trace_branch(dense, 3.0), trace_branch(free, 3.0)
    assert [e.kind for e in b.events] == [e.kind for e in a.events] == ["fold"] * 4
    assert len(b.lams) == len(a.lams) and b.lams[-1] == a.lams[-1] == 3.0
    assert np.max(np.abs(b.xs[-1] - a.xs[-1])) <= 1e-10 * np.max(np.abs(a.xs[-1]))
    assert free.residual(free.probabilities(b.xs[-1]), 3.0) <= 1e-12
    game.__dict__["_logit_system"] = free  # what make_system builds above MAX_DENSE_SIZE unknowns
    res = T.logit_qre(game, lam=0.8, method="newton")
    ref = T.logit_qre(T.MarkovGame(game.P, game.r, game.gamma), lam=0.8, method="newton")
    assert res.converged and res.residual <= 1e-12 and res.policy.max_abs_diff(ref.policy) <= 1e-10


def test_large_markov_games_get_the_matrix_free_system():
    game = T.random_markov_game(40, (5, 5, 5), gamma=0.95, n_successors=5, sparse=True, seed=0)
    assert isinstance(make_system(game), SparseMarkovSystem)  # 600 unknowns
    res = T.logit_qre(game, alpha=1.0)
    assert res.converged and res.residual <= 1e-12 and T.qre_gap(game, res.policy, 1.0) <= 1e-10


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs,match", [
    (dict(alpha=1.0, lam=1.0), "exactly one"),
    (dict(), "exactly one"),
    (dict(alpha=0.0), "alpha = 0 is Nash"),
    (dict(lam=-1.0), "lam must be"),
    (dict(lam=float("nan")), "lam must be"),
    (dict(lam=1.0, method="magic"), "unknown method"),
    (dict(lam=1.0, start=[[[0.5, 0.5]]]), "start is only for"),
    (dict(lam=1.0, method="fixed-point", damping=0.0), "damping"),
    (dict(lam=1.0, method="fixed-point", fixed_point="jacobi"), "fixed_point"),
    (dict(lam=1.0, method="newton", start=[np.array([[0.5, 0.5]]), np.array([[0.5, 0.5]])]), "policy has shape"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(T.GameError, match=match):
        T.logit_qre(paper_matrix_game(), **kwargs)


def test_bad_branch_starts():
    g = paper_matrix_game()
    with pytest.raises(T.GameError, match="not a QRE at lambda = 1"):
        T.qre_branch(g, 0.0, start=T.JointPolicy.from_rows(g, [[0.6, 0.2, 0.2]] * 2), start_lam=1.0)
    with pytest.raises(T.GameError, match="needs a start profile"):
        T.qre_branch(g, 2.0, start_lam=1.0)
    with pytest.raises(T.GameError, match="needs start_lam"):
        T.qre_branch(g, 2.0, start=T.JointPolicy.uniform(g))


def test_bad_game_and_lambda():
    with pytest.raises(T.GameError, match="expected a NormalFormGame"):
        T.logit_qre(np.eye(2), lam=1.0)
    with pytest.raises(T.GameError, match="lam_max"):
        T.qre_branch(paper_matrix_game(), -2.0)
