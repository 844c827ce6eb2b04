"""Two Shadow Dexterous Hands in one MuJoCo scene, composed with ``MjSpec`` from the model that
gymnasium-robotics ships (``envs/assets/hand``: robot.xml, shared.xml, shared_asset.xml; Apache-2.0, see
``envs/assets/LICENSE.md`` there), plus the task's objects.

Only a right hand ships.  The left hand is its mirror image: every element of the right hand's spec is
reflected across the plane x = 0 of its parent frame (all frames reflected by the same ``M = diag(-1, 1, 1)``,
which composes through the kinematic tree): positions ``p -> M p``, orientations ``R -> M R M`` (quaternion
``(w, x, y, z) -> (w, x, -y, -z)``), hinge and slide axes ``a -> -M a`` (so that a joint angle bends the
mirrored finger the mirrored way and joint ranges, actuators and tendons stay as they are), inertia frames like
bodies, and every mesh scaled by ``(-1, 1, 1)``.  The mirrored hand takes the pose of Bi-DexHands' second hand
(a right hand there); with Hand Over's poses (the second turned by pi about z) and the same joint angles
the left hand is the right one reflected across the vertical plane ``y = (y_right + y_left) / 2`` between
them (tested on fingertips and every geom), as it is, to 1e-3, with Catch Abreast's.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import mujoco
import numpy as np

#: PhysX's control period in Bi-DexHands (``sim_params.dt = 1/60``, controlFrequencyInv 1) is kept; it is
#: split into SUBSTEPS MuJoCo steps of the hand model's own 0.002 s order (1/480 s)
CONTROL_DT = 1.0 / 60.0
SUBSTEPS = 8
#: Bi-DexHands' free-base hands (``linear_damping = angular_damping = 100``): PhysX damps velocities at a
#: rate of 100 / s, which MuJoCo joint damping reproduces as 100 x (mass or rotational inertia)
BASE_DAMPING_RATE = 100.0
FINGERTIPS = ("ffdistal", "mfdistal", "rfdistal", "lfdistal", "thdistal")
TIP_SITES = ("S_fftip", "S_mftip", "S_rftip", "S_lftip", "S_thtip")
SIDES = ("right", "left")


def asset_dirs() -> tuple[str, str]:
    """gymnasium-robotics' hand model folder and its mesh folder."""
    import gymnasium_robotics
    root = os.path.join(os.path.dirname(gymnasium_robotics.__file__), "envs", "assets")
    return os.path.join(root, "hand"), os.path.join(root, "stls", "hand")


def right_hand_spec() -> mujoco.MjSpec:
    """The shipped right hand alone, its mount at the origin with the shipped orientation (palm up,
    fingers towards -y), as Bi-DexHands places the same MJCF at an actor's pose."""
    hand_dir, mesh_dir = asset_dirs()
    xml = (f'<mujoco><compiler angle="radian" meshdir="{mesh_dir}"/>'
           f'<include file="{os.path.join(hand_dir, "shared.xml")}"/>'
           f'<asset><include file="{os.path.join(hand_dir, "shared_asset.xml")}"/></asset>'
           f'<worldbody><include file="{os.path.join(hand_dir, "robot.xml")}"/></worldbody></mujoco>')
    spec = mujoco.MjSpec.from_string(xml)
    spec.body("robot0:hand mount").pos = [0.0, 0.0, 0.0]
    return spec


def _quat(spec: mujoco.MjSpec, alt, quat) -> np.ndarray:
    """An element's orientation as a unit quaternion, whatever form (euler, axis-angle...) it was given in."""
    if alt.type == mujoco.mjtOrientation.mjORIENTATION_QUAT:
        q = np.asarray(quat, float)
    else:
        q = np.asarray(spec.resolve_orientation(spec.compiler.degree, spec.compiler.eulerseq, alt), float)
    return q / np.linalg.norm(q)


def _mirror_quat(q: np.ndarray) -> list[float]:
    return [q[0], q[1], -q[2], -q[3]]


def mirror_spec(spec: mujoco.MjSpec) -> mujoco.MjSpec:
    """``spec`` reflected across the plane x = 0 (module docstring), in place; returns it."""
    reflect = np.array([-1.0, 1.0, 1.0])
    quat_type = mujoco.mjtOrientation.mjORIENTATION_QUAT
    for body in spec.bodies[1:]:  # not the world
        body.pos = body.pos * reflect
        body.quat = _mirror_quat(_quat(spec, body.alt, body.quat))
        body.alt.type = quat_type
        body.ipos = body.ipos * reflect
        body.iquat = _mirror_quat(_quat(spec, body.ialt, body.iquat))
        body.ialt.type = quat_type
        if not np.isnan(body.fullinertia[0]):
            raise ValueError("mirroring a full inertia matrix is not implemented")
    for element in list(spec.geoms) + list(spec.sites):
        element.pos = element.pos * reflect
        element.quat = _mirror_quat(_quat(spec, element.alt, element.quat))
        element.alt.type = quat_type
        if hasattr(element, "fromto") and not np.isnan(element.fromto[0]):
            raise ValueError("mirroring a fromto geom is not implemented")
    for joint in spec.joints:
        joint.pos = joint.pos * reflect
        joint.axis = -joint.axis * reflect
    for mesh in spec.meshes:
        mesh.scale = mesh.scale * reflect
    return spec


def euler_zyx_quat(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Isaac Gym's ``Quat.from_euler_zyx(roll, pitch, yaw)`` as a MuJoCo quaternion (w, x, y, z):
    ``q_z(yaw) q_y(pitch) q_x(roll)``."""
    out, tmp = np.empty(4), np.empty(4)
    halves = [np.array([np.cos(a / 2), *(np.sin(a / 2) * axis)])
              for a, axis in zip((yaw, pitch, roll), np.eye(3)[::-1])]
    mujoco.mju_mulQuat(tmp, halves[0], halves[1])
    mujoco.mju_mulQuat(out, tmp, halves[2])
    return out


@dataclass(frozen=True)
class HandPose:
    pos: tuple[float, float, float]    #: world position of the mount (Bi-DexHands' actor position)
    free_base: bool                    #: whether the base translates and rotates (force/torque actions)
    euler: tuple[float, float, float] = (0.0, 0.0, 0.0)  #: actor orientation, from_euler_zyx(roll, pitch, yaw)


def _hand_com() -> np.ndarray:
    """The right hand's centre of mass at the rest pose, in its mount frame."""
    model = right_hand_spec().compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return data.subtree_com[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "robot0:hand mount")].copy()


def _add_hand(scene: mujoco.MjSpec, side: str, pose: HandPose) -> None:
    """Attach one hand (``side`` "right" or "left", names prefixed ``side/``) to ``scene`` with its mount at
    ``pose`` (a left hand at the pose of Bi-DexHands' second, right, hand: palm and fingers where that one has
    them, its thumb on the other side), gravity compensated (Bi-DexHands: ``disable_gravity``).  A free base
    is a body at the hand's centre of mass (about which a free PhysX actor turns) with three slides and a ball
    joint, damped (:func:`_set_base_damping`)."""
    hand = right_hand_spec()
    com = _hand_com()
    if side == "left":
        mirror_spec(hand)
        com = com * np.array([-1.0, 1.0, 1.0])
    quat = euler_zyx_quat(*pose.euler)
    rot = np.empty(9)
    mujoco.mju_quat2Mat(rot, quat)
    offset = com if pose.free_base else np.zeros(3)
    base = scene.worldbody.add_body(name=f"{side}/base", quat=list(quat),
                                    pos=list(np.asarray(pose.pos) + rot.reshape(3, 3) @ offset))
    if pose.free_base:
        base.mass, base.inertia = 1e-3, [1e-6, 1e-6, 1e-6]
        for axis in np.eye(3):
            base.add_joint(name=f"{side}/base_slide{'xyz'[int(np.argmax(axis))]}",
                           type=mujoco.mjtJoint.mjJNT_SLIDE, axis=axis)
        base.add_joint(name=f"{side}/base_ball", type=mujoco.mjtJoint.mjJNT_BALL)
    base.add_frame(pos=list(-offset)).attach_body(hand.body("robot0:hand mount"), f"{side}/", "")
    for body in scene.body(f"{side}/robot0:hand mount").find_all(mujoco.mjtObj.mjOBJ_BODY) + [base]:
        body.gravcomp = 1.0
    for site in TIP_SITES:  # Bi-DexHands' fingertip force sensors (force and torque, 6 numbers each)
        for kind, what in ((mujoco.mjtSensor.mjSENS_FORCE, "force"), (mujoco.mjtSensor.mjSENS_TORQUE, "torque")):
            scene.add_sensor(name=f"{side}/{site}:{what}", type=kind, objtype=mujoco.mjtObj.mjOBJ_SITE,
                             objname=f"{side}/robot0:{site}")


def _add_egg(scene: mujoco.MjSpec, name: str, rgba) -> None:
    """The egg of Bi-DexHands' Hand Over / Catch tasks (its ``open_ai_assets/hand/egg.xml``, the same
    ellipsoid as gymnasium-robotics' manipulate_egg.xml), density 500 as Bi-DexHands loads it, and a
    collision-free mocap copy showing its goal."""
    body = scene.worldbody.add_body(name=name)
    body.add_freejoint(name=f"{name}:joint")
    body.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_ELLIPSOID, size=[0.03, 0.03, 0.04], condim=4,
                  density=500.0, rgba=rgba)
    goal = scene.worldbody.add_body(name=f"{name}:goal", mocap=True)
    goal.add_geom(type=mujoco.mjtGeom.mjGEOM_ELLIPSOID, size=[0.03, 0.03, 0.04], contype=0, conaffinity=0,
                  rgba=list(rgba[:3]) + [0.4])


def _add_pot(scene: mujoco.MjSpec) -> None:
    """A stand-in for Bi-DexHands' PartNet pot (``mjcf/pot/mobility.urdf``, not shipped by any registry
    package): a 1 kg pot of primitive shapes with its handles where Lift Underarm's reward puts them
    (object frame y = +-0.15, z = +0.06), bottom 0.05 below its origin, friction 3 as Bi-DexHands sets; and
    the 0.3 x 0.3 x 0.4 table it stands on (friction 3) and a mocap marker of its goal."""
    scene.worldbody.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.15, 0.15, 0.2],
                             pos=[0.0, -0.6, 0.2], friction=[3.0, 0.005, 0.0001], rgba=[0.5, 0.45, 0.4, 1])
    pot = scene.worldbody.add_body(name="pot")
    pot.add_freejoint(name="pot:joint")
    common = dict(friction=[3.0, 0.005, 0.0001], condim=4, rgba=[0.55, 0.55, 0.6, 1])
    pot.add_geom(name="pot:body", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.09, 0.05, 0.0], pos=[0.0, 0.0, 0.0],
                 **common)
    for sign in (1.0, -1.0):
        for x in (0.035, -0.035):  # the arms joining each handle bar to the pot
            pot.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.006, 0.03, 0.006],
                         pos=[x, sign * 0.115, 0.06], **common)
        pot.add_geom(name=f"pot:handle{'+' if sign > 0 else '-'}", type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                     size=[0.01, 0.045, 0.0], pos=[0.0, sign * 0.15, 0.06], quat=[0.7071068, 0.0, 0.7071068, 0.0],
                     **common)
    pot.mass = 1.0  # the URDF's link inertial
    pot.explicitinertial = False
    goal = scene.worldbody.add_body(name="pot:goal", mocap=True)
    goal.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.02, 0.0, 0.0], contype=0, conaffinity=0,
                  rgba=[0.2, 0.9, 0.2, 0.4])


#: Bi-DexHands' PartNet objects: each URDF's fixed joint turns the object's links by rpy (pi/2, 0, -pi/2)
#: (URDF order: Rz(-pi/2) Rx(pi/2)) from its root, and the meshes are given in those links' frames
PARTNET_LINK_QUAT = (0.5, 0.5, -0.5, -0.5)
#: the pen (``assets/mjcf/pen/mobility.urdf``, meshes scaled 0.2), in its link frame (the pen along y): the
#: body (link_1) and the cap (link_0, on a slide along -y, range [0, 0.492]), cylinders fitted to the meshes'
#: bounding boxes, and the cap's clip (centre, half sizes)
PEN_BODY = ((0.0, 0.0758, -0.0012), 0.0105, 0.1242)
PEN_CAP = ((0.0, -0.1061, -0.0012), 0.0114, 0.0657)
PEN_CLIP = ((0.0, -0.0991, 0.0156), (0.0066, 0.0496, 0.0076))
PEN_SLIDE_RANGE = (0.0, 0.492)
#: the door (``assets/mjcf/door/mobility.urdf``): a frame that is only a lintel and a sill, in its link frame
#: (x across, y up, z through the door; (centre, half sizes)), and two leaves, each on a vertical hinge
#: (range [0, pi/2]): (name, hinge position in the frame's link frame, hinge axis, leaf box, handle bars'
#: x range, y range and the two z ranges, one on each face), all in the leaf's frame, from the meshes' bounding
#: boxes (the handles' meshes scaled 2 as the URDF scales them)
DOOR_FRAME = [((-0.002, 0.4811, -0.0117), (0.881, 0.0022, 0.0242)),
              ((-0.002, -0.4439, -0.0117), (0.881, 0.0022, 0.0242))]
DOOR_LEAVES = [("right", (-0.4265270657166128, 0.483292, 0.008461858680020029), (0.0, -1.0, 0.0),
                ((-0.021, -0.9272, -0.0158), (0.4195, -0.0022, 0.0018)),
                (0.3569, 0.3921), (-0.6759, -0.3765), ((0.0121, 0.0827), (-0.0933, -0.0227))),
               ("left", (0.42040686074842226, 0.483292, 0.0055998888476049835), (0.0, 1.0, 0.0),
                ((-0.4173, -0.9272, -0.0129), (0.0232, -0.0022, 0.0047)),
                (-0.3946, -0.3592), (-0.6759, -0.3765), ((0.0148, 0.0852), (-0.0906, -0.0202)))]
DOOR_HINGE_RANGE = (0.0, np.pi / 2)
#: Bi-DexHands sets the door's friction to 0.1; PhysX averages it with the hand's 1.0 where MuJoCo takes the
#: larger one, so the door's geoms take precedence (priority) with the average
DOOR_FRICTION = 0.55


def _box(body, lo, hi, **kw) -> None:
    """A box geom filling the axis-aligned box [lo, hi] of ``body``'s frame."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, pos=list((lo + hi) / 2), size=list((hi - lo) / 2), **kw)


def _add_pen(scene: mujoco.MjSpec, pos, quat) -> None:
    """Hand Pen's pen (free, density 500 as Bi-DexHands loads it; its cap slides off along the pen) at the
    root pose (pos, quat), and the 0.5 x 1.0 x 0.6 table it lies on."""
    scene.worldbody.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.25, 0.5, 0.3],
                             pos=[0.0, 0.0, 0.3], rgba=[0.5, 0.45, 0.4, 1])
    root = scene.worldbody.add_body(name="pen", pos=list(pos), quat=list(quat))
    root.add_freejoint(name="pen:joint")
    along_y = [np.sqrt(0.5), -np.sqrt(0.5), 0.0, 0.0]  # a cylinder's axis (z) turned onto y
    body = root.add_body(name="pen:body", quat=list(PARTNET_LINK_QUAT))
    centre, radius, half = PEN_BODY
    common = dict(density=500.0, condim=4)
    body.add_geom(name="pen:body", type=mujoco.mjtGeom.mjGEOM_CYLINDER, pos=list(centre), quat=along_y,
                  size=[radius, half, 0.0], rgba=[0.6, 0.72, 0.98, 1.0], **common)
    cap = body.add_body(name="pen:cap")
    cap.add_joint(name="pen:slide", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0.0, -1.0, 0.0], limited=True,
                  range=list(PEN_SLIDE_RANGE))
    centre, radius, half = PEN_CAP
    cap.add_geom(name="pen:cap", type=mujoco.mjtGeom.mjGEOM_CYLINDER, pos=list(centre), quat=along_y,
                 size=[radius, half, 0.0], rgba=[0.2, 0.25, 0.6, 1.0], **common)
    centre, half = PEN_CLIP
    cap.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, pos=list(centre), size=list(half), rgba=[0.2, 0.25, 0.6, 1.0],
                 **common)


def _add_door(scene: mujoco.MjSpec, pos, quat) -> None:
    """The door tasks' fixed double door at the root pose (pos, quat): frame, and two leaves on free hinges
    (Bi-DexHands: drive mode none), each with a handle bar on posts on both faces; density 500."""
    root = scene.worldbody.add_body(name="door", pos=list(pos), quat=list(quat))
    frame = root.add_body(name="door:frame", quat=list(PARTNET_LINK_QUAT))
    common = dict(density=500.0, friction=[DOOR_FRICTION, 0.005, 0.0001], priority=1)
    for centre, half in DOOR_FRAME:
        frame.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, pos=list(centre), size=list(half),
                       rgba=[0.45, 0.35, 0.25, 1.0], **common)
    for side, hinge, axis, (lo, hi), hx, hy, faces in DOOR_LEAVES:
        leaf = frame.add_body(name=f"door:{side}", pos=list(hinge))
        # the frame is fixed, so MuJoCo's parent filter (which spares bodies welded to the world) does not
        # keep the leaves off it; PhysX never collides an articulation's adjacent links
        scene.add_exclude(bodyname1="door:frame", bodyname2=f"door:{side}")
        leaf.add_joint(name=f"door:hinge_{side}", type=mujoco.mjtJoint.mjJNT_HINGE, axis=list(axis), limited=True,
                       range=list(np.degrees(DOOR_HINGE_RANGE)))  # the scene's spec counts angles in degrees
        _box(leaf, lo, hi, name=f"door:leaf_{side}", rgba=[0.7, 0.6, 0.45, 1.0], **common)
        surface = {1: hi[2], -1: lo[2]}
        for hz in faces:  # a bar at the face's outer 40 % on two posts at the ends of its y range
            sign = 1 if hz[0] > 0 else -1
            outer = hz[1] if sign > 0 else hz[0]
            inner = outer - sign * 0.4 * (hz[1] - hz[0])
            _box(leaf, (hx[0], hy[0], min(inner, outer)), (hx[1], hy[1], max(inner, outer)),
                 rgba=[0.8, 0.8, 0.8, 1.0], **common)
            for y0, y1 in ((hy[0], hy[0] + 0.03), (hy[1] - 0.03, hy[1])):
                _box(leaf, (hx[0], y0, min(surface[sign], inner)), (hx[1], y1, max(surface[sign], inner)),
                     rgba=[0.8, 0.8, 0.8, 1.0], **common)


def build_model(right: HandPose, left: HandPose, objects: str, object_pose=None) -> mujoco.MjModel:
    """The compiled scene: floor, two hands, and ``objects`` ("egg", "two_eggs", "pot", or "pen" or "door" at
    ``object_pose``, the object's root (position, quaternion))."""
    scene = mujoco.MjSpec()
    scene.option.timestep = CONTROL_DT / SUBSTEPS
    scene.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    scene.visual.global_.offwidth, scene.visual.global_.offheight = 640, 480
    scene.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[2.0, 2.0, 0.1],
                             rgba=[0.3, 0.35, 0.4, 1])
    scene.worldbody.add_light(pos=[0.0, -0.5, 3.0], dir=[0.0, 0.0, -1.0],
                              type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    scene.worldbody.add_camera(name="overview", pos=[0.9, -0.55, 1.0], xyaxes=[0, 1, 0, -0.6, 0, 0.8])
    for side, pose in zip(SIDES, (right, left)):
        _add_hand(scene, side, pose)
    if objects == "pot":
        _add_pot(scene)
    elif objects == "pen":
        _add_pen(scene, *object_pose)
    elif objects == "door":
        _add_door(scene, *object_pose)
    else:
        _add_egg(scene, "egg", [0.6, 0.72, 0.98, 1.0])
        if objects == "two_eggs":
            _add_egg(scene, "egg2", [0.98, 0.6, 0.72, 1.0])
    model = scene.compile()
    if right.free_base or left.free_base:
        _set_base_damping(model)
    return model


def _set_base_damping(model: mujoco.MjModel) -> None:
    """Joint damping of the free bases: BASE_DAMPING_RATE times the hand's mass (slides) and its mean
    rotational inertia about its centre of mass (ball) at the rest pose."""
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    inertia = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, inertia, data.qM)
    for side in SIDES:
        for name in ("base_slidex", "base_slidey", "base_slidez", "base_ball"):
            jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, f"{side}/{name}")
            if jid < 0:
                continue
            dofs = range(model.jnt_dofadr[jid], model.jnt_dofadr[jid] + (3 if name == "base_ball" else 1))
            diag = np.mean([inertia[d, d] for d in dofs])
            for d in dofs:
                model.dof_damping[d] = BASE_DAMPING_RATE * diag
