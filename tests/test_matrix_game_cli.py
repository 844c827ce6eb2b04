import numpy as np
import pytest
from matplotlib.image import imread

from meharl.cli import main
from meharl.commands.matrix_game import compute

FIGURES = ("figure1_joint_policies.png", "figure5_alpha_grid.png", "qre_branches.png", "expected_reward.png")


def test_writes_every_figure_and_reports_the_story(tmp_path, capsys):
    assert main(["matrix-game", "--out", str(tmp_path), "--n-lambda", "5"]) == 0
    out = capsys.readouterr().out
    for name in FIGURES:
        img = imread(tmp_path / name)
        assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 500, name
        assert img[..., :3].std() > 0.05, f"{name} looks blank"
        assert f"wrote {tmp_path / name}" in out
    assert "MAPPO: 5 updates, agent 1 -> [1.0, 0.0, 0.0], expected reward 5.0000" in out
    assert "HAPPO: 5 updates, agent 1 -> [1.0, 0.0, 0.0], expected reward 5.0000" in out
    assert "HASPI alpha=10: 14 iterations, agent 1 -> [0.0221, 0.0224, 0.9555]" in out  # Table 3


def test_figure_data_is_the_exact_dynamics():
    data = compute(10.0, [1.0, 15.0], None, 0.5)
    for alg in ("mappo", "happo"):
        res = data["std"][alg]
        assert res.converged and abs(res.J_history[-1] - 5.0) < 1e-9
    np.testing.assert_allclose(data["grid"][15.0].policy[0][0], [0.1278, 0.1354, 0.7368], atol=5e-5)  # Table 3
    np.testing.assert_allclose(data["grid"][1.0].policy[0][0], [1.0, 0.0, 0.0], atol=5e-5)
    assert set(data["haspi_histories"]) == {1.0, 15.0, 10.0}


@pytest.mark.parametrize("argv,match", [
    (["--alpha", "0"], "temperatures must be > 0"), (["--clip", "1.5"], "--clip must lie"),
    (["--lam-max", "0.01"], "--lam-max must be"), (["--n-lambda", "1"], "--n-lambda must be"),
    (["--step-size", "2"], "step_size must lie")])
def test_bad_arguments(tmp_path, capsys, argv, match):
    assert main(["matrix-game", "--out", str(tmp_path)] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("meharl matrix-game: error:") and match in err
