"""``meharl reproduce``: the paper's exact tables and figures, written to one folder."""
import json
from pathlib import Path

from tabular import haspi
from safeio import atomic_write_text
from tabular.paper import (ACTIONS, TABLE3_ALPHAS, appendix_b, format_appendix_b, format_table3,
                           initial_policy, paper_matrix_game, table3)

NAME = "reproduce"
HELP = "reproduce the paper's exact results (Table 3, Appendix B) and write tables and figures"


def add_arguments(p):
    p.add_argument("--out", default="results", help="output folder (default: ./results)")


def _figures(out: Path) -> list[Path]:
    from meharl.figures import plt, save_png

    game, pi0 = paper_matrix_game(), initial_policy()
    runs = {a: haspi(game, a, init=pi0, order=(0, 1), tol=1e-13) for a in TABLE3_ALPHAS}
    fig, ax = plt.subplots(figsize=(6, 4))
    for a, res in runs.items():
        ax.plot(res.J_history, marker=".", label=f"alpha = {a:g}")
    ax.set_xlabel("HASPI iteration")
    ax.set_ylabel("MaxEnt objective J")
    ax.set_title("HASPI on the 3x3 matrix game from (0.6, 0.2, 0.2)")
    ax.legend()
    p1 = out / "haspi_J.png"
    save_png(fig, p1)

    fig, axes = plt.subplots(1, len(runs), figsize=(3 * len(runs), 3.2))
    for ax, (a, res) in zip(axes, runs.items()):
        joint = res.policy.joint()[0]
        ax.imshow(joint, vmin=0, vmax=1, cmap="viridis")
        for i in range(3):
            for j in range(3):
                ax.text(j, i, f"{joint[i, j]:.2f}", ha="center", va="center",
                        color="white" if joint[i, j] < 0.5 else "black", fontsize=8)
        ax.set_xticks(range(3), ACTIONS)
        ax.set_yticks(range(3), ACTIONS)
        ax.set_title(f"alpha = {a:g}")
    fig.suptitle("Joint policy at convergence (rows: agent 1, columns: agent 2)")
    p2 = out / "haspi_joint_policies.png"
    save_png(fig, p2)
    return [p1, p2]


def _matrix_game_figures(out: Path) -> None:
    """The ``meharl matrix-game`` figures (Figure 1 panels, Figure 5 grid, QRE branches) with its defaults."""
    import argparse

    from meharl.commands import matrix_game

    parser = argparse.ArgumentParser()
    matrix_game.add_arguments(parser)
    matrix_game.run(parser.parse_args(["--out", str(out / "matrix_game")]))


def run(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, b = table3(), appendix_b()
    written = []
    for name, text in [("table3.txt", format_table3(rows)), ("table3.json", json.dumps(rows, indent=2)),
                       ("appendix_b.txt", format_appendix_b(b)), ("appendix_b.json", json.dumps(b, indent=2))]:
        atomic_write_text(out / name, text + "\n")
        written.append(out / name)
    written += _figures(out)
    print(format_table3(rows))
    print()
    print(format_appendix_b(b))
    print()
    print("wrote " + ", ".join(str(p) for p in written))
    _matrix_game_figures(out)
    return 0
