"""The low-level controller: a classical cascaded autopilot that turns (altitude, heading, speed) targets into
aileron, elevator, rudder and throttle commands for JSBSim's F-16.

It is written as a JSBSim ``<system>`` (PID and gain components in JSBSim's own flight-control language), so
it runs inside JSBSim's C++ loop at the physics rate (60 Hz) before the F-16's fly-by-wire channels, at no
Python cost per physics step; the environment only writes three targets per aircraft and decision.  The F-16
model's fly-by-wire already turns the stick into a roll-rate command (aileron) and a pitch-rate/g command
(elevator) with a yaw damper (rudder), so the autopilot only closes the outer loops:

- heading -> bank: bank command = clip(K_HEADING * wrapped heading error, +-MAX_BANK); aileron (a roll-rate
  command) = K_BANK * (bank command - bank) - K_ROLL_RATE * p.  Rudder stays 0 (the F-16's yaw damper
  coordinates the turn).
- altitude -> flight-path angle -> elevator: gamma command = clip(K_ALTITUDE * altitude error, +-MAX_GAMMA);
  elevator = -(PI loop on the gamma error + K_TURN_LOAD * (1 / cos(bank) - 1)), the second term feeding
  forward a level turn's extra load (negative elevator pulls up in JSBSim; the F-16's g-command loop does
  the rest).
- speed -> throttle: acceleration command K_SPEED * speed error; throttle = trim + PI loop on (acceleration
  command - measured acceleration), clipped to the reference's throttle range [0.4, 0.9] (docs/simulators/aircombat.md).

Gains were tuned by hand on step responses at the task's flight condition (6,096 m, 244 m/s; the tests
bound the settling times); the hierarchical action re-issues targets at most 0.1 km, pi/6 and
17 m/s away from the current state, so the loops mostly work in their linear range.  The turn rate is
bounded by the 60 deg bank limit (about 3.5 deg/s here), and slowing down by the reference's throttle floor.
With ``ap/engaged`` = 0 the direct-control inputs ``ap/direct-*`` pass straight to the F-16's stick and
throttle (the direct-control action option).
"""
from __future__ import annotations

import numpy as np

#: heading error -> bank command (rad/rad), and the bank limit (rad): 60 deg gives a 3.8 g level turn
K_HEADING, MAX_BANK = 8.0, np.deg2rad(60.0)
#: bank error -> normalised roll-rate command, and roll-rate damping (per rad/s)
K_BANK, K_ROLL_RATE = 1.0, 0.15
#: altitude error (ft) -> flight-path angle command (rad), and its limit (rad)
K_ALTITUDE, MAX_GAMMA = 0.0006, np.deg2rad(25.0)
#: flight-path angle error -> elevator (PI), and the turn-load feed-forward gain
KP_GAMMA, KI_GAMMA, K_TURN_LOAD = 4.0, 1.0, 0.05
#: speed error (ft/s) -> acceleration command (ft/s^2); acceleration error -> throttle (PI); the throttle
#: that holds the start condition, so that the integrator starts near its steady value
K_SPEED, KP_ACCEL, KI_ACCEL, THROTTLE_TRIM = 0.5, 0.02, 0.02, 0.43
#: the reference's throttle command range (docs/simulators/aircombat.md)
THROTTLE_MIN, THROTTLE_MAX = 0.4, 0.9

SYSTEM_NAME = "meharl_autopilot"


def system_xml() -> str:
    """The autopilot as a JSBSim ``<system>`` document, with the gains above."""
    channels = "\n\n".join(f() for f in (_lateral, _longitudinal, _speed, _outputs))
    return f"""<?xml version="1.0"?>
<system name="{SYSTEM_NAME}">
  <property value="1">ap/engaged</property>
  <property value="0">ap/heading-target-rad</property>
  <property value="20000">ap/altitude-target-ft</property>
  <property value="800">ap/speed-target-fps</property>
  <property value="0">ap/direct-aileron</property>
  <property value="0">ap/direct-elevator</property>
  <property value="0">ap/direct-rudder</property>
  <property value="{THROTTLE_TRIM}">ap/direct-throttle</property>

{channels}
</system>
"""


def _lateral() -> str:
    """Heading -> bank -> aileron (roll-rate command)."""
    return f"""  <channel name="autopilot-lateral">
    <fcs_function name="ap/heading-error-rad">
      <function><atan2>
        <sin><difference><property>ap/heading-target-rad</property><property>attitude/psi-rad</property></difference></sin>
        <cos><difference><property>ap/heading-target-rad</property><property>attitude/psi-rad</property></difference></cos>
      </atan2></function>
    </fcs_function>
    <pure_gain name="ap/bank-cmd-rad">
      <input>ap/heading-error-rad</input>
      <gain>{K_HEADING}</gain>
      <clipto><min>{-MAX_BANK}</min><max>{MAX_BANK}</max></clipto>
    </pure_gain>
    <fcs_function name="ap/aileron-cmd">
      <function><difference>
        <product><value>{K_BANK}</value>
          <difference><property>ap/bank-cmd-rad</property><property>attitude/phi-rad</property></difference>
        </product>
        <product><value>{K_ROLL_RATE}</value><property>velocities/p-rad_sec</property></product>
      </difference></function>
      <clipto><min>-1</min><max>1</max></clipto>
    </fcs_function>
  </channel>"""


def _longitudinal() -> str:
    """Altitude -> flight-path angle -> elevator, with the turn-load feed-forward."""
    return f"""  <channel name="autopilot-longitudinal">
    <fcs_function name="ap/gamma-cmd-rad">
      <function><product><value>{K_ALTITUDE}</value>
        <difference><property>ap/altitude-target-ft</property><property>position/h-sl-ft</property></difference>
      </product></function>
      <clipto><min>{-MAX_GAMMA}</min><max>{MAX_GAMMA}</max></clipto>
    </fcs_function>
    <fcs_function name="ap/gamma-rad">
      <function><atan2>
        <property>velocities/h-dot-fps</property>
        <sqrt><difference>
          <product><property>velocities/vt-fps</property><property>velocities/vt-fps</property></product>
          <product><property>velocities/h-dot-fps</property><property>velocities/h-dot-fps</property></product>
        </difference></sqrt>
      </atan2></function>
    </fcs_function>
    <summer name="ap/gamma-error-rad">
      <input>ap/gamma-cmd-rad</input>
      <input>-ap/gamma-rad</input>
    </summer>
    <pid name="ap/gamma-pid">
      <input>ap/gamma-error-rad</input>
      <kp>{KP_GAMMA}</kp>
      <ki>{KI_GAMMA}</ki>
      <kd>0</kd>
      <clipto><min>-1</min><max>1</max></clipto>
    </pid>
    <fcs_function name="ap/elevator-cmd">
      <!-- 1 / cos(bank) is capped at 1 / 0.3 (bank beyond 72.5 deg) -->
      <function><product><value>-1</value>
        <sum><property>ap/gamma-pid</property>
          <product><value>{K_TURN_LOAD}</value>
            <difference><quotient><value>1</value><max><cos><property>attitude/phi-rad</property></cos><value>0.3</value></max></quotient><value>1</value></difference>
          </product>
        </sum>
      </product></function>
      <clipto><min>-1</min><max>1</max></clipto>
    </fcs_function>
  </channel>"""


def _speed() -> str:
    """Speed -> acceleration -> throttle."""
    return f"""  <channel name="autopilot-speed">
    <fcs_function name="ap/accel-error">
      <function><difference>
        <product><value>{K_SPEED}</value>
          <difference><property>ap/speed-target-fps</property><property>velocities/vt-fps</property></difference>
        </product>
        <property>accelerations/udot-ft_sec2</property>
      </difference></function>
    </fcs_function>
    <pid name="ap/throttle-pid">
      <input>ap/accel-error</input>
      <kp>{KP_ACCEL}</kp>
      <ki>{KI_ACCEL}</ki>
      <kd>0</kd>
    </pid>
    <summer name="ap/throttle-cmd">
      <input>ap/throttle-pid</input>
      <bias>{THROTTLE_TRIM}</bias>
      <clipto><min>{THROTTLE_MIN}</min><max>{THROTTLE_MAX}</max></clipto>
    </summer>
  </channel>"""


def _outputs() -> str:
    """The commands to the F-16's inputs: the autopilot's when engaged, else the direct-control ones."""
    return """  <channel name="autopilot-output">
    <switch name="ap/aileron-out">
      <default value="ap/direct-aileron"/>
      <test value="ap/aileron-cmd">ap/engaged == 1</test>
      <output>fcs/aileron-cmd-norm</output>
    </switch>
    <switch name="ap/elevator-out">
      <default value="ap/direct-elevator"/>
      <test value="ap/elevator-cmd">ap/engaged == 1</test>
      <output>fcs/elevator-cmd-norm</output>
    </switch>
    <switch name="ap/rudder-out">
      <default value="ap/direct-rudder"/>
      <test value="0">ap/engaged == 1</test>
      <output>fcs/rudder-cmd-norm</output>
    </switch>
    <switch name="ap/throttle-out">
      <default value="ap/direct-throttle"/>
      <test value="ap/throttle-cmd">ap/engaged == 1</test>
      <output>fcs/throttle-cmd-norm</output>
    </switch>
  </channel>"""
