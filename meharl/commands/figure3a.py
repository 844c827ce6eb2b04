"""``meharl figure3a``: the paper's Fig. 3a, sample-based HASAC, HAPPO and MAPPO on the matrix game.

Section 5.1: over 200 learning episodes on the matrix game of Section 3.2, HASAC escapes the local optimum
(A, A) and reaches the Pareto optimum (C, C), while HAPPO and MAPPO fall into (A, A).  Each algorithm trains
on ``tabular``/``paper-matrix`` with its layered config (``deep/configs``), every agent starting from
Appendix B's policy (0.6, 0.2, 0.2): the scenario where exploration has already favoured A.  (From the uniform
policy, the exact expected MAPPO update heads for C: E[A | C] = +2.8 is the largest coefficient there, so that
start would not show the point.)  One learning episode is one collect-then-train step of the run loop:

* HASAC (fixed alpha = 10, the config's): 8 one-step episodes, then 3 gradient updates (1 update per episode
  moves too little in 200 episodes), after a warm-up of 10 episodes of uniformly random joint actions (80
  steps; HASAC's usual warm-up, scaled down) during which nothing trains;
* HAPPO, MAPPO: a rollout of 8 copies x 4 steps (32 one-step episodes), then one update.

Why the warm-up: at alpha = 10 the game has two stable symmetric QREs, (C, C) with p(C) = 0.9555 and (B, B)
with p(B) = 0.7849, and from the start policy (C, C) and (B, B) are each played 4% of the time.  The exact
HASPI knows every reward from its first step and heads for (C, C); a sample-based critic has to learn r(B, B) =
10 and r(C, C) = 20 from those rare samples, and without a warm-up the actors follow it from the first update.
Where the critic's early estimates favour B, the actors can drift into the (B, B) basin and the critic, fed
more (B, B) samples, confirms it.  Ten uniform episodes show the critic every joint action first (the seeds
measured with and without them: benchmarks/learning_runs/figure3a.md).

Every seed's run directory is kept under ``OUT/runs``.  The figure shows each algorithm's expected reward
``sum_a pi(a) r(a)`` of its current joint policy per learning episode (mean and range over the seeds);
``summary.json`` holds every seed's final action probabilities and most likely joint action (e.g. "CC").
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NAME = "figure3a"
HELP = "the paper's Fig. 3a: sample-based HASAC, HAPPO and MAPPO on the matrix game (PNG + summary.json)"

ALGOS = ("hasac", "happo", "mappo")
#: per algorithm: (vector steps per learning episode, overrides of its paper-matrix config)
PROTOCOL = {"hasac": (1, ["train.warmup_steps=80", "train.train_interval=1", "train.updates_per_train=3"]),
            "happo": (4, ["algo.rollout_length=4"]),
            "mappo": (4, ["algo.rollout_length=4"])}
QUIET = ["train.progress=false", "train.tensorboard=false", "train.eval_interval=0", "train.checkpoint_interval=0",
         "train.log_interval=800"]


def add_arguments(p):
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="seeds (default 0 1 2 3 4)")
    p.add_argument("--episodes", type=int, default=200, help="learning episodes per run (default 200)")
    p.add_argument("--out", default="results/figure3a", help="output folder (default: results/figure3a)")


def train_one(algo: str, seed: int, episodes: int, run_dir: Path) -> dict:
    """One run; returns its expected-reward curve and final joint policy."""
    from deep.configure import resolve
    from deep.nets.distributions import start_from
    from deep.run import start
    from deep.run.evaluate import joint_policy
    from tabular.paper import INITIAL_ROW

    steps, extra = PROTOCOL[algo]
    cfg = resolve("tabular", "paper-matrix", seed, [*QUIET, *extra, f"train.total_steps={episodes * steps * 8}",
                                                    "num_envs=8"], algo=algo)
    run = start(cfg, run_dir, overwrite=True)
    try:
        for actor in run.algo.actors:
            start_from(actor, INITIAL_ROW)
        game = run.env.game
        curve = [float((joint_policy(run.algo, run.env).joint() * game.r).sum())]
        for _ in range(episodes):
            run.run(stop_after=1)  # one collect (one vector step or one rollout) and its training
            curve.append(float((joint_policy(run.algo, run.env).joint() * game.r).sum()))
        pi = joint_policy(run.algo, run.env)
    finally:
        run.close()
    return {"curve": curve, "policy": [np.asarray(p[0]) for p in pi]}


def most_likely(probs) -> str:
    from tabular.paper import ACTIONS
    return "".join(ACTIONS[int(np.argmax(p))] for p in probs)


def run(args) -> int:
    from meharl.figures import plt, save_png
    from meharl.style import legend_below, styles
    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    if any(s < 0 for s in args.seeds):
        raise ValueError(f"seeds must be >= 0, got {args.seeds}")
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"a seed is listed twice in --seeds {' '.join(map(str, args.seeds))}")
    out = Path(args.out)
    results = {a: {s: train_one(a, s, args.episodes, out / "runs" / f"{a}_seed{s}") for s in args.seeds}
               for a in ALGOS}
    summary = {"episodes": args.episodes, "initial_policy": [0.6, 0.2, 0.2],
               "protocol": {a: {"vector_steps_per_episode": PROTOCOL[a][0], "overrides": PROTOCOL[a][1]}
                            for a in ALGOS},
               "runs": {a: {str(s): {"probs": [p.round(6).tolist() for p in r["policy"]],
                                     "joint_action": most_likely(r["policy"]),
                                     "expected_reward": r["curve"][-1]} for s, r in res.items()}
                        for a, res in results.items()}}
    summary["joint_action_counts"] = {a: {j: sum(v["joint_action"] == j for v in runs.values())
                                          for j in sorted({v["joint_action"] for v in runs.values()})}
                                      for a, runs in summary["runs"].items()}
    fig, ax = plt.subplots(figsize=(6, 4.4), layout="constrained")
    x = np.arange(args.episodes + 1)
    style = styles(ALGOS)
    for algo in ALGOS:
        curves = np.array([r["curve"] for r in results[algo].values()])
        ax.plot(x, curves.mean(0), label=algo.upper(), **style[algo])
        ax.fill_between(x, curves.min(0), curves.max(0), color=style[algo]["color"], alpha=0.2, lw=0)
    for level, name in ((20, "(C, C)"), (5, "(A, A)")):
        ax.axhline(level, color="grey", lw=0.8, ls="--")
        ax.annotate(name, (1, level), xycoords=("axes fraction", "data"), xytext=(3, 0), textcoords="offset points",
                    va="center", ha="left", fontsize=8, color="grey")  # right of the axes, clear of the curves
    ax.set_xlabel("learning episode")
    ax.set_ylabel("expected reward of the joint policy")
    ax.set_title(f"Matrix game (Fig. 3a): mean and range over {len(args.seeds)} seeds")
    legend_below(fig, *ax.get_legend_handles_labels())
    out.mkdir(parents=True, exist_ok=True)
    save_png(fig, out / "figure3a.png")
    from safeio import atomic_write_text
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    for algo, counts in summary["joint_action_counts"].items():
        print(f"{algo}: " + ", ".join(f"{j} in {n} of {len(args.seeds)} seeds" for j, n in counts.items()))
    print(f"wrote {out / 'figure3a.png'} and {out / 'summary.json'}")
    return 0
