"""Every registered algorithm trains on the new environment families (smac, aircombat, bimanual): a tiny real run
through the layered config (``meharl train``'s path), finite losses, a checkpoint that reloads exactly and
a resume that continues; pairs an algorithm does not support are refused by name (as are pairs beyond a
stated limit of the algorithm, reported as skips with the message); masked actions are never taken.  Algorithms are read from the registry, so ones added later are covered without editing this file."""
import math
import re

import numpy as np
import pytest
import torch
from gymnasium.spaces import Discrete, MultiDiscrete

from deep.algos.base import ACTION_KINDS, action_kind, algo_class, algo_names, make_algo
from deep.config import fields
from deep.configure import algo_and_loop, resolve
from deep.envs.base import EnvSpec
from deep.run import resume, start
from meharl.cli import main

#: one task per family (two for aircombat: without and with the shoot component of the action; three for bimanual:
#: an egg task, the pen, and a door, whose objects are built differently)
TASKS = [("smac", "3m", "smax"), ("aircombat", "1v1-NoWeapon-vsBaseline", "jsbsim"),
         ("aircombat", "2v2-ShootMissile-vsBaseline", "jsbsim"), ("bimanual", "hand_over", "mujoco"),
         ("bimanual", "hand_pen", "mujoco"), ("bimanual", "door_open_outward", "mujoco"),
         ("football", "academy_run_pass_and_shoot_with_keeper", "gfootball")]
#: each task's action kind (checked against the environment's spec in the test)
KINDS = {"smac": "discrete", "aircombat": "multidiscrete", "bimanual": "box", "football": "discrete"}
STEPS = 120  #: environment steps of the first run (2 copies: 60 vector steps); the resume doubles it
#: tiny settings, applied where the algorithm's Params / its loop's Train has the field
TINY = {"algo": {"hidden": [16], "batch_size": 32, "n_step": 3, "rollout_length": 15, "ppo_epochs": 1,
                 "critic_epochs": 1},
        "train": {"progress": False, "tensorboard": False, "total_steps": STEPS, "eval_interval": 0,
                  "eval_episodes": 2, "log_interval": 40, "checkpoint_interval": 0, "warmup_steps": 40,
                  "train_interval": 5, "updates_per_train": 1}}


def _tiny(algo: str) -> list[str]:
    algo_cls, loop = algo_and_loop(algo)
    out = ["num_envs=2", "eval_num_envs=2", "env_options.episode_limit=30"]
    for section, cls in (("algo", algo_cls.Params), ("train", loop.Train)):
        out += [f"{section}.{k}={v}" for k, v in TINY[section].items() if k in fields(cls)]
    if "episodes_per_update" in fields(loop.Train):  # an episode replay: its batch counts episodes (4 end here)
        out.append("algo.batch_size=2")
    return out


def _pairs():
    for env, task, package in TASKS:
        for algo in algo_names():
            yield pytest.param(env, task, package, algo, id=f"{env}:{task}:{algo}")


@pytest.mark.parametrize("env, task, package, algo", list(_pairs()))
def test_every_algorithm_trains_checkpoints_and_resumes(tmp_path, env, task, package, algo):
    pytest.importorskip({"smax": "jaxmarl", "jsbsim": "jsbsim", "mujoco": "mujoco", "gfootball": "gfootball"}[package])
    tiny = _tiny(algo)
    if env == "football":  # copies in this process (the task config steps them in worker processes)
        tiny.append("env_options.workers=0")
    cfg = resolve(env, task, 0, tiny, algo=algo)
    if KINDS[env] not in algo_class(algo).supports:
        with pytest.raises(ValueError, match=f"algorithm {algo} does not support {KINDS[env]} actions"):
            start(cfg, tmp_path / "run")
        assert not (tmp_path / "run").exists()
        return
    try:
        tr = start(cfg, tmp_path / "run")
    except ValueError as exc:  # a limit of the algorithm on this task (e.g. a joint action space too large)
        if not re.search(rf"\b{re.escape(algo)}\b.*{re.escape(task)}", str(exc)):
            raise  # a refusal must name the algorithm and the task; anything else is a failure
        assert not (tmp_path / "run").exists()
        pytest.skip(f"refused by name: {exc}")
    assert {action_kind(s) for s in tr.env.spec.action_spaces} == {KINDS[env]}
    last = tr.run()
    trained = {k: v.clone() for k, v in _flat(tr.algo.state_dict()).items()}
    tr.close()
    assert tr.counters["env_steps"] == STEPS and tr.counters["updates"] > 0
    losses = {k: v for k, v in last["progress"].items() if "loss" in k and v != ""}
    assert losses and all(math.isfinite(float(v)) for v in losses.values()), losses
    assert np.isfinite(last["eval"]["eval_return"])
    assert (tmp_path / "run" / "checkpoint.pt").is_file()

    again = resume(tmp_path / "run", total_steps=2 * STEPS)
    reloaded = _flat(again.algo.state_dict())
    assert reloaded.keys() == trained.keys()
    for k in trained:
        assert torch.equal(reloaded[k], trained[k]), f"{k} differs after reloading the checkpoint"
    last = again.run()
    again.close()
    assert again.counters["env_steps"] == 2 * STEPS and again.counters["updates"] > tr.counters["updates"]
    assert all(math.isfinite(float(v)) for k, v in last["progress"].items() if "loss" in k and v != "")


def _flat(sd, prefix="") -> dict:
    """The tensors of a nested state dict by dotted name."""
    out = {}
    items = sd.items() if isinstance(sd, dict) else enumerate(sd) if isinstance(sd, (list, tuple)) else ()
    for k, v in items:
        if isinstance(v, torch.Tensor):
            out[f"{prefix}{k}"] = v
        else:
            out.update(_flat(v, f"{prefix}{k}."))
    return out


# ---------------------------------------------------------------- masks, as the families emit them
SPACES = {"discrete": Discrete(7), "multidiscrete": MultiDiscrete([3, 5, 3, 2])}


def _random_masks(space, n: int, rng) -> np.ndarray:
    """Availability masks as the environments lay them out (MultiDiscrete: one block per component,
    concatenated), each component with at least one available action; a quarter of the rows allow exactly
    one action per component (a down agent's no-op)."""
    sizes = [space.n] if isinstance(space, Discrete) else [int(k) for k in space.nvec]
    blocks = []
    for k in sizes:
        m = rng.random((n, k)) < 0.5
        m[np.arange(n), rng.integers(0, k, n)] = True
        only = np.zeros((n, k), bool)
        only[np.arange(n), rng.integers(0, k, n)] = True
        blocks.append(np.where((np.arange(n) % 4 == 0)[:, None], only, m))
    return np.concatenate(blocks, axis=1)


def _taken_are_available(space, actions, mask) -> bool:
    actions = np.asarray(actions).reshape(len(mask), -1)
    sizes = [space.n] if isinstance(space, Discrete) else [int(k) for k in space.nvec]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return bool(np.all(mask[np.arange(len(mask))[:, None], starts + actions]))


@pytest.mark.parametrize("algo", algo_names())
@pytest.mark.parametrize("kind", ["discrete", "multidiscrete"])
def test_actions_honour_the_families_mask_layout(algo, kind):
    """Stochastic and greedy actions (and warm-up actions where the algorithm has them) are available ones,
    for Discrete masks (smac) and MultiDiscrete masks concatenated per component (aircombat)."""
    if kind not in algo_class(algo).supports:
        pytest.skip(f"{algo} does not support {kind} actions")
    space, n = SPACES[kind], 256
    spec = EnvSpec("masks", 2, (4, 4), 8, (space, space), 10)
    torch.manual_seed(0)
    small = {k: v for k, v in {"hidden": (8,), "rnn_hidden": 8}.items() if k in fields(algo_class(algo).Params)}
    agent = make_algo(algo, spec, small)
    rng = np.random.default_rng(0)
    obs = [rng.standard_normal((n, 4)).astype(np.float32) for _ in range(2)]
    masks = [_random_masks(space, n, rng) for _ in range(2)]
    memory = {"memory": agent.initial_memory(n)} if getattr(agent, "recurrent", False) else {}
    acted = [agent.act(obs, masks, rng=rng, **memory), agent.act(obs, masks, deterministic=True, rng=rng, **memory)]
    if hasattr(agent, "random_act"):
        acted.append(agent.random_act(masks, n, rng))
    for a in acted:
        for i in range(2):
            assert _taken_are_available(space, a.env_actions[i], masks[i])


def test_the_task_list_covers_every_action_kind():
    assert sorted(set(KINDS.values())) == sorted(ACTION_KINDS)


# ---------------------------------------------------------------- meharl eval --video
def _tiny_run(tmp_path, env, task) -> str:
    run_dir = str(tmp_path / env)
    cfg = resolve(env, task, 0, [*_tiny("hasac"), "train.total_steps=60", "env_options.episode_limit=6"],
                  algo="hasac")
    tr = start(cfg, run_dir)
    tr.run()
    tr.close()
    return run_dir


def test_eval_video_films_a_deterministic_bimanual_episode(tmp_path, capsys):
    """Rendering is part of the supported set-up (libosmesa6, .ci/run): this test does not skip."""
    import imageio.v3 as iio
    pytest.importorskip("mujoco")
    run_dir = _tiny_run(tmp_path, "bimanual", "hand_over")
    path = tmp_path / "episode.gif"
    film = ["eval", run_dir, "--video", str(path), "--size", "160x120", "--json"]
    assert main(film) == 0
    frames = iio.imread(path, index=None)
    assert 1 < len(frames) <= 6 and frames.shape[1:] == (120, 160, 3)  # at most episode_limit=6 steps
    assert frames.std() > 1.0 and not np.array_equal(frames[0], frames[-1])  # an image, and the hands moved
    assert f'"frames": {len(frames)}' in capsys.readouterr().out
    assert main(film) == 0  # deterministic: the same film again
    np.testing.assert_array_equal(iio.imread(path, index=None), frames)


def test_eval_video_refuses_families_that_cannot_render_and_bad_paths(tmp_path, capsys):
    pytest.importorskip("jsbsim")
    run_dir = _tiny_run(tmp_path, "aircombat", "1v1-NoWeapon-vsBaseline")
    assert main(["eval", run_dir, "--video"]) == 2
    assert "env aircombat cannot render frames" in capsys.readouterr().err
    assert main(["eval", run_dir, "--video", str(tmp_path / "x.avi")]) == 2
    assert "must end in .gif or .mp4" in capsys.readouterr().err
    assert main(["eval", run_dir, "--video", "--size", "big"]) == 2
    assert "--size must be WIDTHxHEIGHT" in capsys.readouterr().err
    assert not list(tmp_path.glob("**/*.gif")) and not list(tmp_path.glob("**/*.avi"))
