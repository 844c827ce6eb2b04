"""The scripted team-B opponents (the reference's baseline agents), as autopilot targets.

NoWeapon (``pursue``): chase the first live team-A aircraft (A1 while it flies): its altitude, the horizontal
bearing to it, its speed.  ShootMissile (``maneuver``): hold the start heading at 6,096 m and 243 m/s,
turning 180 deg while a missile is aimed at the aircraft.  Their shoot flag is always on (the launch rule
decides).
"""
from __future__ import annotations

import numpy as np

from .aircraft import FIELD as _F

MANEUVER_ALT, MANEUVER_SPEED = 6096.0, 243.0  #: ShootMissile opponents hold these (m, m/s)


def opponent_targets(team_size: int, weapons: bool, out, raw, pos, start_heading, threatened,
                     alt, heading, speed) -> None:
    """Write team B's targets into ``alt``, ``heading`` and ``speed`` (rows, aircraft), in place.

    ``out`` (rows, aircraft) marks the aircraft that are out; ``raw`` and ``pos`` are the rows' raw states and
    NED positions; ``start_heading`` each aircraft's start heading; ``threatened`` (rows, team B) whether a
    missile is aimed at each team-B aircraft (used with weapons only).
    """
    n = team_size
    if weapons:
        alt[:, n:], speed[:, n:] = MANEUVER_ALT, MANEUVER_SPEED
        heading[:, n:] = start_heading[n:] + np.where(threatened, np.pi, 0.0)
        return
    chased = np.argmax(~out[:, :n], axis=1)  # first live team-A aircraft (0 when none: then frozen)
    r = np.arange(len(out))
    los = pos[r, chased][:, None, :] - pos[:, n:]
    alt[:, n:] = raw[r, chased, _F["alt"]][:, None]
    heading[:, n:] = np.arctan2(los[..., 1], los[..., 0])
    speed[:, n:] = raw[r, chased, _F["vt"]][:, None]
