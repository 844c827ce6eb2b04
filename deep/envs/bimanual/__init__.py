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

Agents: agent 0 the right hand (which holds the object first), agent 1 the left; each acts with 20 joint
position targets in [-1, 1] (mapped onto the actuators' ranges, Bi-DexHands' ``scale``), preceded on the
free-base tasks by 3 force and 3 torque entries.  Observations follow Bi-DexHands' ``full_state`` layout
(398 / 422 / 446 / 417 numbers): per hand 24 joint positions scaled to [-1, 1], 0.2 x joint velocities,
10 x actuator joint forces, 5 fingertip states (position, quaternion, linear and angular velocity),
10 x fingertip force-torque sensors, on free-base tasks the base position (Lift: the grip point) and its
xyz Euler angles, and the hand's last action; then the object block (pose, linear velocity, 0.2 x angular
velocity, goal pose and object-goal quaternion difference; Lift: the two handle positions instead of a
goal).  Agent h sees its hand's block and the object block; the global state is everything; all clipped to
+-5 (``MultiVecTask``).  ``Step.info`` adds, on done rows, ``success`` (1.0 / 0.0, Bi-DexHands' latched
``successes``) and ``goal_distance`` (final object-goal distance, summed over objects).  ``render(k)``
returns an RGB frame of copy k (needs OpenGL).  ``get_state`` saves MuJoCo's ``mjSTATE_INTEGRATION`` (time,
qpos, qvel, act, warm start, controls, applied forces, mocap goal poses) with each copy's RNG, last action and
success flag; a restore continues bit for bit.

Of the paper's nine Bi-DexHands tasks, five exist here (Catch Abreast, Two Catch Underarm, Lift Underarm,
Hand Over, Catch Over2Underarm); Hand Pen, Door Close Inward, Door Open Inward and Door Open Outward do not
yet (their articulated objects are not modelled).  ``catch_underarm`` is an extra task, not in the paper's set.

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
