"""Table of the SMAX 3m exploration ablation: greedy win rate per seed at chosen steps, and the first step at
which each run won at least a quarter of its evaluation battles.

    PYTHONPATH=. python benchmarks/learning_runs/smax_explore/summary.py
"""
from pathlib import Path

from meharl.report import find_runs

HERE = Path(__file__).parent
ARMS = {  # folder prefix -> what the arm changes (each run: `meharl train --algo hasac --env smax --task 3m`)
    "d": "alpha 0.001 (the former shipped config)",
    "vn40k": "alpha 0.001, `algo.value_norm=false` (to 40k only)",
    "tt": "alpha 0.001, the episode limit terminates (`terminal_at_limit.patch`)",
    "ns5": "alpha 0.001, `algo.n_step=5`",
    "a01te1": "`algo.alpha=0.01`",
    "a05te1": "`algo.alpha=0.05` (the shipped config now)",
    "a01te5": "`algo.alpha=0.01 algo.target_entropy_fraction=0.5`",
    "a05te3": "`algo.alpha=0.05 algo.target_entropy_fraction=0.3`",
    "ex": "`algo.discrete_actor_loss=expected` (seed 0 only)",
}
STEPS = (30_000, 50_000, 100_000, 150_000)


def main():
    runs = {r.path.name: r for r in find_runs(HERE)[0]}
    print("| arm | seed | " + " | ".join(f"{s // 1000}k" for s in STEPS) + " | first step >= 0.25 |")
    print("|---|---|" + "---|" * (len(STEPS) + 1))
    for arm, what in ARMS.items():
        for seed in (s for s in range(3) if f"{arm}_s{s}" in runs):
            r = runs[f"{arm}_s{seed}"]
            w = dict(zip(r.steps.astype(int).tolist(), r.win_rate.tolist()))
            first = next((s for s in sorted(w) if w[s] >= 0.25), None)
            cells = [f"{w[s]:.2f}" if s in w else "-" for s in STEPS]
            print(f"| {what if seed == 0 else ''} | {seed} | " + " | ".join(cells)
                  + f" | {f'{first // 1000}k' if first else 'not by ' + str(max(w) // 1000) + 'k'} |")


if __name__ == "__main__":
    main()
