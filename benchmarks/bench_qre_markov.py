"""Soft QRE (Theorem 1) of a large cooperative Markov game: Newton and the principal branch, matrix-free.

Game: ``random_markov_game(S, (5, 5, 5), gamma=0.95, n_successors=5, sparse=True, seed)`` (3 agents x 5
actions, 125 joint actions, 5 successors per state-joint-action pair): at S = 1,000 its dense kernel would have
125M entries and its dense Jacobian 15,000^2, so :func:`tabular.qre_system.make_system` gives it the
matrix-free linearisation (:class:`tabular.qre_system.SparseMarkovSystem`, GMRES with per-state block
preconditioning).  Printed: the time of ``logit_qre(method="newton")`` from uniform play, of
``logit_qre(method="branch")`` (principal branch from lambda = 0, the default) and of ``qre_branch`` (every
point kept), the residual of each answer (largest violation of the logit equations), the QRE gap of the
answer (largest unilateral soft best-response gain, computed exactly by tabular.qre_gap) and the distance
between the Newton and branch answers.

    python benchmarks/bench_qre_markov.py [--states 1000] [--lam 1 5] [--seed 0]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import tabular as T  # noqa: E402
from tabular.qre_system import make_system  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--states", type=int, default=1000)
    ap.add_argument("--lam", type=float, nargs="+", default=[1.0, 5.0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    game = T.random_markov_game(args.states, (5, 5, 5), gamma=0.95, n_successors=5, sparse=True, seed=args.seed)
    system = make_system(game)
    print(f"{game!r}: {system.size} unknowns, {type(system).__name__}, nnz(P) = {game.P.nnz}")
    print(f"{'lambda':>7} {'solver':>8} {'seconds':>8} {'residual':>9} {'QRE gap':>9} {'points':>6}  notes")
    for lam in args.lam:
        t_n, newton = timed(lambda: T.logit_qre(game, lam=lam, method="newton"))
        t_b, branch = timed(lambda: T.logit_qre(game, lam=lam, method="branch"))
        t_t, trace = timed(lambda: T.qre_branch(game, lam))
        for name, t, res in (("newton", t_n, newton), ("branch", t_b, branch)):
            gap = T.qre_gap(game, res.policy, 1.0 / lam)
            print(f"{lam:>7g} {name:>8} {t:>8.2f} {res.residual:>9.1e} {gap:>9.1e} {res.nit:>6}  {res.message}")
        events = ", ".join(f"{e.kind} at {e.lam:.4g}" for e in trace.events) or "no fold or branch point"
        print(f"{lam:>7g} {'trace':>8} {t_t:>8.2f} {trace.residuals.max():>9.1e} {'':>9} {len(trace.lam):>6}  "
              f"{events}; |newton - branch| = {newton.policy.max_abs_diff(branch.policy):.1e}", flush=True)


if __name__ == "__main__":
    main()
