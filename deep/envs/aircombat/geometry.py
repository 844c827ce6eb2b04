"""Coordinates and relative geometry, vectorised over any leading axes.

One frame throughout: a local north-east-down (NED) tangent frame at the task's geodetic origin (120 E,
60 N, sea level) for positions, and JSBSim's north-east-down velocities (the reference mixes a
north-east-*up* position frame with north-east-down velocities; docs/simulators/aircombat.md).
"""
from __future__ import annotations

import numpy as np

#: WGS-84 semi-major axis (m) and first eccentricity squared (JSBSim's geodetic model is WGS-84)
WGS84_A, WGS84_E2 = 6378137.0, 6.69437999014e-3


def _ecef(lat, lon, alt):
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    return np.stack([(n + alt) * np.cos(lat) * np.cos(lon), (n + alt) * np.cos(lat) * np.sin(lon),
                     (n * (1.0 - WGS84_E2) + alt) * np.sin(lat)], axis=-1)


class LocalFrame:
    """Geodetic (radians, metres) to NED metres about ``(lat0, lon0, alt0)``."""

    def __init__(self, lat0: float, lon0: float, alt0: float = 0.0):
        self.origin = _ecef(np.float64(lat0), np.float64(lon0), np.float64(alt0))
        sl, cl, so, co = np.sin(lat0), np.cos(lat0), np.sin(lon0), np.cos(lon0)
        self.rotation = np.array([[-sl * co, -sl * so, cl], [-so, co, 0.0], [-cl * co, -cl * so, -sl]])

    def ned(self, lat, lon, alt) -> np.ndarray:
        """NED positions, shape ``lat.shape + (3,)``."""
        return (_ecef(lat, lon, alt) - self.origin) @ self.rotation.T


def relative(own_pos, own_vel, other_pos, other_vel):
    """AO, TA, range and side of ``other`` seen from ``own`` (arrays of 3-vectors, broadcast together).

    AO is the angle between own velocity and the line of sight to the other, TA the angle between the
    other's velocity and the same line, side the sign of the horizontal cross product of own velocity and
    the line of sight (+1: the other is to the right, in NED).  As in the reference, 1e-8 guards the
    divisions by zero speed or range."""
    los = other_pos - own_pos
    rng = np.linalg.norm(los, axis=-1)
    own_speed = np.linalg.norm(own_vel, axis=-1)
    other_speed = np.linalg.norm(other_vel, axis=-1)
    ao = np.arccos(np.clip(np.sum(los * own_vel, -1) / (rng * own_speed + 1e-8), -1.0, 1.0))
    ta = np.arccos(np.clip(np.sum(los * other_vel, -1) / (rng * other_speed + 1e-8), -1.0, 1.0))
    side = np.sign(own_vel[..., 0] * los[..., 1] - own_vel[..., 1] * los[..., 0])
    return ao, ta, rng, side
