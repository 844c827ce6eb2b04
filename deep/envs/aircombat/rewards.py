"""Reward terms and termination conditions of LAG's 2v2 tasks (``docs/simulators/aircombat.md``), vectorised.

Every function takes arrays (any shape) in SI units and returns per-aircraft values.  The environment sums
the terms per aircraft, pays an aircraft that was already out before the decision 0, and gives the learning
agents their team's mean.  The reference's two defects are avoided by construction:

1. The event reward reaches the learning team: the decision on which an aircraft is shot down or crashes
   pays it -200 (only *later* decisions pay 0), and a launcher's +200 is read from the hit events of the
   physics steps of that decision, not from a missile status that the reference relabels a miss one
   physics step after the hit.
2. The missile-posture speed change is the real change: the previous missile speed is a copy taken at the
   previous decision (the reference's "previous" velocity aliases the live array, so its change is always 0
   and the term reduces to min(c, 0)).
"""
from __future__ import annotations

import numpy as np

SPEED_SCALE = 340.0  #: m/s, the reference's speed normalisation (about Mach 1 at sea level)
#: altitude reward: safe altitude 4 km, danger altitude 3.5 km, vertical-speed scale Kv = 0.2 (docs/simulators/aircombat.md)
SAFE_ALT_KM, DANGER_ALT_KM, KV = 4.0, 3.5, 0.2
POSTURE_WEIGHT = 15.0  #: weight of the posture reward's change per decision
MISSILE_POSTURE_SCALE = 30.0  #: scale of the missile's speed decrease (in units of 340 m/s) in its term
EVENT_REWARD = 200.0  #: -200 shot down, -200 crash, +200 per own missile hit
#: terminations: floor 2,500 m; 10 g on any axis after the first 10 s; the reference's "extreme state"
MIN_ALTITUDE, MAX_G, G_GRACE_S = 2500.0, 10.0, 10.0
EXTREME_SPEED, EXTREME_RATE = 1e10 * 0.3048, 1000.0  # 1e10 ft/s in m/s; rad/s


def altitude_reward(alt_m, v_down_mps):
    """-clip((v_down / 340) / Kv * (4 - h) / 4, 0, 1) below 4 km, plus clip(h / 3.5, 0, 1) - 2 below 3.5 km
    (h in km): punishes diving towards the ground and flying low."""
    h = np.asarray(alt_m) / 1000.0
    dive = -np.clip(np.asarray(v_down_mps) / SPEED_SCALE / KV * (SAFE_ALT_KM - h) / SAFE_ALT_KM, 0.0, 1.0)
    low = np.clip(h / DANGER_ALT_KM, 0.0, 1.0) - 2.0
    return np.where(h <= SAFE_ALT_KM, dive, 0.0) + np.where(h <= DANGER_ALT_KM, low, 0.0)


def orientation_score(ao, ta):
    """O = 1 / (50 AO / pi + 2) + 1 + min(artanh(1 - max(2 TA / pi, 1e-4)) / (2 pi), 0).  The reference
    guards artanh's pole at TA = 0 only; TA = pi (the other aircraft flying straight at us) would give -inf,
    so 2 TA / pi is also kept below 2 - 1e-4 (the same margin at the other pole)."""
    x = 1.0 - np.clip(2.0 * np.asarray(ta) / np.pi, 1e-4, 2.0 - 1e-4)
    return 1.0 / (50.0 * np.asarray(ao) / np.pi + 2.0) + 1.0 + np.minimum(np.arctanh(x) / (2.0 * np.pi), 0.0)


def range_score(range_m):
    """Rg = 1 within 5 km, else clip(-0.032 R^2 + 0.284 R + 0.38, 0, 1); plus clip(exp(-0.16 R), 0, 0.2)
    (R in km)."""
    r = np.asarray(range_m) / 1000.0
    far = np.clip(-0.032 * r ** 2 + 0.284 * r + 0.38, 0.0, 1.0)
    return np.where(r < 5.0, 1.0, far) + np.clip(np.exp(-0.16 * r), 0.0, 0.2)


def posture_potential(ao, ta, range_m, axis=-1):
    """The posture score summed over enemies (along ``axis``); the reward is 15 times its change."""
    return np.sum(orientation_score(ao, ta) * range_score(range_m), axis=axis)


def missile_posture_reward(cos_angle, missile_speed_decrease_mps):
    """With c the cosine between the threatening missile's velocity and own velocity and dv = 30 x the
    missile's speed decrease since the previous decision / 340 (clipped at 0, as in the reference):
    c / (dv + 1) if c < 0 (flying towards the missile) else c * dv (flying away while it slows).

    docs/simulators/aircombat.md words dv as "the change of own speed"; the reference code (whose defect the spec describes:
    the previous velocity aliasing the live array) takes the *missile's* speed decrease, which is what the
    term rewards (making the missile bleed speed), so that is what is implemented."""
    c = np.asarray(cos_angle)
    dv = np.maximum(MISSILE_POSTURE_SCALE * np.asarray(missile_speed_decrease_mps) / SPEED_SCALE, 0.0)
    return np.where(c < 0.0, c / (dv + 1.0), c * dv)


def crashed(alt_m, n_pilot, time_s, speed_mps, body_rates):
    """Per aircraft: altitude <= 2,500 m; more than 10 g on any pilot axis after the first 10 s (the vertical
    axis without its 1 g of level flight, JSBSim's n-pilot-z being -1 there, as the reference does); an
    extreme state (speed >= 1e10 ft/s, a body rate >= 1000 rad/s, or a non-finite value).  ``n_pilot`` and
    ``body_rates`` have a trailing axis of 3."""
    load = np.abs(np.asarray(n_pilot) + np.array([0.0, 0.0, 1.0]))
    overload = (np.asarray(time_s) > G_GRACE_S) & np.any(load > MAX_G, axis=-1)
    extreme = ((np.asarray(speed_mps) >= EXTREME_SPEED) | np.any(np.abs(body_rates) >= EXTREME_RATE, axis=-1)
               | ~np.isfinite(speed_mps) | ~np.all(np.isfinite(body_rates), axis=-1))
    return (np.asarray(alt_m) <= MIN_ALTITUDE) | overload | extreme
