"""``meharl report``: numbers checked against hand computations on synthetic run directories (the real
config.yaml and eval.csv formats), the paper's layouts, bad input, and one report on real tiny runs."""
import csv
import importlib.util
import json
import os
import re
import shutil

import numpy as np
import pytest
import yaml

from deep.config import apply_overrides
from deep.configure import resolve
from meharl import report as R
from meharl.cli import main

EVAL_FIELDS = ["env_steps", "eval_return", "eval_return_std", "eval_episodes", "qre_gap", "wall_time"]  # deep.run


def exact_bootstrap_means(x):
    """Every one of the n^n equally likely resamples' means of ``x`` (the exact bootstrap distribution)."""
    n = len(x)
    idx = np.array(np.meshgrid(*[range(n)] * n)).reshape(n, -1).T
    return np.asarray(x)[idx].mean(axis=1)


def make_run(root, env, task, algo, seed, steps, values, *, win=None, overrides=()):
    """A run directory as ``meharl train`` writes it: the resolved config and eval.csv (plus a win-rate column)."""
    d = root / f"{env}_{task}_{algo}_seed{seed}_{'_'.join(overrides) or 'base'}"
    d.mkdir(parents=True)
    try:
        cfg = resolve(env, task, seed, list(overrides), algo=algo)
    except ValueError:  # a task or algorithm without a shipped config: the keys a report reads
        cfg = apply_overrides({"env": env, "task": task, "seed": seed, "algo_name": algo}, overrides)
    (d / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    fields = EVAL_FIELDS + (["eval_win_rate"] if win is not None else [])
    with open(d / "eval.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for k, (s, v) in enumerate(zip(steps, values)):
            row = {"env_steps": s, "eval_return": v, "eval_return_std": 0.5, "eval_episodes": 40, "qre_gap": "",
                   "wall_time": 1.0 + k}
            if win is not None:
                row["eval_win_rate"] = win[k]
            w.writerow(row)
    return d


#: final returns: task -> algo -> one per seed 0..3
FINALS = {"mpe:simple_spread_v3": {"hasac": [-20.0, -22.0, -19.0, -25.0], "mappo": [-30.0, -28.0, -26.0, -35.0]},
          "mamujoco:HalfCheetah-2x3": {"hasac": [6000.0, 5000.0, 7000.0, 6500.0], "mappo": [3000.0, 4000.0, 2000.0, 3500.0]}}


@pytest.fixture
def synthetic(tmp_path):
    root = tmp_path / "runs"
    for task, by_algo in FINALS.items():
        env, name = task.split(":")
        for algo, finals in by_algo.items():
            for seed, final in enumerate(finals):
                # three evaluations: 0.0 + seed, half the final, the final; one seed also logs an extra step
                steps = [1000, 2000, 3000] + ([2500] if seed == 3 else [])
                vals = [float(seed), final / 2, final] + ([final / 3] if seed == 3 else [])
                make_run(root, env, name, algo, seed, steps, vals)
    return root


def test_final_table_curves_normalisation_and_iqm_match_hand_computations(synthetic):
    rep = R.build(synthetic, reps=500, seed=0)
    rows = {(r["task"], r["algorithm"]): r for r in R.final_table(rep)}
    x = np.array(FINALS["mpe:simple_spread_v3"]["hasac"])
    r = rows[("mpe:simple_spread_v3", "hasac")]
    assert r["mean"] == pytest.approx(-21.5, abs=1e-12) and r["median"] == pytest.approx(-21.0, abs=1e-12)
    # the 95% percentile interval of 500 resamples lies between the exact bootstrap distribution's 1% and 5%
    # (95% and 99%) quantiles: about 5 and 25 of 500 resamples fall below those, 12.5 are expected
    exact = exact_bootstrap_means(x)
    assert np.quantile(exact, 0.01) <= r["ci95"][0] <= np.quantile(exact, 0.05)
    assert np.quantile(exact, 0.95) <= r["ci95"][1] <= np.quantile(exact, 0.99)
    assert r["env_steps"] == [3000, 3000] and r["seeds"] == [0, 1, 2, 3] and r["simulator"] == "MPE of mpe2"
    # curves: the steps every seed evaluated (2500 is seed 3's only), the band at 2000 steps
    steps, vals, seeds = rep.curves["mpe:simple_spread_v3"]["hasac"]
    assert steps.tolist() == [1000, 2000, 3000] and seeds == [0, 1, 2, 3]
    mean, lo, hi = rep.bands["mpe:simple_spread_v3"]["hasac"]
    assert mean[1] == pytest.approx(x.mean() / 2, abs=1e-12)
    assert np.quantile(exact / 2, 0.01) <= lo[1] <= np.quantile(exact / 2, 0.05)
    # normalisation: min-max over every run on the task
    spread = np.concatenate([FINALS["mpe:simple_spread_v3"][a] for a in ("hasac", "mappo")])
    lo_, hi_ = spread.min(), spread.max()
    assert rep.normalised["mpe:simple_spread_v3"]["hasac"] == pytest.approx((x - lo_) / (hi_ - lo_), abs=1e-12)
    # IQM by hand: pool the 2 tasks x 4 seeds, sort, mean of the middle four of eight
    for algo in ("hasac", "mappo"):
        pooled = np.sort(np.concatenate([rep.normalised[t][algo] for t in FINALS]))
        iqm, ci_lo, ci_hi = rep.aggregate[algo]["IQM"]
        assert iqm == pytest.approx(pooled[2:6].mean(), abs=1e-12)
        assert rep.aggregate[algo]["mean"][0] == pytest.approx(pooled.mean(), abs=1e-12)
        task_means = [rep.normalised[t][algo].mean() for t in FINALS]  # rliable: median of per-task means
        assert rep.aggregate[algo]["median"][0] == pytest.approx(np.median(task_means), abs=1e-12)
        assert ci_lo <= iqm <= ci_hi and ci_lo < ci_hi
    assert rep.aggregate["hasac"]["IQM"][0] > rep.aggregate["mappo"]["IQM"][0]
    # performance profile at tau = 0.5: the fraction of the 8 runs scoring above it
    taus, frac, _, _ = rep.profiles["hasac"]
    pooled = np.concatenate([rep.normalised[t]["hasac"] for t in FINALS])
    assert taus[25] == 0.5 and frac[25] == pytest.approx(np.mean(pooled > 0.5), abs=1e-12)
    # the bootstrap is seeded: the same report twice has the same intervals
    again = R.build(synthetic, reps=500, seed=0)
    assert again.aggregate == rep.aggregate
    assert all(np.array_equal(a, b) for lab in rep.profiles for a, b in zip(again.profiles[lab], rep.profiles[lab]))


def test_cli_writes_the_page_and_names_missing_paper_figures(synthetic, tmp_path, capsys):
    out = tmp_path / "report"
    unstarted = synthetic / "unstarted"
    unstarted.mkdir()
    (unstarted / "config.yaml").write_text(yaml.safe_dump(resolve("mpe", "simple_spread_v3", 9)))
    assert main(["report", str(synthetic), "--out", str(out), "--reps", "500"]) == 0
    text = capsys.readouterr().out
    assert f"skipped {unstarted}: no eval.csv yet" in text
    assert "Figure 8: missing HalfCheetah 3x2 (mamujoco:HalfCheetah-3x2)" in text
    assert "Figure 3: missing (a) Matrix Game (tabular:paper-matrix)" in text
    assert "Table 1: missing maps 8m_vs_9m" in text
    page = (out / "index.md").read_text()
    for name in ("curves.png", "aggregate_intervals.png", "performance_profiles.png", "figure8.png"):
        assert (out / name).stat().st_size > 1000 and name in page
    assert not (out / "figure3.png").exists()  # no panel of Figure 3 has runs
    assert "| mpe:simple_spread_v3 | hasac | return | 4 | -21.5 |" in page
    summary = json.loads((out / "summary.json").read_text())
    assert summary["aggregate_tasks"] == sorted(FINALS)


def test_win_rates_table1_layout_and_extra_columns(tmp_path):
    root = tmp_path / "runs"
    wins = {"hasac": [1.0, 0.9, 0.95], "mappo": [0.5, 0.7, 0.6]}
    for m in ("8m_vs_9m", "3m"):
        for algo, w in wins.items():
            for seed, final in enumerate(w):
                make_run(root, "smac", m, algo, seed, [100, 200], [1.0, 19.0], win=[0.0, final])
    rep = R.build(root, reps=500)
    assert rep.metric["smac:3m"] == "win rate"
    assert rep.normalised["smac:3m"]["mappo"].tolist() == [0.5, 0.7, 0.6]  # win rates are not rescaled
    table, missing = R.table1(rep)
    table = R._markdown_table(*table)
    sd = np.std([1.0, 0.9, 0.95], ddof=1) * 100
    assert f"| 8m_vs_9m | SMAX (JaxMARL), not StarCraft II | 95.0 ({sd:.1f}) [paper 97.5 (1.2)] |" in table
    # maps outside the paper's table come last
    assert table.splitlines()[-1].startswith("| 3m | SMAX (JaxMARL), not StarCraft II | 95.0")
    assert "8m_vs_9m" not in missing and "corridor" in missing


def test_variants_of_one_algorithm_are_told_apart_by_their_config(tmp_path):
    root = tmp_path / "runs"
    for alpha in ("5", "10"):
        for seed in (0, 1):
            make_run(root, "tabular", "paper-matrix", "hasac", seed, [8, 16], [-20.0, 5.0 + seed],
                     overrides=(f"algo.alpha={alpha}",))
    rep = R.build(root, reps=500)
    # the shipped config (alpha 10 on the matrix game) is plain "hasac"; the variant names its setting
    assert sorted(rep.curves["tabular:paper-matrix"]) == ["hasac", "hasac (algo.alpha=5)"]


def test_labels_name_only_settings_that_differ_from_the_shipped_config(tmp_path):
    root = tmp_path / "runs"
    for task in ("simple_spread_v3", "simple_reference_v3"):  # the shipped config on two tasks: one label
        make_run(root, "mpe", task, "hasac", 0, [10], [1.0], overrides=("train.total_steps=300",))
    old = make_run(root, "mpe", "simple_spread_v3", "hasac", 1, [10], [1.0], overrides=("algo.gamma=0.9",))
    cfg = yaml.safe_load((old / "config.yaml").read_text())
    del cfg["algo"]["precision"]  # a run older than the setting: nothing said about it
    (old / "config.yaml").write_text(yaml.safe_dump(cfg))
    for seed, lr in enumerate((0.1, 0.2)):  # no shipped config: the keys in which its runs differ
        make_run(root, "mpe", "simple_spread_v3", "mystery", seed, [10], [1.0],
                 overrides=(f"algo.lr={lr}", "algo.width=3", "train.total_steps=5"))
    runs = R.find_runs(root)[0]
    labels = {(r.task, r.algo, r.seed): R.label_runs(runs)[r.path] for r in runs}
    assert labels == {("simple_spread_v3", "hasac", 0): "hasac", ("simple_reference_v3", "hasac", 0): "hasac",
                      ("simple_spread_v3", "hasac", 1): "hasac (algo.gamma=0.9)",
                      ("simple_spread_v3", "mystery", 0): "mystery (algo.lr=0.1)",
                      ("simple_spread_v3", "mystery", 1): "mystery (algo.lr=0.2)"}


def test_bands_stay_within_a_win_rate_range(tmp_path):
    """Seeds at 0, 1 and 1 win rate: a Student-t band would run from -0.8 to 2.1; the percentile band is two
    values of the exact bootstrap distribution, inside [0, 1]."""
    root = tmp_path / "runs"
    for seed, final in enumerate([0.0, 1.0, 1.0]):
        make_run(root, "smac", "3m", "mappo", seed, [100, 200], [1.0, 20.0 * final], win=[0.5, final])
    mean, lo, hi = R.build(root, reps=1000).bands["smac:3m"]["mappo"]
    support = set(np.round(exact_bootstrap_means([0.0, 1.0, 1.0]), 12))
    assert mean.tolist() == pytest.approx([0.5, 2 / 3], abs=1e-12) and lo[0] == hi[0] == 0.5
    assert 0.0 <= lo[1] < mean[1] < hi[1] <= 1.0 and {round(lo[1], 12), round(hi[1], 12)} <= support


def test_aggregates_cover_the_algorithms_on_every_task_and_list_the_rest(tmp_path):
    root = tmp_path / "runs"
    for task, by_algo in FINALS.items():
        env, name = task.split(":")
        for algo, finals in by_algo.items():
            for seed, final in enumerate(finals[:3]):
                # HASAC with another setting on MPE only: it is still HASAC's one setting there
                overrides = ("algo.gamma=0.9",) if algo == "hasac" and env == "mpe" else ()
                make_run(root, env, name, algo, seed, [1000, 2000], [0.0, final], overrides=overrides)
    for seed in range(3):  # a second MAPPO setting, on one task only: left out
        make_run(root, "mpe", "simple_spread_v3", "mappo", seed, [1000, 2000], [0.0, -40.0],
                 overrides=("algo.gamma=0.9",))
    for task, seeds in (("mpe:simple_spread_v3", 3), ("mamujoco:HalfCheetah-2x3", 2)):  # no runs x tasks matrix
        for seed in range(seeds):
            make_run(root, *task.split(":"), "happo", seed, [1000, 2000], [0.0, 1.0 + seed])
    rep = R.build(root, reps=500)
    assert sorted(rep.aggregate) == ["hasac", "mappo"] and rep.aggregate_tasks == sorted(FINALS)
    assert "left out (different numbers of seeds on different tasks): happo" in rep.aggregate_note
    assert rep.aggregate_members["hasac"] == {"mamujoco:HalfCheetah-2x3": "hasac",
                                              "mpe:simple_spread_v3": "hasac (algo.gamma=0.9)"}
    assert "left out (no runs on every task): mappo (algo.gamma=0.9)" in rep.aggregate_note
    assert "hasac = hasac on mamujoco:HalfCheetah-2x3, hasac (algo.gamma=0.9) on mpe:simple_spread_v3" \
        in rep.aggregate_note


def test_excluded_runs_are_listed_and_left_out(synthetic, tmp_path, capsys):
    defect = make_run(synthetic / "records", "mpe", "simple_spread_v3", "hasac", 0, [10], [1.0])
    (synthetic / "records" / "EXCLUDE").write_text("kept as the record of a defect\n")
    pattern = "mamujoco_HalfCheetah-2x3_mappo_seed3_*"
    out = tmp_path / "report"
    assert main(["report", str(synthetic), "--out", str(out), "--reps", "500", "--exclude", pattern]) == 0
    text = capsys.readouterr().out
    assert f"skipped {defect}: excluded by {synthetic / 'records' / 'EXCLUDE'}: kept as the record" in text
    assert f"excluded by --exclude {pattern}" in text
    summary = json.loads((out / "summary.json").read_text())
    rows = {(r["task"], r["algorithm"]): r["seeds"] for r in summary["final"]}
    assert rows[("mamujoco:HalfCheetah-2x3", "mappo")] == [0, 1, 2] and rows[("mpe:simple_spread_v3", "hasac")] == [
        0, 1, 2, 3]


@pytest.mark.parametrize("case, message", [
    ("missing", "is not a directory"),
    ("empty", "no run with evaluations"),
    ("column", "missing column(s) eval_return"),
    ("number", "line 2: env_steps, eval_return"),
    ("duplicate", "two runs of hasac on mpe:simple_spread_v3 with seed 0"),
    ("yaml", "not valid YAML"),
])
def test_bad_input_is_one_line_and_exit_2(case, message, tmp_path, capsys):
    root = tmp_path / "runs"
    if case != "missing":
        root.mkdir()
    if case in ("column", "number", "duplicate", "yaml"):
        d = make_run(root, "mpe", "simple_spread_v3", "hasac", 0, [10], [1.0])
        if case == "column":
            (d / "eval.csv").write_text("env_steps,return\n10,1.0\n")
        if case == "number":
            (d / "eval.csv").write_text("env_steps,eval_return\n10,abc\n")
        if case == "duplicate":
            make_run(root / "again", "mpe", "simple_spread_v3", "hasac", 0, [10], [2.0])
        if case == "yaml":
            (d / "config.yaml").write_text("env: [unclosed\n")
    out = tmp_path / "out"
    assert main(["report", str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()  # nothing half-written


def test_report_on_real_tiny_runs(tmp_path):
    """Two seeds of deep HASAC on the matrix game, trained for real; the report's finals are their eval.csv's."""
    import deep
    root = tmp_path / "runs"
    tiny = ["train.progress=false", "train.tensorboard=false", "train.total_steps=320", "train.warmup_steps=160",
            "train.eval_interval=160", "train.log_interval=160", "train.checkpoint_interval=0",
            "algo.batch_size=32", "algo.hidden=[16]", "train.eval_episodes=8"]
    for seed in (0, 1):
        deep.train("tabular", "paper-matrix", root / f"seed{seed}", seed=seed, overrides=tiny)
    rep = R.build(root, reps=500)
    (label, (seeds, finals, steps)), = rep.finals["tabular:paper-matrix"].items()
    # the settings that differ from the shipped config (its eval_episodes is 8 too; run lengths are not named)
    assert label == "hasac (algo.batch_size=32, algo.hidden=[16], train.warmup_steps=160)"
    for seed, final, step in zip(seeds, finals, steps):
        with open(root / f"seed{seed}" / "eval.csv") as fh:
            last = list(csv.DictReader(fh))[-1]
        assert (final, step) == (float(last["eval_return"]), float(last["env_steps"])) and step == 320
    assert R.write(rep, tmp_path / "out")[0].startswith("Figure 3: missing (b) Catch Abreast")
    assert (tmp_path / "out" / "figure3.png").exists()


CHROMIUM = "/usr/bin/chromium"  #: Debian's chromium and chromium-driver (scripts/install_simulators.sh)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


def test_html_page_renders_in_a_headless_browser(synthetic, tmp_path):
    """index.html, opened from disk in headless Chromium: it renders, every figure loads from its data URI,
    and the console shows no error.  Skipped without the browser, except in CI (which installs it)."""
    missing = [what for what, ok in (("selenium", importlib.util.find_spec("selenium")),
                                     ("chromium", os.path.exists(CHROMIUM)),
                                     ("chromedriver", shutil.which("chromedriver"))) if not ok]
    if missing:
        reason = f"{', '.join(missing)} not installed (scripts/install_simulators.sh, pip's test extra)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI checks the page in a browser", pytrace=False)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    out = tmp_path / "report"
    R.write(R.build(synthetic, reps=500), out)
    page = (out / "index.html").read_text()
    assert not re.search(r'(src|href)="(?!data:)', page)  # self-contained: nothing fetched from elsewhere
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get((out / "index.html").as_uri())
        assert driver.title == f"Report: 16 runs under {synthetic}"
        assert driver.find_element(By.TAG_NAME, "h1").text == driver.title
        images = driver.find_elements(By.TAG_NAME, "img")
        assert sorted(i.get_attribute("alt") for i in images) == ["aggregates", "figure8", "learning curves",
                                                                  "performance profiles"]
        for img in images:
            assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 100
        cells = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "table td")]
        assert "MPE of mpe2" in cells and "-21.5" in cells
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()
