import json

import numpy as np
import pytest
import scipy.sparse as sp

import tabular as T
from tabular.nfg import format_nfg, parse_nfg


def small_game(**kw):
    return T.random_markov_game(3, (2, 3), gamma=0.9, seed=0, **kw)


@pytest.mark.parametrize("kwargs, message", [
    (dict(gamma=1.0), "gamma must lie in \\[0, 1\\)"),
    (dict(gamma=-0.1), "gamma must lie in \\[0, 1\\)"),
    (dict(gamma=float("nan")), "gamma must lie"),
])
def test_bad_gamma(kwargs, message):
    g = small_game()
    with pytest.raises(T.GameError, match=message):
        T.MarkovGame(g.P, g.r, **kwargs)


def test_bad_transition_shape_names_shapes():
    g = small_game()
    with pytest.raises(T.GameError, match=r"transitions must have shape \(3, 2, 3, 3\)"):
        T.MarkovGame(np.ones((3, 6, 2)) / 2, g.r, 0.9)


def test_non_normalised_probabilities_name_the_pair():
    g = small_game()
    P = np.array(g.P)
    P[7, :] *= 0.9  # row 7 = state 1, joint action (0, 1)
    with pytest.raises(T.GameError, match=r"state 1, joint action \(0, 1\) sums to 0\.9"):
        T.MarkovGame(P, g.r, 0.9)


def test_normalisation_tolerance_is_1e_9():
    g = small_game()
    P = np.array(g.P)
    P[0, 0] += 5e-10
    T.MarkovGame(P, g.r, 0.9)  # within tolerance
    P[0, 0] += 2e-9
    with pytest.raises(T.GameError, match="not 1"):
        T.MarkovGame(P, g.r, 0.9)


def test_negative_probability():
    g = small_game()
    P = np.array(g.P)
    P[2, 0] -= 0.5
    P[2, 1] += 0.5
    if P[2, 0] >= 0:
        P[2, 0], P[2, 1] = -0.1, P[2, 1] + P[2, 0] + 0.1
    with pytest.raises(T.GameError, match="negative probability"):
        T.MarkovGame(P, g.r, 0.9)


def test_negative_probability_sparse():
    g = small_game(sparse=True, n_successors=2)
    P = g.P.copy()
    P.data = P.data.copy()
    P.data[0], P.data[1] = -0.25, P.data[1] + P.data[0] + 0.25
    with pytest.raises(T.GameError, match=r"negative probability .* state 0, joint action \(0, 0\)"):
        T.MarkovGame(P, g.r, 0.9)


def test_inputs_are_copied_not_frozen():
    g = small_game()
    P, r = np.array(g.P), np.array(g.r)
    T.MarkovGame(P, r, 0.9)
    assert P.flags.writeable and r.flags.writeable


def test_nan_and_inf():
    g = small_game()
    r = np.array(g.r)
    r[1, 0, 2] = np.nan
    with pytest.raises(T.GameError, match=r"rewards contains NaN or inf \(first at index \(1, 0, 2\)\)"):
        T.MarkovGame(g.P, r, 0.9)
    with pytest.raises(T.GameError, match="payoff contains NaN or inf"):
        T.MatrixGame([[1.0, np.inf]])


def test_action_counts_and_initial_distribution():
    with pytest.raises(T.GameError, match="agent 1 has 0 actions"):
        T.MatrixGame(np.zeros((2, 0)))
    g = small_game()
    with pytest.raises(T.GameError, match=r"initial distribution must have shape \(3,\)"):
        T.MarkovGame(g.P, g.r, 0.9, initial=[0.5, 0.5])
    with pytest.raises(T.GameError, match="initial distribution .* sums to 0.9"):
        T.MarkovGame(g.P, g.r, 0.9, initial=[0.3, 0.3, 0.3])


def test_normal_form_validation():
    with pytest.raises(T.GameError, match=r"payoffs\[1\] has shape \(2, 3\)"):
        T.NormalFormGame([np.zeros((2, 2)), np.zeros((2, 3))])
    with pytest.raises(T.GameError, match="one tensor per player"):
        T.NormalFormGame([np.zeros((2, 2))])


def test_policy_validation():
    g = small_game()
    with pytest.raises(T.GameError, match=r"agent 1's policy at state 2 sums to 0.5"):
        T.JointPolicy([np.full((3, 2), 0.5), np.vstack([np.full((2, 3), 1 / 3), [0.5, 0, 0]])])
    with pytest.raises(T.GameError, match="policy has shape"):
        T.JointPolicy([np.full((3, 2), 0.5)] * 2).check_game(g)


@pytest.mark.parametrize("sparse", [False, True])
def test_json_round_trip(tmp_path, sparse):
    g = small_game(sparse=sparse, n_successors=2)
    g.save(tmp_path / "g.json")
    h = T.load_game(tmp_path / "g.json")
    assert type(h) is T.MarkovGame and h.is_sparse == sparse
    np.testing.assert_array_equal(h.r, g.r)
    np.testing.assert_array_equal(sp.csr_matrix(h.P).toarray(), sp.csr_matrix(g.P).toarray())
    assert h.gamma == g.gamma and np.array_equal(h.d, g.d)


def test_json_round_trip_matrix_and_normal_form(tmp_path):
    m = T.MatrixGame([[1.0, 2.0], [3.0, 4.5]], name="m")
    m.save(tmp_path / "m.json")
    m2 = T.load_game(tmp_path / "m.json")
    assert isinstance(m2, T.MatrixGame) and np.array_equal(m2.payoff, m.payoff) and m2.name == "m"
    nf = T.NormalFormGame([np.arange(6.0).reshape(2, 3), -np.arange(6.0).reshape(2, 3)])
    nf.save(tmp_path / "n.json")
    assert all(np.array_equal(a, b) for a, b in zip(T.load_game(tmp_path / "n.json").payoffs, nf.payoffs))


def test_load_rejects_unknown_format(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(T.GameError, match="unknown game format 'other'"):
        T.load_game(tmp_path / "x.json")


def test_nfg_round_trip_three_players(tmp_path):
    rng = np.random.default_rng(0)
    nf = T.NormalFormGame([rng.normal(size=(2, 3, 4)) for _ in range(3)], name="three")
    T.write_nfg(nf, tmp_path / "g.nfg")
    back = T.read_nfg(tmp_path / "g.nfg")
    assert isinstance(back, T.NormalFormGame) and back.name == "three"
    for a, b in zip(back.payoffs, nf.payoffs):
        np.testing.assert_array_equal(a, b)  # repr(float) round-trips exactly


def test_nfg_common_payoff_becomes_matrix_game():
    m = T.MatrixGame([[5, -20], [-20, 10]])
    back = parse_nfg(format_nfg(m))
    assert isinstance(back, T.MatrixGame) and np.array_equal(back.payoff, m.payoff)


def test_nfg_player_one_varies_fastest():
    # Profiles (1,1) (2,1) (1,2) (2,2); player 1's payoffs 1 2 3 4 -> u1[a1, a2].
    text = 'NFG 1 R "t" { "P1" "P2" } { 2 2 }\n1 0 2 0 3 0 4 0\n'
    g = parse_nfg(text)
    np.testing.assert_array_equal(g.payoffs[0], [[1, 3], [2, 4]])


def test_nfg_outcome_version_with_strategy_names():
    text = ('NFG 1 R "pd" { "Row" "Col" } { { "C" "D" } { "C" "D" } }\n""\n'
            '{ { "cc" 3, 3 } { "cd" 0, 5 } { "dc" 5, 0 } { "dd" 1, 1 } }\n1 3 2 4\n')
    g = parse_nfg(text)
    np.testing.assert_array_equal(g.payoffs[0], [[3, 0], [5, 1]])
    np.testing.assert_array_equal(g.payoffs[1], [[3, 5], [0, 1]])


def test_nfg_rational_payoffs_and_errors():
    g = parse_nfg('NFG 1 R "" { "1" "2" } { 1 2 } 1/2 1/2 -3/4 -3/4')
    np.testing.assert_array_equal(g.payoff, [[0.5, -0.75]])
    with pytest.raises(T.GameError, match="not a Gambit strategic-form file"):
        parse_nfg("EFG 2 R")
    with pytest.raises(T.GameError, match="file ends early"):
        parse_nfg('NFG 1 R "" { "1" "2" } { 2 2 } 1 2 3')


def test_sparse_and_dense_kernels_agree():
    g = small_game(sparse=True, n_successors=2)
    d = T.MarkovGame(g.P.toarray(), g.r, g.gamma)
    w = np.random.default_rng(1).random((3, 2, 6))
    np.testing.assert_allclose(g.transition_under(w).toarray(), d.transition_under(w), atol=1e-15)


def test_nfg_interoperates_with_gambit(tmp_path):
    gbt = pytest.importorskip("pygambit")
    rng = np.random.default_rng(3)
    nf = T.NormalFormGame([rng.integers(-9, 9, size=(2, 3, 2)).astype(float) for _ in range(3)])
    # Gambit writes the outcome version; we read it back exactly.
    gg = gbt.Game.from_arrays(*[u.astype(int) for u in nf.payoffs])
    back = parse_nfg(gg.to_nfg())
    for a, b in zip(back.payoffs, nf.payoffs):
        np.testing.assert_array_equal(a, b)
    # Gambit reads the payoff version we write.
    T.write_nfg(nf, tmp_path / "ours.nfg")
    theirs = gbt.read_nfg(str(tmp_path / "ours.nfg"))
    for i, arr in enumerate(theirs.to_arrays()):
        np.testing.assert_array_equal(np.asarray(arr, dtype=float), nf.payoffs[i])
