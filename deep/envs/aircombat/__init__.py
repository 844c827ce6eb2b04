"""Air combat on JSBSim F-16s: the paper's Light Aircraft Game tasks (``../shared/paper/LAG_SPEC.md``).

Modules: :mod:`.aircraft` (JSBSim's F-16, loading and read-out), :mod:`.controller` (the project's
autopilot, the low-level controller of the hierarchical action), :mod:`.missile` (the AIM-9L model),
:mod:`.rewards` (reward terms and terminations), :mod:`.geometry` (frames, AO/TA/range) and :mod:`.env`
(the tasks on the batched interface).
"""
from .env import CONTROLS, TASKS, AirCombatEnv, make

__all__ = ["AirCombatEnv", "CONTROLS", "TASKS", "make"]
