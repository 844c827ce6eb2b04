"""The paper's matrix game: Table 3 and Appendix B, computed by the engine and compared with docs/mathematics.md."""
import json

import numpy as np
import pytest

from meharl.cli import main
from tabular.paper import appendix_b, table3

# docs/mathematics.md, Table 3: alpha -> (first p1..p3, converged p1..p3), printed to 4 decimals.
SPEC_TABLE3 = {
    1: ((0.9990, 0.0001, 0.0009), (1.0000, 0.0000, 0.0000)),
    2: ((0.9603, 0.0107, 0.0290), (1.0000, 0.0000, 0.0000)),
    5: ((0.7083, 0.1171, 0.1747), (0.9849, 0.0075, 0.0076)),
    10: ((0.5254, 0.2136, 0.2609), (0.0221, 0.0224, 0.9555)),
    15: ((0.4596, 0.2522, 0.2882), (0.1278, 0.1354, 0.7368)),
    20: ((0.4269, 0.2722, 0.3009), (0.2514, 0.2790, 0.4697)),
}


@pytest.fixture(scope="module")
def rows():
    return table3()


def test_table3_matches_the_paper_to_four_places(rows):
    assert [r["alpha"] for r in rows] == [1, 2, 5, 10, 15, 20]
    for r in rows:
        first, conv = SPEC_TABLE3[int(r["alpha"])]
        assert [round(x, 4) for x in r["first"]] == list(first)
        assert [round(x, 4) for x in r["converged_agent1"]] == list(conv)
        assert [round(x, 4) for x in r["converged_agent2"]] == list(conv)
        assert r["converged"] and abs(r["qre_gap"]) < 1e-10


def test_first_update_is_the_closed_form_softmax(rows):
    # Agent 1's first objective is -5 p1 - 14 p2 - 12 p3 + alpha H(p): its maximiser is softmax(q / alpha).
    q = np.array([-5.0, -14.0, -12.0])
    for r in rows:
        e = np.exp((q - q.max()) / r["alpha"])
        np.testing.assert_allclose(r["first"], e / e.sum(), atol=1e-15)


def test_appendix_b_numbers():
    b = appendix_b()
    assert b["V"] == pytest.approx(-8.2, abs=1e-12)
    expected = np.full((3, 3), -11.8)
    np.fill_diagonal(expected, [13.2, 18.2, 28.2])
    np.testing.assert_allclose(b["advantage"], expected, atol=1e-12)
    np.testing.assert_allclose(b["mappo_coefficients"], [3.2, -5.8, -3.8], atol=1e-12)
    np.testing.assert_allclose(b["hasac_agent1_objective"], [-5.0, -14.0, -12.0], atol=1e-12)


def test_cli_table3_text_and_json(capsys):
    assert main(["table3"]) == 0
    out = capsys.readouterr().out
    assert "0.9555" in out and "0.5254" in out
    assert main(["table3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [round(x, 4) for x in data[3]["converged_agent1"]] == [0.0221, 0.0224, 0.9555]


def test_cli_appendix_b(capsys):
    assert main(["appendix-b", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["V"] == pytest.approx(-8.2)
    assert main(["appendix-b"]) == 0
    assert "V = -8.2" in capsys.readouterr().out


def test_cli_rejects_bad_input(capsys):
    assert main(["table3", "--alphas", "-1"]) == 2
    assert "temperatures must be >= 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code != 0


def test_reproduce_writes_tables_and_figures(tmp_path, capsys):
    assert main(["reproduce", "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"table3.txt", "table3.json", "appendix_b.json", "haspi_J.png", "haspi_joint_policies.png"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    assert (tmp_path / "haspi_J.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"figure1_joint_policies.png", "qre_branches.png"} <= {p.name for p in (tmp_path / "matrix_game").iterdir()}
