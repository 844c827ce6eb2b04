"""``meharl table1``: medians and spreads checked by hand on synthetic run directories written by the run
directory's own writers (``create_run_dir``'s config.yaml, ``csv_append`` with eval.csv's columns)."""
import json

import numpy as np
import pytest

from deep.configure import resolve
from deep.run.rundir import EVAL_FIELDS, create_run_dir, csv_append
from meharl.cli import main
from meharl.report import TABLE1


def write_run(root, task, algo, seed, win_rates):
    """A run with one evaluation per entry of ``win_rates`` (the last one is final)."""
    d = root / f"{task}_{algo}_{seed}"
    create_run_dir(d, resolve("smac", task, seed, algo=algo))
    for k, w in enumerate(win_rates):
        csv_append(d / "eval.csv", {"env_steps": 1000 * (k + 1), "eval_return": 20 * w, "eval_return_std": 1.0,
                                    "eval_episodes": 32, "eval_win_rate": w, "eval_success_rate": "",
                                    "qre_gap": "", "wall_time": 1.0 + k}, list(EVAL_FIELDS))
    return d


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "runs"
    for seed, final in enumerate([0.9375, 1.0, 0.875]):
        write_run(r, "8m_vs_9m", "hasac", seed, [0.0, 0.5, final])   # only the final evaluation counts
    for seed, final in enumerate([0.5, 0.75]):
        write_run(r, "8m_vs_9m", "mappo", seed, [0.25, final])
    write_run(r, "3m", "hasac", 0, [1.0])                          # a map outside the paper's table
    return r


def test_medians_spreads_and_no_runs(root, capsys):
    assert main(["table1", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["maps"] == [*TABLE1, "3m"]
    assert data["algorithms"] == ["hasac", "happo", "hatrpo", "mappo", "qmix", "fop"]
    h = data["cells"]["8m_vs_9m"]["hasac"]
    assert h["seeds"] == [0, 1, 2] and h["win_rates"] == [93.75, 100.0, 87.5]
    assert h["median"] == 93.75                                   # middle of 87.5, 93.75, 100
    assert h["std"] == pytest.approx(6.25, abs=1e-12)             # deviations -6.25, 0, 6.25: sqrt(78.125 / 2)
    m = data["cells"]["8m_vs_9m"]["mappo"]
    assert m["median"] == 62.5 and m["std"] == pytest.approx(12.5 * np.sqrt(2), abs=1e-12)
    assert h["paper"] == [97.5, 1.2] and data["cells"]["6h_vs_8z"]["qmix"]["paper"] == [7.0, 27.0]
    assert data["cells"]["5m_vs_6m"]["hasac"]["median"] is None
    assert data["cells"]["3m"]["hasac"] == {"label": "hasac", "seeds": [0], "win_rates": [100.0], "median": 100.0,
                                           "std": 0.0, "paper": None}
    assert data["simulators"] == {"8m_vs_9m": "SMAX (JaxMARL), not StarCraft II",
                                  "3m": "SMAX (JaxMARL), not StarCraft II"}
    assert "8m_vs_9m" not in data["missing_maps"] and "corridor" in data["missing_maps"]


def test_text_lists_every_paper_map_and_the_figure_is_written(root, tmp_path, capsys):
    out = tmp_path / "t1"
    run_dirs = sorted(str(p) for p in root.iterdir())  # run directories named one by one
    assert main(["table1", *run_dirs, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.startswith("| 8m_vs_9m |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == "SMAX (JaxMARL), not StarCraft II"   # the simulator of every number in the row
    assert cells[2] == "93.8 (6.2) [paper 97.5 (1.2)]" and cells[5] == "62.5 (17.7) [paper 87.5 (4.0)]"
    assert cells[3] == "no runs [paper 83.8 (4.1)]" and cells[-1] == "1e+07"
    assert "[paper median (std), on StarCraft II]" in text.splitlines()[0]
    assert all(f"| {m} |" in text for m in TABLE1)
    assert (out / "table1.png").stat().st_size > 10_000
    assert json.loads((out / "table1.json").read_text())["cells"]["8m_vs_9m"]["hasac"]["median"] == 93.75


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["table1", str(tmp_path / "nothing")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_fop_runs_fill_the_fop_column(tmp_path, capsys):
    """A run directory written by a FOP run (its resolved config) lands in Table 1's FOP column."""
    for seed, final in enumerate([0.25, 0.5]):
        write_run(tmp_path / "runs", "3s5z", "fop", seed, [final])
    assert main(["table1", str(tmp_path / "runs"), "--json"]) == 0
    cell = json.loads(capsys.readouterr().out)["cells"]["3s5z"]["fop"]
    assert cell["win_rates"] == [25.0, 50.0] and cell["median"] == 37.5 and cell["paper"] == [93.0, 0.8]


def test_simulators_settings_and_excluded_runs(root, tmp_path, capsys):
    """StarCraft II runs of a map are a row of their own; a HASAC variant alone on its map fills HASAC's column
    and names its setting; two settings of one algorithm on a map get a column each; EXCLUDE and --exclude
    leave runs out."""
    sc2 = write_run(root, "3m", "mappo", 0, [0.5])
    cfg = (sc2 / "config.yaml").read_text().replace("env: smac\n", "env: smac-sc2\n")
    (sc2 / "config.yaml").write_text(cfg)
    write_run(root, "2s3z", "hasac", 0, [0.25])
    variant = root / "2s3z_hasac_alpha"
    create_run_dir(variant, resolve("smac", "2s3z", 0, ["algo.alpha=0.5"], algo="hasac"))
    csv_append(variant / "eval.csv", {"env_steps": 1000, "eval_return": 1.0, "eval_return_std": 1.0,
                                      "eval_episodes": 32, "eval_win_rate": 0.75, "eval_success_rate": "",
                                      "qre_gap": "", "wall_time": 1.0}, list(EVAL_FIELDS))
    assert main(["table1", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["simulators"]["3m"] == "SMAX (JaxMARL), not StarCraft II"
    assert data["simulators"]["3m (smac-sc2)"] == "StarCraft II (SMAC)"
    assert data["cells"]["3m (smac-sc2)"]["mappo"]["win_rates"] == [50.0]
    assert data["cells"]["2s3z"]["hasac"]["win_rates"] == [25.0]   # two HASAC settings: a column for each
    assert data["cells"]["2s3z"]["hasac (algo.alpha=0.5)"]["win_rates"] == [75.0]
    variant_only = tmp_path / "variant_only"
    variant_only.mkdir()
    variant.rename(variant_only / variant.name)
    assert main(["table1", str(variant_only)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("| 2s3z |"))
    assert line.split("|")[3].strip() == "75.0 (0.0) (algo.alpha=0.5)"
    (root / "8m_vs_9m_mappo_1" / "EXCLUDE").write_text("a record of a defect\n")
    assert main(["table1", str(root), "--json", "--exclude", "8m_vs_9m_hasac_*"]) == 0
    cells = json.loads(capsys.readouterr().out)["cells"]["8m_vs_9m"]
    assert cells["hasac"]["seeds"] == [] and cells["mappo"]["seeds"] == [0]
