"""``meharl table1 RUN_DIRS... | ROOT``: the paper's Table 1 (SMAC) from run directories, beside its printed values.

Each cell is the median over seeds of every run's *final* evaluation win rate (``eval.csv``'s last
``eval_win_rate``: 32 greedy episodes per evaluation on the shipped smac task configs, the paper's protocol)
and its sample standard deviation over seeds (ddof 1), in %, then the paper's ``[median (std)]``.  Every map
of the paper's table is a row; a cell without runs says ``no runs``; maps outside the paper's table follow.
Each row names its simulator: the ``smac`` family runs SMAX (JaxMARL), not StarCraft II, so its win rates stand
beside the paper's StarCraft II values for comparison only; ``smac-sc2`` runs the game itself.
The computation is :func:`meharl.report.table1_data` (shared with ``meharl report``).
"""
from __future__ import annotations

import json
from pathlib import Path

from meharl.commands.report import add_exclude

NAME = "table1"
HELP = ("the paper's Table 1 (SMAC median final win rate and its std over seeds per map and algorithm) from run "
        "directories, beside the paper's values; text, --json, and a figure with --out DIR")


def add_arguments(p):
    p.add_argument("paths", nargs="+", help="run directories, or folders holding them (searched recursively)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--out", default=None, help="also write DIR/table1.png, DIR/table1.json and DIR/table1.md")
    add_exclude(p)


def collect(paths, exclude=()) -> dict:
    """Table 1's data (:func:`meharl.report.table1_data`) of every run under ``paths`` (but those excluded:
    :func:`meharl.report.find_runs`)."""
    from meharl.report import final_scores, find_runs, label_runs, table1_data
    runs = {}
    for path in paths:
        for r in find_runs(path, exclude)[0]:
            runs.setdefault(Path(r.path).resolve(), r)
    runs = list(runs.values())
    _, metric, finals = final_scores(runs, label_runs(runs))
    return table1_data(finals, metric)


def text(data: dict) -> str:
    from meharl.report import TABLE1_STEPS, _markdown_table, table1_cell
    rows = [[m, data["simulators"].get(m, "-"), *(table1_cell(data["cells"][m][a], a) for a in data["algorithms"]),
             f"{TABLE1_STEPS[m]:.0e}" if m in TABLE1_STEPS else "-"] for m in data["maps"]]
    return ("Table 1: SMAC, median final evaluation win rate % (std over seeds) [paper median (std), on StarCraft "
            "II]\n" + _markdown_table(["map", "simulator", *data["algorithms"], "paper steps"], rows))


def figure(data: dict, path: Path) -> None:
    """One panel per map, titled with its simulator: each algorithm's median with its std as an error bar, in
    the algorithm's colour (:mod:`meharl.style`), the paper's (StarCraft II) beside it, hatched."""
    import numpy as np
    from matplotlib.patches import Patch

    from meharl.figures import plt, save_png
    from meharl.style import legend_below, styles
    maps, algos = data["maps"], data["algorithms"]
    style = styles(algos)
    cols = 4
    rows = -(-len(maps) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 0.8 + 2.7 * rows), squeeze=False, layout="constrained")
    x = np.arange(len(algos))
    for ax, m in zip(axes.ravel(), maps):
        for k, a in enumerate(algos):
            c, colour = data["cells"][m][a], style[a]["color"]
            if c["median"] is not None:
                ax.bar(k - 0.2, c["median"], 0.4, yerr=c["std"], color=colour, capsize=2)
            else:
                ax.text(k - 0.2, 2, "no runs", rotation=90, ha="center", va="bottom", fontsize=6)
            if c["paper"]:
                ax.bar(k + 0.2, c["paper"][0], 0.4, yerr=c["paper"][1], color=colour, alpha=0.35, hatch="//",
                       capsize=2)
        ax.set_title(f"{m}\n{data['simulators'].get(m, 'no runs')}", fontsize=8)
        ax.set_xticks(x, algos, rotation=45, fontsize=7)
        ax.set_ylim(0, 105)
        ax.set_ylabel("win rate %", fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    for ax in axes.ravel()[len(maps):]:
        ax.axis("off")
    legend_below(fig, [Patch(color="0.4"), Patch(facecolor="0.4", alpha=0.35, hatch="//")],
                 ["these runs: median, std over seeds", "the paper (StarCraft II): median, std"], ncol=2)
    fig.suptitle("Table 1: median final win rate, these runs against the paper's", fontsize=10)
    save_png(fig, path)


def run(args) -> int:
    from safeio import atomic_write_text
    data = collect(args.paths, args.exclude)
    if all(cell["median"] is None for cells in data["cells"].values() for cell in cells.values()):
        raise ValueError(f"no SMAC run with a win rate under {' '.join(args.paths)}: Table 1 would be empty")
    print(json.dumps(data, indent=2) if args.json else text(data))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        figure(data, out / "table1.png")
        atomic_write_text(out / "table1.json", json.dumps(data, indent=2) + "\n")
        atomic_write_text(out / "table1.md", text(data) + "\n")
        if not args.json:
            print(f"wrote {out}/table1.png, table1.json, table1.md")
    return 0
