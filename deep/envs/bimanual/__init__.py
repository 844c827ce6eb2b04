"""Bimanual dexterous manipulation: Bi-DexHands' two-Shadow-Hand tasks on MuJoCo (``backend="mujoco"``, the
default) and, for users who have Isaac Gym, the original tasks (``backend="isaacgym"``, :mod:`.isaac`).

Tasks (constants from PKU-MARL/DexterousHands ``bidexhands/cfg/ShadowHand*.yaml`` and
``bidexhands/tasks/shadow_hand_*.py``; the right hand at the actor pose of Bi-DexHands' "shadow_hand",
the left one at that of its "another_hand"; on the first four tasks both palm up, facing each other along y):

- ``hand_over``: fixed bases 1 m apart; an egg starts in the right palm (0.01 position noise, random
  orientation) and must reach a goal 0.25 m further, over the left palm (random goal orientation).  Reward
  ``exp(-0.2 (50 d + angle))`` (``d`` the egg-goal distance, ``angle`` the orientation error); success once
  ``d < 0.03``; ends when the egg falls to z <= 0.2; 75 steps.
- ``catch_underarm``: as Hand Over with hands 1.15 m apart and a goal 0.4 m away, and each hand's base moved
  by the first 6 action entries (world-frame force ``a * dt * 0.05 * 1e5`` N and torque
  ``a * dt * 0.5 * 1e3`` N m on the forearm); ends at z <= 0.1.
- ``two_catch_underarm``: an egg in each palm, each goal over the other palm (same goal orientation); reward
  the sum of both eggs' terms; success once the two distances add to under 0.06; ends when either falls to
  z <= 0.2.
- ``lift_underarm``: a pot on a 0.3 x 0.3 x 0.4 table between the hands (bases 1.3 m apart, forces
  ``a * dt * 0.25 * 1e5``, torques ``a * dt * 1e3``) to be lifted 0.4 m.  Reward
  ``0.2 - dR - dL + [dR, dL < 0.08] 3 (0.385 - d)`` with ``dR, dL`` the distances from each hand's grip point
  (0.08 along its palm's z, -0.02 along its y) to its handle; success once ``d < 0.05``; ends when the
  pot is at z <= 0.3 or either hand 0.2 or more from its handle; 500 steps; no reset noise.
- ``catch_abreast``: the hands side by side (bases 0.6 m apart along y, both turned -pi/2 about z and tilted
  +-0.3925 towards each other); the egg passes 0.6 m along -y from the right palm to the left; forces
  ``a * dt * 0.5 * 1e5``, torques ``a * dt * 1e3``; also ends when a palm is 0.1 m or more from its place;
  150 steps; no position or joint noise (the egg's and goal's orientations stay random).
- ``catch_over2underarm``: the right hand raised (turned (1.67, 3.14, 0) in from_euler_zyx) with the egg on
  its fingertips, 0.8 m from the left one, throws it 0.45 m along -y and 0.45 m down into the left palm;
  reward scale 20, forces ``a * dt * 0.1 * 1e5``, torques ``a * dt * 2e3``; ends when the egg is at z <= 0.3
  or a base 0.1 m or more from its start; 75 steps; no position or joint noise.
- ``hand_pen``: both hands palm down side by side (mounts at (0.55, +-0.2, 0.8), turned (pi, 0, 1.57)), fingers
  towards a pen lying across them on a 0.5 x 1.0 x 0.6 table (root at (0, 0, 0.6), turned (1.57, 1.57, 0)),
  its cap towards the right hand; the cap slides off along the pen.  Handle points: 0.1 along the pen from the
  cap's origin (right hand) and 0.07 the other way from the body's (left).  With ``f_h`` the sum of hand h's
  five finger points' distances to its handle point (a finger point is 0.02 along its distal phalanx's z
  axis) and ``s`` the handle points' distance: reward ``exp(-10 f_R) + exp(-10 f_L) + [f_R, f_L < 0.75]
  (5 s - 0.8)``; success once ``s > 0.3``; ends when either ``f_h >= 1.5``; forces ``a * dt * 0.5 * 1e5``,
  torques ``a * dt * 0.1 * 1e3``; 125 steps; no noise.
- ``door_open_outward``: a double door fixed at (0, 0, 0.7), two 0.44 x 0.93 leaves on vertical hinges at its
  sides (range [0, pi/2]) meeting in the middle, each with a handle on both faces; the hands (mounts at
  (0.55, +-0.2, 0.6), turned (pi, +-1.57, 1.57)) point their fingers at it; the leaves open away from them.
  Handle points: 0.39 from each hinge towards the middle, 0.5 from the hinge's top end (its bottom end on the
  turned-over door below), 0.04 out on the hands' side.
  Reward ``2 - f_R - f_L + [f_R, f_L < 0.5] 2 dy`` with ``dy`` the handle points' distance along y; success
  once ``dy > 0.5``; ends when either ``f_h >= 1.5``; forces ``a * dt * 0.5 * 1e5``, torques
  ``a * dt * 0.5 * 1e3``; 250 steps; no noise.
- ``door_open_inward``: the same with the door turned over (pitch pi), so that its leaves open towards the
  hands, which have to pull them.
- ``door_close_inward``: that door with its leaves open at 1.57 (start velocity 1.57 rad/s too, as
  Bi-DexHands writes it), the hands further out (mounts at (0.9, +-0.5, 0.6)); the bonus is
  ``1 - 2 dy`` and success comes once ``dy < 0.5``.

Agents: agent 0 the right hand (which holds the object first; on Pen and the doors the hand at +y), agent 1
the left; each acts with 20 joint position targets in [-1, 1] (mapped onto the actuators' ranges,
Bi-DexHands' ``scale``), preceded on the
free-base tasks by 3 force and 3 torque entries.  Observations follow Bi-DexHands' ``full_state`` layout
(398 / 422 / 446 / 417 numbers): per hand 24 joint positions scaled to [-1, 1], 0.2 x joint velocities,
10 x actuator joint forces, 5 fingertip states (position, quaternion, linear and angular velocity),
10 x fingertip force-torque sensors, on free-base tasks the base position (Lift, Pen and the doors: the grip
point) and its xyz Euler angles, and the hand's last action; then the object block (root pose, linear velocity,
0.2 x angular velocity, goal pose and object-goal quaternion difference; Lift and Pen: the right then the left
handle point instead of a goal; the doors: the left then the right).  Agent h sees its hand's block and the
object block; the global state is everything; all clipped to +-5 (``MultiVecTask``).  ``Step.info`` adds, on
done rows, ``success`` (1.0 / 0.0, Bi-DexHands' latched ``successes``) and ``goal_distance`` (final
object-goal distance, summed over objects; NaN on Pen and the doors, which have no goal).  ``render(k)``
returns an RGB frame of copy k (needs OpenGL).  ``get_state`` saves MuJoCo's ``mjSTATE_INTEGRATION`` (time,
qpos, qvel, act, warm start, controls, applied forces, mocap goal poses) with each copy's RNG, last action and
success flag; a restore continues bit for bit.

All nine of the paper's Bi-DexHands tasks exist here (Catch Abreast, Two Catch Underarm, Lift Underarm, Hand
Over, Catch Over2Underarm, Hand Pen, Door Close Inward, Door Open Inward, Door Open Outward); ``catch_underarm``
is an extra task, not in the paper's set.

Where the MuJoCo version departs from the original:

- Physics: MuJoCo 3.3.7 instead of PhysX (TGS, 8 position iterations, 2 substeps); the 1/60 s control step
  is 8 MuJoCo steps of 1/480 s with the implicitfast integrator.  Contacts, friction and the actuator
  dynamics differ, so learnt policies and returns are not interchangeable with Isaac Gym's.
- Hand model: gymnasium-robotics' copy of the OpenAI Shadow Hand MJCF (the file Bi-DexHands loads too),
  with its own position servos (kp 1-5, force limits) and tendon couplings as MuJoCo defines them; Bi-DexHands
  loads it into PhysX with ``DOF_MODE_NONE`` drives and retunes the J0/J1 coupling tendons (limit stiffness
  30, damping 0.1), which has no MuJoCo counterpart.  Targets use the actuators' ``ctrlrange`` (equal to the
  actuated joints' ranges Bi-DexHands scales to).
- Left hand: Bi-DexHands uses a second right hand; here it is a true mirror image (see :mod:`.scene`) at
  that hand's pose, so on Hand Over and the Catch tasks the two thumbs lie on the same side of the scene.
  Yaw pi is exactly pi here (Bi-DexHands writes 3.1415 or 3.14159).
- Free bases: PhysX's ``linear_damping = angular_damping = 100`` becomes joint damping on three slides and a
  ball joint at the hand's centre of mass (100 x hand mass, 100 x its mean rotational inertia about the
  centre of mass at the rest pose).  PhysX applies that damping to every link of the hand asset, fingers
  included; here the fingers keep the model's own joint damping.  Gravity off for the hands
  (``disable_gravity``) is MuJoCo gravity compensation.
- Fingertip force-torque sensors: MuJoCo ``force``/``torque`` sensors at the fingertip sites (the
  interaction force between the distal phalanx and its parent, in the site frame), read as of the last
  substep's start; Isaac Gym's sensors measure the force on the body in the world frame.  Joint forces are
  MuJoCo's ``qfrc_actuator``.
- Quaternions are MuJoCo's (w, x, y, z) where Isaac Gym's are (x, y, z, w); fingertip and object velocities
  are world-frame, linear ones at the body's centre of mass, as PhysX reports them.
- Reset: joint positions ``0.2 (lower + (upper - lower) u)``, u uniform in [-1, 1], the same for both hands as
  in Bi-DexHands, then clipped to the joint ranges (PhysX pushes them back instead); velocities zero.
- Objects: the egg is the same ellipsoid (density 500, as Bi-DexHands loads it).  The pot is a stand-in:
  Bi-DexHands' PartNet pot (``assets/mjcf/pot/mobility.urdf``) is not shipped by any registry package, so a
  1 kg pot of primitives has its handles exactly where Lift Underarm's reward expects them.
- The pen and the door are stand-ins too: Bi-DexHands loads PartNet meshes (``assets/mjcf/pen``,
  ``assets/mjcf/door``; the door as a VHACD convex decomposition), which no registry package ships.  Here they
  are primitives fitted to the meshes' bounding boxes at the URDFs' scales, in the URDFs' link frames, joints
  and ranges (:mod:`.scene`): the pen a cylinder body, a cylinder cap and the cap's clip; the door a lintel and
  a sill (its whole frame), two box leaves and on each face of each a handle bar on two posts, inside the
  handle meshes' bounding boxes (their exact shape is not modelled).  Density 500 as Bi-DexHands loads them.
- The pen's slide is free over the URDF's range [0, 0.492] (unscaled, though the meshes are scaled 0.2);
  Bi-DexHands' DOF settings for it (maximum velocity 1, effort 1, stiffness 1, damping 0.5) act through a drive
  that it leaves off (drive mode none) except the velocity cap, not modelled.  The door's hinges are free as
  well (stiffness 5 and damping 1, likewise without a drive).  The pen starts where Bi-DexHands puts it, 1.3 cm
  of its cap into the table top; the contact lifts it in the first steps.
- The door's friction, 0.1 in Bi-DexHands, meets the hands' 1.0: PhysX averages the two (0.55), MuJoCo takes
  the larger, so the door's geoms take precedence (``priority``) with friction 0.55.  The door's fixed frame is
  kept out of contact with its leaves, as PhysX keeps an articulation's adjacent links.
- Pi is exactly pi in the Pen and door poses (Bi-DexHands writes 3.14159; 1.57 stays 1.57).  The unused goal
  copy of the pen or door that Bi-DexHands parks 5-10 m up is not built.
- Hand Over's goal bonus (250 when the distance is exactly 0) can never be earned and is left out; the
  action penalty, computed but unused by Bi-DexHands, is left out too.
- Auto-reset: a copy that ends is reset within the same step (this package's interface); Bi-DexHands resets
  it at the start of the next step.  A time-limit end is ``truncated``, a fall ``terminated`` (Bi-DexHands
  reports both as one ``reset_buf``).
- Not modelled: Bi-DexHands' point-cloud observations, domain randomisation (off in these configs) and
  per-finger agent splits (the configs' default is one agent per hand, as here).
"""
from __future__ import annotations

from .env import TASKS, BimanualEnv

BACKENDS = ("mujoco", "isaacgym")


def make(task: str, num_envs: int, seed: int | None = None, **options):
    """The registry's entry."""
    from ..registry import check_options, check_task
    check_task("bimanual", task)
    check_options(options, ("episode_limit", "backend"), "env bimanual")
    backend = options.pop("backend", "mujoco")
    if backend not in BACKENDS:
        raise ValueError(f"unknown bimanual backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend == "isaacgym":
        from .isaac import IsaacBiDexHandsEnv
        return IsaacBiDexHandsEnv(task, num_envs=num_envs, seed=seed, **options)
    return BimanualEnv(task, num_envs=num_envs, seed=seed, **options)
