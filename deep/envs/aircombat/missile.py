"""The reference's point-mass AIM-9L with proportional navigation, vectorised over every missile of a batch.

Constants are docs/simulators/aircombat.md's (the public reference's ``MissileSimulator``): 84 kg; a 3 s burn at 6 kg/s with
specific impulse 120 s (thrust g * 120 * 6 = 7.06 kN); drag 0.5 * 0.4 * S * rho * v^2 with S = pi d^2 / 4
(d = 0.127 m) plus |(sin dtheta/dt, sin dpsi/dt)| * d * L (L = 2.87 m, the turn-rate term); rho = 1.225
exp(-h / 9300 m); proportional navigation with gain 3 (60 - t) / 60 and at most 30 g.  Integration is the
reference's explicit Euler at the physics rate (60 Hz): each step first checks hit (range < 300 m) and
miss (flight time > 60 s, speed < 150 m/s, range increasing for 5 s, target already down), then moves the
missile with its old velocity and updates speed, flight-path angle and heading.

Positions and velocities are in the environment's north-east-down frame; the guidance formulas use height
(up = -down) for both the missile and its target (the reference mixes up-positions with down-velocities).
Differences from the reference, chosen for clarity: the launch direction is the launcher's velocity
vector (the reference takes its body attitude, a few degrees of angle of attack away), and the motor burns
for exactly 180 physics steps (the reference compares an accumulated float time with 3 s).
"""
from __future__ import annotations

import numpy as np

G = 9.81  #: m/s^2, as in the reference
T_MAX, T_BURN = 60.0, 3.0  #: s, flight-time limit and burn time
ISP, MASS_FLOW, MASS0 = 120.0, 6.0, 84.0  #: s, kg/s, kg
LENGTH, DIAMETER, CD = 2.87, 0.127, 0.4  #: m, m, drag coefficient
K_PN, MAX_LOAD = 3.0, 30.0  #: navigation gain at launch, load limit (g)
HIT_RADIUS, MIN_SPEED = 300.0, 150.0  #: m, m/s
RECEDING_S = 5.0  #: s of continuously increasing range after which the missile has missed
THRUST = G * ISP * MASS_FLOW

NONE, FLYING, HIT, MISS = 0, 1, 2, 3  #: missile status


def air_density(alt_m):
    """The reference's exponential atmosphere, kg/m^3."""
    return 1.225 * np.exp(-np.asarray(alt_m) / 9300.0)


class Missiles:
    """All missile slots of a batch: shape ``(num_envs, n_aircraft, per_aircraft)``, slot ``[e, a, j]`` being
    aircraft ``a``'s ``j``-th launch in copy ``e``."""

    def __init__(self, num_envs: int, n_aircraft: int, per_aircraft: int, dt: float):
        shape = (num_envs, n_aircraft, per_aircraft)
        self.dt = dt
        self.burn_steps = int(round(T_BURN / dt))
        self.receding_steps = int(round(RECEDING_S / dt))
        self.status = np.zeros(shape, np.int8)
        self.target = np.zeros(shape, np.int64)
        self.launch_order = np.zeros(shape, np.int64)  #: per copy, increasing with each launch
        self.pos = np.zeros(shape + (3,))
        self.speed = np.zeros(shape)
        self.gamma = np.zeros(shape)  #: flight-path angle, up positive
        self.psi = np.zeros(shape)  #: heading
        self.steps = np.zeros(shape, np.int64)  #: physics steps flown
        self.mass = np.zeros(shape)
        self.gamma_rate = np.zeros(shape)
        self.psi_rate = np.zeros(shape)
        self.prev_range = np.zeros(shape)
        self.receding = np.zeros(shape, np.int64)  #: consecutive steps of increasing range
        self.n_launched = np.zeros(num_envs, np.int64)

    def clear(self, env: int) -> None:
        """Forget copy ``env``'s missiles (a new episode)."""
        self.status[env] = NONE
        self.n_launched[env] = 0

    @property
    def velocity(self) -> np.ndarray:
        """NED velocity of every slot."""
        cg = np.cos(self.gamma)
        return self.speed[..., None] * np.stack([cg * np.cos(self.psi), cg * np.sin(self.psi),
                                                 -np.sin(self.gamma)], axis=-1)

    def threats(self, rows):
        """Per (row, aircraft) of copies ``rows``: the flat slot of the first (earliest launched) flying missile
        aimed at it, or -1, and that missile's speed."""
        n_rows, n_aircraft = rows.size, self.status.shape[1]
        status, target = self.status[rows].reshape(n_rows, -1), self.target[rows].reshape(n_rows, -1)
        order = self.launch_order[rows].reshape(n_rows, -1)
        aimed = (status[:, None, :] == FLYING) & (target[:, None, :] == np.arange(n_aircraft)[:, None])
        first = np.argmin(np.where(aimed, order[:, None, :], np.iinfo(np.int64).max), axis=2)
        slot = np.where(aimed.any(axis=2), first, -1)
        speed = np.take_along_axis(self.speed[rows].reshape(n_rows, -1), np.maximum(slot, 0), axis=1)
        return slot, speed

    def launch(self, env: int, shooter: int, slot: int, target: int, pos, vel) -> None:
        """Fire slot ``[env, shooter, slot]`` at ``target`` from position ``pos`` with velocity ``vel``."""
        i = (env, shooter, slot)
        speed = float(np.linalg.norm(vel))
        self.status[i], self.target[i] = FLYING, target
        self.launch_order[i] = self.n_launched[env]
        self.n_launched[env] += 1
        self.pos[i] = pos
        self.speed[i] = speed
        self.gamma[i] = np.arcsin(np.clip(-vel[2] / speed, -1.0, 1.0))
        self.psi[i] = np.arctan2(vel[1], vel[0])
        self.steps[i], self.mass[i] = 0, MASS0
        self.gamma_rate[i] = self.psi_rate[i] = 0.0
        self.prev_range[i], self.receding[i] = np.inf, 0

    def step(self, rows: np.ndarray, target_pos: np.ndarray, target_vel: np.ndarray,
             target_alive: np.ndarray) -> np.ndarray:
        """One physics step of the flying missiles of copies ``rows`` against their targets (``target_*``:
        ``(rows.size, n_aircraft, ...)`` NED positions and velocities, and whether each aircraft still
        flies); returns ``(rows.size, n_aircraft, per_aircraft)``: the slots that hit on this step."""
        hits = np.zeros((rows.size,) + self.status.shape[1:], bool)
        r, a, j = np.nonzero(self.status[rows] == FLYING)
        if r.size == 0:
            return hits
        e = rows[r]
        tgt = self.target[e, a, j]
        self.steps[e, a, j] += 1
        t = self.steps[e, a, j] * self.dt
        pos, v = self.pos[e, a, j], self.speed[e, a, j]
        gamma, psi = self.gamma[e, a, j], self.psi[e, a, j]
        cg = np.cos(gamma)
        vel = v[:, None] * np.stack([cg * np.cos(psi), cg * np.sin(psi), -np.sin(gamma)], axis=-1)
        # line of sight in (north, east, up)
        d = target_pos[r, tgt] - pos
        dv = target_vel[r, tgt] - vel
        dx, dy, dz = d[:, 0], d[:, 1], -d[:, 2]
        dvx, dvy, dvz = dv[:, 0], dv[:, 1], -dv[:, 2]
        rxy2 = np.maximum(dx * dx + dy * dy, 1e-12)  # guards a target exactly above or below
        rng = np.sqrt(rxy2 + dz * dz)
        receding = np.where(rng > self.prev_range[e, a, j], self.receding[e, a, j] + 1, 0)
        self.receding[e, a, j], self.prev_range[e, a, j] = receding, rng
        alive = target_alive[r, tgt]
        hit = (rng < HIT_RADIUS) & alive
        miss = ~hit & ((t > T_MAX) | (v < MIN_SPEED) | (receding >= self.receding_steps) | ~alive)
        self.status[e[hit], a[hit], j[hit]] = HIT
        self.status[e[miss], a[miss], j[miss]] = MISS
        hits[r[hit], a[hit], j[hit]] = True
        fly = ~(hit | miss)
        e, a, j = e[fly], a[fly], j[fly]
        if e.size == 0:
            return hits
        t, v, gamma, psi, cg, vel = t[fly], v[fly], gamma[fly], psi[fly], cg[fly], vel[fly]
        dx, dy, dz, dvx, dvy, dvz, rxy2, rng = (x[fly] for x in (dx, dy, dz, dvx, dvy, dvz, rxy2, rng))
        # proportional navigation: line-of-sight azimuth and elevation rates
        rxy = np.sqrt(rxy2)
        beta_rate = (dvy * dx - dvx * dy) / rxy2
        eps_rate = (dvz * rxy2 - dz * (dx * dvx + dy * dvy)) / (rng * rng * rxy)
        gain = np.maximum(K_PN * (T_MAX - t) / T_MAX, 0.0) * v / G
        n_y = np.clip(gain * cg * beta_rate, -MAX_LOAD, MAX_LOAD)
        n_z = np.clip(gain * eps_rate + cg, -MAX_LOAD, MAX_LOAD)
        # dynamics (explicit Euler, position first with the old velocity)
        self.pos[e, a, j] += self.dt * vel
        burning = self.steps[e, a, j] <= self.burn_steps
        area = np.pi * DIAMETER ** 2 / 4 + np.hypot(np.sin(self.gamma_rate[e, a, j]),
                                                    np.sin(self.psi_rate[e, a, j])) * DIAMETER * LENGTH
        drag = 0.5 * CD * area * air_density(-self.pos[e, a, j, 2]) * v * v
        mass = self.mass[e, a, j]
        n_x = (np.where(burning, THRUST, 0.0) - drag) / (mass * G)
        psi_rate = G / v * n_y / cg
        gamma_rate = G / v * (n_z - cg)
        self.speed[e, a, j] = v + self.dt * G * (n_x - np.sin(gamma))
        self.psi[e, a, j] = psi + self.dt * psi_rate
        self.gamma[e, a, j] = gamma + self.dt * gamma_rate
        self.psi_rate[e, a, j], self.gamma_rate[e, a, j] = psi_rate, gamma_rate
        self.mass[e, a, j] = np.where(burning, mass - self.dt * MASS_FLOW, mass)
        return hits
