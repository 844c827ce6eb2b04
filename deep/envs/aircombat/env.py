"""The batched air-combat environment: LAG's 2v2 NoWeapon / ShootMissile tasks, and 1v1 variants of them
(not LAG's own 1v1 tasks: see the package docstring), on JSBSim F-16s.

Everything that is not JSBSim is numpy over all copies and aircraft at once: scripted opponents, target
computation, coordinates, geometry, observations, rewards and terminations.  Per aircraft, Python only
writes the autopilot's three targets, calls JSBSim's ``run`` 12 times and reads 21 properties per
decision (and, while a missile flies in a copy, its aircraft's state after every physics step).

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

import time

import numpy as np
from gymnasium.spaces import MultiDiscrete

from .._batch import LoopedEnv, check_int
from ..base import EnvSpec
from . import aircraft as ac
from . import missile as ms
from . import rewards as rw
from .controller import THROTTLE_MAX, THROTTLE_MIN
from .geometry import LocalFrame, relative

#: task -> (aircraft per team, missiles)
TASKS = {"1v1-NoWeapon-vsBaseline": (1, False), "1v1-ShootMissile-vsBaseline": (1, True),
         "2v2-NoWeapon-vsBaseline": (2, False), "2v2-ShootMissile-vsBaseline": (2, True)}
CONTROLS = ("hierarchical", "direct")

# ---- set-up (docs/simulators/aircombat.md): geodetic origin, start positions, 20,000 ft, u = 800 ft/s, head-on
ORIGIN_LON, ORIGIN_LAT = 120.0, 60.0
TEAM_LONS = (120.0, 120.01)
TEAM_LATS, TEAM_HEADINGS = (60.0, 60.1), (0.0, 180.0)
START_ALT, START_U = 20000 * ac.FT, 800 * ac.FT
STEPS_PER_DECISION = 12
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

# ---- scripted opponents
MANEUVER_ALT, MANEUVER_SPEED = 6096.0, 243.0  #: ShootMissile opponents hold these (m, m/s)
# ---- launch rule
LAUNCH_MAX_AO, LAUNCH_MAX_RANGE = np.deg2rad(45.0), 14000.0
LAUNCH_INTERVAL, MISSILES_PER_AIRCRAFT = 125, 2

#: copies stepped together while missiles fly (8 copies of 2v2 on a loaded machine, decisions/s as a share of
#: the bare-JSBSim bound: 1 -> 13.6%, 2 -> 16.5%, 4 -> 16.0%, 8 -> 9.7%)
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
        self._frame = LocalFrame(np.deg2rad(ORIGIN_LAT), np.deg2rad(ORIGIN_LON))
        # per aircraft: the others in observation order (partners, then enemies)
        team = np.arange(n_air) // n
        self._others = np.array([[j for j in range(n_air) if j != i and team[j] == team[i]]
                                 + [j for j in range(n_air) if team[j] != team[i]] for i in range(n_air)])
        self._enemies = np.array([[j for j in range(n_air) if team[j] != team[i]] for i in range(n_air)])
        E = num_envs
        self._planes: list[list[ac.F16]] = [[None] * n_air for _ in range(E)]
        self._raw = np.zeros((E, n_air, len(ac.STATE_FIELDS)))
        self._pos = np.zeros((E, n_air, 3))
        self._vel = np.zeros((E, n_air, 3))
        self._out = np.zeros((E, n_air), bool)
        self._shot = np.zeros((E, n_air), bool)  #: shot down during the current decision
        self._final_out = np.zeros((E, n_air), bool)  #: out after the last step, before any auto-reset
        self._potential = np.zeros((E, n_air))
        self._start_heading = np.deg2rad(np.repeat(TEAM_HEADINGS, n))
        self._decision = np.zeros(E, np.int64)
        self._last_launch = np.zeros((E, n_air), np.int64)
        self._threat_slot = np.full((E, n_air), -1, np.int64)  #: flat missile slot seen last decision
        self._threat_speed = np.zeros((E, n_air))
        self._missiles = ms.Missiles(E, n_air, MISSILES_PER_AIRCRAFT, 1.0 / ac.PHYSICS_HZ)
        self._history: list[list[np.ndarray]] = [[] for _ in range(E)]
        self._pending: dict[int, np.ndarray] = {}
        self.jsbsim_seconds = 0.0  #: wall time spent in JSBSim's physics steps (its ``run`` calls)

    def step(self, actions):
        """The interface's step; ``info["aircraft_out"]`` (num_envs, aircraft) tells which aircraft were out
        at the end of this step (before any auto-reset): e.g. a win has every team-B aircraft out."""
        s = super().step(actions)
        s.info["aircraft_out"] = self._final_out.copy()
        return s

    # ------------------------------------------------------------------ episode start
    def _reset_copy(self, k: int, seed: int | None) -> None:
        n = self.team_size
        for a in range(self.n_aircraft):
            side, member = divmod(a, n)
            self._planes[k][a] = ac.F16(TEAM_LATS[side], TEAM_LONS[member], START_ALT, TEAM_HEADINGS[side],
                                        START_U)
        self._out[k] = self._shot[k] = False
        self._decision[k] = 0
        self._last_launch[k] = -LAUNCH_INTERVAL
        self._threat_slot[k], self._threat_speed[k] = -1, 0.0
        self._missiles.clear(k)
        self._history[k] = []
        rows = np.array([k])
        self._read(rows)
        self._potential[k] = self._posture(rows)[0]
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
        self._read(rows)
        return self._judge(rows, live, hits)

    def _command(self, rows, act, live) -> None:
        """Write the autopilot targets (or direct commands) of every live aircraft."""
        n = self.team_size
        raw = self._raw[rows]
        alt, heading, speed = raw[..., _F["alt"]].copy(), raw[..., _F["heading"]].copy(), raw[..., _F["vt"]].copy()
        if self.control == "hierarchical":
            alt[:, :n] += ALT_CHANGES[act[:, :, 0]]
            heading[:, :n] += HEADING_CHANGES[act[:, :, 1]]
            speed[:, :n] += SPEED_CHANGES[act[:, :, 2]]
        else:  # direct: bins -> aileron, elevator, rudder in [-1, 1] and throttle in [0.4, 0.9]
            surfaces = -1.0 + 2.0 * act[:, :, :3] / (SURFACE_BINS - 1)
            throttle = THROTTLE_MIN + (THROTTLE_MAX - THROTTLE_MIN) * act[:, :, 3] / (THROTTLE_BINS - 1)
            for r, k in enumerate(rows):
                for a in np.flatnonzero(live[r, :n]):
                    self._planes[k][a].set_direct(*surfaces[r, a], throttle[r, a])
        self._opponent_targets(rows, alt, heading, speed)
        first = 0 if self.control == "hierarchical" else n
        for r, k in enumerate(rows):
            planes = self._planes[k]
            for a in np.flatnonzero(live[r, first:]) + first:
                planes[a].set_targets(alt[r, a], heading[r, a], speed[r, a])

    def _opponent_targets(self, rows, alt, heading, speed) -> None:
        """Team B's targets, in place.  NoWeapon (``pursue``): chase the first live team-A aircraft (A1 while
        it flies): its altitude, the horizontal bearing to it, its speed.  ShootMissile (``maneuver``): hold
        the start heading at 6,096 m and 243 m/s, turning 180 deg while a missile is aimed at the aircraft."""
        n = self.team_size
        out = self._out[rows]
        if self.weapons:
            threatened = self._threats(rows)[0][:, n:] >= 0
            alt[:, n:], speed[:, n:] = MANEUVER_ALT, MANEUVER_SPEED
            heading[:, n:] = self._start_heading[n:] + np.where(threatened, np.pi, 0.0)
            return
        chased = np.argmax(~out[:, :n], axis=1)  # first live team-A aircraft (0 when none: then frozen)
        r = np.arange(rows.size)
        pos, raw = self._pos[rows], self._raw[rows]
        los = pos[r, chased][:, None, :] - pos[:, n:]
        alt[:, n:] = raw[r, chased, _F["alt"]][:, None]
        heading[:, n:] = np.arctan2(los[..., 1], los[..., 0])
        speed[:, n:] = raw[r, chased, _F["vt"]][:, None]

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
        """Twelve physics steps of the live aircraft (and the missiles); returns the hits per (row, shooter)."""
        hits = np.zeros((rows.size, self.n_aircraft), np.int64)
        flying = (self._missiles.status[rows] == ms.FLYING).any(axis=(1, 2))
        t0 = time.perf_counter()
        # without missiles the aircraft do not interact within a decision: each flies its 12 steps in one go
        # (interleaving dozens of JSBSim instances step by step runs several times slower: cache misses)
        for r, k in enumerate(rows):
            if not flying[r]:
                for a in np.flatnonzero(live[r]):
                    run = self._planes[k][a].run
                    for _ in range(STEPS_PER_DECISION):
                        run()
        self.jsbsim_seconds += time.perf_counter() - t0
        # with missiles, a few copies at a time: their aircraft and missiles advance together step by step,
        # the missile arithmetic vectorised over the group, and a dozen or so JSBSim instances stay in cache
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
            t0 = time.perf_counter()
            for r, k in enumerate(rows):
                for a in np.flatnonzero(live[r]):
                    self._planes[k][a].run()
            self.jsbsim_seconds += time.perf_counter() - t0
            self._read(rows)
            slot_hits = self._missiles.step(rows, self._pos[rows], self._vel[rows], ~self._out[rows])
            for r, shooter, slot in zip(*np.nonzero(slot_hits)):
                k = rows[r]
                hits[r, shooter] += 1
                victim = self._missiles.target[k, shooter, slot]
                self._out[k, victim] = self._shot[k, victim] = True
                live[r, victim] = False
        return hits

    # ------------------------------------------------------------------ read-out, judgement, observation
    def _read(self, rows) -> None:
        """Read the aircraft of ``rows`` from JSBSim (those out are no longer stepped, so they read the same);
        update the NED kinematics."""
        raw = ac.read_states([p for k in rows for p in self._planes[k]]).reshape(rows.size, self.n_aircraft, -1)
        self._raw[rows] = raw
        self._pos[rows] = self._frame.ned(raw[..., _F["lat"]], raw[..., _F["lon"]], raw[..., _F["alt"]])
        self._vel[rows] = raw[..., [_F["v_north"], _F["v_east"], _F["v_down"]]]

    def _threats(self, rows):
        """Per aircraft of ``rows``: the flat missile slot of the first (earliest launched) flying missile aimed
        at it, or -1, and that missile's speed."""
        m = self._missiles
        status, target = m.status[rows].reshape(rows.size, -1), m.target[rows].reshape(rows.size, -1)
        order = m.launch_order[rows].reshape(rows.size, -1)
        aimed = (status[:, None, :] == ms.FLYING) & (target[:, None, :] == np.arange(self.n_aircraft)[:, None])
        first = np.argmin(np.where(aimed, order[:, None, :], np.iinfo(np.int64).max), axis=2)
        slot = np.where(aimed.any(axis=2), first, -1)
        speed = np.take_along_axis(m.speed[rows].reshape(rows.size, -1), np.maximum(slot, 0), axis=1)
        return slot, speed

    def _posture(self, rows) -> np.ndarray:
        """Every aircraft's posture potential (summed over its enemies)."""
        pos, vel, en = self._pos[rows], self._vel[rows], self._enemies
        ao, ta, rng, _ = relative(pos[:, :, None], vel[:, :, None], pos[:, en], vel[:, en])
        return rw.posture_potential(ao, ta, rng)

    def _judge(self, rows, live, hits) -> tuple[np.ndarray, np.ndarray]:
        """Terminations and rewards of one decision; writes the observations."""
        n = self.team_size
        raw = self._raw[rows]
        shot = self._shot[rows]
        crash = live & ~shot & rw.crashed(raw[..., _F["alt"]], raw[..., [_F["nx"], _F["ny"], _F["nz"]]],
                                          raw[..., _F["time"]], raw[..., _F["vt"]],
                                          raw[..., [_F["p"], _F["q"], _F["r"]]])
        out = self._out[rows] | crash
        slot, speed = self._threats(rows)
        enemies_out = out[:, self._enemies].all(axis=2)
        out |= enemies_out & (slot < 0)
        self._out[rows] = self._final_out[rows] = out
        # reward terms of the aircraft simulated during this decision
        potential = self._posture(rows)
        reward = (rw.altitude_reward(raw[..., _F["alt"]], raw[..., _F["v_down"]])
                  + rw.POSTURE_WEIGHT * (potential - self._potential[rows])
                  - rw.EVENT_REWARD * (shot | crash))
        self._potential[rows] = potential
        if self.weapons:
            m = self._missiles
            mvel = m.velocity[rows].reshape(rows.size, -1, 3)
            threat_vel = np.take_along_axis(mvel, np.maximum(slot, 0)[..., None], axis=1)
            own = self._vel[rows]
            cos = np.sum(threat_vel * own, -1) / (np.linalg.norm(threat_vel, axis=-1) * np.linalg.norm(own, axis=-1)
                                                  + 1e-8)
            same = (slot >= 0) & (slot == self._threat_slot[rows])
            decrease = np.where(same, self._threat_speed[rows] - speed, 0.0)
            reward += np.where(slot >= 0, rw.missile_posture_reward(cos, decrease), 0.0)
            self._threat_slot[rows], self._threat_speed[rows] = slot, speed
        # an aircraft out before this decision gets 0, except the +200 of its missiles still flying
        reward = np.where(live, reward, 0.0) + rw.EVENT_REWARD * hits
        self._decision[rows] += 1
        self._observe(rows)
        return reward[:, :n].mean(axis=1), out[:, :n].all(axis=1)

    def _observe(self, rows) -> None:
        """Observations of every aircraft of ``rows`` (27 entries in 2v2, 33 with missiles), the agents' rows and
        the global state (all aircraft's observations), clipped to [-10, 10] (NaN read as 0)."""
        raw, pos, vel = self._raw[rows], self._pos[rows], self._vel[rows]
        n_air, n = self.n_aircraft, self.team_size
        s = rw.SPEED_SCALE
        own = np.stack([raw[..., _F["alt"]] / 5000.0, np.sin(raw[..., _F["roll"]]), np.cos(raw[..., _F["roll"]]),
                        np.sin(raw[..., _F["pitch"]]), np.cos(raw[..., _F["pitch"]]), raw[..., _F["u"]] / s,
                        raw[..., _F["v"]] / s, raw[..., _F["w"]] / s, raw[..., _F["vc"]] / s], axis=-1)
        parts = [own, self._relative_obs(pos[:, :, None], vel[:, :, None], pos[:, self._others],
                                         vel[:, self._others]).reshape(rows.size, n_air, -1)]
        if self.weapons:
            slot, _ = self._threats(rows)
            mpos = self._missiles.pos[rows].reshape(rows.size, -1, 3)
            mvel = self._missiles.velocity[rows].reshape(rows.size, -1, 3)
            idx = np.maximum(slot, 0)[..., None]
            m_obs = self._relative_obs(pos, vel, np.take_along_axis(mpos, idx, 1), np.take_along_axis(mvel, idx, 1))
            parts.append(np.where((slot >= 0)[..., None], m_obs, 0.0))
        # a model that blew up (an "extreme state", then frozen) must not put NaN into the others' inputs
        obs = np.clip(np.nan_to_num(np.concatenate(parts, axis=-1)), -10.0, 10.0).astype(np.float32)
        for i in range(n):
            self._obs[i][rows] = obs[:, i]
        self._state[rows] = obs.reshape(rows.size, -1)

    @staticmethod
    def _relative_obs(own_pos, own_vel, pos, vel) -> np.ndarray:
        """delta speed / 340, delta altitude / 1 km, AO, TA, range / 10 km, side (trailing axis of 6)."""
        ao, ta, rng, side = relative(own_pos, own_vel, pos, vel)
        dv = (np.linalg.norm(vel, axis=-1) - np.linalg.norm(own_vel, axis=-1)) / rw.SPEED_SCALE
        dh = (own_pos[..., 2] - pos[..., 2]) / 1000.0
        return np.stack([dv, dh, ao, ta, rng / 10000.0, side], axis=-1)

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
