"""One set of checks over the algorithm registry (``deep.ALGOS``): every registered algorithm, present and
future, is picked up.  Each runs through its own loop on a small real task of an action space it supports
(Discrete, else Box), and an off-policy one that supports MultiDiscrete actions also on air combat (the
on-policy ones are left out there for time: three rollouts of JSBSim before their third update; every
algorithm trains, checkpoints and resumes on air combat in tests/test_families_training.py):

* named losses: loss ``k`` of ``losses(batch)`` puts gradient on parameter group ``k`` and on no other
  parameter, targets never receive gradient, and neither ``losses`` nor ``update`` changes the batch;
* the same seed twice gives the same run (parameters, optimiser states, logs);
* SIGKILL, then ``meharl resume``, ends with the parameters and logs of the uninterrupted run;
* ``precision=bf16``: the networks' bodies report bf16, every network's output, loss, stored number, weight and
  optimiser state is float32 (fp64 ValueNorm statistics apart), the losses keep to their own parameter groups,
  and the same seed twice gives the same run; an unknown precision is a one-line ValueError.

The batch is whatever the loop hands to ``update`` (captured there), so no knowledge of an algorithm's
batch format is needed here.
"""
import copy
import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from deep.algos import algo_class, algo_names
from deep.algos._checkpoint import state_tensors
from deep.config import fields
from deep.configure import resolve
from deep.nets.mlp import Autocastable
from deep.run import loop_class, resume, start
from meharl.cli import main

#: small settings, applied where the algorithm or its loop has such a field
SMALL_ALGO = {"hidden": "[16, 16]", "batch_size": "32", "n_step": "2"}
SMALL_TRAIN = {"warmup_steps": "64", "progress": "false", "tensorboard": "false", "eval_episodes": "2"}
WALL_CLOCK = {"wall_time", "env_steps_per_s", "updates_per_s"}
#: (algorithm, overrides) of settings that add state, tested beside every algorithm's default configuration
VARIANTS = [("hasac", ("algo.value_norm=true",))]


#: (env, task, env overrides) of a small real task per action kind
TASKS = {"discrete": ("tabular", "paper-matrix", []),
         "box": ("mpe", "simple_spread_v3", ["env_options.continuous_actions=true"]),
         "multidiscrete": ("aircombat", "1v1-NoWeapon-vsBaseline", ["env_options.episode_limit=10"])}
PACKAGES = {"mpe": "mpe2", "aircombat": "jsbsim"}
#: further small train settings per kind (air combat steps JSBSim: training sooner reaches 3 updates in fewer steps)
SMALL_TRAIN_OF_KIND = {"multidiscrete": {"train_interval": "10"}}


def _kind(name):
    return "discrete" if "discrete" in algo_class(name).supports else "box"


def _cases():
    """Every algorithm on Discrete actions (else Box); the off-policy ones also on MultiDiscrete if supported;
    and the VARIANTS, on the algorithm's first kind."""
    for name in algo_names():
        cls = algo_class(name)
        yield pytest.param(name, _kind(name), (), id=name)
        if "multidiscrete" in cls.supports and not cls.on_policy:
            yield pytest.param(name, "multidiscrete", (), id=f"{name}-multidiscrete")
    for name, extra in VARIANTS:
        yield pytest.param(name, _kind(name), extra, id=name + "".join(f"-{o.split('.')[-1]}" for o in extra))


def _task(kind):
    env, task, over = TASKS[kind]
    if env in PACKAGES:
        pytest.importorskip(PACKAGES[env])
    return env, task, over


def _overrides(name, kind, extra=()):
    algo_cls = algo_class(name)
    p, t = fields(algo_cls.Params), fields(loop_class(algo_cls).Train)
    return ([f"algo.{k}={v}" for k, v in SMALL_ALGO.items() if k in p]
            + [f"train.{k}={v}" for k, v in {**SMALL_TRAIN, **SMALL_TRAIN_OF_KIND.get(kind, {})}.items() if k in t]
            + ["num_envs=4", "eval_num_envs=2", *_task(kind)[2], *extra])


def _cfg(name, kind, extra=()):
    env, task, _ = _task(kind)
    return resolve(env, task, 0, _overrides(name, kind, extra), algo=name)


def _assert_same_state(a, b):
    ta, tb = state_tensors(a), state_tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), f"{k} differs"


def _rows(path):
    if not path.exists():
        return None
    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if k not in WALL_CLOCK and not k.startswith("time_")}
                for r in csv.DictReader(fh)]


def _first_batch(name, kind, tmp_path, variant=()):
    """The first batch the loop hands to ``update``, and the algorithm (with the state it had then)."""
    run = start(_cfg(name, kind, [*variant, "train.total_steps=100000", "train.eval_interval=0",
                            "train.checkpoint_interval=0"]), tmp_path / "probe")
    seen = []
    original = run.algo.update

    def capture(batch, rng):
        if not seen:
            seen.append(copy.deepcopy(batch))
            raise StopIteration
        return original(batch, rng)
    run.algo.update = capture
    try:
        for _ in range(10_000):
            run.run(stop_after=1)
    except StopIteration:
        pass
    run.close()
    assert seen, f"{name}'s loop never called update"
    run.algo.update = original
    return run.algo, seen[0]


def _check_named_losses(algo, batch):
    """Loss ``k`` reaches group ``k`` only (never a target), the losses are finite float32 scalars, an update's
    statistics are finite, and neither changes the batch."""
    groups = algo.param_groups()
    targets = algo.target_params()
    everything = {id(p): p for ps in groups.values() for p in ps} | {id(p): p for p in targets}
    assert not {id(p) for p in targets} & {id(p) for ps in groups.values() for p in ps}
    kept = copy.deepcopy(batch)
    losses = algo.losses(batch)
    assert losses and set(losses) <= set(groups), f"losses {sorted(losses)} vs groups {sorted(groups)}"
    for k, loss in losses.items():
        assert loss.ndim == 0 and torch.isfinite(loss) and loss.dtype == torch.float32
        for p in everything.values():
            p.grad = None
        loss.backward(retain_graph=True)
        own = {id(p) for p in groups[k]}
        reached = {i for i, p in everything.items() if p.grad is not None and bool(p.grad.abs().sum() > 0)}
        assert reached & own, f"loss {k} puts no gradient on group {k}"
        strays = [g for g, ps in groups.items() if any(id(p) in reached - own for p in ps)]
        assert not strays, f"loss {k} reaches groups {strays}"
        assert all(p.grad is None for p in targets), f"loss {k} reaches a target network"
    for p in everything.values():
        p.grad = None
    _assert_same_state(batch, kept)
    stats = algo.update(batch, np.random.default_rng(0))
    assert set(stats) <= set(algo.stat_names()) and all(np.isfinite(v) for v in stats.values())
    _assert_same_state(batch, kept)
    assert all(p.grad is None or not p.requires_grad for p in targets)


@pytest.mark.parametrize("name, kind, variant", list(_cases()))
def test_named_losses_reach_their_own_parameter_group_only_and_inputs_stay(name, kind, variant, tmp_path):
    _check_named_losses(*_first_batch(name, kind, tmp_path, variant))


def _started(name, kind, run_dir, variant=()):
    return start(_cfg(name, kind, [*variant, "train.total_steps=100000", "train.eval_interval=0",
                                   "train.checkpoint_interval=0"]), run_dir)


def _until_updates(run, updates=3):
    """Step ``run`` until it has made ``updates`` updates, then close it."""
    while run.counters["updates"] < updates:
        run.run(stop_after=1)
    run.close()
    return run


def _budget(name, kind, tmp_path, variant=()):
    """(total_steps, checkpoint_interval): a run of a few updates with a checkpoint inside it."""
    steps = _until_updates(_started(name, kind, tmp_path / "budget", variant)).counters["env_steps"]
    return 4 * steps, steps


@pytest.mark.parametrize("name, kind, variant", list(_cases()))
def test_same_seed_twice_and_sigkill_then_resume_give_the_same_run(name, kind, variant, tmp_path):
    total, ckpt = _budget(name, kind, tmp_path, variant)
    extra = [*variant, f"train.total_steps={total}", f"train.checkpoint_interval={ckpt}",
             f"train.eval_interval={ckpt}", f"train.log_interval={max(ckpt // 2, 1)}"]
    runs = []
    for label in ("a", "b"):
        run = start(_cfg(name, kind, extra), tmp_path / label)
        run.run()
        run.close()
        runs.append(run)
    _assert_same_state(runs[0].algo.state_dict(), runs[1].algo.state_dict())
    for log in ("progress.csv", "eval.csv"):
        assert _rows(runs[0].dir / log) == _rows(runs[1].dir / log)
    assert runs[0].counters["updates"] > 3
    if "algo.value_norm=true" in variant:  # its running statistics are checkpointed state, compared below
        assert float(state_tensors(runs[0].algo.state_dict())["/value_norm/debias"]) > 0

    env, task, _ = _task(kind)
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "meharl", "train", "--algo", name, "--env", env, "--task", task, "--seed", "0",
           "--run-dir", str(killed), "--set", *_overrides(name, kind, extra)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    ck = killed / "checkpoint.pt"
    deadline = time.time() + 120
    while not ck.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it was killed: {proc.stderr.read()}"
    assert main(["resume", str(killed)]) == 0
    final = resume(killed)  # the finished run, rebuilt from its last checkpoint
    final.close()
    assert final.counters["env_steps"] == total
    _assert_same_state(runs[0].algo.state_dict(), final.algo.state_dict())
    for log in ("progress.csv", "eval.csv"):
        assert _rows(killed / log) == _rows(runs[0].dir / log), f"{log} differs"


def _networks(algo):
    """The algorithm's networks: its attributes that are modules or lists of modules."""
    for v in vars(algo).values():
        for m in (v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(m, torch.nn.Module):
                yield m


@pytest.mark.parametrize("name", algo_names())
def test_bf16_precision_keeps_float32_numbers_and_own_gradients_and_repeats_its_run(name, tmp_path):
    kind, bf16 = _kind(name), ("algo.precision=bf16",)
    runs, first = [], []
    for label in ("a", "b"):
        run = _started(name, kind, tmp_path / label, bf16)
        algo = run.algo
        fp32_parts = set() if getattr(algo, "autocast_actors", True) else {id(m) for m in algo.actors}
        parts = [(m, id(net) in fp32_parts) for net in _networks(algo) for m in net.modules()
                 if isinstance(m, Autocastable)]
        assert parts and all(m.bf16 != fp32 for m, fp32 in parts), "a network body does not follow precision"
        if label == "a":   # every network's output and every autocast body's result, over a short run: float32
            inside = {id(c) for m, _ in parts for c in m.modules() if c is not m}
            dtypes = set()
            for m in {id(m): m for net in _networks(algo) for m in net.modules() if id(m) not in inside}.values():
                m.register_forward_hook(lambda mod, args, out: dtypes.update(
                    t.dtype for t in (out if isinstance(out, tuple) else (out,))
                    if torch.is_tensor(t) and t.is_floating_point()))
            original = algo.update

            def capture(batch, rng):
                if not first:
                    first.append(copy.deepcopy(batch))
                return original(batch, rng)
            algo.update = capture
        runs.append(_until_updates(run))
    assert dtypes == {torch.float32}, dtypes
    # what the loop stored from acting (log-probabilities, values, returns, rewards) is float32
    assert {t.dtype for t in state_tensors(first[0]).values() if t.is_floating_point()} == {torch.float32}
    state = state_tensors(runs[0].algo.state_dict())
    for k, t in state.items():  # weights and optimiser state float32 and finite (ValueNorm keeps float64)
        if t.is_floating_point():
            assert t.dtype == (torch.float64 if "value_norm" in k else torch.float32), k
            assert bool(torch.isfinite(t).all()), k
    _assert_same_state(runs[0].algo.state_dict(), runs[1].algo.state_dict())
    _check_named_losses(runs[0].algo, first[0])


@pytest.mark.parametrize("name", algo_names())
def test_unknown_precision_is_a_one_line_value_error_naming_the_valid_values(name):
    with pytest.raises(ValueError, match=r"bad value algo.precision='fp16': must be fp32 or bf16 or auto") as err:
        _cfg(name, _kind(name), ("algo.precision=fp16",))
    assert "\n" not in str(err.value)
