"""The ``smac`` family against the real SMAX (jaxmarl): maps, shapes, masks, rewards, wins, truncation,
determinism and exact resume.  Compiling a batch costs 10-40 s, so every runtime test shares one
compiled batch (3m, 4 copies); the per-map checks need no compilation."""
import io

import numpy as np
import pytest
import torch
from gymnasium.spaces import Discrete

from deep.algos._checkpoint import state_tensors
from deep.envs import env_tasks, make_env
from deep.envs.smac import MAPS, TASKS, UNIT_TYPES, smax_env

B = 4
#: SMAC's episode limits, from smac/env/starcraft2/maps/smac_maps.py
SMAC_LIMITS = {"3m": 60, "8m": 120, "25m": 150, "2s3z": 120, "3s5z": 150, "5m_vs_6m": 70, "8m_vs_9m": 120,
               "10m_vs_11m": 150, "27m_vs_30m": 180, "3s5z_vs_3s6z": 170, "3s_vs_5z": 250, "6h_vs_8z": 150,
               "corridor": 400}
PAPER_MAPS = ("5m_vs_6m", "3s5z", "10m_vs_11m", "3s5z_vs_3s6z", "6h_vs_8z", "8m_vs_9m", "corridor")
STOP, EAST, WEST, ATTACK0 = 4, 1, 3, 5  # SMAX's discrete actions: 0-3 move (north, east, south, west), 4 stop
MARINE_STEP = 3.15 * 0.5  # a marine's speed (SMAX) times the 0.5 s of one step: its reach per move


def focus_fire(avail):
    """Every agent attacks the lowest-numbered enemy in range, else walks east (towards the enemy);
    dead agents stop (their only action)."""
    acts = []
    for m in avail:
        attack = m[:, ATTACK0:]
        acts.append(np.where(attack.any(1), ATTACK0 + attack.argmax(1), np.where(m[:, EAST], EAST, STOP)))
    return acts


def random_available(avail, rng):
    return [np.argmax(rng.random(m.shape) * m, axis=1) for m in avail]


def west_else_stop(avail):
    return [np.where(m[:, WEST], WEST, STOP) for m in avail]


def inside_moves(smax, st):
    """By hand: which of each ally's moves north, east, south, west keep its whole step (speed x 0.5 s)
    inside the 32 x 32 map, for one copy's SMAX state ``st``."""
    n = smax.num_allies
    pos = np.asarray(st.unit_positions)[:n]
    reach = np.asarray(smax.unit_type_velocities)[np.asarray(st.unit_types)[:n]] * 0.5
    x, y = pos[:, 0], pos[:, 1]
    return np.stack([y + reach < 32, x + reach < 32, y - reach > 0, x - reach > 0], axis=1)


@pytest.fixture(scope="module")
def env():
    return make_env("smac", "3m", B, seed=0)


# ------------------------------------------------------------------------------------- maps (no compiling)
def test_maps_are_smax_scenarios_with_smac_limits():
    smax_env("3m", 60)  # imports jaxmarl as the adapter does (quietly, keeping sys.stdout)
    from jaxmarl.environments.smax import SMAX
    from jaxmarl.environments.smax.smax_env import MAP_NAME_TO_SCENARIO
    assert UNIT_TYPES == tuple(SMAX().unit_type_names)
    assert env_tasks("smac") == TASKS and set(PAPER_MAPS) <= set(TASKS)
    assert {t: MAPS[t].limit for t in TASKS} == SMAC_LIMITS
    for task in TASKS:
        m = MAPS[task]
        types = [UNIT_TYPES.index(u) for u in m.allies + m.enemies]
        if task in MAP_NAME_TO_SCENARIO:  # SMAX's own scenario, unit for unit
            ref = MAP_NAME_TO_SCENARIO[task]
            assert (ref.num_allies, ref.num_enemies) == (len(m.allies), len(m.enemies))
            assert np.asarray(ref.unit_types).tolist() == types
    assert "8m_vs_9m" not in MAP_NAME_TO_SCENARIO  # built here, exactly: 8 marines vs 9 marines
    assert MAPS["8m_vs_9m"].allies == ("marine",) * 8 and MAPS["8m_vs_9m"].enemies == ("marine",) * 9
    assert MAPS["corridor"].allies == ("zealot",) * 6 and MAPS["corridor"].enemies == ("zergling",) * 24
    assert "approximation" in MAPS["corridor"].note


@pytest.mark.parametrize("task", TASKS)
def test_spec_shapes_per_map(task):
    """SMAX's unit-list observation has 13 features per other unit and 10 own; its world state 12 per unit;
    SMAC's extras add the own last action and the id to observations and all last actions to the state."""
    m = MAPS[task]
    n, ne = len(m.allies), len(m.enemies)
    A = 5 + ne
    env = make_env("smac", task, 2)
    raw_obs, raw_state = 13 * (n - 1 + ne) + 10, 12 * (n + ne)
    assert env.spec.n_agents == n and env.spec.episode_limit == SMAC_LIMITS[task]
    assert env.spec.action_spaces == (Discrete(A),) * n
    assert env.spec.obs_dims == (raw_obs + A + n,) * n and env.spec.state_dim == raw_state + n * A
    smax = smax_env(task, m.limit)
    assert smax.observation_spaces["ally_0"].shape == (raw_obs,) and smax.state_size == raw_state
    bare = make_env("smac", task, 2, obs_agent_id=False, obs_last_action=False, state_last_action=False,
                    episode_limit=7)
    assert bare.spec.obs_dims == (raw_obs,) * n and bare.spec.state_dim == raw_state
    assert bare.spec.episode_limit == 7


def test_unbuildable_maps_and_bad_options_are_refused():
    with pytest.raises(ValueError, match="MMM2 cannot be built in SMAX .*no medivac.*nearest available "
                                         "maps: 10m_vs_11m, 3s5z_vs_3s6z"):
        make_env("smac", "MMM2", 2)
    with pytest.raises(ValueError, match=r"unknown smac task '2c_vs_64zg'; valid tasks: 3m, .*, "
                                         r"corridor \(approximation\)$"):
        make_env("smac", "2c_vs_64zg", 2)
    with pytest.raises(ValueError, match="unknown option.*obs_all_health.*valid: episode_limit"):
        make_env("smac", "3m", 2, obs_all_health=True)
    with pytest.raises(ValueError, match="unknown reward 'sparse'; valid: smac, smax"):
        make_env("smac", "3m", 2, reward="sparse")
    with pytest.raises(ValueError, match="unknown edge 'wall'; valid: smac, smax"):
        make_env("smac", "3m", 2, edge="wall")
    with pytest.raises(ValueError, match="obs_agent_id must be true or false"):
        make_env("smac", "3m", 2, obs_agent_id=1)
    with pytest.raises(ValueError, match="episode_limit must be an integer >= 1"):
        make_env("smac", "3m", 2, episode_limit=0)
    with pytest.raises(ValueError, match="reset"):
        make_env("smac", "3m", 2).step([np.zeros(2, np.int64)] * 3)


# ------------------------------------------------------------------------------------- one compiled batch
def test_reset_shapes_masks_and_extras(env):
    r = env.reset(seed=1)
    n, A = 3, 8
    for i in range(n):
        assert r.obs[i].shape == (B, env.spec.obs_dims[i]) and r.obs[i].dtype == np.float32
        assert r.avail[i].shape == (B, A) and r.avail[i].dtype == bool
        # at the start: alive, the enemy out of range (teams start 16 apart, marines shoot 5 far)
        np.testing.assert_array_equal(r.avail[i], np.tile([1, 1, 1, 1, 1, 0, 0, 0], (B, 1)).astype(bool))
        extras = r.obs[i][:, 75:]  # no last action yet, then the one-hot id
        np.testing.assert_array_equal(extras, np.tile(np.r_[np.zeros(A), np.eye(n)[i]], (B, 1)))
    assert r.state.shape == (B, env.spec.state_dim) and r.state.dtype == np.float32
    np.testing.assert_array_equal(r.state[:, 72:], 0.0)
    acts = [np.array([0, 1, 2, 3]), np.array([4, 4, 4, 4]), np.array([3, 2, 1, 0])]
    s = env.step(acts)
    for i in range(n):  # the own last action appended to the observation, all of them to the state
        np.testing.assert_array_equal(s.obs[i][:, 75:75 + A], np.eye(A)[acts[i]])
        np.testing.assert_array_equal(s.state[:, 72 + i * A: 72 + (i + 1) * A], np.eye(A)[acts[i]])


def test_masks_are_smax_masks_and_dead_agents_may_only_stop(env):
    """Along random masked play, the masks are SMAX's own ``get_avail_actions`` of the same state less the
    moves whose step would leave the map (SMAC's edge rule, by hand), and an agent whose own features are
    zero (dead) has exactly the stop action."""
    import jax
    s = env.reset(seed=2)
    rng = np.random.default_rng(0)
    smax, dead_seen = smax_env("3m", 60), 0
    treedef = env._program().treedef
    for _ in range(40):
        st = jax.tree.unflatten(treedef, env.get_state()["leaves"])
        for k in range(B):
            one = jax.tree.map(lambda x: x[k], st)
            ref = smax.get_avail_actions(one)
            inside = inside_moves(smax, one.state)
            for i in range(3):
                expected = np.asarray(ref[f"ally_{i}"]).astype(bool)
                expected[:4] &= inside[i]
                np.testing.assert_array_equal(s.avail[i][k], expected)
        for i in range(3):
            dead = ~s.obs[i][:, 65:75].any(axis=1)
            dead_seen += dead.sum()
            np.testing.assert_array_equal(s.avail[i][dead], np.eye(8, dtype=bool)[[STOP] * dead.sum()])
        s = env.step(random_available(s.avail, rng))
    assert dead_seen > 0


def test_moves_into_the_map_edge_are_masked_and_the_edge_is_harmless(env):
    """A team that moves west whenever it may (else stops) reaches the west edge and stays there alive:
    "move west" is unavailable once a marine's step would leave the map, and no marine is harmed in 8 steps:
    starting 6-10 from the edge they reach it within 6, and the enemy, at least 12 behind and no faster,
    is still beyond its range of 5."""
    import jax
    s = env.reset(seed=9)
    treedef = env._program().treedef
    for _ in range(8):
        s = env.step(west_else_stop(s.avail))
        assert not s.done.any()
    st = jax.tree.unflatten(treedef, env.get_state()["leaves"]).state
    x = np.asarray(st.unit_positions)[:, :3, 0]
    assert ((x > 0) & (x <= MARINE_STEP)).all()  # at the edge, inside the map
    np.testing.assert_array_equal(np.asarray(st.unit_health)[:, :3], 45.0)  # unharmed
    for m in s.avail:
        assert not m[:, WEST].any() and m[:, EAST].all()


def test_smaxs_own_walls_kill_units_that_move_into_them():
    """``edge="smax"`` keeps SMAX's walls: "move west" stays available to every living marine and the whole
    team dies at the wall, a lost battle, after 4 to 7 steps (they start 6-10 from it, 1.575 per step)."""
    env = make_env("smac", "3m", 1, seed=9, edge="smax")
    s = env.reset()
    for steps in range(1, 8):
        alive = [m[0, :4].any() for m in s.avail]
        assert all(m[0, WEST] for m, a in zip(s.avail, alive) if a)
        s = env.step(west_else_stop(s.avail))
        if s.done[0]:
            break
    assert s.terminated[0] and not s.info["won"][0] and 4 <= steps <= 7


def test_state_is_smaxs_world_state_in_smacs_units(env):
    """Along random play, each copy's state is computed by hand from SMAX's own state: per unit (allies, then
    enemies) the health fraction, (position - 16) / 16 on the 32 x 32 map, the weapon cooldown (at least 0)
    over its type's and the type one-hot, all zero for a dead unit; then teams, types / 5, last actions."""
    import jax
    s = env.reset(seed=4)
    rng = np.random.default_rng(1)
    smax = smax_env("3m", 60)
    treedef = env._program().treedef
    dead_seen = 0
    for _ in range(40):
        st = jax.tree.unflatten(treedef, env.get_state()["leaves"]).state
        for k in range(B):
            alive, types = np.asarray(st.unit_alive[k]), np.asarray(st.unit_types[k])
            units = np.zeros((6, 10))
            units[:, 0] = np.asarray(st.unit_health[k]) / np.asarray(smax.unit_type_health)[types]
            units[:, 1:3] = (np.asarray(st.unit_positions[k]) - 16.0) / 16.0
            cooldowns = np.asarray(smax.unit_type_weapon_cooldowns)[types]
            units[:, 3] = np.maximum(np.asarray(st.unit_weapon_cooldowns[k]), 0.0) / cooldowns
            units[np.arange(6), 4 + types] = 1.0
            units[~alive] = 0.0
            dead_seen += (~alive).sum()
            expected = np.concatenate([units.ravel(), np.asarray(st.unit_teams[k]), types / 5.0])
            np.testing.assert_allclose(s.state[k, :72], expected, rtol=1e-6, atol=1e-6)  # float32
        assert np.abs(s.state[:, :72]).max() <= 1.25  # cooldowns may exceed 1 by SMAX's random deviation
        s = env.step(random_available(s.avail, rng))
    assert dead_seen > 0


def test_unavailable_action_is_refused(env):
    r = env.reset(seed=3)
    assert not r.avail[1][2, ATTACK0]
    acts = [np.full(B, STOP), np.full(B, STOP), np.full(B, STOP)]
    acts[1] = np.array([STOP, STOP, ATTACK0, STOP])
    with pytest.raises(ValueError, match="agent 1 cannot take action 5 in copy 2: it is not available"):
        env.step(acts)
    with pytest.raises(ValueError, match=r"lie in 0\.\.7"):
        env.step([np.full(B, 8)] * 3)


def test_focus_fire_wins_and_a_win_returns_20(env):
    """Focus fire beats SMAX's attack-the-closest enemy on 3m; a won battle terminates (no truncation), is
    counted in info["won"] and returns SMAC's maximum, 20 (float32 rewards summed: 1e-4)."""
    s = env.reset(seed=4)
    wins = ends = 0
    total = np.zeros(B)
    for _ in range(150):
        s = env.step(focus_fire(s.avail))
        total += s.reward
        assert not (s.info["won"] & ~s.done).any()
        for k in np.flatnonzero(s.done):
            ends += 1
            np.testing.assert_allclose(s.info["episode_return"][k], total[k], atol=1e-4)
            assert s.terminated[k] and not s.truncated[k]  # 3m battles end long before step 60
            if s.info["won"][k]:
                wins += 1
                np.testing.assert_allclose(total[k], 20.0, atol=1e-4)
            else:
                assert total[k] < 20.0
            total[k] = 0.0
    assert ends >= 8 and wins >= ends // 2


def test_reward_is_smacs_formula_on_smax_health(env):
    """Each step: (enemy health lost + 10 per enemy killed + 200 on a win) * 20 / (3 * 45 + 30 + 200), with
    healths read back from the world states before (``state``) and after (``final_state``) the step."""
    s = env.reset(seed=5)
    frac = slice(30, 60, 10)  # world state: 10 features per unit (health fraction first), enemies 3-5
    for _ in range(80):
        before = s.state[:, frac] * 45.0
        s = env.step(focus_fire(s.avail))
        after = s.final_state[:, frac] * 45.0
        allies_alive = (s.final_state[:, 0:30:10] > 0).any(axis=1)
        won = allies_alive & (after == 0).all(axis=1)
        killed = ((before > 0) & (after == 0)).sum(axis=1)
        expected = ((before - after).sum(axis=1) + 10 * killed + 200 * won) * 20 / 365
        np.testing.assert_allclose(s.reward, expected, rtol=1e-5, atol=1e-6)  # float32 fractions
        np.testing.assert_array_equal(s.info["won"], won & s.done)


def _step_leaf(env, snap):
    """Index of the SMAX step counter among the state leaves: the one int32 leaf of shape (B,)."""
    idx = [j for j, x in enumerate(snap["leaves"]) if x.shape == (B,) and x.dtype == np.int32]
    assert len(idx) == 1
    return idx[0]


def test_truncation_at_the_episode_limit(env):
    env.reset(seed=6)
    stop = [np.full(B, STOP)] * 3
    s = env.step(stop)
    snap = env.get_state()
    j = _step_leaf(env, snap)
    np.testing.assert_array_equal(snap["leaves"][j], 1)  # one step taken
    snap["leaves"][j] = np.array([59, 58, 1, 1], np.int32)  # copies 0 and 1 near SMAC's limit of 60
    env.set_state(snap)
    s = env.step(stop)
    np.testing.assert_array_equal(s.truncated, [True, False, False, False])
    assert not s.terminated.any() and not s.info["won"].any()
    assert s.info["episode_length"][0] == 60 and np.isnan(s.info["episode_return"][1:]).all()
    assert not np.array_equal(s.obs[0][0], s.final_obs[0][0])  # copy 0 starts a new episode
    np.testing.assert_array_equal(s.obs[0][1:], s.final_obs[0][1:])
    np.testing.assert_array_equal(env.get_state()["leaves"][j], [0, 59, 2, 2])
    s = env.step(stop)
    np.testing.assert_array_equal(s.truncated, [False, True, False, False])


def _rollout(env, steps, seed):
    rng = np.random.default_rng(7)
    s = env.reset(seed=seed)
    out = []
    for _ in range(steps):
        s = env.step(random_available(s.avail, rng))
        out.append(s)
    return out


def checkpoint_round_trip(snap):
    """``snap`` through a checkpoint file as the runs write it: plain tensors, loaded with weights_only."""
    from deep.run.rundir import from_plain, to_plain
    buf = io.BytesIO()
    torch.save(to_plain(snap), buf)
    buf.seek(0)
    return from_plain(torch.load(buf, weights_only=True))


def _same(a, b):
    for x, y in zip(a, b):
        for f in ("state", "final_state", "reward", "terminated", "truncated"):
            np.testing.assert_array_equal(getattr(x, f), getattr(y, f))
        for f in ("obs", "final_obs", "avail"):
            for p, q in zip(getattr(x, f), getattr(y, f)):
                np.testing.assert_array_equal(p, q)
        for key in ("episode_return", "episode_length", "won"):
            np.testing.assert_array_equal(x.info[key], y.info[key])


def test_same_seed_same_run_and_seed_matters(env):
    a = _rollout(env, 30, seed=3)
    _same(a, _rollout(env, 30, seed=3))
    seeded = make_env("smac", "3m", B, seed=3)  # same compiled program; the constructor's seed
    _same(a, _rollout(seeded, 30, seed=None))
    assert seeded._program() is env._program()  # compiled once per map and batch size
    b = _rollout(env, 30, seed=4)
    assert not np.array_equal(a[0].state, b[0].state)
    first = env.reset(seed=3).state
    assert not np.array_equal(first, env.reset().state)  # without a seed the copies' streams go on


def test_get_state_set_state_continues_exactly(env):
    s = env.reset(seed=8)
    rng = np.random.default_rng(1)
    for _ in range(13):
        s = env.step(random_available(s.avail, rng))
    snap = checkpoint_round_trip(env.get_state())
    state = rng.bit_generator.state
    first = []
    for _ in range(40):  # crosses episode ends (random play loses 3m in about 20 steps)
        s = env.step(random_available(s.avail, rng))
        first.append(s)
    assert sum(x.done.sum() for x in first) >= B
    assert all(m.flags.writeable for m in s.avail + s.final_avail)
    for target in (env, make_env("smac", "3m", B)):
        rng.bit_generator.state = state
        s = target.set_state(snap)
        second = []
        for _ in range(40):
            s = target.step(random_available(s.avail, rng))
            second.append(s)
        _same(first, second)
    with pytest.raises(ValueError, match="does not fit this batch"):
        make_env("smac", "3m", B + 1).set_state(snap)


# ------------------------------------------------------------------------------------- the name: smax, alias smac
def test_smac_is_an_alias_of_smax():
    from deep.envs import registry
    assert registry.family_name("smac") == "smax" and registry.family_name("smax") == "smax"
    assert registry.family_name("smac-sc2") == "smac-sc2"  # the real game is not an alias
    assert registry.family_module("smac") is registry.family_module("smax")
    assert registry.config_name("smax") == registry.config_name("smac") == "smac"  # one set of config files
    assert registry.config_name("smac-sc2") == "smac-sc2" and registry.config_name("mpe") == "mpe"
    assert env_tasks("smax") == env_tasks("smac") == TASKS
    assert {"smax", "smac"} <= set(registry.ENVS)
    listed = registry.family_list().split(", ")
    assert "smax" in listed and "smac (alias of smax)" in listed and "smac-sc2" in listed
    with pytest.raises(ValueError, match="unknown smac task 'MMM3'"):
        make_env("smax", "MMM3", B)


def test_both_names_build_the_same_environment(env):
    a = _rollout(env, 20, seed=5)
    other = make_env("smax", "3m", B, seed=0)
    assert other.spec == env.spec and other._program() is env._program()  # one compiled batch for both names
    _same(a, _rollout(other, 20, seed=5))


def test_configs_validate_under_both_names():
    from deep.config import CONFIG_DIR
    from deep.configure import resolve
    task = CONFIG_DIR / "tasks" / "smac" / "3m.yaml"
    old, new = (resolve(name, "3m", 0, config_file=task) for name in ("smac", "smax"))
    assert old["env"] == "smac" and new["env"] == "smax"  # a config keeps the name it was given
    assert {**old, "env": None} == {**new, "env": None}


def test_a_run_under_either_name_is_the_same_run(tmp_path, env):
    from deep.config import CONFIG_DIR
    from deep.configure import resolve
    from deep.run import resume, start
    tiny = [f"num_envs={B}", f"eval_num_envs={B}", "algo.hidden=[16]", "algo.batch_size=16", "train.progress=false",
            "train.tensorboard=false", "train.total_steps=48", "train.eval_interval=0", "train.eval_episodes=2",
            "train.warmup_steps=24", "train.train_interval=8", "train.updates_per_train=1", "train.log_interval=24",
            "train.checkpoint_interval=0"]  # the fixture's batch size: its compiled program serves these runs
    task = CONFIG_DIR / "tasks" / "smac" / "3m.yaml"
    trained = {}
    for name in ("smac", "smax"):
        tr = start(resolve(name, "3m", 0, tiny, config_file=task), tmp_path / name)
        tr.run()
        trained[name] = state_tensors(tr.algo.state_dict())
        tr.close()
    assert trained["smac"].keys() == trained["smax"].keys()
    assert all(torch.equal(t, trained["smax"][k]) for k, t in trained["smac"].items())
    again = resume(tmp_path / "smac", total_steps=72)  # a run directory written under smac resumes
    assert again.cfg["env"] == "smac"
    again.run()
    assert again.counters["env_steps"] == 72
    again.close()


# ------------------------------------------------------------------------------------- smac-sc2 (SMAC's API)
FAKE_STARCRAFT2ENV = '''
import numpy as np

class StarCraft2Env:
    """A stand-in with SMAC's API (the game cannot be installed here): 2 agents, 1 enemy of 3 hit points
    that an attack (action 6, available from step 1) takes 1 from; episodes of at most 5 steps."""
    def __init__(self, map_name, difficulty, continuing_episode, obs_last_action, state_last_action):
        assert continuing_episode and not obs_last_action and not state_last_action
        self.episode_limit, self._seed, self._sc2_proc = 5, None, None
    def get_env_info(self):
        return {"n_agents": 2, "n_actions": 7, "obs_shape": 3, "state_shape": 2, "episode_limit": 5}
    def reset(self):
        self._sc2_proc, self.t, self.hp = "running", 0, 3
    def get_obs(self):
        return [np.array([self.t, self.hp, i], np.float32) for i in range(2)]
    def get_state(self):
        return np.array([self.t, self.hp], np.float32)
    def get_avail_actions(self):
        return [[0, 1, 1, 1, 1, 1, int(self.t >= 1)]] * 2
    def step(self, actions):
        self.t += 1
        self.hp -= sum(a == 6 for a in actions)
        if self.hp <= 0:
            return 20.0, True, {"battle_won": True}
        if self.t >= self.episode_limit:
            return 0.0, True, {"battle_won": False, "episode_limit": True}
        return 0.0, False, {"battle_won": False}
    def full_restart(self):
        pass
    def close(self):
        pass
'''


@pytest.fixture
def fake_smac(tmp_path, monkeypatch):
    """Puts a package named ``smac`` on the path; ``make(kind)`` lays it out as SMAC3 or as SMAC."""
    import sys

    def make(kind):
        pkg = tmp_path / "smac"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        if kind == "smac3":
            (pkg / "facade").mkdir()
        else:
            (pkg / "env" / "starcraft2").mkdir(parents=True)
            (pkg / "env" / "__init__.py").write_text(FAKE_STARCRAFT2ENV)
        monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for name in ("smac", "smac.env"):
        sys.modules.pop(name, None)


def test_sc2_errors_when_smac_or_the_game_is_missing(fake_smac, tmp_path, monkeypatch):
    import importlib.util
    if importlib.util.find_spec("smac") is None:
        with pytest.raises(ValueError, match="env smac-sc2 needs SMAC .*github.com/oxwhirl/smac.*use env smac"):
            make_env("smac-sc2", "3m", 1)
    fake_smac("smac3")
    with pytest.raises(ValueError, match="is not SMAC, the StarCraft Multi-Agent Challenge .*SMAC3"):
        make_env("smac-sc2", "3m", 1)


def test_sc2_adapter_on_smacs_api(fake_smac, tmp_path, monkeypatch):
    fake_smac("smac")
    monkeypatch.setenv("SC2PATH", str(tmp_path / "StarCraftII"))
    with pytest.raises(ValueError, match="StarCraft II not found at .*StarCraftII .*SC2PATH"):
        make_env("smac-sc2", "3m", 2)
    maps = tmp_path / "StarCraftII" / "Maps" / "SMAC_Maps"
    maps.mkdir(parents=True)
    with pytest.raises(ValueError, match="SMAC map file .*MMM2.SC2Map not found"):
        make_env("smac-sc2", "MMM2", 2)
    (maps / "MMM2.SC2Map").write_text("")
    env = make_env("smac-sc2", "MMM2", 2, seed=0)
    assert env.spec.obs_dims == (3 + 7 + 2,) * 2 and env.spec.state_dim == 2 + 2 * 7
    assert env.spec.episode_limit == 5
    r = env.reset()
    np.testing.assert_array_equal(r.obs[1][0], [0, 3, 1] + [0] * 7 + [0, 1])
    with pytest.raises(ValueError, match="agent 0 cannot take action 6 in copy 0"):
        env.step([np.array([6, 1]), np.array([1, 1])])
    s = env.step([np.array([1, 1]), np.array([1, 1])])  # stop
    np.testing.assert_array_equal(s.obs[0][:, 3:10], np.eye(7)[[1, 1]])
    attack = [np.array([6, 1]), np.array([6, 1])]  # copy 0 attacks twice a turn, copy 1 waits
    s = env.step(attack)
    assert not s.done.any()
    s = env.step(attack)
    np.testing.assert_array_equal(s.terminated, [True, False])
    np.testing.assert_array_equal(s.info["won"], [True, False])
    assert s.info["episode_return"][0] == 20.0 and s.info["episode_length"][0] == 3
    np.testing.assert_array_equal(s.obs[0][0, :10], [0, 3, 0] + [0] * 7)  # copy 0 restarted
    s = env.step([np.array([1, 1])] * 2)
    s = env.step([np.array([1, 1])] * 2)
    np.testing.assert_array_equal(s.truncated, [False, True])  # SMAC's time limit truncates
    assert not s.terminated.any() and not s.info["won"].any() and s.info["episode_length"][1] == 5
    assert env.get_state() is None  # no snapshot of a running game: a resumed run starts new episodes
    with pytest.raises(ValueError, match="cannot restore a game mid-episode"):
        env.set_state({})


@pytest.mark.parametrize("algo", ["hasac", "mappo", "qmix"])
def test_smax_and_its_alias_smac_resolve_the_same_shipped_config(algo):
    """The config files keep the family's first name: ``--env smax`` finds them as ``--env smac`` does."""
    from deep.configure import resolve
    a, b = resolve("smax", "8m_vs_9m", 0, algo=algo), resolve("smac", "8m_vs_9m", 0, algo=algo)
    assert a.pop("env") == "smax" and b.pop("env") == "smac"
    assert a == b
