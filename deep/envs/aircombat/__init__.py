"""Air combat on JSBSim F-16s: the paper's Light Aircraft Game tasks (``docs/simulators/aircombat.md``).

Modules: :mod:`.aircraft` (JSBSim's F-16, loading and read-out), :mod:`.controller` (the project's
autopilot, the low-level controller of the hierarchical action), :mod:`.fleet` (a batch's aircraft, their
start and JSBSim stepping), :mod:`.missile` (the AIM-9L model), :mod:`.opponent` (the scripted team B),
:mod:`.observation` (the agents' inputs), :mod:`.rewards` (reward terms and terminations), :mod:`.referee`
(each decision's rewards and terminations), :mod:`.geometry` (frames, AO/TA/range) and :mod:`.env` (the
tasks on the batched interface).

Departures from LAG (the public reference environment) that change the numbers:

- event rewards reach the team: an aircraft shot down or crashed pays -200 and a hit +200 to the team's
  mean, where the reference never pays them (see :mod:`.rewards`), so returns are not comparable with
  published LAG curves;
- the missile-posture term uses the real change of speed (the reference's is always 0);
- the low-level controller is the project's own autopilot (bank limited to 60 deg, 3.5-4 deg/s of turn),
  not LAG's pretrained recurrent network; the scripted opponents fly it too, so their 180 deg missile
  dodge turns at that rate;
- one consistent north-east-down frame for positions and velocities (the reference mixes north-east-up
  positions with north-east-down velocities in AO/TA and missile guidance), so hits come a little earlier;
- "delta speed" in observations is the difference of the speeds |v|; the reference uses the difference of
  the body-axis u;
- NoWeapon opponents chase the first team-A aircraft still flying, each with its own state; the reference
  always chases A1, even once it is down, with one shared opponent object (and recurrent state) driving
  both team-B aircraft;
- an aircraft whose enemies are all down with no missile inbound is frozen with reward 0; the reference
  keeps it flying and earning;
- the 1v1 tasks are not LAG's 1v1 tasks: they are the 2v2 set-up with one aircraft a side (the 2v2 start
  geometry, posture weight 15, hierarchical actions and, in ShootMissile, an enemy that fires missiles).
  LAG's own 1v1 NoWeapon has non-hierarchical control, posture scale 100 and a 5.5 km start; its 1v1
  ShootMissile starts 22 km apart against an enemy without missiles.
"""
from .env import CONTROLS, TASKS, AirCombatEnv, make

__all__ = ["AirCombatEnv", "CONTROLS", "TASKS", "make"]
