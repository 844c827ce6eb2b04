"""The agents' observations: per aircraft its own flight state, then its relation to every other aircraft
(partners, then enemies) and, with missiles, to the first missile aimed at it (27 entries in 2v2, 33 with
missiles), clipped to [-10, 10] with NaN read as 0.
"""
from __future__ import annotations

import numpy as np

from .aircraft import FIELD as _F
from .geometry import relative
from .rewards import SPEED_SCALE


def observations(raw, pos, vel, others, threat=None) -> np.ndarray:
    """(rows, aircraft, obs_dim) float32 observations from the raw states ``raw``, NED positions ``pos`` and
    velocities ``vel`` (rows, aircraft, ...); ``others[i]`` lists the aircraft aircraft ``i`` observes, in
    order.  With weapons, ``threat = (slot, missile_pos, missile_vel)``: per aircraft the flat slot of the
    missile aimed at it (-1: none) and every slot's position and velocity (rows, slots, 3)."""
    s = SPEED_SCALE
    rows, n_air = raw.shape[:2]
    own = np.stack([raw[..., _F["alt"]] / 5000.0, np.sin(raw[..., _F["roll"]]), np.cos(raw[..., _F["roll"]]),
                    np.sin(raw[..., _F["pitch"]]), np.cos(raw[..., _F["pitch"]]), raw[..., _F["u"]] / s,
                    raw[..., _F["v"]] / s, raw[..., _F["w"]] / s, raw[..., _F["vc"]] / s], axis=-1)
    parts = [own, relative_obs(pos[:, :, None], vel[:, :, None], pos[:, others],
                               vel[:, others]).reshape(rows, n_air, -1)]
    if threat is not None:
        slot, mpos, mvel = threat
        idx = np.maximum(slot, 0)[..., None]
        m_obs = relative_obs(pos, vel, np.take_along_axis(mpos, idx, 1), np.take_along_axis(mvel, idx, 1))
        parts.append(np.where((slot >= 0)[..., None], m_obs, 0.0))
    # a model that blew up (an "extreme state", then frozen) must not put NaN into the others' inputs
    return np.clip(np.nan_to_num(np.concatenate(parts, axis=-1)), -10.0, 10.0).astype(np.float32)


def relative_obs(own_pos, own_vel, pos, vel) -> np.ndarray:
    """delta speed / 340, delta altitude / 1 km, AO, TA, range / 10 km, side (trailing axis of 6)."""
    ao, ta, rng, side = relative(own_pos, own_vel, pos, vel)
    dv = (np.linalg.norm(vel, axis=-1) - np.linalg.norm(own_vel, axis=-1)) / SPEED_SCALE
    dh = (own_pos[..., 2] - pos[..., 2]) / 1000.0
    return np.stack([dv, dh, ao, ta, rng / 10000.0, side], axis=-1)
