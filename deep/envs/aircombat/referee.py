"""Rewards and terminations of each decision (the terms are :mod:`.rewards`'), with the memory they need.

An aircraft is out once shot down, crashed, or with every enemy out and no missile inbound.  Each aircraft
earns the altitude term, the change of its posture potential and, with a missile inbound, the
missile-posture term; the decision on which it is shot down or crashes pays -200, and each hit of its own
missiles +200, also once it is out.  Otherwise an aircraft out before the decision earns 0.
"""
from __future__ import annotations

import numpy as np

from . import rewards as rw
from .aircraft import FIELD as _F
from .geometry import relative


class Referee:
    """Per (copy, aircraft): the last decision's posture potential and the missile seen coming then (its flat
    slot, -1 for none, and its speed), which the next decision's reward terms compare against."""

    def __init__(self, num_envs: int, enemies: np.ndarray, weapons: bool):
        n_air = len(enemies)
        self.enemies, self.weapons = enemies, weapons  #: enemies[i]: the aircraft aircraft i fights
        self.potential = np.zeros((num_envs, n_air))
        self.threat_slot = np.full((num_envs, n_air), -1, np.int64)
        self.threat_speed = np.zeros((num_envs, n_air))

    def reset(self, k: int, pos, vel) -> None:
        """Copy ``k``'s episode starts with aircraft at ``pos``, ``vel`` (1, aircraft, 3)."""
        self.threat_slot[k], self.threat_speed[k] = -1, 0.0
        self.potential[k] = self.posture(pos, vel)[0]

    def posture(self, pos, vel) -> np.ndarray:
        """Every aircraft's posture potential (summed over its enemies)."""
        en = self.enemies
        ao, ta, rng, _ = relative(pos[:, :, None], vel[:, :, None], pos[:, en], vel[:, en])
        return rw.posture_potential(ao, ta, rng)

    def outs(self, raw, live, shot, out, slot):
        """``(crash, out)`` after a decision: which live aircraft crashed (not shot down) and which aircraft are
        out now, given ``out`` before (plus those shot down) and the inbound missile slots ``slot``."""
        crash = live & ~shot & rw.crashed(raw[..., _F["alt"]], raw[..., [_F["nx"], _F["ny"], _F["nz"]]],
                                          raw[..., _F["time"]], raw[..., _F["vt"]],
                                          raw[..., [_F["p"], _F["q"], _F["r"]]])
        out = out | crash
        enemies_out = out[:, self.enemies].all(axis=2)
        out |= enemies_out & (slot < 0)
        return crash, out

    def rewards(self, rows, raw, pos, vel, live, lost, hits, threat=None) -> np.ndarray:
        """Per (row, aircraft) reward of one decision of copies ``rows``: ``live`` the aircraft simulated in it,
        ``lost`` those shot down or crashed in it, ``hits`` the hits per shooter; with weapons, ``threat =
        (slot, speed, missile_velocity)`` the inbound missile per aircraft, its speed and every slot's
        velocity (rows, slots, 3).  Remembers this decision's potential and threats."""
        potential = self.posture(pos, vel)
        reward = (rw.altitude_reward(raw[..., _F["alt"]], raw[..., _F["v_down"]])
                  + rw.POSTURE_WEIGHT * (potential - self.potential[rows])
                  - rw.EVENT_REWARD * lost)
        self.potential[rows] = potential
        if threat is not None:
            slot, speed, mvel = threat
            threat_vel = np.take_along_axis(mvel, np.maximum(slot, 0)[..., None], axis=1)
            cos = np.sum(threat_vel * vel, -1) / (np.linalg.norm(threat_vel, axis=-1) * np.linalg.norm(vel, axis=-1)
                                                  + 1e-8)
            same = (slot >= 0) & (slot == self.threat_slot[rows])
            decrease = np.where(same, self.threat_speed[rows] - speed, 0.0)
            reward += np.where(slot >= 0, rw.missile_posture_reward(cos, decrease), 0.0)
            self.threat_slot[rows], self.threat_speed[rows] = slot, speed
        # an aircraft out before this decision gets 0, except the +200 of its missiles still flying
        return np.where(live, reward, 0.0) + rw.EVENT_REWARD * hits
