"""Executes notebooks/matrix_game.ipynb top to bottom; its cells assert the numbers the story relies on."""
from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "matrix_game.ipynb"


def test_matrix_game_notebook_runs(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()  # raises CellExecutionError, naming the cell, if any cell fails
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "alpha=10: first update [0.5254 0.2136 0.2609]  converged [0.0221 0.0224 0.9555]" in text  # Table 3
    assert "MAPPO coefficients: [ 3.2 -5.8 -3.8]" in text
    assert sum(c.cell_type == "code" for c in nb.cells) >= 8
