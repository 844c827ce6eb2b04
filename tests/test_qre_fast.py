"""The fast normal-form logit system: payoff blocks against their definition, both block layouts, batched
branch profiles, and the loose guide tolerance of a branch solve."""
import itertools

import numpy as np
import pytest

import tabular as T
import tabular.qre_system as qs
from tabular.qre import GUIDE_TOL
from tabular.qre_path import trace_branch
from tabular.qre_system import NormalFormSystem, _System, make_system

SHAPES = [(4,), (3, 3), (2, 5), (3, 4, 2), (5, 5, 5), (2, 3, 2, 3), (3, 2, 2, 2), (2, 2, 3, 2, 2)]


def game_of(shape, seed=0):
    rng = np.random.default_rng(seed)
    return T.NormalFormGame([rng.normal(size=shape) for _ in shape])


def blocks_by_definition(game, probs):
    """``B`` from its definition: ``M_ij[a, b] = sum over the others' actions of u_i(a, b, .) prod_k p_k``."""
    n, K = game.n_agents, game.n_actions
    off = np.concatenate([[0], np.cumsum(K)])
    B = np.zeros((off[-1], off[-1]))
    for i, j in itertools.permutations(range(n), 2):
        for prof in itertools.product(*[range(k) for k in K]):
            w = np.prod([probs[k][prof[k]] for k in range(n) if k not in (i, j)])
            B[off[i] + prof[i], off[j] + prof[j]] += game.payoffs[i][prof] * w
    return B


@pytest.fixture(params=["dense", "batched"])
def layout(request, monkeypatch):
    """Build systems with the dense block layout where it applies, or force the batched one."""
    if request.param == "batched":
        monkeypatch.setattr(qs, "DENSE_BLOCKS", 0)
    return request.param


@pytest.mark.parametrize("shape", SHAPES)
def test_blocks_payoffs_and_jacobian_match_definitions(shape, layout):
    game = game_of(shape)
    s = NormalFormSystem(game)  # fresh, so the layout fixture applies
    assert (s._D is not None) == (layout == "dense" and len(shape) > 2 and sum(shape) ** len(shape) <= 2 ** 15)
    x = s.to_x(T.JointPolicy.random(game, seed=1)) + 0.1 * np.random.default_rng(2).normal(size=s.size)
    probs = [np.exp(v) / np.exp(v).sum() for v in np.split(x, s.offsets[1:-1])]
    B = blocks_by_definition(game, probs)
    assert np.max(np.abs(s.offdiagonal(x) - B)) < 1e-12
    # u_i(a) = E_{a^-i}[u_i(a, .)] directly from the payoff tensor
    joint = probs[0]
    for p in probs[1:]:
        joint = np.multiply.outer(joint, p)
    for i, q in enumerate(s.logits(x, 1.0)):
        u = (game.payoffs[i] * joint).sum(axis=tuple(k for k in range(len(shape)) if k != i)) / probs[i]
        assert np.max(np.abs(q[0] - u)) < 1e-12
    # dF/dx and dF/dlambda against central differences (truncation ~h^2 = 1e-12, rounding ~1e-16/h = 1e-10)
    F, Jx, Jl = s.jacobian(x, 1.3)
    h = 1e-6
    fd = np.stack([(s.equations(x + h * e, 1.3) - s.equations(x - h * e, 1.3)) / (2 * h) for e in np.eye(s.size)], 1)
    assert np.max(np.abs(fd - Jx)) < 1e-7 and np.max(np.abs(F - s.equations(x, 1.3))) == 0.0
    assert np.max(np.abs((s.equations(x, 1.3 + h) - s.equations(x, 1.3 - h)) / (2 * h) - Jl)) < 1e-7


def test_both_layouts_give_the_same_system(monkeypatch):
    game = game_of((3, 4, 2, 3), seed=5)
    dense = NormalFormSystem(game)
    monkeypatch.setattr(qs, "DENSE_BLOCKS", 0)
    batched = NormalFormSystem(game)
    assert dense._D is not None and batched._D is None
    x = dense.to_x(T.JointPolicy.random(game, seed=3))
    for a, b in zip(dense.jacobian(x, 2.5), batched.jacobian(x, 2.5)):
        assert np.max(np.abs(a - b)) < 1e-13


def test_jacobian_at_lambda_zero_is_the_identity():
    # F = x - log softmax(0) does not depend on the opponents at lambda = 0
    s = make_system(game_of((3, 4, 2)))
    x = s.to_x(T.JointPolicy.random(s, seed=0))
    F, Jx, Jl = s.jacobian(x, 0.0)
    assert np.array_equal(Jx, np.eye(s.size))
    assert np.max(np.abs(F - (x + np.repeat(np.log([3.0, 4.0, 2.0]), [3, 4, 2])))) < 1e-15
    u = np.concatenate([q[0] for q in s.logits(x, 1.0)])
    mean = np.repeat([u[0:3].mean(), u[3:7].mean(), u[7:9].mean()], [3, 4, 2])
    assert np.max(np.abs(Jl - (mean - u))) < 1e-14  # -d/dlambda log softmax(lambda u) at 0: mean - u


@pytest.mark.parametrize("shape", SHAPES)
def test_batched_branch_profiles_equal_point_by_point(shape):
    s = make_system(game_of(shape, seed=4))
    tr = trace_branch(s, 6.0)
    points, res = s.profiles(tr.xs, np.array(tr.lams))
    ref_points, ref_res = _System.profiles(s, tr.xs, tr.lams)
    assert np.array_equal(res, ref_res) and len(points) == len(tr.xs)
    assert all(np.array_equal(a, b) for p, q in zip(points, ref_points) for a, b in zip(p, q))
    assert not points[0][0].flags.writeable


@pytest.mark.parametrize("shape,seed,lam", [((3, 3), 18, 20.0), ((5, 5, 5), 0, 5.0), ((5, 5, 5), 1, 12.0),
                                            ((2, 4, 3), 2, 15.0), ((4, 4, 4, 4), 0, 10.0), ((6, 4), 3, 30.0)])
def test_branch_solve_lands_where_the_full_precision_trace_does(shape, seed, lam):
    # logit_qre traces with corrector tolerance GUIDE_TOL (1e-8) and polishes the end point by Newton at the
    # target; qre_branch keeps every point at 1e-12.  Both follow the principal branch (including the two folds
    # of the seed-18 3x3 game), so they must end at the same QRE, at rounding-level residual.
    game = game_of(shape, seed)
    res = T.logit_qre(game, lam=lam)
    br = T.qre_branch(game, lam)
    assert br.lam[-1] == lam and res.policy.max_abs_diff(br.policies[-1]) < 1e-12
    assert res.converged and res.residual <= 1e-14 and br.residuals.max() <= 1e-12
    guide = trace_branch(make_system(game), lam, corrector_tol=GUIDE_TOL)
    assert [e.kind for e in guide.events] == [e.kind for e in br.events]
    if seed == 18:  # the S-shaped branch of test_qre.py
        assert [e.kind for e in br.events] == ["fold", "fold"]
