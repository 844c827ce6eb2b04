"""HARL's HASAC beside meharl's on MPE Spread (simple_spread_v3), continuous and discrete actions.

For ``--seeds N`` seeds (1..N) and ``--steps S`` environment steps, the script runs, one process at a time and
each at ``--threads T`` torch threads, PKU-MARL/HARL's ``examples/train.py`` with its tuned config
``tuned_configs/pettingzoo_mpe/simple_spread_v2-{continuous,discrete}/hasac/config.json`` (HARL prepared by
``setup_harl.sh``) and ``python -m meharl train --algo hasac --env mpe --task simple_spread_v3`` with this
checkout's shipped config (the discrete runs add ``env_options.continuous_actions=false``).  Runs go seed by
seed, variant by variant, HARL then meharl, so both codes share the machine's conditions as far as possible.

Both codes are given the same budget and evaluation schedule: S environment transitions in all, the first
10 000 of them uniformly random (HARL's ``--num_env_steps`` is ``S - 10000`` because it does not count its
warm-up), and a greedy evaluation every 10 000 environment steps (HARL's ``--eval_interval`` counts vector
steps of its 20 copies: 500) and at S.  Each evaluation on both sides is the mean over 40 episodes, 2 on each
of 20 evaluation copies, of the team's return: the sum over 25 steps of the sum of the three agents' rewards
(HARL gives every agent that sum and averages over agents and episodes; meharl's ``eval.csv`` logs it).

Recorded per run in ``OUT/runs/<code>_<variant>_seed<k>/result.json``: the evaluation curve, the final
evaluation return (at S), the process's wall time, and the gradient updates (and environment steps) per second
between the evaluation at 20 000 steps and the one at S (the same evaluations fall inside on both sides).
HARL logs neither time nor updates: its evaluation times are the moments its result lines reach the
script's pipe, and its updates are counted from its loop (``update_per_train * train_interval`` updates every
``train_interval`` vector steps after warm-up); meharl's come from its ``eval.csv`` and ``progress.csv``.
``OUT/summary.csv`` has one row per run, ``OUT/aggregate.csv`` the mean and standard deviation over seeds,
``OUT/settings.csv`` each shared setting as HARL's code uses it beside meharl's resolved config, and
``OUT/side_by_side.png`` the curves (mean and +-1 std over seeds).  ``--reuse`` keeps the finished runs already
in OUT and redoes unfinished ones from the start, so a long comparison can be stopped and continued.

Settings are the same unless listed here (settings.csv checks the shared keys at every start):

- HARL's config says ``alpha: 0.2``, but with ``auto_alpha`` its runner starts every log temperature at 0
  (alpha 1), as meharl's config does.
- Target entropy: HARL's continuous target is ``-dim`` in the tanh units of its policy; its discrete target is
  ``-0.98 log(1 / prod(space.shape))``, which is 0 for a ``Discrete`` space (its shape is empty).  meharl's are
  those of its shipped config and heads (see ``deep/nets/heads.py`` and the paper config).
- HARL's critic target uses a temperature of its own, tuned on the joint log-probability towards the summed
  target entropy; meharl's uses the agents' temperatures.  Both n-step targets sum rewards only along the
  chain (meharl's ``n_step_entropy`` default).
- Continuous actions: HARL's actor outputs ``tanh`` in [-1, 1] and sends it to the Box(0, 1) environment,
  whose PettingZoo wrapper clips it to [0, 1] (half of each coordinate's range maps to 0); its warm-up
  samples the Box(0, 1) space.  meharl maps ``tanh`` affinely onto [0, 1].
- Discrete actor loss: HARL puts a straight-through Gumbel-softmax sample and the log-probability of the
  sampled action into eq. 10; meharl's ``discrete_actor_loss`` default is the exact expectation.
- Networks: HARL's continuous actor is Linear-ReLU-Linear-tanh with PyTorch's default initialisation and
  separate mean and log-std heads (log-std clamped to [-20, 2]); its discrete actor has an input LayerNorm,
  Linear-ReLU-LayerNorm blocks with orthogonal initialisation and 0.01-gain logits; its critics are plain
  ReLU MLPs on the state and the (one-hot) joint action.  meharl's are those of ``deep/nets`` at the time.
- Precision: HARL computes in float32; meharl's ``algo.precision`` default (``auto``) uses bf16 matrix
  products on a CPU with native bf16 (``--meharl-set algo.precision=fp32`` compares at float32).
- meharl trains once more, at the end of warm-up (its first phase falls on the 500th vector step): 50 more
  updates than HARL's ``(S - 10000) / 20`` in the whole run.
- Environments: HARL steps its 20 training and 20 evaluation copies in 40 subprocesses; meharl steps its
  copies in its own process.  HARL's evaluation copies start from new seeds at every evaluation, meharl's
  from the same seed every time.
- Seeds: seed k of one code has nothing to do with seed k of the other.

Usage (HARL_DIR and HARL_PYTHON as printed by setup_harl.sh, or --harl-dir and --harl-python)::

    python benchmarks/harl/side_by_side.py --out runs/harl_side_by_side --seeds 3 --steps 300000 --threads 2
    python benchmarks/harl/side_by_side.py --out runs/harl_side_by_side --seeds 3 --steps 300000 --threads 2 --reuse
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS = ("continuous", "discrete")
CODES = ("harl", "meharl")
WARMUP = 10_000  #: environment steps of random actions (both codes' configs; checked in settings.csv)
EVAL_INTERVAL = 10_000  #: environment steps between evaluations, both codes
N_ENVS = 20  #: training copies, both codes (checked in settings.csv)
HARL_CONFIG = "tuned_configs/pettingzoo_mpe/simple_spread_v2-{variant}/hasac/config.json"
RESULT = "result.json"
SUMMARY_FIELDS = ("code", "variant", "seed", "env_steps", "threads", "final_return", "wall_s", "updates_per_s",
                  "env_steps_per_s", "updates", "load1_end")


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit status 2, not argparse's usage block
        sys.stderr.write(f"side_by_side.py: {message}\n")
        raise SystemExit(2)


class BadInput(Exception):
    """A problem with the arguments or with OUT, reported in one line with exit status 2."""


# ---------------------------------------------------------------- the settings each code uses
def harl_settings(config: dict) -> dict:
    """HARL's settings as its runner uses them (not only as its JSON states them), under meharl's keys."""
    a, m, t, e = (config["algo_args"][k] for k in ("algo", "model", "train", "eval"))
    return {
        "algo.hidden": list(m["hidden_sizes"]),
        "algo.gamma": a["gamma"],
        "algo.batch_size": a["batch_size"],
        "algo.n_step": a["n_step"],
        "algo.actor_lr": m["lr"],
        "algo.critic_lr": m["critic_lr"],
        "algo.polyak": a["polyak"],
        "algo.auto_alpha": a["auto_alpha"],
        "algo.alpha": 1.0 if a["auto_alpha"] else a["alpha"],  # auto_alpha: log alpha starts at 0
        "algo.alpha_lr": a["alpha_lr"],
        "algo.critic_loss": "huber" if a["use_huber_loss"] else "mse",
        "algo.share_params": a["share_param"],
        "algo.value_norm": t["use_valuenorm"],
        "train.warmup_steps": t["warmup_steps"],
        "train.train_interval": t["train_interval"],
        "train.updates_per_train": int(t["update_per_train"] * t["train_interval"]),  # per training phase
        "train.buffer_size": a["buffer_size"],
        "train.eval_episodes": e["eval_episodes"],
        "num_envs": t["n_rollout_threads"],
        "eval_num_envs": e["n_eval_rollout_threads"],
    }


def meharl_config(variant: str, seed: int, steps: int, threads: int, extra: list[str]) -> tuple[list[str], dict]:
    """The ``--set`` items of a meharl run and the config they resolve to (ValueError if meharl rejects it)."""
    from deep.configure import resolve
    sets = [f"threads={threads}", f"train.total_steps={steps}", f"train.eval_interval={EVAL_INTERVAL}",
            "train.progress=false", f"env_options.continuous_actions={str(variant == 'continuous').lower()}",
            *extra]
    return sets, resolve("mpe", "simple_spread_v3", seed, sets, algo="hasac")


def compare_settings(harl: dict, meharl: dict) -> list[dict]:
    """One row per shared key: HARL's value, meharl's (absent if its config has no such key), same or not."""
    rows = []
    for key, hv in harl.items():
        section, _, name = key.rpartition(".")
        mv = (meharl.get(section, {}) if section else meharl).get(name, "(absent)")
        mv = list(mv) if isinstance(mv, tuple) else mv
        rows.append({"key": key, "harl": hv, "meharl": mv, "same": hv == mv})
    return rows


# ---------------------------------------------------------------- one run
def run_process(cmd: list[str], log: Path, cwd: Path) -> tuple[int, float, list[tuple[float, str]]]:
    """Run ``cmd`` with its output in ``log``; (exit status, wall seconds, [(seconds since start, line)])."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    lines = []
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8", buffering=1) as fh:  # line by line, to follow a run live
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        try:
            for line in proc.stdout:
                lines.append((time.perf_counter() - t0, line))
                fh.write(line)
        finally:  # on Ctrl-C the child has the signal too: let it stop (meharl saves a checkpoint)
            rc = proc.wait()
    return rc, time.perf_counter() - t0, lines


def harl_updates(env_steps: int, t: dict) -> int:
    """Gradient updates HARL has made when its loop has collected ``env_steps`` transitions (warm-up
    included): ``update_per_train * train_interval`` every ``train_interval`` vector steps after warm-up."""
    vector_steps = (env_steps - t["warmup_steps"]) // t["n_rollout_threads"]
    return (vector_steps // t["train_interval"]) * int(t["update_per_train"] * t["train_interval"])


EVAL_AT = re.compile(r"Evaluation at step (\d+) /")
EVAL_RETURN = re.compile(r"Eval average episode reward is (\S+?),")


def harl_run(harl_dir: Path, python: str, variant: str, seed: int, steps: int, threads: int, run_dir: Path) -> dict:
    config_path = harl_dir / HARL_CONFIG.format(variant=variant)
    cmd = [python, str(harl_dir / "examples" / "train.py"), "--load_config", str(config_path),
           "--scenario", "simple_spread_v3", "--num_env_steps", str(steps - WARMUP),
           "--eval_interval", str(EVAL_INTERVAL // N_ENVS), "--cuda", "False", "--torch_threads", str(threads),
           "--seed", str(seed), "--seed_specify", "True", "--log_dir", str(run_dir / "harl"),
           "--exp_name", "side_by_side"]
    rc, wall, lines = run_process(cmd, run_dir / "stdout.log", run_dir)
    if rc != 0:
        raise RuntimeError(f"HARL exited with status {rc}; see {run_dir / 'stdout.log'}")
    curve, at = [], None
    for t, line in lines:
        if m := EVAL_AT.search(line):
            at = int(m.group(1))
        elif (m := EVAL_RETURN.search(line)) and at is not None:
            curve.append((at, float(m.group(1)), t))
            at = None
    train = json.loads(config_path.read_text(encoding="utf-8"))["algo_args"]["train"]
    updates = {s: harl_updates(s, train) for s, _, _ in curve}
    return {"command": cmd, "wall_s": wall, "curve": curve, "updates": updates}


def meharl_run(variant: str, seed: int, steps: int, threads: int, extra: list[str], run_dir: Path) -> dict:
    sets, _ = meharl_config(variant, seed, steps, threads, extra)
    cmd = [sys.executable, "-m", "meharl", "train", "--algo", "hasac", "--env", "mpe", "--task", "simple_spread_v3",
           "--seed", str(seed), "--run-dir", str(run_dir / "meharl"), "--overwrite", "--set", *sets]
    rc, wall, _ = run_process(cmd, run_dir / "stdout.log", REPO)
    if rc != 0:
        raise RuntimeError(f"meharl exited with status {rc}; see {run_dir / 'stdout.log'}")
    evals, progress = (read_csv(run_dir / "meharl" / name) for name in ("eval.csv", "progress.csv"))
    curve = [(int(r["env_steps"]), float(r["eval_return"]), float(r["wall_time"])) for r in evals]
    logged = {int(r["env_steps"]): int(r["updates"]) for r in progress}
    missing = [s for s, _, _ in curve if s not in logged]
    if missing:
        raise RuntimeError(f"{run_dir / 'meharl' / 'progress.csv'} has no row at the evaluations' steps {missing}")
    return {"command": cmd, "wall_s": wall, "curve": curve, "updates": {s: logged[s] for s, _, _ in curve}}


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def result_of(code: str, variant: str, seed: int, steps: int, threads: int, raw: dict) -> dict:
    """The run's record: its curve and final return, and its throughput between the evaluation at
    ``WARMUP + EVAL_INTERVAL`` steps and the last one."""
    curve = sorted(raw["curve"])
    if not curve or curve[-1][0] != steps:
        raise RuntimeError(f"{code} {variant} seed {seed}: no evaluation at {steps} steps "
                           f"(evaluated at {[c[0] for c in curve]})")
    first = next(c for c in curve if c[0] >= WARMUP + EVAL_INTERVAL)
    last = curve[-1]
    dt = last[2] - first[2]
    u0, u1 = raw["updates"][first[0]], raw["updates"][last[0]]
    return {"code": code, "variant": variant, "seed": seed, "env_steps": steps, "threads": threads,
            "final_return": last[1], "wall_s": round(raw["wall_s"], 2),
            "updates_per_s": round((u1 - u0) / dt, 3),
            "env_steps_per_s": round((last[0] - first[0]) / dt, 2), "updates": u1,
            "load1_end": round(os.getloadavg()[0], 2), "curve": [list(c) for c in curve],
            "command": raw["command"]}


# ---------------------------------------------------------------- the comparison
REPO = Path(__file__).resolve().parents[2]


def parse_args(argv):
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="directory of the runs, summary.csv, aggregate.csv, the figure")
    p.add_argument("--seeds", type=int, default=3, help="seeds 1..N of each code and variant (default 3)")
    p.add_argument("--first-seed", type=int, default=1,
                   help="start at this seed instead of 1 (runs split over processes: --first-seed K --seeds K)")
    p.add_argument("--steps", type=int, default=300_000, help="environment steps of every run, warm-up "
                   f"included; a multiple of {EVAL_INTERVAL}, at least {WARMUP + 2 * EVAL_INTERVAL} (default 300000)")
    p.add_argument("--threads", type=int, default=2, help="torch threads of every run (default 2)")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--codes", nargs="+", choices=CODES, default=list(CODES))
    p.add_argument("--harl-dir", default=os.environ.get("HARL_DIR"),
                   help="HARL checkout with compat.patch applied (default: $HARL_DIR)")
    p.add_argument("--harl-python", default=os.environ.get("HARL_PYTHON"),
                   help="python of HARL's virtual environment (default: $HARL_PYTHON)")
    p.add_argument("--meharl-set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="extra meharl overrides, e.g. algo.precision=fp32 (shown in settings.csv)")
    p.add_argument("--reuse", action="store_true", help="keep finished runs already in OUT, redo unfinished ones")
    return p.parse_args(argv)


def check_args(args) -> None:
    """Raise BadInput naming the first problem with the arguments, before anything runs or is written."""
    if args.seeds < 1:
        raise BadInput(f"--seeds must be at least 1, got {args.seeds}")
    if not 1 <= args.first_seed <= args.seeds:
        raise BadInput(f"--first-seed must be between 1 and --seeds ({args.seeds}), got {args.first_seed}")
    if args.threads < 1:
        raise BadInput(f"--threads must be at least 1, got {args.threads}")
    if args.steps % EVAL_INTERVAL or args.steps < WARMUP + 2 * EVAL_INTERVAL:
        raise BadInput(f"--steps must be a multiple of {EVAL_INTERVAL} and at least {WARMUP + 2 * EVAL_INTERVAL}, "
                       f"got {args.steps}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} is a file, not a directory")
    if "harl" in args.codes:
        if not args.harl_dir:
            raise BadInput("no HARL checkout: pass --harl-dir or set HARL_DIR (see setup_harl.sh)")
        for variant in args.variants:
            if not (Path(args.harl_dir) / HARL_CONFIG.format(variant=variant)).is_file():
                raise BadInput(f"--harl-dir {args.harl_dir} has no {HARL_CONFIG.format(variant=variant)} "
                               f"(not a HARL checkout?)")
        if not args.harl_python:
            raise BadInput("no HARL interpreter: pass --harl-python or set HARL_PYTHON (see setup_harl.sh)")
        found = shutil.which(args.harl_python)
        if found is None:
            raise BadInput(f"--harl-python {args.harl_python} is not an executable")
        args.harl_python = os.path.abspath(found)  # HARL runs in its run directory
        probe = subprocess.run([args.harl_python, "-c", "import harl, mpe2, supersuit"], capture_output=True)
        if probe.returncode != 0:
            raise BadInput(f"--harl-python {args.harl_python} cannot import harl, mpe2 and supersuit "
                           f"(run setup_harl.sh)")
    if "meharl" in args.codes:
        try:
            meharl_config(args.variants[0], 1, args.steps, args.threads, args.meharl_set)
        except ValueError as exc:
            raise BadInput(f"--meharl-set: {exc}") from None
    runs = out / "runs"
    if runs.is_dir() and any(runs.iterdir()) and not args.reuse:
        raise BadInput(f"{out} already holds runs: pass --reuse to keep the finished ones, or choose another --out")
    for f in runs.glob(f"*/{RESULT}") if args.reuse else ():
        r = json.loads(f.read_text(encoding="utf-8"))
        if (r["env_steps"], r["threads"]) != (args.steps, args.threads):
            raise BadInput(f"{f} is a run of {r['env_steps']} steps at {r['threads']} threads, not "
                           f"{args.steps} at {args.threads}: choose another --out")


def write_csv(path: Path, rows: list[dict], fields) -> None:
    from safeio import atomic_write_text
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def write_settings(out: Path, args) -> None:
    """``settings.csv``: per variant, HARL's effective settings beside meharl's resolved config; printed too."""
    rows = []
    for variant in args.variants:
        harl = harl_settings(json.loads((Path(args.harl_dir) / HARL_CONFIG.format(variant=variant))
                                        .read_text(encoding="utf-8")))
        _, cfg = meharl_config(variant, 1, args.steps, args.threads, args.meharl_set)
        rows += [dict(r, variant=variant) for r in compare_settings(harl, cfg)]
    write_csv(out / "settings.csv", rows, ("variant", "key", "harl", "meharl", "same"))
    differ = [f"{r['variant']} {r['key']}: HARL {r['harl']}, meharl {r['meharl']}" for r in rows if not r["same"]]
    print("shared settings: " + ("all equal" if not differ else "DIFFERENT: " + "; ".join(differ)), flush=True)


def one_run(args, code: str, variant: str, seed: int, out: Path) -> dict:
    """The result of one run: read back if finished (``--reuse``), else run (an unfinished one from scratch)."""
    from safeio import atomic_write_text
    run_dir = out / "runs" / f"{code}_{variant}_seed{seed}"
    if (run_dir / RESULT).exists():
        print(f"{run_dir.name}: finished before, kept", flush=True)
        return json.loads((run_dir / RESULT).read_text(encoding="utf-8"))
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    print(f"{run_dir.name}: running ({args.steps} steps, {args.threads} threads)", flush=True)
    if code == "harl":
        raw = harl_run(Path(args.harl_dir).resolve(), args.harl_python, variant, seed, args.steps, args.threads,
                       run_dir.resolve())
    else:
        raw = meharl_run(variant, seed, args.steps, args.threads, args.meharl_set, run_dir.resolve())
    result = result_of(code, variant, seed, args.steps, args.threads, raw)
    atomic_write_text(run_dir / RESULT, json.dumps(result, indent=1) + "\n")
    print(f"{run_dir.name}: final return {result['final_return']:.3f}, wall {result['wall_s']:.0f} s, "
          f"{result['updates_per_s']} updates/s, {result['env_steps_per_s']} env steps/s", flush=True)
    return result


def aggregate_rows(results: list[dict]) -> list[dict]:
    rows = []
    for variant in VARIANTS:
        for code in CODES:
            rs = [r for r in results if (r["variant"], r["code"]) == (variant, code)]
            if rs:
                ret = np.array([r["final_return"] for r in rs])
                rows.append({"variant": variant, "code": code, "runs": len(rs),
                             "final_return_mean": round(float(ret.mean()), 3),
                             "final_return_std": round(float(ret.std()), 3),
                             "wall_s_mean": round(float(np.mean([r["wall_s"] for r in rs])), 1),
                             "updates_per_s_mean": round(float(np.mean([r["updates_per_s"] for r in rs])), 3)})
    return rows


def report(rows: list[dict]) -> None:
    """Print the aggregate and, where both codes ran, the issue's two goals for meharl."""
    for r in rows:
        print(f"{r['variant']:10s} {r['code']:6s} final return {r['final_return_mean']:9.3f} +- "
              f"{r['final_return_std']:.3f} ({r['runs']} seeds), wall {r['wall_s_mean']:.0f} s, "
              f"{r['updates_per_s_mean']:.2f} updates/s")
    for variant in VARIANTS:
        pair = {r["code"]: r for r in rows if r["variant"] == variant}
        if len(pair) == 2:
            h, m = pair["harl"], pair["meharl"]
            bar = h["final_return_mean"] - h["final_return_std"]
            print(f"{variant}: meharl's return {m['final_return_mean']:.3f} vs HARL's mean - std {bar:.3f} "
                  f"({'met' if m['final_return_mean'] >= bar else 'missed'}); wall time ratio meharl/HARL "
                  f"{m['wall_s_mean'] / h['wall_s_mean']:.2f} (goal <= 0.33)")


def plot(results: list[dict], path: Path, steps: int) -> None:
    from meharl.report import common_steps
    from meharl.figures import plt, save_png
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in results)]
    fig, axes = plt.subplots(1, len(variants), figsize=(6 * len(variants), 4.2), squeeze=False)
    for ax, variant in zip(axes[0], variants):
        for code, label in (("harl", "HARL (PKU-MARL, d539bad)"), ("meharl", "meharl")):
            rs = [r for r in results if (r["variant"], r["code"]) == (variant, code)]
            if not rs:
                continue
            curves = [(np.array([c[0] for c in r["curve"]]), np.array([c[1] for c in r["curve"]])) for r in rs]
            x, vals = common_steps(curves)
            mean, std = vals.mean(axis=0), vals.std(axis=0)
            line, = ax.plot(x, mean, label=f"{label} ({len(rs)} seed{'s' if len(rs) > 1 else ''})")
            if len(rs) > 1:
                ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.25)
        ax.set_title(f"MPE Spread, {variant} actions: HASAC")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("greedy team return per episode (40 episodes)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"HARL vs meharl, {steps} environment steps: mean and +-1 std over seeds", fontsize=10)
    save_png(fig, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_args(args)
    except BadInput as exc:
        print(f"side_by_side.py: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    if "harl" in args.codes and "meharl" in args.codes:
        write_settings(out, args)
    results = []
    try:
        for seed in range(args.first_seed, args.seeds + 1):
            for variant in args.variants:
                for code in args.codes:
                    results.append(one_run(args, code, variant, seed, out))
    except RuntimeError as exc:
        print(f"side_by_side.py: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("side_by_side.py: interrupted; rerun with --reuse to continue", file=sys.stderr)
        return 130
    write_csv(out / "summary.csv", results, SUMMARY_FIELDS)
    rows = aggregate_rows(results)
    write_csv(out / "aggregate.csv", rows, list(rows[0]))
    plot(results, out / "side_by_side.png", args.steps)
    report(rows)
    print(f"wrote {out / 'summary.csv'}, {out / 'aggregate.csv'} and {out / 'side_by_side.png'}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # this checkout's meharl, deep and tabular
    raise SystemExit(main())
