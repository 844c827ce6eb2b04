"""The ``pettingzoo`` family: any PettingZoo ParallelEnv by import path, checked against the environments
themselves (mpe2's, PettingZoo's own sisl and butterfly ones, and small ones defined here for what those lack:
MultiDiscrete and shaped Box actions, info masks, agents that leave, join or time out), its refusals (one
line, exit 2), worker processes, seeding, every algorithm's smoke run on each action kind, and the example of
docs/own_environment.md run as the page says."""
import math
import re
from pathlib import Path

import numpy as np
import pytest
from gymnasium.spaces import Box, Dict, Discrete, MultiDiscrete

pytest.importorskip("pettingzoo")
from pettingzoo import ParallelEnv  # noqa: E402

from deep.algos.base import algo_class, algo_names  # noqa: E402
from deep.config import fields  # noqa: E402
from deep.configure import algo_and_loop, resolve  # noqa: E402
from deep.envs import make_env  # noqa: E402
from deep.envs.base import copy_seeds  # noqa: E402
from deep.envs.pettingzoo import _MAX_SEED, OPTIONS, load_factory  # noqa: E402
from deep.run import resume, start  # noqa: E402
from meharl.cli import main  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:The old environment creation API:DeprecationWarning")  # sisl's
HERE = __name__  # this module, importable by name from tests/ (pytest puts it on sys.path)
DOC = Path(__file__).resolve().parents[1] / "docs" / "own_environment.md"


# ---------------------------------------------------------------- small environments of the test
class Squad(ParallelEnv):
    """Three agents on a line of cells: ``kind`` picks their actions (MultiDiscrete with start 1 / a Box of
    shape (2, 1) / Discrete with a mask in ``info``, or ``mask`` there for any kind).  Agent ``i`` leaves
    (terminated) at step ``3 + i`` unless ``leave=False``; everyone is truncated at ``max_cycles``;
    ``join=True`` brings a left agent back."""

    metadata = {"name": "squad_v0"}

    def __init__(self, kind="multidiscrete", max_cycles=6, leave=True, join=False, with_state=True, mask=None):
        self.kind, self.max_cycles, self.leave, self.join, self.mask = kind, max_cycles, leave, join, mask
        self.possible_agents = ["a0", "a1", "a2"]
        if with_state:
            self.state_space = Box(-np.inf, np.inf, (2,), np.float32)

    def observation_space(self, agent):
        return Box(-10.0, 10.0, (2, 2), np.float32)

    def action_space(self, agent):
        return {"multidiscrete": MultiDiscrete([3, 2], start=[1, 1]),
                "box": Box(-1.0, 1.0, (2, 1), np.float32),
                "discrete": Discrete(4, start=2)}[self.kind]

    def reset(self, seed=None, options=None):
        self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.t, self.last = 0, {}
        return {a: self._obs(a) for a in self.agents}, {a: self._info(a) for a in self.agents}

    def _obs(self, a):
        i = self.possible_agents.index(a)
        return np.array([[i, self.t], [self.rng.random(), 1.0]], np.float32)

    def _info(self, a):
        if self.mask is not None:
            return {"action_mask": np.array(self.mask)}
        if self.kind != "discrete":
            return {}
        return {"action_mask": np.array([1, 0, 1, self.t % 2], np.int8)}

    def step(self, actions):
        self.t += 1
        self.last = dict(actions)
        rewards = {a: float(np.sum(actions[a])) for a in actions}
        term = {a: self.leave and self.t == 3 + self.possible_agents.index(a) for a in actions}
        trunc = {a: self.t >= self.max_cycles for a in actions}
        obs = {a: self._obs(a) for a in actions}
        infos = {a: self._info(a) for a in actions}
        self.agents = [a for a in self.agents if not (term[a] or trunc[a])]
        if self.join and self.t == 4:
            self.agents = list(self.possible_agents)
        return obs, rewards, term, trunc, infos

    def state(self):
        return np.array([self.t, len(self.agents)], np.float32)


def squad(**kw):
    return Squad(**kw)


def timeless():
    env = Squad()
    del env.max_cycles   # (stepping it would fail: only its construction is tested)
    return env


def no_agents():
    env = Squad()
    env.possible_agents = []
    return env


def text_obs():
    env = Squad()
    env.observation_space = lambda agent: Discrete(3)
    return env


def unbounded():
    env = Squad(kind="box")
    env.action_space = lambda agent: Box(-np.inf, np.inf, (2,), np.float32)
    return env


def not_parallel():
    return object()


def aec():
    from mpe2 import simple_spread_v3
    return simple_spread_v3.env()


# ---------------------------------------------------------------- the environments from installed packages
def _installed():
    """(task, options, module to import) of environments that installed packages ship."""
    return [("mpe2.simple_spread_v3:parallel_env", {"continuous_actions": True, "max_cycles": 7}, "mpe2"),
            ("mpe2.simple_speaker_listener_v4:parallel_env", {"max_cycles": 7}, "mpe2"),
            ("mpe2.simple_world_comm_v3:parallel_env", {"max_cycles": 7}, "mpe2"),
            ("pettingzoo.sisl.pursuit_v5:parallel_env",   # (7, 7, 3) observations, a (16, 16, 3) state
             {"max_cycles": 7, "n_evaders": 3, "n_pursuers": 4, "episode_limit": 7}, "pygame"),
            ("pettingzoo.butterfly.knights_archers_zombies_v11:parallel_env",
             {"max_cycles": 40, "spawn_delay": 2, "max_zombies": 6, "line_death": True}, "pygame")]
#: tasks whose agents leave episodes early in the comparison (KAZ's knights and archers die at its borders)
LEAVERS = {"pettingzoo.butterfly.knights_archers_zombies_v11:parallel_env"}


def _direct(task, options):
    """The environment itself (without the adapter's options)."""
    return load_factory(task)(**{k: v for k, v in options.items() if k not in OPTIONS})


def _flat(o):
    return np.asarray(o["observation"] if isinstance(o, dict) else o, np.float32).ravel()


@pytest.mark.parametrize("task, options, package", _installed(), ids=lambda x: x if isinstance(x, str) else "")
def test_installed_environments_match_the_environment_stepped_directly(task, options, package):
    """Observations, masks, state, rewards and ends equal the environment's own, stepped beside the batch
    with the same episode seeds and actions (random, from the batch's spaces), over several episodes."""
    pytest.importorskip(package)
    env = make_env("pettingzoo", task, 2, seed=5, **options)
    ref = [_direct(task, options) for _ in range(2)]
    agents = ref[0].possible_agents
    assert env.spec.n_agents == len(agents)
    assert env.spec.obs_dims == tuple(int(np.prod(ref[0].observation_space(a).shape)) for a in agents)
    has_state = isinstance(getattr(ref[0], "state_space", None), Box)
    streams = [np.random.default_rng(s) for s in copy_seeds(5, 2)]

    def ref_reset(k):
        obs, _ = ref[k].reset(seed=int(streams[k].integers(_MAX_SEED)))
        return obs

    r = env.reset()
    ref_obs = [ref_reset(k) for k in range(2)]
    rng = np.random.default_rng(0)
    alive = [set(agents) for _ in range(2)]
    ended = dead = 0
    for _ in range(60):
        for k in range(2):
            for i, a in enumerate(agents):
                expect = _flat(ref_obs[k][a]) if a in alive[k] else np.zeros(env.spec.obs_dims[i], np.float32)
                np.testing.assert_array_equal(r.obs[i][k], expect)
                if a not in alive[k] and r.avail[i] is not None:
                    assert r.avail[i][k].tolist() == [True] + [False] * (r.avail[i].shape[1] - 1)
                dead += a not in alive[k]
            state = ref[k].state().ravel() if has_state else np.concatenate([r.obs[i][k] for i in range(len(agents))])
            np.testing.assert_allclose(r.state[k], state, rtol=1e-6)
        acts = []
        for i, sp in enumerate(env.spec.action_spaces):
            if isinstance(sp, Discrete):
                acts.append(np.array([rng.choice(np.flatnonzero(r.avail[i][k])) for k in range(2)]))
            else:
                acts.append(rng.uniform(sp.low, sp.high, (2, *sp.shape)).astype(np.float32))
        s = env.step(acts)
        for k in range(2):
            joint = {a: (int(acts[i][k]) if acts[i].ndim == 1 else acts[i][k]) for i, a in enumerate(agents)
                     if a in alive[k]}
            obs, rew, term, trunc, _ = ref[k].step(joint)
            assert s.reward[k] == pytest.approx(sum(rew.values()), rel=1e-6)
            now = {a for a in ref[k].agents if not (term.get(a) or trunc.get(a))}
            if now:
                assert not s.done[k]
                ref_obs[k], alive[k] = obs, now
                continue
            ended += 1
            assert s.truncated[k] == any(trunc[a] and not term[a] for a in joint)
            assert s.terminated[k] != s.truncated[k]
            for i, a in enumerate(agents):  # the final observation is the environment's
                if a in joint:
                    np.testing.assert_array_equal(s.final_obs[i][k], _flat(obs[a]))
            ref_obs[k], alive[k] = ref_reset(k), set(agents)
        r = s
    assert ended >= 2 and (dead > 0) == (task in LEAVERS)
    env.close()


def test_agents_that_leave_are_dead_units_and_the_time_limit_truncates():
    env = make_env("pettingzoo", f"{HERE}:squad", 1, seed=0, kind="discrete", max_cycles=20)
    assert env.spec.action_spaces == (Discrete(4),) * 3 and env.spec.episode_limit == 20
    assert env.spec.obs_dims == (4, 4, 4) and env.spec.state_dim == 2  # (2, 2) flattened; env.state()
    r = env.reset()
    np.testing.assert_array_equal(r.avail[0][0], [True, False, True, False])  # info's mask at t = 0
    ones = [np.zeros(1, np.int64)] * 3  # action 0: the environment's 2 (Discrete(4, start=2))
    for t in range(1, 6):
        s = env.step(ones)
        acted = sum(t <= 3 + i for i in range(3))  # agent i leaves (terminated) at step 3 + i
        assert s.reward[0] == 2 * acted
        if t == 5:
            break
        assert not s.done[0]
        for i in range(3):
            if t < 3 + i:
                np.testing.assert_array_equal(s.obs[i][0][[0, 1, 3]], [i, t, 1.0])
                np.testing.assert_array_equal(s.avail[i][0], [True, False, True, bool(t % 2)])
            else:  # a dead unit
                np.testing.assert_array_equal(s.obs[i][0], 0.0)
                np.testing.assert_array_equal(s.avail[i][0], [True, False, False, False])
        np.testing.assert_array_equal(s.state[0], [t, sum(t < 3 + i for i in range(3))])
    assert s.terminated[0] and not s.truncated[0]  # the last agent left terminated at t = 5
    assert s.info["episode_length"][0] == 5
    np.testing.assert_array_equal(s.final_obs[2][0][[0, 1, 3]], [2, 5, 1.0])  # its own last observation
    np.testing.assert_array_equal(s.final_obs[0][0], 0.0)  # it left before the end
    np.testing.assert_array_equal(s.obs[0][0][[0, 1, 3]], [0, 0, 1.0])  # the next episode has begun

    timed = make_env("pettingzoo", f"{HERE}:squad", 1, seed=0, kind="discrete", leave=False, max_cycles=4)
    timed.reset()
    steps = [timed.step(ones) for _ in range(4)]
    assert not any(x.done[0] for x in steps[:3]) and steps[3].truncated[0] and not steps[3].terminated[0]
    short = make_env("pettingzoo", f"{HERE}:squad", 1, seed=0, kind="discrete", leave=False, episode_limit=2)
    short.reset()
    assert [short.step(ones).truncated[0] for _ in range(2)] == [False, True]


def test_multidiscrete_and_shaped_box_actions_reach_the_environment_in_its_own_space():
    md = make_env("pettingzoo", f"{HERE}:squad", 1, seed=0, kind="multidiscrete")
    assert md.spec.action_spaces == (MultiDiscrete([3, 2]),) * 3
    r = md.reset()
    np.testing.assert_array_equal(r.avail[0], [[True] * 5])
    masked = make_env("pettingzoo", f"{HERE}:squad", 1, seed=0, kind="multidiscrete", mask=[0, 1, 1, 1, 0])
    np.testing.assert_array_equal(masked.reset().avail[2], [[False, True, True, True, False]])  # from info
    for _ in range(3):
        s = masked.step([np.array([[1, 0]])] * 3)
    np.testing.assert_array_equal(s.avail[0], [[True, False, False, True, False]])  # dead: 0 of each component
    md.step([np.array([[2, 1]])] * 3)
    copy = md._pool._objects[0]
    np.testing.assert_array_equal(copy.env.last["a1"], [3, 2])  # start 1 added back
    box = make_env("pettingzoo", f"{HERE}:squad", 1, seed=0, kind="box", with_state=False)
    assert box.spec.action_spaces[0] == Box(-1.0, 1.0, (2,), np.float32) and box.spec.state_dim == 12
    box.reset()
    box.step([np.array([[0.5, 3.0]])] * 3)  # clipped to the bounds, reshaped to (2, 1)
    np.testing.assert_array_equal(box._pool._objects[0].env.last["a0"], [[0.5], [1.0]])
    assert box.reset().avail == [None] * 3


def test_same_seed_same_episodes_and_workers_change_nothing():
    def rollout(workers, seed):
        env = make_env("pettingzoo", "mpe2.simple_spread_v3:parallel_env", 2, seed=seed, workers=workers,
                       max_cycles=5)
        pids = env.worker_pids
        rows = [env.reset().obs]
        for t in range(12):
            rows.append(env.step([np.full(2, t % 5)] * 3).obs)
        env.close()
        return np.concatenate([np.stack(o) for o in rows]), pids

    pytest.importorskip("mpe2")
    a, none = rollout(0, 3)
    b, pids = rollout(2, 3)
    assert none == [] and len(set(pids)) == 2
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, rollout(0, 4)[0])
    assert not np.array_equal(a[:, :, 0], a[:, :, 1])  # the copies' streams differ


@pytest.mark.parametrize("task, options, message", [
    ("nocolon", {}, "must be an import path module:factory"),
    ("no_such_module_xyz:make", {}, "cannot import no_such_module_xyz"),
    (f"{HERE}:nothing_here", {}, f"{HERE} has no nothing_here"),
    (f"{HERE}:not_parallel", {}, "returned a object, not a PettingZoo ParallelEnv"),
    (f"{HERE}:aec", {}, "an AEC environment: use the module's parallel_env"),
    (f"{HERE}:squad", {"colour": "red"}, "bad env_options {'colour': 'red'}"),
    (f"{HERE}:no_agents", {}, "lists no possible_agents"),
    (f"{HERE}:text_obs", {}, "observation space Discrete(3) is not a Box"),
    (f"{HERE}:unbounded", {}, "infinite bounds"),
    (f"{HERE}:squad", {"team_reward": "max"}, "unknown team_reward 'max'"),
    (f"{HERE}:squad", {"kind": "discrete", "mask": [1, 1]}, "agent a0's action mask has 2 entries, its action "
                                                           "space Discrete(4, start=2) needs 4"),
    (f"{HERE}:squad", {"mask": [1, 0, 0, 0, 0]}, "agent a0's action mask allows no action (of a component)"),
])
def test_what_cannot_be_trained_is_refused_in_one_line(tmp_path, capsys, task, options, message):
    pytest.importorskip("mpe2")
    sets = [f"env_options.{k}={v}" for k, v in options.items()]
    argv = ["train", "--env", "pettingzoo", "--task", task, "--run-dir", str(tmp_path / "run"), "--set",
            "train.total_steps=10", "train.progress=false", *sets]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("meharl train: error:"), err
    assert not (tmp_path / "run").exists()


def test_an_agent_joining_mid_episode_is_refused_in_process_and_from_a_worker(tmp_path, capsys):
    """Found only when it happens; ``meharl train`` says so in one line with exit status 2, the copy in a worker
    process."""
    argv = ["train", "--env", "pettingzoo", "--task", f"{HERE}:squad", "--run-dir", str(tmp_path / "run"), "--set",
            "env_options.kind=discrete", "env_options.join=true", "env_options.workers=1", "num_envs=1",
            "train.total_steps=20", "train.progress=false"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == ("meharl train: error: env pettingzoo: agent(s) a0 joined an episode after its start; the "
                   "algorithms train a fixed set of agents, of which some may leave (as SMAC's dead units)\n")
    env = make_env("pettingzoo", f"{HERE}:squad", 1, seed=0, kind="discrete", join=True)
    env.reset()
    for _ in range(3):
        env.step([np.zeros(1, np.int64)] * 3)
    with pytest.raises(ValueError, match="agent\\(s\\) a0 joined an episode after its start"):
        env.step([np.zeros(1, np.int64)] * 3)
    with pytest.raises(ValueError, match="has no max_cycles; give env_options.episode_limit"):
        make_env("pettingzoo", f"{HERE}:timeless", 1)
    assert make_env("pettingzoo", f"{HERE}:timeless", 1, episode_limit=9).spec.episode_limit == 9


# ---------------------------------------------------------------- every algorithm, every action kind
#: (task, env options, action kind): Discrete with masks in the observation and agents that leave (the doc's
#: example is covered below), Box (mpe2), MultiDiscrete (this module's squad)
KIND_TASKS = {"discrete": (f"{HERE}:squad", ["env_options.kind=discrete"]),
              "box": ("mpe2.simple_spread_v3:parallel_env", ["env_options.continuous_actions=true"]),
              "multidiscrete": (f"{HERE}:squad", ["env_options.kind=multidiscrete"])}
STEPS = 48
TINY = {"algo": {"hidden": [16], "batch_size": 16, "n_step": 2, "rollout_length": 8, "ppo_epochs": 1,
                 "critic_epochs": 1},
        "train": {"progress": False, "tensorboard": False, "total_steps": STEPS, "eval_interval": 0,
                  "eval_episodes": 2, "log_interval": 16, "checkpoint_interval": 0, "warmup_steps": 16,
                  "train_interval": 4, "updates_per_train": 1}}


def _tiny(algo):
    algo_cls, loop = algo_and_loop(algo)
    out = ["num_envs=2", "eval_num_envs=2", "env_options.max_cycles=6"]
    for section, cls in (("algo", algo_cls.Params), ("train", loop.Train)):
        out += [f"{section}.{k}={v}" for k, v in TINY[section].items() if k in fields(cls)]
    if "episodes_per_update" in fields(loop.Train):
        out.append("algo.batch_size=2")
    return out


@pytest.mark.parametrize("kind", list(KIND_TASKS))
@pytest.mark.parametrize("algo", algo_names())
def test_every_algorithm_that_supports_the_spaces_trains_and_resumes(tmp_path, capsys, algo, kind):
    pytest.importorskip("mpe2")
    task, extra = KIND_TASKS[kind]
    overrides = [*_tiny(algo), *extra]
    if kind not in algo_class(algo).supports:
        argv = ["train", "--algo", algo, "--env", "pettingzoo", "--task", task, "--run-dir", str(tmp_path / "run"),
                "--set", *overrides]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"algorithm {algo} does not support {kind} actions" in err and err.count("\n") == 1, err
        assert not (tmp_path / "run").exists()
        return
    cfg = resolve("pettingzoo", task, 0, overrides, algo=algo)
    try:
        tr = start(cfg, tmp_path / "run")
    except ValueError as exc:  # a stated limit of the algorithm (e.g. sac's joint action space)
        assert re.search(rf"\b{re.escape(algo)}\b", str(exc)), exc
        pytest.skip(f"refused by name: {exc}")
    last = tr.run()
    tr.close()
    assert tr.counters["env_steps"] == STEPS and tr.counters["updates"] > 0 and tr.counters["episodes"] > 0
    losses = [float(v) for k, v in last["progress"].items() if "loss" in k and v != ""]
    assert losses and all(math.isfinite(v) for v in losses)
    assert np.isfinite(last["eval"]["eval_return"])
    again = resume(tmp_path / "run", total_steps=2 * STEPS)  # episodes restart: the env has no saved state
    last = again.run()
    again.close()
    assert again.counters["env_steps"] == 2 * STEPS and again.counters["updates"] > tr.counters["updates"]


# ---------------------------------------------------------------- the documentation's example
def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_documented_example_trains_as_the_page_says(tmp_path, monkeypatch, capsys):
    """The page's ``corridor.py`` saved where training starts, and its first ``meharl train`` command run
    (shortened: a smaller budget), then resumed; the page's options of the example exist."""
    (module,) = _blocks("python")
    (tmp_path / "corridor.py").write_text(module)
    monkeypatch.chdir(tmp_path)
    commands = [line for block in _blocks("bash") for line in block.splitlines() if "--task corridor:" in line]
    assert len(commands) == 2
    argv = commands[0].split()[1:]
    assert argv[:2] == ["train", "--env"]
    budget = ["num_envs=2", "eval_num_envs=2", "train.total_steps=80", "train.warmup_steps=40",
              "train.eval_episodes=2", "train.progress=false", "train.tensorboard=false", "algo.hidden=[16]"]
    assert main([*argv, *budget]) == 0
    out = capsys.readouterr().out
    assert "runs/corridor: 80 env steps, evaluation return" in out
    assert main(["resume", "runs/corridor", "--total-steps", "120"]) == 0
    env = make_env("pettingzoo", "corridor:corridor", 2, seed=0, length=7, workers=2)  # found by the workers too
    assert env.spec.episode_limit == 20 and env.spec.state_dim == 2 and env.spec.obs_dims == (2, 2)
    r = env.reset()
    for i in range(2):  # the walls are masked: the observation's action_mask
        np.testing.assert_array_equal(r.avail[i][:, 1], r.obs[i][:, 0] > 0)
        np.testing.assert_array_equal(r.avail[i][:, 2], r.obs[i][:, 0] < 1)
    env.close()


def test_a_sweep_plans_pettingzoo_tasks_and_refuses_unsupported_pairs(tmp_path):
    """``ENV:TASK`` splits at the first colon, so ``pettingzoo:module:factory`` names a task; the pairs are
    checked on the environment before anything starts."""
    pytest.importorskip("mpe2")
    from meharl.sweep import make_sweep, plan
    task = "pettingzoo:mpe2.simple_spread_v3:parallel_env"
    (run,) = plan(make_sweep(algos="hasac", tasks=task, seeds="0", root=tmp_path / "root",
                             overrides=["env_options.max_cycles=10"]))
    assert (run.env, run.task) == ("pettingzoo", "mpe2.simple_spread_v3:parallel_env")
    assert run.cfg["num_envs"] == 8 and run.cfg["env_options"] == {"max_cycles": 10}  # tasks/pettingzoo/parallel_env.yaml
    with pytest.raises(ValueError, match="algorithm qmix does not support box actions"):
        plan(make_sweep(algos="qmix", tasks=task, seeds="0", root=tmp_path / "root",
                        overrides=["env_options.continuous_actions=true"]))
    assert not (tmp_path / "root").exists()


def test_a_resume_ends_the_cut_episodes_in_the_replay_and_drops_staged_ones(tmp_path):
    """A checkpoint holds no PettingZoo state: on resume the off-policy replay's last step of every copy is
    ended as truncated, bootstrapping from the observation the checkpoint saved; the episode loop forgets
    the episodes it was staging and its recurrent memory; both then go on from freshly reset episodes."""
    pytest.importorskip("mpe2")
    task, extra = KIND_TASKS["discrete"]
    cfg = resolve("pettingzoo", task, 0, [*_tiny("hasac"), *extra, "train.total_steps=8"], algo="hasac")
    tr = start(cfg, tmp_path / "off")
    tr.run()
    tr.close()
    assert not tr.buffer.done[tr.buffer.ptr - 1].any()  # 4 vector steps into 5-step episodes
    again = resume(tmp_path / "off", total_steps=20)
    b, p = again.buffer, tr.buffer.ptr - 1
    assert b.done[p].all() and not b.term[p].any()
    np.testing.assert_array_equal(b.final_state[p], tr.obs.state)
    for i in range(3):
        np.testing.assert_array_equal(b.final_obs[i][p], tr.obs.obs[i])
        np.testing.assert_array_equal(b.final_avail[i][p], tr.obs.avail[i])
    np.testing.assert_array_equal(again.obs.obs[0][:, 1], 0.0)  # a new episode: its step counter is 0
    again.run()
    again.close()

    cfg = resolve("pettingzoo", task, 0, [*_tiny("qmix"), *extra, "train.total_steps=6"], algo="qmix")
    tr = start(cfg, tmp_path / "episodic")
    tr.run()
    tr.close()
    assert (tr.buffer.t == 3).all() and tr.buffer.size == 0
    again = resume(tmp_path / "episodic", total_steps=30)
    assert (again.buffer.t == 0).all() and not again.buffer.stage["filled"].any()
    again.run()
    again.close()
    assert again.buffer.size > 0 and again.buffer.store["filled"][:again.buffer.size, 0].all()


def test_cutting_the_replay_keeps_the_episodes_that_ended_at_its_last_step():
    from deep.storage.replay import ReplayBuffer
    b = ReplayBuffer(8, 2, 1, (1,), [()], [np.int64], [2])
    one, two = np.ones((2, 1), np.float32), 2 * np.ones((2, 1), np.float32)
    mask = np.array([[True, False]] * 2)
    b.add(one, [one], [mask], [np.zeros(2, np.int64)], np.zeros((2, 1)), np.zeros(2), np.array([True, False]),
          np.zeros(2, bool), one, [one], [mask])  # copy 0 terminated (final observation 1), copy 1 goes on
    b.truncate_last(two, [two], [~mask])
    np.testing.assert_array_equal(b.done[0], [True, True])
    np.testing.assert_array_equal(b.term[0], [True, False])
    np.testing.assert_array_equal(b.final_obs[0][0], [[1.0], [2.0]])
    np.testing.assert_array_equal(b.final_state[0], [[1.0], [2.0]])
    np.testing.assert_array_equal(b.final_avail[0][0], [[True, False], [False, True]])
