"""The JSBSim side of a batch: one :class:`~.aircraft.F16` per aircraft and copy, their raw states and
north-east-down kinematics, and the start set-up (``docs/simulators/aircombat.md``).

Aircraft order in every array: team A (the learning agents) then team B (the scripted opponents).
"""
from __future__ import annotations

import time

import numpy as np

from . import aircraft as ac
from .geometry import LocalFrame

# ---- set-up: geodetic origin, start positions, 20,000 ft, u = 800 ft/s, head-on
ORIGIN_LON, ORIGIN_LAT = 120.0, 60.0
TEAM_LONS = (120.0, 120.01)
TEAM_LATS, TEAM_HEADINGS = (60.0, 60.1), (0.0, 180.0)
START_ALT, START_U = 20000 * ac.FT, 800 * ac.FT
STEPS_PER_DECISION = 12

_F = ac.FIELD


class Fleet:
    """Every copy's aircraft: ``planes[k][a]``, and per (copy, aircraft) the raw :data:`~.aircraft.STATE_FIELDS`
    (``raw``), NED position ``pos`` and velocity ``vel``, updated in place by :meth:`read`.
    ``jsbsim_seconds`` is the wall time spent in JSBSim's physics steps (its ``run`` calls)."""

    def __init__(self, num_envs: int, team_size: int):
        self.team_size, self.n_aircraft = team_size, 2 * team_size
        E, n_air = num_envs, self.n_aircraft
        self.planes: list[list[ac.F16]] = [[None] * n_air for _ in range(E)]
        self.raw = np.zeros((E, n_air, len(ac.STATE_FIELDS)))
        self.pos = np.zeros((E, n_air, 3))
        self.vel = np.zeros((E, n_air, 3))
        self.frame = LocalFrame(np.deg2rad(ORIGIN_LAT), np.deg2rad(ORIGIN_LON))
        self.start_heading = np.deg2rad(np.repeat(TEAM_HEADINGS, team_size))
        self.jsbsim_seconds = 0.0

    def spawn(self, k: int) -> None:
        """New aircraft for copy ``k`` at the start positions (not yet read)."""
        n = self.team_size
        for a in range(self.n_aircraft):
            side, member = divmod(a, n)
            self.planes[k][a] = ac.F16(TEAM_LATS[side], TEAM_LONS[member], START_ALT, TEAM_HEADINGS[side],
                                       START_U)

    def read(self, rows) -> None:
        """Read the aircraft of ``rows`` from JSBSim (those out are no longer stepped, so they read the same);
        update the NED kinematics."""
        raw = ac.read_states([p for k in rows for p in self.planes[k]]).reshape(rows.size, self.n_aircraft, -1)
        self.raw[rows] = raw
        self.pos[rows] = self.frame.ned(raw[..., _F["lat"]], raw[..., _F["lon"]], raw[..., _F["alt"]])
        self.vel[rows] = raw[..., [_F["v_north"], _F["v_east"], _F["v_down"]]]

    def set_targets(self, rows, live, alt, heading, speed, first: int) -> None:
        """Autopilot targets of the live aircraft numbered ``first`` and on."""
        for r, k in enumerate(rows):
            planes = self.planes[k]
            for a in np.flatnonzero(live[r, first:]) + first:
                planes[a].set_targets(alt[r, a], heading[r, a], speed[r, a])

    def set_direct(self, rows, live, surfaces, throttle) -> None:
        """Direct commands (aileron, elevator, rudder; throttle) of team A's live aircraft."""
        n = self.team_size
        for r, k in enumerate(rows):
            for a in np.flatnonzero(live[r, :n]):
                self.planes[k][a].set_direct(*surfaces[r, a], throttle[r, a])

    def fly_decision(self, rows, live) -> None:
        """A whole decision (12 physics steps) of each live aircraft of ``rows``, one aircraft after the other:
        without missiles the aircraft do not interact within a decision, and interleaving dozens of JSBSim
        instances step by step is slower: each switch evicts the last one's data from the CPU caches."""
        t0 = time.perf_counter()
        for r, k in enumerate(rows):
            for a in np.flatnonzero(live[r]):
                run = self.planes[k][a].run
                for _ in range(STEPS_PER_DECISION):
                    run()
        self.jsbsim_seconds += time.perf_counter() - t0

    def physics_step(self, rows, live) -> None:
        """One physics step of each live aircraft of ``rows``."""
        t0 = time.perf_counter()
        for r, k in enumerate(rows):
            for a in np.flatnonzero(live[r]):
                self.planes[k][a].run()
        self.jsbsim_seconds += time.perf_counter() - t0
