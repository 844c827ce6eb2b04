"""Executes the notebooks in notebooks/ top to bottom; their cells assert the numbers each story relies on."""
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: per notebook: lines its output must contain (besides the cells' own asserts), and its least code cells
EXPECTED = {
    "matrix_game.ipynb": (["alpha=10: first update [0.5254 0.2136 0.2609]  converged [0.0221 0.0224 0.9555]",  # Table 3
                           "MAPPO coefficients: [ 3.2 -5.8 -3.8]"], 8),
    "temperature.ipynb": (["alpha=  10: agent 1 [0.0221 0.0224 0.9555]",   # Table 3's alpha = 10 row
                           "HASPI from (0.6, 0.2, 0.2) selects (A, A) for alpha < 6.7115"], 5),
    "mehaml_markov.ipynb": (["-> QRE number 1", "-> QRE number 2", "T.mehaml: 94 iterations"], 5),
    "deep_exact.ipynb": (["QRE 1: J =  20.803"], 3),
    "sweep_report.ipynb": (["4 finished before, 0 to run", "Figure 3: missing (b) Catch Abreast"], 3),
}


def execute(name: str, tmp_path) -> str:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # timeout: per cell, a guard against a hung cell.  sweep_report's first cell (Ray's start and a 4-run sweep)
    # ran past 120 s when the suite ran beside two training runs on the 2-core machine
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()  # raises CellExecutionError, naming the cell, if any cell fails
    assert sum(c.cell_type == "code" for c in nb.cells) >= EXPECTED[name][1]
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs(name, tmp_path):
    text = execute(name, tmp_path)
    for line in EXPECTED[name][0]:
        assert line in text


def test_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)
