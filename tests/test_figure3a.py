"""``meharl figure3a`` writes the figure and a summary of every algorithm's and seed's final policies."""
import json

import numpy as np

from meharl.cli import main


def test_figure3a_writes_the_png_and_the_summary(tmp_path, capsys):
    out = tmp_path / "fig"
    assert main(["figure3a", "--seeds", "0", "--episodes", "2", "--out", str(out)]) == 0
    assert (out / "figure3a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 2 and set(summary["runs"]) == {"hasac", "happo", "mappo"}
    for algo, runs in summary["runs"].items():
        r = runs["0"]
        probs = np.array(r["probs"])
        assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
        assert r["joint_action"] == "".join("ABC"[k] for k in probs.argmax(1))
        reward = [[5, -20, -20], [-20, 10, -20], [-20, -20, 20]]  # Section 3.2
        assert np.isclose(r["expected_reward"], np.einsum("i,j,ij", *probs, reward), atol=1e-4)  # probs rounded
        assert sum(summary["joint_action_counts"][algo].values()) == 1
        assert (out / "runs" / f"{algo}_seed0" / "checkpoint.pt").exists()
    assert "wrote" in capsys.readouterr().out


def test_figure3a_refuses_bad_input(tmp_path, capsys):
    assert main(["figure3a", "--episodes", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--episodes must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
