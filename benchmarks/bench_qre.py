"""Logit-QRE solve and principal-branch trace times, side by side with pygambit 16.7 in the same run.

Games (payoffs uniform on [0, 1], one tensor per player, seeded): 2 players 50x50, 3 players 5x5x5,
4 players 4x4x4x4.  For each:

* solve at ``--lam``: ``tabular.logit_qre(game, lam=...)`` (principal branch, the default method) against
  ``pygambit.qre.logit_solve_lambda(game, lam)``, which follows the same branch to the same point;
* trace to ``--branch-lam``: ``tabular.qre_branch`` (every accepted point with its probabilities and residual;
  the JointPolicy objects are built on first access) against
  ``logit_solve_lambda(game, branch_lam)``, gambit's traversal of the same curve.  gambit's
  ``logit_solve_branch`` traces on until the regret is 1e-8 (lambda ~ 1e7), a longer path: its time is printed
  for reference only, without a ratio.

Per-game setup (building the game object; for us also the batched payoff layout, built once per game and kept
on it) is timed separately and printed, like pygambit's ``Game.from_arrays``.  "ratio" compares the solves
alone (the target); "w/ setup" compares setup + solve, i.e. starting from the payoff arrays.

Residual = the largest violation ``|pi^i(a) - softmax(lambda E[u_i])(a)|``, computed by the same code for both
tools at the lambda each returns.  Times are the best of ``--repeats`` runs of each tool, interleaved game by
game; BLAS is pinned to one thread (gambit is single-threaded; the machine may be shared).

    python benchmarks/bench_qre.py [--lam 5] [--branch-lam 10] [--repeats 15] [--seed 0]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tabular as T  # noqa: E402
from tabular.qre_system import make_system  # noqa: E402

SHAPES = ((50, 50), (5, 5, 5), (4, 4, 4, 4))


def best_time(fn, repeats: int) -> tuple[float, object]:
    """Fastest of ``repeats`` runs (timeit's advice: slower runs measure other load on the machine, not the code)."""
    out, best = None, float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def gambit_policy(res, game) -> T.JointPolicy:
    return T.JointPolicy([np.array([[float(res.profile[s]) for s in p.strategies]]) for p in game.players])


def row(label, ours_t, ours_res, gb_t, gb_res, setup, extra=""):
    ratio = gb_t / ours_t
    # "equal or better residual": ours at most gambit's, or both at rounding level (1e-15)
    verdict = "ok" if ratio >= 10 and ours_res <= max(gb_res, 1e-15) else "BELOW TARGET"
    e2e = (gb_t + setup[1]) / (ours_t + setup[0])
    print(f"{label:<28} {ours_t * 1e3:9.2f} {ours_res:9.1e} {gb_t * 1e3:11.2f} {gb_res:9.1e} {ratio:7.1f}x "
          f"{e2e:7.1f}x  {verdict}{extra}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lam", type=float, default=5.0, help="precision of the single solves")
    ap.add_argument("--branch-lam", type=float, default=10.0, help="where the branch trace stops")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import pygambit as gbt

    rng = np.random.default_rng(args.seed)
    print(f"pygambit {gbt.__version__}; times in ms (best of {args.repeats}); residual = max logit-equation "
          f"violation; ratio = pygambit / ours (target >= 10x at equal or better residual)")
    print(f"machine: {os.cpu_count()} cores, load average {' / '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"(1 / 5 / 15 min) at the start")
    print(f"{'task':<28} {'ours ms':>9} {'residual':>9} {'pygambit ms':>11} {'residual':>9} {'ratio':>8} "
          f"{'w/ setup':>8}")
    for shape in SHAPES:
        payoffs = [rng.uniform(0, 1, size=shape) for _ in shape]
        game = T.NormalFormGame(payoffs)
        t_sys, _ = best_time(lambda: make_system(T.NormalFormGame(payoffs)), args.repeats)
        t_gsetup, gg = best_time(lambda: gbt.Game.from_arrays(*payoffs), args.repeats)
        system = make_system(game)
        name = f"{len(shape)}p {'x'.join(map(str, shape))}"
        print(f"{name:<28} one-time setup, not in the times below: ours {t_sys * 1e3:.2f} ms (game + its logit "
              f"system, kept on the game), pygambit {t_gsetup * 1e3:.2f} ms (Game.from_arrays)")
        for what, lam in (("solve", args.lam), ("branch", args.branch_lam)):
            if what == "solve":
                t_ours, res = best_time(lambda: T.logit_qre(game, lam=lam), args.repeats)
                ours_res, extra = res.residual, ""
            else:
                t_ours, br = best_time(lambda: T.qre_branch(game, lam), args.repeats)
                ours_res, extra = float(br.residuals[-1]), (f"  ({len(br.lam)} points, max residual on the "
                                                            f"branch {br.residuals.max():.1e})")
            t_gb, out = best_time(lambda: gbt.qre.logit_solve_lambda(gg, lam), args.repeats)
            gb_res = system.residual(gambit_policy(out[0], gg), out[0].lam)
            label = f"{name} {'lambda=' if what == 'solve' else 'branch to '}{lam:g}"
            row(label, t_ours, ours_res, t_gb, gb_res, (t_sys, t_gsetup),
                extra + f"  (gambit stopped at lambda {out[0].lam:.12g})")
        t = time.perf_counter()
        full = gbt.qre.logit_solve_branch(gg)
        print(f"{'':<28} pygambit logit_solve_branch (to regret 1e-8, lambda {full[-1].lam:.3g}, "
              f"{len(full)} points): {(time.perf_counter() - t) * 1e3:.1f} ms, for reference")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
