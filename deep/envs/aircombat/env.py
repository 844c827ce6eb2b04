"""The batched air-combat environment: LAG's 2v2 NoWeapon / ShootMissile tasks, and 1v1 variants of them
(not LAG's own 1v1 tasks: see the package docstring), on JSBSim F-16s.

Everything that is not JSBSim is numpy over all copies and aircraft at once: scripted opponents
(:mod:`.opponent`), target computation, coordinates, geometry, observations (:mod:`.observation`),
rewards and terminations (:mod:`.referee`).  Per aircraft, Python only writes the autopilot's three
targets, calls JSBSim's ``run`` 12 times and reads 21 properties per decision (:mod:`.fleet`; while a
missile flies in a copy, its aircraft's state after every physics step).  This module composes them: the
action spaces, the launch rule, one decision and exact resume.

Aircraft order in every array: team A (the learning agents) then team B (the scripted opponents).  A
decision is 12 physics steps at 60 Hz (0.2 s); an episode is truncated after 1000 decisions and terminated
when every team-A aircraft is out.  An aircraft that is out (shot down, crashed, or with every enemy out and
no missile inbound) is no longer simulated: it stays frozen in the others' observations, its agent gets
reward 0 and only the no-op is available to it.  The shared reward is the mean over team A of the
aircraft's rewards (see :mod:`.rewards`).

The tasks have no randomness (the reference starts every episode identically), so an episode is a
function of its actions: ``get_state`` saves each copy's actions since its episode began and
``set_state`` reloads the aircraft and replays them (all copies together: as long as playing them again,
at most 1000 decisions), which continues bit for bit.  JSBSim offers no way to save a running model whole:
re-applying initial conditions from its property catalog would lose the flight-control filters',
integrators' and engine's internal states.  Seeds are accepted (and drawn per copy with ``copy_seeds`` by
the batching engine) but change nothing.
"""
from __future__ import annotations

import numpy as np
from gymnasium.spaces import MultiDiscrete

from .._batch import LoopedEnv, check_int
from ..base import EnvSpec
from . import aircraft as ac
from . import missile as ms
from . import rewards as rw
from .controller import THROTTLE_MAX, THROTTLE_MIN
from .fleet import STEPS_PER_DECISION, Fleet
from .geometry import relative
from .observation import observations
from .opponent import opponent_targets
from .referee import Referee

#: task -> (aircraft per team, missiles)
TASKS = {"1v1-NoWeapon-vsBaseline": (1, False), "1v1-ShootMissile-vsBaseline": (1, True),
         "2v2-NoWeapon-vsBaseline": (2, False), "2v2-ShootMissile-vsBaseline": (2, True)}
CONTROLS = ("hierarchical", "direct")
EPISODE_LIMIT = 1000

# ---- hierarchical action: changes of target altitude (m), heading (rad), speed (m/s); then shoot or not
ALT_CHANGES = np.array([100.0, 0.0, -100.0])
HEADING_CHANGES = np.array([-np.pi / 6, -np.pi / 12, 0.0, np.pi / 12, np.pi / 6])
SPEED_CHANGES = np.array([0.05, 0.0, -0.05]) * rw.SPEED_SCALE
HOLD = np.array([1, 2, 1])  #: the all-zero change ("hold course") and the down agents' no-op
# ---- direct action: 41 bins for aileron, elevator, rudder in [-1, 1], 30 for throttle in [0.4, 0.9] (the
# reference's single-aircraft control task)
SURFACE_BINS, THROTTLE_BINS = 41, 30
DIRECT_NOOP = np.array([20, 20, 20, 0])

# ---- launch rule
LAUNCH_MAX_AO, LAUNCH_MAX_RANGE = np.deg2rad(45.0), 14000.0
LAUNCH_INTERVAL, MISSILES_PER_AIRCRAFT = 125, 2

#: copies stepped together while missiles fly (their aircraft and missiles advance step by step; a few
#: copies at a time keep a dozen or so JSBSim instances in cache, see benchmarks/README.md)
MISSILE_GROUP = 2

_F = ac.FIELD


def make(task: str, num_envs: int, seed: int | None = None, **options) -> "AirCombatEnv":
    """The registry's entry."""
    from ..registry import check_options, check_task
    check_task("aircombat", task)
    check_options(options, ("control", "episode_limit"), "env aircombat")
    return AirCombatEnv(task, num_envs=num_envs, seed=seed, **options)


class AirCombatEnv(LoopedEnv):
    """``num_envs`` copies of an air-combat ``task`` (a key of :data:`TASKS`).

    ``control="hierarchical"`` (default): each agent's action is MultiDiscrete([3, 5, 3]) (+ [2] with
    missiles), changes of target altitude, heading and speed relative to the current state, flown by the
    autopilot.  ``control="direct"``: MultiDiscrete([41, 41, 41, 30]) (+ [2]) bins of aileron, elevator,
    rudder and throttle.  The available-action mask of a MultiDiscrete agent concatenates one mask per
    dimension (``sum(nvec)`` entries).
    """

    def __init__(self, task: str, num_envs: int = 1, seed: int | None = None, *, control: str = "hierarchical",
                 episode_limit: int = EPISODE_LIMIT):
        num_envs = check_int(num_envs, "num_envs")
        if task not in TASKS:
            raise ValueError(f"unknown aircombat task {task!r}; valid tasks: {', '.join(TASKS)}")
        if control not in CONTROLS:
            raise ValueError(f"unknown control {control!r}; valid: {', '.join(CONTROLS)}")
        episode_limit = check_int(episode_limit, "episode_limit")
        self.team_size, self.weapons = TASKS[task]
        self.control = control
        n, n_air = self.team_size, 2 * self.team_size
        self.n_aircraft = n_air
        self.obs_dim = 9 + 6 * (n_air - 1) + (6 if self.weapons else 0)
        nvec = [3, 5, 3] if control == "hierarchical" else [SURFACE_BINS] * 3 + [THROTTLE_BINS]
        self._noop = np.concatenate([HOLD if control == "hierarchical" else DIRECT_NOOP,
                                     [0] if self.weapons else []]).astype(np.int64)
        nvec = nvec + [2] if self.weapons else nvec
        space = MultiDiscrete(nvec)
        spec = EnvSpec(name=f"aircombat:{task}", n_agents=n, obs_dims=(self.obs_dim,) * n,
                       state_dim=self.obs_dim * n_air, action_spaces=(space,) * n, episode_limit=episode_limit)
        super().__init__(spec, num_envs, seed, [False] * n)
        self._nvec = np.array(nvec)
        self._avail = [np.ones((num_envs, int(self._nvec.sum())), bool) for _ in range(n)]
        # per aircraft: the others in observation order (partners, then enemies)
        team = np.arange(n_air) // n
        self._others = np.array([[j for j in range(n_air) if j != i and team[j] == team[i]]
                                 + [j for j in range(n_air) if team[j] != team[i]] for i in range(n_air)])
        self._enemies = np.array([[j for j in range(n_air) if team[j] != team[i]] for i in range(n_air)])
        E = num_envs
        self._fleet = Fleet(E, n)
        self._raw, self._pos, self._vel = self._fleet.raw, self._fleet.pos, self._fleet.vel  # updated in place
        self._referee = Referee(E, self._enemies, self.weapons)
        self._out = np.zeros((E, n_air), bool)
        self._shot = np.zeros((E, n_air), bool)  #: shot down during the current decision
        self._final_out = np.zeros((E, n_air), bool)  #: out after the last step, before any auto-reset
        self._decision = np.zeros(E, np.int64)
        self._last_launch = np.zeros((E, n_air), np.int64)
        self._missiles = ms.Missiles(E, n_air, MISSILES_PER_AIRCRAFT, 1.0 / ac.PHYSICS_HZ)
        self._history: list[list[np.ndarray]] = [[] for _ in range(E)]
        self._pending: dict[int, np.ndarray] = {}

    @property
    def jsbsim_seconds(self) -> float:
        """Wall time spent in JSBSim's physics steps (its ``run`` calls); settable, e.g. to 0 between timings."""
        return self._fleet.jsbsim_seconds

    @jsbsim_seconds.setter
    def jsbsim_seconds(self, value: float) -> None:
        self._fleet.jsbsim_seconds = value

    def step(self, actions):
        """The interface's step; ``info["aircraft_out"]`` (num_envs, aircraft) tells which aircraft were out
        at the end of this step (before any auto-reset): e.g. a win has every team-B aircraft out."""
        s = super().step(actions)
        s.info["aircraft_out"] = self._final_out.copy()
        return s

    # ------------------------------------------------------------------ episode start
    def _reset_copy(self, k: int, seed: int | None) -> None:
        self._fleet.spawn(k)
        self._out[k] = self._shot[k] = False
        self._decision[k] = 0
        self._last_launch[k] = -LAUNCH_INTERVAL
        self._missiles.clear(k)
        self._history[k] = []
        rows = np.array([k])
        self._fleet.read(rows)
        self._referee.reset(k, self._pos[rows], self._vel[rows])
        self._observe(rows)

    # ------------------------------------------------------------------ one decision
    def _step_batch(self, actions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return self._advance(np.arange(self.num_envs), actions)

    def _advance(self, rows: np.ndarray, actions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """One decision of the copies ``rows`` (``actions[i]``: agent i's rows); returns the shared reward and
        termination of those copies."""
        n, n_air = self.team_size, self.n_aircraft
        act = np.stack(actions, axis=1).astype(np.int64)  # (rows, agents, dims)
        for r, k in enumerate(rows):
            self._history[k].append(act[r].astype(np.int8))
        live = ~self._out[rows]  # aircraft simulated during this decision
        self._shot[rows] = False
        act = np.where(live[:, :n, None], act, self._noop)
        if self.weapons:
            shoot = np.ones((rows.size, n_air), bool)  # the opponents' shoot flag is always on
            shoot[:, :n] = act[:, :, -1] == 1
            self._launch(rows, shoot & live)
        self._command(rows, act, live)
        hits = self._fly(rows, live)
        self._fleet.read(rows)
        return self._judge(rows, live, hits)

    def _command(self, rows, act, live) -> None:
        """Write the autopilot targets (or direct commands) of every live aircraft."""
        n, fleet = self.team_size, self._fleet
        raw = self._raw[rows]
        alt, heading, speed = raw[..., _F["alt"]].copy(), raw[..., _F["heading"]].copy(), raw[..., _F["vt"]].copy()
        if self.control == "hierarchical":
            alt[:, :n] += ALT_CHANGES[act[:, :, 0]]
            heading[:, :n] += HEADING_CHANGES[act[:, :, 1]]
            speed[:, :n] += SPEED_CHANGES[act[:, :, 2]]
        else:  # direct: bins -> aileron, elevator, rudder in [-1, 1] and throttle in [0.4, 0.9]
            surfaces = -1.0 + 2.0 * act[:, :, :3] / (SURFACE_BINS - 1)
            throttle = THROTTLE_MIN + (THROTTLE_MAX - THROTTLE_MIN) * act[:, :, 3] / (THROTTLE_BINS - 1)
            fleet.set_direct(rows, live, surfaces, throttle)
        threatened = self._missiles.threats(rows)[0][:, n:] >= 0 if self.weapons else None
        opponent_targets(n, self.weapons, self._out[rows], raw, self._pos[rows], fleet.start_heading, threatened,
                         alt, heading, speed)
        fleet.set_targets(rows, live, alt, heading, speed, 0 if self.control == "hierarchical" else n)

    def _launch(self, rows, wants) -> None:
        """The launch rule: at the nearest live enemy, within 45 deg of own velocity and 14 km, at least 125
        decisions after this aircraft's last launch, at most 2 missiles per aircraft."""
        pos, vel, out = self._pos[rows], self._vel[rows], self._out[rows]
        enemies = self._enemies
        ao, _, rng, _ = relative(pos[:, :, None], vel[:, :, None], pos[:, enemies], vel[:, enemies])
        rng = np.where(out[:, enemies], np.inf, rng)
        nearest = np.argmin(rng, axis=2)
        pick = np.take_along_axis
        ao_n, rng_n = pick(ao, nearest[..., None], 2)[..., 0], pick(rng, nearest[..., None], 2)[..., 0]
        fired = (self._missiles.status[rows] != ms.NONE).sum(axis=2)
        since = self._decision[rows, None] - self._last_launch[rows]
        ok = (wants & (ao_n <= LAUNCH_MAX_AO) & (rng_n <= LAUNCH_MAX_RANGE) & (since >= LAUNCH_INTERVAL)
              & (fired < MISSILES_PER_AIRCRAFT))
        for r, a in zip(*np.nonzero(ok)):
            k = rows[r]
            self._missiles.launch(k, a, fired[r, a], enemies[a, nearest[r, a]], pos[r, a], vel[r, a])
            self._last_launch[k, a] = self._decision[k]

    def _fly(self, rows, live) -> np.ndarray:
        """Twelve physics steps of the live aircraft (and the missiles); returns the hits per (row, shooter).
        Copies without a missile in flight fly each aircraft's decision in one go; those with missiles go a
        few copies at a time, aircraft and missiles step by step."""
        hits = np.zeros((rows.size, self.n_aircraft), np.int64)
        flying = (self._missiles.status[rows] == ms.FLYING).any(axis=(1, 2))
        self._fleet.fly_decision(rows[~flying], live[~flying])
        hot = np.flatnonzero(flying)
        for start in range(0, hot.size, MISSILE_GROUP):
            group = hot[start:start + MISSILE_GROUP]
            hits[group] = self._fly_with_missiles(rows[group], live[group].copy())
        return hits

    def _fly_with_missiles(self, rows, live) -> np.ndarray:
        """Physics steps of copies with missiles in flight: after each, the aircraft's state feeds the
        missiles, and an aircraft that is hit is out (stops moving) at once."""
        hits = np.zeros((rows.size, self.n_aircraft), np.int64)
        for _ in range(STEPS_PER_DECISION):
            self._fleet.physics_step(rows, live)
            self._fleet.read(rows)
            slot_hits = self._missiles.step(rows, self._pos[rows], self._vel[rows], ~self._out[rows])
            for r, shooter, slot in zip(*np.nonzero(slot_hits)):
                k = rows[r]
                hits[r, shooter] += 1
                victim = self._missiles.target[k, shooter, slot]
                self._out[k, victim] = self._shot[k, victim] = True
                live[r, victim] = False
        return hits

    # ------------------------------------------------------------------ judgement, observation
    def _judge(self, rows, live, hits) -> tuple[np.ndarray, np.ndarray]:
        """Terminations and rewards of one decision; writes the observations."""
        n = self.team_size
        raw, shot = self._raw[rows], self._shot[rows]
        slot, speed = self._missiles.threats(rows)
        crash, out = self._referee.outs(raw, live, shot, self._out[rows], slot)
        self._out[rows] = self._final_out[rows] = out
        threat = (slot, speed, self._missiles.velocity[rows].reshape(rows.size, -1, 3)) if self.weapons else None
        reward = self._referee.rewards(rows, raw, self._pos[rows], self._vel[rows], live, shot | crash, hits,
                                       threat)
        self._decision[rows] += 1
        self._observe(rows)
        return reward[:, :n].mean(axis=1), out[:, :n].all(axis=1)

    def _observe(self, rows) -> None:
        """Write the observations of the agents' rows and the global state (all aircraft's observations)."""
        threat = None
        if self.weapons:
            m = self._missiles
            threat = (m.threats(rows)[0], m.pos[rows].reshape(rows.size, -1, 3),
                      m.velocity[rows].reshape(rows.size, -1, 3))
        obs = observations(self._raw[rows], self._pos[rows], self._vel[rows], self._others, threat)
        for i in range(self.team_size):
            self._obs[i][rows] = obs[:, i]
        self._state[rows] = obs.reshape(rows.size, -1)

    # ------------------------------------------------------------------ masks, exact resume
    def _view(self):
        n = self.team_size
        noop = np.zeros(int(self._nvec.sum()), bool)
        noop[np.concatenate([[0], np.cumsum(self._nvec)[:-1]]) + self._noop] = True
        for i in range(n):
            self._avail[i][:] = np.where(self._out[:, i, None], noop, True)
        return super()._view()

    def _get_copy(self, k: int) -> np.ndarray:
        # the episode's actions: the aircraft, controller and missiles are deterministic functions of them
        acts = self._history[k]
        return np.array(acts, np.int8).reshape(len(acts), self.team_size, self._nvec.size)

    def _set_copy(self, k: int, snapshot) -> None:
        self._reset_copy(k, None)
        self._pending[k] = np.asarray(snapshot, np.int64)

    def set_state(self, state: dict):
        """Restore a :meth:`get_state` snapshot by reloading every copy and replaying its episode's actions
        (all copies together), then continue exactly."""
        super().set_state(state)
        pending, self._pending = self._pending, {}
        for t in range(max((len(a) for a in pending.values()), default=0)):
            rows = np.array([k for k, a in pending.items() if len(a) > t], np.int64)
            self._advance(rows, [np.stack([pending[k][t, i] for k in rows]) for i in range(self.team_size)])
        return self._view()
