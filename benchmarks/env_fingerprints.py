"""Are the QRE path follower, SMAX and air combat the same programs?  Bit-for-bit fingerprints of their outputs.

Prints one line per case: a SHA-256 prefix over every output array, then a few counts.  Run it on two trees
and compare the outputs (the restructured code must print the same lines)::

    PYTHONPATH=$OLD_TREE python benchmarks/env_fingerprints.py > before.txt
    PYTHONPATH=$NEW_TREE python benchmarks/env_fingerprints.py > after.txt && diff before.txt after.txt

- ``qre``: :func:`tabular.qre_path.trace_branch` on symmetric coordination games (branch points), a folding
  3x3 game, random normal-form games (full and guide accuracy), the paper's game traced down from each of
  its seven QRE, and a folding Markov game with the dense and the matrix-free system;
- ``smax``: 150 steps of random available actions on 3m and 2s3z, 4 copies, with both rewards and edges and
  without some features, through a ``get_state``/``set_state`` round trip (the env name is the argument
  ``--smax-name``: ``smac`` or ``smax``);
- ``aircombat``: 250 decisions of random actions (shooting often) in three hierarchical tasks and one direct
  one, 2 copies, episodes of 100 decisions, through a ``get_state``/``set_state`` round trip.
"""
from __future__ import annotations

import argparse
import hashlib

import numpy as np


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def qre_cases():
    import tabular as T
    from tabular.paper import paper_matrix_game
    from tabular.qre_path import trace_branch
    from tabular.qre_system import MarkovSystem, SparseMarkovSystem, make_system
    for k in (2, 3):
        for lam in (10.0, 40.0):
            game = T.MatrixGame(np.eye(k))
            yield f"coordination{k} to {lam:g}", lambda game=game, lam=lam: trace_branch(make_system(game), lam)
    rng = np.random.default_rng(18)
    folding = T.NormalFormGame([rng.normal(size=(3, 3)) for _ in range(2)])
    yield "folding 3x3", lambda: trace_branch(make_system(folding), 20.0)
    yield "folding 3x3 dense", lambda: trace_branch(make_system(folding), 20.0, max_step=0.1)
    for shape in [(4,), (3, 3), (2, 5), (3, 4, 2), (5, 5, 5), (2, 3, 2, 3)]:
        for seed in (0, 1):
            r = np.random.default_rng(seed)
            g = T.NormalFormGame([r.normal(size=shape) for _ in shape])
            yield f"random {shape} seed {seed}", lambda g=g: trace_branch(make_system(g), 6.0)
            yield f"random {shape} seed {seed} guide", lambda g=g: trace_branch(make_system(g), 30.0,
                                                                                 corrector_tol=1e-6)
    game = paper_matrix_game()
    for i, rec in enumerate(T.enumerate_qre(game, alpha=1.0)):
        s = make_system(game)
        yield f"paper QRE {i} down", lambda rec=rec, s=s: trace_branch(s, 0.0, start=s.to_x(rec.policy), start_lam=1.0)
    markov = T.random_markov_game(8, (2, 3, 2), gamma=0.9, n_successors=3, sparse=True, seed=4, reward_scale=2.0)
    yield "markov dense", lambda: trace_branch(MarkovSystem(markov), 3.0)
    yield "markov matrix-free", lambda: trace_branch(SparseMarkovSystem(markov), 3.0)


def run_qre() -> None:
    for name, trace in qre_cases():
        tr = trace()
        extra = [repr(tr.ascent).encode(), repr(tr.events).encode(), tr.origin.encode()]
        print(f"qre {name}: {_digest(list(tr.xs) + [np.asarray(tr.lams)] + extra)} {len(tr.lams)} points")


def _rollout(env, steps, actions, rng) -> str:
    """Fingerprint of ``steps`` steps of ``actions(reset_or_step, rng)``, with a state round trip midway."""
    s = env.reset()
    arrays, ends, total = [*s.obs, s.state] + [m for m in s.avail if m is not None], 0, 0.0
    for t in range(steps):
        s = env.step(actions(s, rng))
        arrays += [*s.obs, s.state, s.reward, s.terminated, s.truncated, *s.final_obs, s.final_state,
                   s.info["episode_return"], s.info["episode_length"]]
        arrays += [m for m in s.avail + s.final_avail if m is not None]
        arrays += [s.info[k] for k in ("won", "aircraft_out") if k in s.info]
        ends, total = ends + int((s.terminated | s.truncated).sum()), total + float(s.reward.sum())
        if t == steps // 2:
            env.set_state(env.get_state())
    return f"{_digest(arrays)} {ends} ends, return {total:.9g}"


def run_smax(name: str) -> None:
    from deep.envs.registry import make_env

    def random_available(s, rng):
        return [np.array([rng.choice(np.flatnonzero(row)) for row in m]) for m in s.avail]
    for task, opts in [("3m", {}), ("2s3z", {}), ("3m", {"reward": "smax", "edge": "smax"}),
                       ("2s3z", {"obs_agent_id": False, "state_last_action": False})]:
        env = make_env(name, task, 4, seed=7, **opts)
        print(f"smax {task} {opts}: {_rollout(env, 150, random_available, np.random.default_rng(0))}", flush=True)


def run_aircombat() -> None:
    from deep.envs.registry import make_env
    for task, control in [("1v1-ShootMissile-vsBaseline", "hierarchical"),
                          ("2v2-ShootMissile-vsBaseline", "hierarchical"),
                          ("2v2-NoWeapon-vsBaseline", "hierarchical"), ("1v1-NoWeapon-vsBaseline", "direct")]:
        env = make_env("aircombat", task, 2, seed=3, control=control, episode_limit=100)
        nvec = env.spec.action_spaces[0].nvec
        starts = np.concatenate([[0], np.cumsum(nvec)[:-1]])
        count = [0]

        def random_actions(s, rng):
            acts = []
            for m in s.avail:
                a = np.stack([rng.integers(0, k, size=2) for k in nvec], axis=1)
                if count[0] % 7 == 0 and nvec[-1] == 2 and len(nvec) in (4, 5):
                    a[:, -1] = 1  # shoot often
                for k in range(2):  # an aircraft that is out may only take the no-op
                    if not all(m[k, starts[d] + a[k, d]] for d in range(len(nvec))):
                        a[k] = [np.flatnonzero(m[k, starts[d]:starts[d] + nvec[d]])[0] for d in range(len(nvec))]
                acts.append(a)
            count[0] += 1
            return acts
        print(f"aircombat {task} {control}: {_rollout(env, 250, random_actions, np.random.default_rng(1))}",
              flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("qre", "smax", "aircombat"), action="append",
                    help="run only these parts (repeatable; default: all)")
    ap.add_argument("--smax-name", default="smac", choices=("smac", "smax"),
                    help="the env name to build SMAX by (default smac: also there before smax was added)")
    args = ap.parse_args(argv)
    parts = args.only or ["qre", "smax", "aircombat"]
    if "qre" in parts:
        run_qre()
    if "smax" in parts:
        run_smax(args.smax_name)
    if "aircombat" in parts:
        run_aircombat()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
