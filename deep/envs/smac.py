"""SMAC (the StarCraft Multi-Agent Challenge) on SMAX, ``jaxmarl``'s JAX re-implementation of its battles,
as a batched environment: the family ``smax``, also reachable by its first name ``smac`` (an alias: both
build the same environment).  The real StarCraft II game is the family ``smac-sc2``.

All ``num_envs`` copies live in JAX and advance in one jit-compiled, vmapped call (``HeuristicEnemySMAX``:
the enemy is SMAX's scripted heuristic, attack the closest unit in range or advance, standing in for
SMAC's built-in game AI); the learner sees numpy.  The program is compiled once per (map, episode limit,
reward, batch size) and process, ahead of time at the first ``reset`` (or ``set_state``), with the compile
time printed on stderr; ``spec`` is known before.  SMAC's conventions (``smac.env.StarCraft2Env`` and
pymarl's agent inputs):

- observations: SMAX's per-agent unit-list observation, then the agent's own last action (one-hot, zeros
  at an episode's start; option ``obs_last_action``) and its one-hot id (``obs_agent_id``), both on by
  default as in the paper's reference code;
- state: SMAX's world state scaled to SMAC's units (positions relative to the map centre in [-1, 1],
  cooldowns over the weapon's), then every agent's last action one-hot (``state_last_action``, SMAC's default);
- actions: ``Discrete(5 + n_enemies)``: 0-3 move (north, east, south, west), 4 stop, 5 + j attack enemy j.
  SMAX has no separate no-op: a dead agent's only available action is stop.  An unavailable action is
  refused with a ``ValueError`` (SMAC asserts the same), so learners must mask with ``avail``;
- map edge (option ``edge``): ``"smac"`` (the default) treats it as SMAC does, as a bound and not a
  hazard: a move is available only when the unit's whole step (its speed times 0.5 s) stays inside the
  map, and a unit that touches the edge (pushed there by a collision) does not die.  ``"smax"`` keeps
  SMAX's own walls, which kill any unit that touches them while the masks still offer moves into them (a
  team that keeps moving west loses its units at the wall within a few steps);
- episode limits: SMAC's per map (``smac/env/starcraft2/maps/smac_maps.py``); reaching it *truncates*
  (bootstrap), while a battle won, lost or drawn (both sides wiped out) *terminates*;
- reward (``reward="smac"``, the default): SMAC's default shaped reward computed on SMAX's unit health:
  damage dealt to enemies + 10 per enemy killed + 200 for a win, times 20 / (sum of the enemies' maximum
  health + 10 * n_enemies + 200), so a won battle returns exactly 20 (SMAX has no shield regeneration,
  which lets SMAC's returns exceed 20 slightly).  ``reward="smax"`` keeps SMAX's own reward (damage as
  fractions of unit health / n_enemies plus 1 for a win: about 2 per won battle);
- ``Step.info``: ``episode_return``, ``episode_length`` and ``won`` (SMAC's ``battle_won``: every enemy dead
  and an ally alive), valid on the rows where ``done``.

Maps (:data:`MAPS`): SMAX's scenarios by their SMAC names; ``8m_vs_9m`` is built exactly from SMAX's marine;
``corridor`` (6 zealots vs 24 zerglings) is an approximation: SMAX has no terrain, so the battle is on
SMAX's open 32 x 32 arena, without SMAC's corridor.  MMM and MMM2 cannot be built (SMAX has no medivac).

Departures from SMAC on StarCraft II that change the numbers (win rates and returns here are SMAX's, not
comparable with published SMAC results; the family ``smac-sc2`` runs the real game):

- the game is SMAX's simplified simulator, not StarCraft II, and the enemy is SMAX's heuristic (attack the
  closest unit in range, otherwise advance), not SMAC's built-in AI at difficulty 7;
- attack actions are available only for enemies within the unit's own attack range (marine 5, stalker 6,
  zealot and zergling 2, hydralisk 5): SMAC offers every enemy within 6 to every unit and walks a melee
  unit into range;
- sight ranges are per unit type (8-10) instead of SMAC's 9 for every unit;
- one step is 8 x 1/16 s = 0.5 s of game time with speeds and cooldowns in game seconds; a SMAC step is 8
  game loops, about 0.36 s, so SMAC's per-map step limits give about 40% more game time here;
- unit stats are SMAX's approximations (for example a marine hits for 9 where StarCraft II's does 6, a
  zealot hits once for 8 where StarCraft II's hits twice for 8, a stalker's cooldown is 1.87 s, a
  hydralisk has 80 hit points), with no shields or shield regeneration;
- the map edge: SMAC's rule by default (see ``edge`` above); SMAX's lethal walls only with ``edge="smax"``.
"""
from __future__ import annotations

import io
import sys
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from gymnasium.spaces import Discrete

from ._batch import check_actions, check_int
from .base import BatchedMultiAgentEnv, EnvSpec, Reset, Step, copy_seeds

#: SMAX's unit types, in the order of its ``unit_type_names`` (the index is the unit-type id)
UNIT_TYPES = ("marine", "marauder", "stalker", "zealot", "zergling", "hydralisk")


@dataclass(frozen=True)
class SmacMap:
    limit: int                    #: SMAC's episode limit (smac_maps.py)
    allies: tuple[str, ...]       #: unit types of the agents, in SMAX's order of units
    enemies: tuple[str, ...]
    note: str = ""                #: how the SMAX version departs from the SMAC map, if it does


def _units(*groups: tuple[int, str]) -> tuple[str, ...]:
    return tuple(unit for count, unit in groups for _ in range(count))


_SZ = _units((2, "stalker"), (3, "zealot"))
_3S5Z = _units((3, "stalker"), (5, "zealot"))
#: SMAC map name -> its composition and episode limit
MAPS: dict[str, SmacMap] = {
    "3m": SmacMap(60, _units((3, "marine")), _units((3, "marine"))),
    "8m": SmacMap(120, _units((8, "marine")), _units((8, "marine"))),
    "25m": SmacMap(150, _units((25, "marine")), _units((25, "marine"))),
    "2s3z": SmacMap(120, _SZ, _SZ),
    "3s5z": SmacMap(150, _3S5Z, _3S5Z),
    "5m_vs_6m": SmacMap(70, _units((5, "marine")), _units((6, "marine"))),
    "8m_vs_9m": SmacMap(120, _units((8, "marine")), _units((9, "marine"))),
    "10m_vs_11m": SmacMap(150, _units((10, "marine")), _units((11, "marine"))),
    "27m_vs_30m": SmacMap(180, _units((27, "marine")), _units((30, "marine"))),
    "3s5z_vs_3s6z": SmacMap(170, _3S5Z, _units((3, "stalker"), (6, "zealot"))),
    "3s_vs_5z": SmacMap(250, _units((3, "stalker")), _units((5, "zealot"))),
    "6h_vs_8z": SmacMap(150, _units((6, "hydralisk")), _units((8, "zealot"))),
    "corridor": SmacMap(400, _units((6, "zealot")), _units((24, "zergling")),
                        note="approximation: SMAX has no terrain, so no corridor (open 32 x 32 arena)"),
}
TASKS = tuple(MAPS)
#: SMAC maps that need a unit SMAX lacks -> the nearest maps that can be built
NOT_BUILDABLE = {"MMM2": ("10m_vs_11m", "3s5z_vs_3s6z"), "MMM": ("8m", "3s5z")}
OPTIONS = ("episode_limit", "obs_agent_id", "obs_last_action", "state_last_action", "reward", "edge")
REWARDS = ("smac", "smax")
#: map-edge rules: SMAC's (moves off the map masked, the edge harmless) or SMAX's own (lethal walls)
EDGES = ("smac", "smax")
# SMAC's reward constants (StarCraft2Env defaults): per enemy killed, for a win, the scaled episode maximum
_DEATH_VALUE, _WIN_VALUE, _SCALE_RATE = 10.0, 200.0, 20.0


def task_list() -> str:
    """The valid map names, an approximate map labelled as such (for errors and help texts)."""
    return ", ".join(name + (f" ({m.note.split(':')[0]})" if m.note else "") for name, m in MAPS.items())


def check_buildable(task: str) -> None:
    """A ValueError naming the nearest available maps for a SMAC map SMAX cannot build."""
    if task in NOT_BUILDABLE:
        raise ValueError(f"SMAC map {task} cannot be built in SMAX (it has no medivac unit); nearest "
                         f"available maps: {', '.join(NOT_BUILDABLE[task])}")


def make(task: str, num_envs: int, seed: int | None = None, **options) -> "SmaxEnv":
    """The registry's entry."""
    from .registry import check_options
    check_options(options, OPTIONS, "env smax")
    return SmaxEnv(task, num_envs=num_envs, seed=seed, **options)


def check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def check_available(actions: Sequence[np.ndarray], spaces, avail) -> np.ndarray:
    """The (B, n_agents) int32 joint actions, or a ValueError naming the first agent and copy whose action
    is out of range or not available in ``avail`` (per agent (B, A) masks): SMAC refuses them too."""
    acts = check_actions(actions, spaces, len(avail[0]))
    joint = np.stack(acts, axis=1).astype(np.int32)
    ok = np.stack([m[np.arange(len(a)), a] for m, a in zip(avail, acts)])  # (n, B)
    if not ok.all():
        i, k = (int(x[0]) for x in np.nonzero(~ok))
        raise ValueError(f"agent {i} cannot take action {joint[k, i]} in copy {k}: it is not available "
                         f"(unavailable actions are refused as in SMAC: mask them with avail)")
    return joint


class SmacFeatures:
    """SMAC's extras around a simulator's observations: each agent's own last action (one-hot) and its id
    appended to its observation (pymarl's agent inputs), every agent's last action appended to the state
    (SMAC's ``state_last_action``).  Shared by the SMAX and StarCraft II adapters."""

    def __init__(self, n_agents: int, n_actions: int, obs_agent_id: bool, obs_last_action: bool,
                 state_last_action: bool):
        self.n, self.A = n_agents, n_actions
        self.obs_agent_id = check_flag(obs_agent_id, "obs_agent_id")
        self.obs_last_action = check_flag(obs_last_action, "obs_last_action")
        self.state_last_action = check_flag(state_last_action, "state_last_action")
        self.obs_extra = n_actions * self.obs_last_action + n_agents * self.obs_agent_id
        self.state_extra = n_agents * n_actions * self.state_last_action
        self._ids = np.eye(n_agents, dtype=np.float32)

    def build(self, raw_obs: np.ndarray, raw_state: np.ndarray, last: np.ndarray):
        """``raw_obs`` (n_agents, B, d), ``raw_state`` (B, s), ``last`` (B, n_agents) last actions (-1: none)
        -> (list of per-agent (B, d + obs_extra) observations, (B, s + state_extra) state), float32."""
        B = raw_state.shape[0]
        onehot = (last.T[..., None] == np.arange(self.A)).astype(np.float32)  # (n, B, A)
        parts = [raw_obs]
        if self.obs_last_action:
            parts.append(onehot)
        if self.obs_agent_id:
            parts.append(np.broadcast_to(self._ids[:, None, :], (self.n, B, self.n)))
        obs = np.concatenate(parts, axis=-1, dtype=np.float32)
        state = raw_state.astype(np.float32)
        if self.state_last_action:
            state = np.concatenate([state, onehot.transpose(1, 0, 2).reshape(B, -1)], axis=1)
        return list(obs), state


# ---------------------------------------------------------------------------------------------- SMAX in JAX
def _import_smax():
    """jax and jaxmarl's SMAX classes.  jaxmarl prints on import, and one of its modules resets
    ``sys.stdout``/``sys.stderr`` to ``sys.__stdout__``/``sys.__stderr__``: both are kept as they were."""
    saved = sys.stdout, sys.stderr, sys.__stdout__
    sys.stdout = sys.__stdout__ = io.StringIO()
    try:
        import jax
        from jaxmarl.environments.smax import HeuristicEnemySMAX, Scenario
    except ImportError as exc:
        raise ValueError(f"env smax (alias smac) needs jaxmarl (pip install jaxmarl==0.2.0, or the project's "
                         f"[sim] extra): {exc}") from None
    finally:
        sys.stdout, sys.stderr, sys.__stdout__ = saved
    return jax, HeuristicEnemySMAX, Scenario


@dataclass
class _Program:
    """The compiled reset and step of one (map, episode limit, reward, batch size)."""
    reset: Any                 #: keys (B, 2) -> (keys, states, view)
    step: Any                  #: (keys, states, actions (B, n) int32) -> (keys, states, outputs)
    treedef: Any               #: structure of the batch state pytree
    leaf_shapes: list          #: (shape, dtype) of each leaf


_PROGRAMS: dict[tuple, _Program] = {}


def smax_env(task: str, episode_limit: int, edge: str = "smac"):
    """jaxmarl's ``HeuristicEnemySMAX`` for a map of :data:`MAPS` (cheap: nothing is compiled); its walls
    kill only under SMAX's own ``edge`` rule."""
    jax, HeuristicEnemySMAX, Scenario = _import_smax()
    m = MAPS[task]
    types = jax.numpy.array([UNIT_TYPES.index(u) for u in m.allies + m.enemies], jax.numpy.uint8)
    return HeuristicEnemySMAX(scenario=Scenario(types, len(m.allies), len(m.enemies), False, False),
                              max_steps=episode_limit, walls_cause_death=edge == "smax")


class _Battle:
    """One copy of a map's battle as pure JAX functions (traced, vmapped and compiled by :func:`_program`):
    SMAX's ``HeuristicEnemySMAX`` with SMAC's conventions on top, namely its reward, its world state, its
    episode end and, under ``edge="smac"``, its map edge."""

    def __init__(self, jax, env, episode_limit: int, reward: str, edge: str):
        jnp = self.jnp = jax.numpy
        self.jax, self.env, self.episode_limit, self.reward_mode, self.edge = jax, env, episode_limit, reward, edge
        self.n, self.agents = env.num_allies, env.agents
        enemy_health = env.unit_type_health[env.scenario[self.n:]]
        self.scale = _SCALE_RATE / (float(enemy_health.sum()) + _DEATH_VALUE * env.num_enemies + _WIN_VALUE)
        self.units = env.num_allies + env.num_enemies                       # allies, then enemies
        self.per_unit = (env.state_size - 2 * self.units) // self.units     # health, x, y, cooldown, type one-hot
        self.half_map = jnp.array([env.map_width, env.map_height], jnp.float32) / 2
        self.max_type = len(env.unit_type_weapon_cooldowns) - 1
        self.map_size = jnp.array([env.map_width, env.map_height], jnp.float32)
        self.step_time = env.time_per_step * env.world_steps_per_env_step

    def strong(self, tree):
        """``tree`` with strongly typed leaves (weak-typed ones would not match the compiled step's inputs)."""
        return self.jax.tree.map(lambda x: x.astype(x.dtype), tree)

    def smac_reward(self, before, after, won):
        """SMAC's default shaped reward (``StarCraft2Env.reward_battle``) for the step ``before -> after`` (SMAX
        unit states): damage dealt to the enemies + 10 per enemy killed + 200 for a win, scaled so that a won
        battle returns exactly 20.  SMAX has no shields, so unlike SMAC (whose shield regeneration lets returns
        exceed 20 slightly) a battle never returns more than 20."""
        jnp, n = self.jnp, self.n
        damage = jnp.sum(before.unit_health[n:] - after.unit_health[n:])
        killed = jnp.sum(before.unit_alive[n:] & ~after.unit_alive[n:])
        return (damage + _DEATH_VALUE * killed + _WIN_VALUE * won) * self.scale

    def world_state(self, st):
        """SMAX's world state in SMAC's units (``StarCraft2Env.get_state``): a unit's position relative to the
        map centre over half the map's size (in [-1, 1]) and its weapon cooldown (at least 0) over its type's
        cooldown, where SMAX leaves coordinates up to 32 and seconds; dead units stay all zero; the trailing
        unit types over the largest type index (teams are 0/1 already).  Unscaled coordinates would make the
        inputs of a state-conditioned mixer (QMIX's hypernetworks) tens of times too large."""
        jnp, env, units, per_unit, half_map = self.jnp, self.env, self.units, self.per_unit, self.half_map
        raw, inner = env.get_world_state(st), st.state
        feats = raw[:units * per_unit].reshape(units, per_unit)
        alive = inner.unit_alive
        pos = jnp.where(alive[:, None], (feats[:, 1:3] - half_map) / half_map, 0.0)
        ready_in = jnp.maximum(feats[:, 3], 0.0)             # SMAX counts an idle weapon's cooldown below 0
        cooldown = jnp.where(alive, ready_in / env.unit_type_weapon_cooldowns[inner.unit_types], 0.0)
        feats = feats.at[:, 1:3].set(pos).at[:, 3].set(cooldown)
        teams, types = raw[units * per_unit:units * (per_unit + 1)], raw[units * (per_unit + 1):]
        return jnp.concatenate([feats.reshape(-1), teams, types / self.max_type])

    def inside_moves(self, st):
        """(n, 4): whether each agent's move north, east, south, west keeps its whole step inside the map
        (SMAC masks moves into unpathable ground; SMAX's step is its speed times ``step_time``)."""
        n, inner = self.n, st.state
        pos = inner.unit_positions[:n]
        reach = (self.env.unit_type_velocities[inner.unit_types[:n]] * self.step_time)[:, None]
        ahead, behind = pos + reach < self.map_size, pos - reach > 0.0    # (n, 2): x, y
        return self.jnp.stack([ahead[:, 1], ahead[:, 0], behind[:, 1], behind[:, 0]], axis=1)

    def view(self, st):
        """What the learner sees of ``st``: per-agent observations (n, d), the world state and the masks (n, A)."""
        jnp, env, agents = self.jnp, self.env, self.agents
        obs, avail = env.get_obs(st), env.get_avail_actions(st)
        avail = jnp.stack([avail[a] for a in agents]).astype(bool)
        if self.edge == "smac":
            avail = avail.at[:, :4].set(avail[:, :4] & self.inside_moves(st))
        return jnp.stack([obs[a] for a in agents]), self.world_state(st), avail

    def reset_one(self, key):
        """A fresh battle: ``key -> (key, state, view)``."""
        key, sub = self.jax.random.split(key)
        st = self.strong(self.env.reset(sub)[1])
        return key, st, self.view(st)

    def step_one(self, key, st, actions):
        """One step of one copy, reset where it ended: ``(key, state, actions (n,)) -> (key, next state,
        outputs)``.  A battle won, lost or drawn terminates; reaching the episode limit truncates."""
        jax, jnp, n, agents = self.jax, self.jnp, self.n, self.agents
        key, k_step, k_reset = jax.random.split(key, 3)
        _, after, rewards, _, _ = self.env.step_env(k_step, st, {a: actions[i] for i, a in enumerate(agents)})
        b, a = st.state, after.state
        allies_alive, enemies_alive = a.unit_alive[:n].any(), a.unit_alive[n:].any()
        terminated = ~(allies_alive & enemies_alive)
        won = allies_alive & ~enemies_alive
        truncated = ~terminated & (a.step >= self.episode_limit)
        r = self.smac_reward(b, a, won) if self.reward_mode == "smac" else rewards[agents[0]]
        done = terminated | truncated
        fresh = self.strong(self.env.reset(k_reset)[1])
        nxt = self.strong(jax.tree.map(lambda x, y: jnp.where(done, x, y), fresh, after))
        out = {"final": self.view(after), "view": self.view(nxt), "reward": r.astype(jnp.float32),
               "terminated": terminated, "truncated": truncated, "won": won, "length": a.step}
        return key, nxt, out


def _program(task: str, episode_limit: int, reward: str, edge: str, num_envs: int) -> _Program:
    """Build and compile (once per process) the batched SMAX reset and step: :class:`_Battle`'s functions of
    one copy, vmapped over ``num_envs`` copies."""
    key = (task, episode_limit, reward, edge, num_envs)
    if key in _PROGRAMS:
        return _PROGRAMS[key]
    jax = _import_smax()[0]
    jnp = jax.numpy
    battle = _Battle(jax, smax_env(task, episode_limit, edge), episode_limit, reward, edge)

    def reset_batch(keys):
        keys, states, v = jax.vmap(battle.reset_one)(keys)
        return keys, states, _agents_first(jnp, v)

    def step_batch(keys, states, actions):
        keys, states, out = jax.vmap(battle.step_one)(keys, states, actions)
        out["final"], out["view"] = _agents_first(jnp, out["final"]), _agents_first(jnp, out["view"])
        return keys, states, out

    t0 = time.perf_counter()
    keys = jax.ShapeDtypeStruct((num_envs, 2), jnp.uint32)
    reset_c = jax.jit(reset_batch).lower(keys).compile()
    states = jax.eval_shape(reset_batch, keys)[1]
    actions = jax.ShapeDtypeStruct((num_envs, battle.n), jnp.int32)
    step_c = jax.jit(step_batch).lower(keys, states, actions).compile()
    print(f"smac {task}: compiled SMAX reset and step for {num_envs} copies in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    leaves, treedef = jax.tree.flatten(states)
    prog = _Program(reset=reset_c, step=step_c, treedef=treedef,
                    leaf_shapes=[(tuple(x.shape), np.dtype(x.dtype)) for x in leaves])
    _PROGRAMS[key] = prog
    return prog


def _agents_first(jnp, v):
    """(B, n, ...) observations and masks -> (n, B, ...): one contiguous block per agent."""
    obs, world, avail = v
    return jnp.swapaxes(obs, 0, 1), world, jnp.swapaxes(avail, 0, 1)


class SmaxEnv(BatchedMultiAgentEnv):
    """``num_envs`` copies of the SMAC map ``task`` on SMAX (see the module docstring for the conventions)."""

    def __init__(self, task: str, num_envs: int = 1, seed: int | None = None, *, episode_limit: int | None = None,
                 obs_agent_id: bool = True, obs_last_action: bool = True, state_last_action: bool = True,
                 reward: str = "smac", edge: str = "smac"):
        check_buildable(task)
        if task not in MAPS:
            raise ValueError(f"unknown smac task {task!r}; valid tasks: {task_list()}")
        if reward not in REWARDS:
            raise ValueError(f"unknown reward {reward!r}; valid: {', '.join(REWARDS)}")
        if edge not in EDGES:
            raise ValueError(f"unknown edge {edge!r}; valid: {', '.join(EDGES)}")
        self.num_envs = check_int(num_envs, "num_envs")
        limit = MAPS[task].limit if episode_limit is None else check_int(episode_limit, "episode_limit")
        self.task, self.reward_mode, self.edge = task, reward, edge
        env = smax_env(task, limit, edge)
        n, A = env.num_allies, 5 + env.num_enemies
        obs_dim = int(env.observation_spaces[env.agents[0]].shape[0])
        self._features = f = SmacFeatures(n, A, obs_agent_id, obs_last_action, state_last_action)
        self.spec = EnvSpec(name=f"smac:{task}", n_agents=n, obs_dims=(obs_dim + f.obs_extra,) * n,
                            state_dim=int(env.state_size) + f.state_extra, action_spaces=(Discrete(A),) * n,
                            episode_limit=limit)
        self._prog = None  # compiled at the first reset or set_state
        self._seed = seed
        self._keys = self._states = self._view = None
        self._last = np.full((self.num_envs, n), -1, np.int64)
        self._return = np.zeros(self.num_envs, np.float64)

    # ---------------------------------------------------------------- interface
    def _program(self) -> _Program:
        if self._prog is None:
            self._prog = _program(self.task, self.spec.episode_limit, self.reward_mode, self.edge,
                                  self.num_envs)
        return self._prog

    def _reset_view(self) -> Reset:
        obs, state = self._features.build(self._view[0], self._view[1], self._last)
        return Reset(obs=obs, state=state, avail=[m.copy() for m in self._view[2]])  # writable copies

    def reset(self, seed: int | None = None) -> Reset:
        """Reset every copy; copy ``k`` draws from the JAX key ``PRNGKey(copy_seeds(seed, num_envs)[k])``.
        Without ``seed`` the first reset uses the constructor's seed (fresh entropy if none) and later ones
        continue each copy's key stream."""
        import jax
        if seed is None:
            seed, self._seed = self._seed, None
        if seed is not None or self._keys is None:
            if seed is None:
                seed = int(np.random.SeedSequence().generate_state(1)[0])
            keys = np.stack([np.asarray(jax.random.PRNGKey(s)) for s in copy_seeds(seed, self.num_envs)])
        else:
            keys = self._keys
        self._keys, self._states, view = self._program().reset(keys)
        self._view = jax.device_get(view)
        self._last[:] = -1
        self._return[:] = 0.0
        return self._reset_view()

    def step(self, actions: Sequence[np.ndarray]) -> Step:
        if self._states is None:
            raise ValueError("call reset() (or set_state()) before the first step()")
        joint = check_available(actions, self.spec.action_spaces, self._view[2])
        import jax
        self._keys, self._states, out = self._prog.step(self._keys, self._states, joint)
        out = jax.device_get(out)
        done = out["terminated"] | out["truncated"]
        final_obs, final_state = self._features.build(out["final"][0], out["final"][1], joint)
        self._last = np.where(done[:, None], -1, joint)
        self._view = out["view"]
        view = self._reset_view()
        reward = np.array(out["reward"])
        self._return += reward
        info = {"episode_return": np.where(done, self._return, np.nan),
                "episode_length": np.where(done, out["length"], 0).astype(np.int64),
                "won": out["won"] & done}
        self._return[done] = 0.0
        return Step(obs=view.obs, state=view.state, avail=view.avail, reward=reward,
                    terminated=np.array(out["terminated"]), truncated=np.array(out["truncated"]),
                    final_obs=final_obs, final_state=final_state,
                    final_avail=[m.copy() for m in out["final"][2]], info=info)

    # ---------------------------------------------------------------- exact resume (checkpoints)
    def get_state(self) -> dict:
        """The whole batch as numpy (SMAX state leaves, per-copy PRNG keys, last actions, returns, the
        current observation): picklable, and :meth:`set_state` continues it bit for bit."""
        if self._states is None:
            raise ValueError("call reset() before get_state()")
        import jax
        return {"task": self.task, "leaves": [np.array(x) for x in jax.tree.leaves(self._states)],
                "keys": np.array(self._keys), "last": self._last.copy(), "return": self._return.copy(),
                "view": [np.array(x) for x in self._view]}

    def set_state(self, state: dict) -> Reset:
        """Restore a :meth:`get_state` snapshot (of the same map and batch size)."""
        import jax
        leaves = [np.asarray(x) for x in state["leaves"]]
        shapes = [(x.shape, x.dtype) for x in leaves]
        if (state.get("task") != self.task or np.shape(state["keys"]) != (self.num_envs, 2)
                or shapes != self._program().leaf_shapes):
            raise ValueError(f"snapshot of {state.get('task')!r} with {len(leaves)} state arrays does not fit "
                             f"this batch ({self.num_envs} copies of {self.task})")
        self._states = jax.tree.unflatten(self._program().treedef, leaves)
        self._keys = np.array(state["keys"], np.uint32)
        self._last, self._return = np.array(state["last"]), np.array(state["return"], np.float64)
        self._view = tuple(np.array(x) for x in state["view"])
        self._seed = None
        return self._reset_view()
