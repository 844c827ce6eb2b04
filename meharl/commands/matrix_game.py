"""``meharl matrix-game``: the paper's matrix-game story (Section 3.2, Figures 1 and 5) as PNG figures.

Every number is computed by the exact engine: MAPPO and HAPPO by their expected-update dynamics at
``alpha = 0`` (:mod:`tabular.standard`), HASAC by its exact tabular counterpart HASPI (Theorem 2), the QRE
branches by the QRE solvers (:func:`tabular.qre_branch`, :func:`tabular.enumerate_qre`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tabular import enumerate_qre, haspi, qre_branch, standard_dynamics
from tabular.paper import ACTIONS, initial_policy, paper_matrix_game

from . import finite_float

NAME = "matrix-game"
HELP = "write the matrix-game figures (Figure 1 panels, Figure 5 grid, QRE branches, reward curves) as PNGs"

FIGURE5_ALPHAS = (1.0, 5.0, 10.0, 15.0)


def add_arguments(p):
    p.add_argument("--out", default="results/matrix_game", help="output folder (default: results/matrix_game)")
    p.add_argument("--alpha", type=finite_float, default=10.0, help="HASAC temperature of Figure 1 (default 10)")
    p.add_argument("--alphas", type=finite_float, nargs="+", default=list(FIGURE5_ALPHAS),
                   help="temperatures of the Figure 5 grid (default 1 5 10 15)")
    p.add_argument("--clip", type=finite_float, default=0.2, help="PPO ratio clipping epsilon; 0 turns clipping off")
    p.add_argument("--step-size", type=finite_float, default=1.0, help="MAPPO/HAPPO step size in (0, 1]")
    p.add_argument("--lam-max", type=finite_float, default=2.0, help="largest precision lambda = 1/alpha of the QRE plot")
    p.add_argument("--n-lambda", type=int, default=40, help="precisions sampled in the QRE plot (default 40)")


def _heatmap(ax, m, title, fmt="{:.2f}", cmap="viridis", vmin=0.0, vmax=1.0):
    ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(3), ACTIONS)
    ax.set_yticks(range(3), ACTIONS)
    ax.set_xlabel("agent 2")
    ax.set_ylabel("agent 1")
    ax.set_title(title, fontsize=10)
    mid = (vmin + vmax) / 2
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=9, color="white" if v < mid else "black")


def _haspi_run(game, pi0, alpha):
    """HASPI with order (agent 1, agent 2) and every iterate kept."""
    seen = []
    res = haspi(game, alpha, init=pi0, order=(0, 1), tol=1e-12, callback=lambda k, pi, ev: seen.append(pi))
    return res, seen + [res.policy]


def _expected_reward(game, policy) -> float:
    return float((policy.joint() * game.r).sum())


def compute(alpha: float, alphas, clip, step_size: float) -> dict:
    """Every policy and curve the figures show."""
    game, pi0 = paper_matrix_game(), initial_policy()
    std = {alg: standard_dynamics(game, alg, pi0, clip, step_size, order=(0, 1)) for alg in ("mappo", "happo")}
    runs = {a: _haspi_run(game, pi0, a) for a in dict.fromkeys([*alphas, alpha])}
    return {"game": game, "pi0": pi0, "std": std, "hasac": runs[alpha][0], "grid": {a: runs[a][0] for a in alphas},
            "haspi_histories": {a: hist for a, (_, hist) in runs.items()}}


def figure1(data, alpha, out: Path) -> Path:
    from meharl.figures import plt, save_png

    game = data["game"]
    panels = [(game.r[0], "(a) reward r(a1, a2)", "{:g}", "coolwarm", -20.0, 20.0),
              (data["pi0"].joint()[0], "(b) initial joint policy", "{:.2f}", "viridis", 0.0, 1.0),
              (data["std"]["mappo"].policy.joint()[0], "(c) MAPPO, converged", "{:.2f}", "viridis", 0.0, 1.0),
              (data["std"]["happo"].policy.joint()[0], "(d) HAPPO, converged", "{:.2f}", "viridis", 0.0, 1.0),
              (data["hasac"].policy.joint()[0], f"(e) HASAC (alpha={alpha:g}), converged", "{:.3f}", "viridis",
               0.0, 1.0)]
    fig, axes = plt.subplots(1, 5, figsize=(19, 4))
    for ax, (m, title, fmt, cmap, lo, hi) in zip(axes, panels):
        _heatmap(ax, m, title, fmt, cmap, lo, hi)
    fig.suptitle("Matrix game from (0.6, 0.2, 0.2): exact expected dynamics (Figure 1)")
    path = out / "figure1_joint_policies.png"
    save_png(fig, path)
    return path


def figure5(data, out: Path) -> Path:
    from meharl.figures import plt, save_png

    grid = data["grid"]
    fig, axes = plt.subplots(1, len(grid), figsize=(4 * len(grid), 4), squeeze=False)
    for ax, (a, res) in zip(axes[0], grid.items()):
        _heatmap(ax, res.policy.joint()[0], f"alpha = {a:g}  (J = {res.J_history[-1]:.2f})", "{:.3f}")
    fig.suptitle("HASPI joint policy at convergence from (0.6, 0.2, 0.2), order agent 1 then 2 (Figure 5)")
    path = out / "figure5_alpha_grid.png"
    save_png(fig, path)
    return path


def qre_branches(game, pi0, lam_max: float, n_lambda: int, out: Path) -> Path:
    """Every QRE found at each precision (multistart Newton), the principal branch, and the QRE that the
    sequential update (HASPI, order agent 1 then 2) selects from (0.6, 0.2, 0.2)."""
    from meharl.figures import plt, save_png

    lams = np.unique(np.concatenate([np.geomspace(0.02, lam_max, n_lambda),
                                     [1.0 / a for a in FIGURE5_ALPHAS if 1.0 / a <= lam_max]]))
    colours = {0: "tab:blue", 1: "tab:orange", 2: "tab:green"}
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for lam in lams:
        for rec in enumerate_qre(game, lam=lam, n_random=0):
            ax.plot(lam, _expected_reward(game, rec.policy), "o", ms=3.5, alpha=0.7,
                    color=colours[int(np.argmax(rec.policy[0][0]))])
    branch = qre_branch(game, lam_max)
    ax.plot(branch.lam, [_expected_reward(game, p) for p in branch.policies], "-", color="grey", lw=1.5,
            label="principal branch (from uniform play at lambda = 0)")
    chosen = [haspi(game, 1.0 / lam, init=pi0, order=(0, 1), compute_gap=False).policy for lam in lams]
    ax.plot(lams, [_expected_reward(game, p) for p in chosen], "kx--", ms=7, lw=0.8,
            label="selected by the sequential update from (0.6, 0.2, 0.2)")
    for a, name in colours.items():
        ax.plot([], [], "o", color=name, label=f"QRE, agent 1 mostly plays {ACTIONS[a]}")
    for a in FIGURE5_ALPHAS:
        if 1.0 / a <= lam_max:
            ax.axvline(1.0 / a, color="grey", lw=0.6, ls=":")
            ax.text(1.0 / a, -12.0, f" alpha={a:g}", fontsize=7, color="grey", rotation=90, va="bottom")
    ax.set_xscale("log")
    ax.set_xlabel("precision lambda = 1 / alpha")
    ax.set_ylabel("expected reward E[r] at the QRE")
    ax.set_title("QRE of the 3x3 matrix game over lambda (every QRE found by multistart Newton)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3, which="both")
    path = out / "qre_branches.png"
    save_png(fig, path)
    return path


def reward_curves(data, alpha, clip, step_size, out: Path) -> Path:
    from meharl.figures import plt, save_png
    from meharl.style import legend_below, styles

    game = data["game"]
    hasac = {a: "hasac" if a == alpha else f"hasac (alpha={a:g})" for a in data["haspi_histories"]}
    style = styles(["mappo", "happo", *hasac.values()])  # the colours of every other figure of the project
    fig, ax = plt.subplots(figsize=(7, 4.8), layout="constrained")
    ppo = f"clip {clip:g}" if clip else "no clipping"
    for alg, marker in (("mappo", "o"), ("happo", "s")):
        ax.plot(data["std"][alg].J_history, marker=marker, ms=4, label=f"{alg.upper()} ({ppo}, step {step_size:g})",
                **style[alg])
    for a, hist in sorted(data["haspi_histories"].items()):
        ax.plot([_expected_reward(game, p) for p in hist], marker="^" if a == alpha else None, ms=4,
                lw=2.0 if a == alpha else 1.2, label=f"HASAC/HASPI (alpha = {a:g})", **style[hasac[a]])
    ax.set_xlabel("iteration (one exact expected update)")
    ax.set_ylabel("expected reward E[r(a1, a2)]")
    ax.set_title("Expected reward over iterations from (0.6, 0.2, 0.2)")
    legend_below(fig, *ax.get_legend_handles_labels(), ncol=2)
    ax.grid(alpha=0.3)
    path = out / "expected_reward.png"
    save_png(fig, path)
    return path


def run(args) -> int:
    if args.alpha <= 0 or any(a <= 0 for a in args.alphas):
        raise ValueError(f"HASAC temperatures must be > 0, got --alpha {args.alpha} --alphas {args.alphas}")
    if not 0 <= args.clip < 1:
        raise ValueError(f"--clip must lie in [0, 1), got {args.clip}")
    if args.lam_max <= 0.02:
        raise ValueError(f"--lam-max must be > 0.02 (the QRE plot starts there), got {args.lam_max}")
    if args.n_lambda < 2:
        raise ValueError(f"--n-lambda must be >= 2, got {args.n_lambda}")
    clip = args.clip or None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = compute(args.alpha, args.alphas, clip, args.step_size)
    written = [figure1(data, args.alpha, out), figure5(data, out),
               qre_branches(data["game"], data["pi0"], args.lam_max, args.n_lambda, out),
               reward_curves(data, args.alpha, clip, args.step_size, out)]
    for alg in ("mappo", "happo"):
        res = data["std"][alg]
        print(f"{alg.upper()}: {res.nit} updates, agent 1 -> {np.round(res.policy[0][0], 4).tolist()}, "
              f"expected reward {res.J_history[-1]:.4f}")
    h = data["hasac"]
    print(f"HASPI alpha={args.alpha:g}: {h.nit} iterations, agent 1 -> {np.round(h.policy[0][0], 4).tolist()}, "
          f"expected reward {_expected_reward(data['game'], h.policy):.4f}, QRE gap {h.qre_gap:.1e}")
    for path in written:
        print(f"wrote {path}")
    return 0
