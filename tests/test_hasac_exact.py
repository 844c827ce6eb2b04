"""Deep = exact: deep HASAC on tabular games reaches the engine's QRE (the problem is the same: the tabular
environment's bootstrapped objective is the engine's discounted MaxEnt objective)."""
import numpy as np
import pytest

import tabular
from deep.configure import resolve
from deep.run import start
from deep.run.evaluate import joint_policy
from tabular.paper import initial_policy, paper_matrix_game


def tv_per_state(p: tabular.JointPolicy, q: tabular.JointPolicy) -> np.ndarray:
    """Total variation per agent and state, shape (n, S)."""
    return np.stack([0.5 * np.abs(a - b).sum(axis=1) for a, b in zip(p, q)])


def _train(tmp_path, task, overrides):
    cfg = resolve("tabular", task, 0, ["train.progress=false", "train.tensorboard=false", *overrides])
    tr = start(cfg, tmp_path / "run")
    tr.run()
    return tr


def test_matrix_game_alpha_10_reaches_the_engines_qre(tmp_path):
    game = paper_matrix_game()
    # The engine's converged QRE: HASPI from the paper's (0.6, 0.2, 0.2) (Table 3, alpha = 10 row) and from
    # the uniform policy reach the same (C, C)-dominated QRE; the deep actors start near uniform.
    ref = tabular.haspi(game, 10.0, init=initial_policy(game), order=(0, 1))
    from_uniform = tabular.haspi(game, 10.0, seed=0)
    assert ref.converged and ref.policy.max_abs_diff(from_uniform.policy) < 1e-8
    np.testing.assert_allclose(ref.policy[0][0], [0.0221, 0.0224, 0.9555], atol=5e-5)
    tr = _train(tmp_path, "paper-matrix", ["train.total_steps=4800", "train.eval_interval=0"])
    deep = joint_policy(tr.algo, tr.env)
    tv = tv_per_state(deep, ref.policy)
    assert tv.max() <= 0.05, f"TV to the QRE {tv.tolist()}; deep policy {deep.tolist()}"
    assert tabular.qre_gap(game, deep, 10.0) < 0.05


@pytest.mark.parametrize("n_states, game_seed", [(3, 1), (2, 4)])
def test_random_markov_games_reach_the_unique_qre(tmp_path, n_states, game_seed):
    alpha = 1.0
    game = tabular.random_markov_game(n_states, (2, 2), gamma=0.5, seed=game_seed)
    # Evidence the QRE is unique at this temperature: HASPI from 6 random starts lands on the same policy.
    refs = [tabular.haspi(game, alpha, init=tabular.JointPolicy.random(game, seed=k), seed=k) for k in range(6)]
    assert all(r.converged and r.qre_gap < 1e-9 for r in refs)
    assert max(r.policy.max_abs_diff(refs[0].policy) for r in refs) < 1e-8
    path = tmp_path / "game.json"
    game.save(path)
    tr = _train(tmp_path, str(path), [f"algo.alpha={alpha}", "train.total_steps=8000", "train.eval_interval=0"])
    assert tr.algo.params.gamma == 0.5  # algo.gamma: null took the game's discount
    deep = joint_policy(tr.algo, tr.env)
    tv = tv_per_state(deep, refs[0].policy)
    assert tv.max() <= 0.05, f"TV per state to the QRE {tv.tolist()}"
