"""The QRE solvers against pygambit 16.7 (a test dependency) on random 2-, 3- and 4-player games."""
import numpy as np
import pytest

import tabular as T
from tabular.qre_system import make_system

gbt = pytest.importorskip("pygambit")

SHAPES = [(3, 3), (6, 4), (3, 3, 3), (2, 4, 3), (2, 2, 2, 2), (3, 2, 2, 3)]


def gambit_solve(payoffs, lam):
    """pygambit's principal-branch QRE at ``lam``: (the lambda it actually stopped at, per-player arrays)."""
    game = gbt.Game.from_arrays(*payoffs)
    (res,) = gbt.qre.logit_solve_lambda(game, lam)
    return res.lam, [np.array([float(res.profile[s]) for s in p.strategies]) for p in game.players]


def gap(policy, arrays):
    return max(float(np.max(np.abs(policy[i][0] - a))) for i, a in enumerate(arrays))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", range(3))
def test_unique_qre_matches_gambit(shape, seed):
    # Payoffs in [0, 1] and lambda (n - 1) = 0.9 < 1: the logit map is a contraction (a payoff change of
    # one opponent moves another player's logits by at most lambda |dp_j|_1 in oscillation, and softmax is
    # 1-Lipschitz from oscillation to the 1-norm), so the QRE is unique and every method must find it.
    rng = np.random.default_rng(100 * seed + len(shape))
    payoffs = [rng.uniform(0, 1, size=shape) for _ in shape]
    lam = 0.9 / (len(shape) - 1)
    g_lam, ref = gambit_solve(payoffs, lam)
    assert abs(g_lam - lam) < 1e-9
    game = T.NormalFormGame(payoffs)
    start = T.JointPolicy([rng.dirichlet(np.ones(k))[None, :] for k in shape])
    for res in (T.logit_qre(game, lam=lam),
                T.logit_qre(game, lam=lam, method="newton", start=start),
                T.logit_qre(game, lam=lam, method="fixed-point", fixed_point="simultaneous"),
                T.logit_qre(game, lam=lam, method="fixed-point", fixed_point="sequential", seed=seed)):
        assert res.converged and res.residual <= 1e-12
        # gambit's profile is accurate to its corrector tolerance at its own (slightly different) lambda
        assert gap(res.policy, ref) < 1e-8
    assert len(T.enumerate_qre(game, lam=lam, n_random=8)) == 1


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", range(2))
def test_principal_branch_matches_gambit_at_high_lambda(shape, seed):
    # lambda = 15 with normal payoffs: several QRE usually exist and branches fold; the principal branch is
    # still one curve, so both tools must return the same point.  Compared at gambit's own final lambda.
    rng = np.random.default_rng(7 + 31 * seed + len(shape))
    payoffs = [rng.normal(size=shape) for _ in shape]
    g_lam, ref = gambit_solve(payoffs, 15.0)
    res = T.logit_qre(T.NormalFormGame(payoffs), lam=g_lam)
    assert res.residual <= 1e-12
    assert gap(res.policy, ref) < 1e-7  # gambit stops its corrector at about 1e-8 in its own coordinates
    assert make_system(T.NormalFormGame(payoffs)).residual(T.JointPolicy([a[None, :] for a in ref]), g_lam) < 1e-7


def test_s_shaped_branch_matches_gambit():
    # the game of test_qre.py::test_folds_are_reported_where_lambda_turns (two folds before lambda = 20)
    rng = np.random.default_rng(18)
    payoffs = [rng.normal(size=(3, 3)) for _ in range(2)]
    g_lam, ref = gambit_solve(payoffs, 20.0)
    br = T.qre_branch(T.NormalFormGame(payoffs), g_lam)
    assert len(br.folds) == 2 and gap(br.policies[-1], ref) < 1e-7
