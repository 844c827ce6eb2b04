"""JSBSim's F-16 with the project's autopilot: loading, initial conditions, commands and state read-out.

The F-16 (engine F100-PW-229) ships in the ``jsbsim`` wheel.  The autopilot (:mod:`.controller`) is a JSBSim
``<system>``; JSBSim loads systems only from the aircraft file, so the first load in a process writes, in a
private temporary folder, the packaged ``f16.xml`` with one added ``<system file="meharl_autopilot"/>`` line,
its ``Systems`` folder (links to the packaged files) and the autopilot's XML; nothing else of the model
changes.  Units: JSBSim works in feet, this package in metres and radians (SI), converted here.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import numpy as np

from . import controller

FT = 0.3048  #: metres per foot
#: what :func:`read_states` returns per aircraft, in this order (SI units, angles in radians)
STATE_FIELDS = ("lat", "lon", "alt", "roll", "pitch", "heading", "u", "v", "w", "v_north", "v_east", "v_down",
                "vc", "vt", "nx", "ny", "nz", "p", "q", "r", "time")
_PROPS = ("position/lat-geod-rad", "position/long-gc-rad", "position/h-sl-ft", "attitude/phi-rad",
          "attitude/theta-rad", "attitude/psi-rad", "velocities/u-fps", "velocities/v-fps", "velocities/w-fps",
          "velocities/v-north-fps", "velocities/v-east-fps", "velocities/v-down-fps", "velocities/vc-fps",
          "velocities/vt-fps", "accelerations/n-pilot-x-norm", "accelerations/n-pilot-y-norm",
          "accelerations/n-pilot-z-norm", "velocities/p-rad_sec", "velocities/q-rad_sec", "velocities/r-rad_sec",
          "simulation/sim-time-sec")
#: SI factor of each property (feet -> metres; radians, g and seconds unchanged)
_SCALE = np.array([1, 1, FT, 1, 1, 1, FT, FT, FT, FT, FT, FT, FT, FT, 1, 1, 1, 1, 1, 1, 1], np.float64)
FIELD = {name: i for i, name in enumerate(STATE_FIELDS)}
PHYSICS_HZ = 60  #: JSBSim integration rate (docs/simulators/aircombat.md)

_paths: dict[str, str] = {}


def _aircraft_folder() -> str:
    """The folder holding the F-16 with the autopilot system (written once per process)."""
    if "aircraft" not in _paths:
        import jsbsim
        root = jsbsim.get_default_root_dir()
        tmp = tempfile.mkdtemp(prefix="meharl-f16-")
        atexit.register(shutil.rmtree, tmp, True)
        src = os.path.join(root, "aircraft", "f16")
        dst = os.path.join(tmp, "f16")
        os.makedirs(os.path.join(dst, "Systems"))
        for name in os.listdir(os.path.join(src, "Systems")):
            os.symlink(os.path.join(src, "Systems", name), os.path.join(dst, "Systems", name))
        with open(os.path.join(dst, "Systems", controller.SYSTEM_NAME + ".xml"), "w") as f:
            f.write(controller.system_xml())
        with open(os.path.join(src, "f16.xml")) as f:
            text = f.read()
        anchor = "<flight_control"
        if text.count(anchor) != 1:
            raise RuntimeError("unexpected f16.xml in the jsbsim package: no single <flight_control> element")
        text = text.replace(anchor, f'<system file="{controller.SYSTEM_NAME}"/>\n {anchor}')
        with open(os.path.join(dst, "f16.xml"), "w") as f:
            f.write(text)
        _paths["aircraft"], _paths["root"] = tmp, root
    return _paths["aircraft"]


class F16:
    """One JSBSim F-16 with the autopilot engaged, at the given initial conditions (engine running, 60 Hz,
    targets holding the initial altitude, heading and speed).  ``fdm`` is the ``jsbsim.FGFDMExec``; the
    property nodes used every decision are looked up once (a node read is faster than a lookup by name)."""

    def __init__(self, lat_deg: float, lon_deg: float, alt_m: float, heading_deg: float, u_mps: float):
        import jsbsim
        folder = _aircraft_folder()
        root = _paths["root"]
        jsbsim.FGJSBBase().debug_lvl = 0  # no banner or load messages on stdout
        fdm = self.fdm = jsbsim.FGFDMExec(root)
        fdm.set_debug_level(0)
        if not fdm.load_model_with_paths("f16", folder, os.path.join(root, "engine"), os.path.join(root, "systems")):
            raise RuntimeError("JSBSim could not load the F-16")
        fdm.set_dt(1.0 / PHYSICS_HZ)
        for name, value in (("ic/lat-geod-deg", lat_deg), ("ic/long-gc-deg", lon_deg), ("ic/h-sl-ft", alt_m / FT),
                            ("ic/psi-true-deg", heading_deg), ("ic/u-fps", u_mps / FT), ("ic/v-fps", 0.0),
                            ("ic/w-fps", 0.0), ("ic/p-rad_sec", 0.0), ("ic/q-rad_sec", 0.0), ("ic/r-rad_sec", 0.0),
                            ("ic/roc-fpm", 0.0), ("ic/terrain-elevation-ft", 0.0)):
            fdm[name] = value
        if not fdm.run_ic():
            raise RuntimeError("JSBSim could not apply the initial conditions")
        fdm["propulsion/set-running"] = -1
        node = fdm.get_property_manager().get_node
        self.state_nodes = [node(p, False) for p in _PROPS]
        self._targets = [node(p, False) for p in ("ap/altitude-target-ft", "ap/heading-target-rad",
                                                  "ap/speed-target-fps")]
        self.run = fdm.run
        self.set_targets(alt_m, np.deg2rad(heading_deg), fdm["velocities/vt-fps"] * FT)

    def set_targets(self, alt_m: float, heading_rad: float, speed_mps: float) -> None:
        """The autopilot's targets (altitude above sea level, true heading, true airspeed)."""
        alt, heading, speed = self._targets
        alt.set_double_value(alt_m / FT)
        heading.set_double_value(heading_rad)
        speed.set_double_value(speed_mps / FT)

    def set_direct(self, aileron: float, elevator: float, rudder: float, throttle: float) -> None:
        """Disengage the autopilot and command the stick, pedals and throttle directly."""
        fdm = self.fdm
        fdm["ap/engaged"] = 0
        fdm["ap/direct-aileron"] = aileron
        fdm["ap/direct-elevator"] = elevator
        fdm["ap/direct-rudder"] = rudder
        fdm["ap/direct-throttle"] = throttle


def read_states(planes) -> np.ndarray:
    """The :data:`STATE_FIELDS` (SI) of a sequence of :class:`F16`, shape ``(len(planes), fields)``."""
    values = np.array([n.get_double_value() for p in planes for n in p.state_nodes])
    return values.reshape(len(planes), len(_PROPS)) * _SCALE
