"""Grasps of SynthHO objects by a right hand, placed in the camera optical frame.

A grasp is planned in the hand frame of :mod:`gsdf_ros.hand.skeleton` (wrist at the origin, x
toward the middle MCP, y toward the thumb, palm facing −z):

1. the object keeps a random orientation; a grasp point below the palm and an approach direction
   (the palm normal tilted by a few degrees) are drawn, and the object slides along the approach
   direction until the open hand's surface is ``palm_gap`` away from it (bisection on the offset);
2. each finger closes its flexion angles stepwise toward a full curl; when one of its phalanges
   touches the object (distance of the phalanx capsules to the object's surface points), the step
   is bisected to the contact, the joints that carry the touching phalanx and those before it
   stop, and the distal joints go on; a finger that touches nothing ends at a natural curl;
3. the hand-object interpenetration (:func:`interpenetration`) is checked, then a camera pose is
   drawn: wrist depth in ``wrist_depth``, the whole hand and object inside the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.hand.joints import FINGER_JOINTS, FINGER_NAMES
from gsdf_ros.hand.kinematics import forward_kinematics_np
from gsdf_ros.hand.limits import (
    LOWER,
    NUM_ARTICULATIONS,
    UPPER,
    articulation_index,
    articulation_to_local_rotations,
)
from gsdf_ros.hand.skeleton import HandTemplate, sample_template
from gsdf_ros.synth import sdf_ops
from gsdf_ros.synth.hand_shape import FINGER_RADII, HandShape
from gsdf_ros.synth.objects import SynthObject, make_pose, random_rotation, sample_object


def _chain(finger: str) -> tuple[int, ...]:
    if finger == "thumb":
        names = ("thumb_cmc_abduction", "thumb_cmc_flexion", "thumb_mcp_flexion", "thumb_ip_flexion")
    else:
        names = tuple(f"{finger}_{joint}_flexion" for joint in ("mcp", "pip", "dip"))
    return tuple(articulation_index(n) for n in names)


CLOSING_CHAINS: tuple[tuple[int, ...], ...] = tuple(_chain(f) for f in FINGER_NAMES)
"""Per finger, the articulation indices that close it (the thumb also abducts toward the palm)."""

CHAIN_LINKS: tuple[tuple[int, ...], ...] = ((0, 0, 1, 2),) + ((0, 1, 2),) * 4
"""Per finger, the phalanx (0 proximal, 1 middle, 2 distal) each closing angle turns first."""

CLOSED = np.radians(
    [45.0, 35.0, 50.0, 70.0] + [0.0, 85.0, 100.0, 70.0] * 4
)
"""The full curl each closing angle moves toward (rad, inside the limits); abductions unused."""

_DEG = math.pi / 180.0


@dataclass(frozen=True)
class GraspConfig:
    """Parameters of grasp planning and camera placement (metres, radians, pixels)."""

    wrist_depth: tuple[float, float] = (0.3, 0.8)
    palm_gap: float = 0.0005
    """Distance kept between the open hand and the object when the approach stops."""
    grasp_point_x: tuple[float, float] = (0.6, 0.95)
    """Grasp point along the palm, as fractions of the wrist-to-middle-MCP length."""
    approach_tilt: float = 20.0 * _DEG
    close_steps: int = 16
    bisection_steps: int = 8
    natural_curl: tuple[float, float] = (0.15, 0.35)
    """Fraction of the full curl a finger that touches nothing ends at."""
    max_penetration: float = 0.002
    min_contacts: int = 2
    image_margin: float = 3.0
    attempts: int = 12
    placements: int = 60
    object_voxel: float = 0.003
    """Marching-cubes voxel of the object surface points used for contact tests."""

    def __post_init__(self) -> None:
        lo, hi = self.wrist_depth
        if not 0.05 < lo <= hi:
            raise ValueError(f"wrist_depth must be an interval of positive depths, got {self.wrist_depth}")
        if self.close_steps < 1 or self.bisection_steps < 1 or self.attempts < 1 or self.placements < 1:
            raise ValueError("close_steps, bisection_steps, attempts and placements must be >= 1")
        if self.max_penetration < 0 or self.palm_gap < 0:
            raise ValueError("max_penetration and palm_gap must be >= 0")


@dataclass(frozen=True)
class HandGrasp:
    """A grasp in the hand frame: angles, the open hand it closed from, the object and contacts."""

    template: HandTemplate
    articulation: np.ndarray
    open_articulation: np.ndarray
    object: SynthObject
    """The object with its pose in the hand frame (hand <- object)."""
    contacts: tuple[bool, ...]
    """Per finger (thumb .. little), whether it touches the object."""


@dataclass(frozen=True)
class Grasp:
    """A grasp in the camera optical frame (x right, y down, z forward, metres)."""

    template: HandTemplate
    articulation: np.ndarray
    """The 20 named angles (rad) of :mod:`gsdf_ros.hand.limits`."""
    open_articulation: np.ndarray
    wrist_pose: np.ndarray
    """camera <- hand (4, 4); the hand frame has its origin at the wrist."""
    object: SynthObject
    """The object with its camera-frame pose."""
    contacts: tuple[bool, ...]
    joints: np.ndarray
    """The 21 joints (21, 3), camera frame."""

    @property
    def wrist_rotation(self) -> np.ndarray:
        return self.wrist_pose[:3, :3].copy()

    @property
    def wrist_position(self) -> np.ndarray:
        return self.wrist_pose[:3, 3].copy()

    def hand_shape(self) -> HandShape:
        return HandShape.from_joints(self.joints)


# ---------------------------------------------------------------- kinematics and distances


def pose_hand(template: HandTemplate, articulation: np.ndarray, wrist_pose: np.ndarray | None = None) -> np.ndarray:
    """Joints (..., 21, 3) of angles (..., 20), in the frame of ``wrist_pose`` (frame <- hand)."""
    local = articulation_to_local_rotations(articulation, template)
    if wrist_pose is None:
        return forward_kinematics_np(local, template.joints)[0]
    pose = sdf_ops.check_pose(wrist_pose)
    local[..., 0, :, :] = pose[:3, :3]
    return forward_kinematics_np(local, template.joints, pose[:3, 3])[0]


def finger_cones(joints: np.ndarray, finger: int) -> sdf_ops.RoundCones:
    """The three phalanx capsules (base to tip) of one finger, as :class:`HandShape` builds them."""
    chain, radii = FINGER_JOINTS[finger], FINGER_RADII[finger]
    starts = joints[list(chain[:3])]
    ends = joints[list(chain[1:])].copy()
    tip_axis = ends[2] - starts[2]
    tip_length = np.linalg.norm(tip_axis)
    ends[2] -= tip_axis / tip_length * min(radii[3], 0.5 * tip_length)  # the surface ends at the tip joint
    return sdf_ops.RoundCones(starts, ends, np.array(radii[:3]), np.array(radii[1:]))


def phalanx_distances(joints: np.ndarray, points: np.ndarray, finger: int) -> np.ndarray:
    """The smallest signed distance (3,) of ``points`` to each phalanx capsule of one finger."""
    if len(points) == 0:
        return np.full(3, np.inf)
    return finger_cones(joints, finger).distances(points).min(axis=0)


def within_reach(template: HandTemplate, points: np.ndarray, finger: int, margin: float = 0.02) -> np.ndarray:
    """The hand-frame points a finger can touch: those within its length (plus ``margin``) of its base."""
    chain = FINGER_JOINTS[finger]
    rest = template.joints
    reach = sum(np.linalg.norm(rest[chain[k + 1]] - rest[chain[k]]) for k in range(3)) + margin
    base = pose_hand(template, np.zeros(NUM_ARTICULATIONS))[chain[0]]
    return points[np.linalg.norm(points - base, axis=1) < reach]


def project_to_surface(sdf: sdf_ops.SDF, points: np.ndarray, iterations: int = 3, step: float = 2e-4) -> np.ndarray:
    """Points moved onto the zero set of ``sdf`` by Newton steps along the finite-difference gradient."""
    p = sdf_ops.as_points(points).astype(np.float64)
    offsets = np.eye(3) * step
    for _ in range(iterations):
        d = sdf(p)
        grad = np.stack([(sdf(p + o) - d) / step for o in offsets], axis=1)
        p = p - (d / np.maximum(np.einsum("nc,nc->n", grad, grad), 1e-12))[:, None] * grad
    return p


def interpenetration(hand: HandShape, obj: SynthObject, object_points: np.ndarray,
                     hand_points: np.ndarray | None = None, near: float = 0.01) -> float:
    """Largest depth (m) of one shape inside the other: max of −hand_sdf over object surface points
    and of −object_sdf over hand surface points (those within ``near`` of the object are found by
    projecting object points onto the hand when ``hand_points`` is None); 0 when they only touch."""
    obj_pts = sdf_ops.as_points(object_points)
    hand_sdf = hand.sdf(obj_pts, exact_within=near)
    if hand_points is None:
        close = obj_pts[hand_sdf < near]
        hand_points = project_to_surface(hand.sdf, close) if len(close) else np.zeros((0, 3))
    hand_pts = sdf_ops.as_points(hand_points)
    worst = [0.0, float(-hand_sdf.min(initial=np.inf))]
    if len(hand_pts):
        worst.append(float(-obj.sdf(hand_pts).min()))
    return max(worst)


# ---------------------------------------------------------------- planning in the hand frame


def sample_open_articulation(rng: np.random.Generator) -> np.ndarray:
    """An open hand: fingers nearly straight and slightly spread, the thumb near the palm plane."""
    a = np.zeros(NUM_ARTICULATIONS)
    for f, finger in enumerate(FINGER_NAMES):
        chain = CLOSING_CHAINS[f]
        if finger == "thumb":
            a[list(chain)] = np.radians(rng.uniform([-5.0, -10.0, 0.0, 0.0], [10.0, 5.0, 10.0, 10.0]))
            continue
        a[list(chain)] = np.radians(rng.uniform([-10.0, 0.0, 0.0], [5.0, 8.0, 8.0]))
        abduction = articulation_index(f"{finger}_mcp_abduction")
        a[abduction] = rng.uniform(0.5 * LOWER[abduction], 0.5 * UPPER[abduction])
    return a


def _closing_path(start: np.ndarray, active: np.ndarray, chain: Sequence[int], steps: int,
                  delta: np.ndarray) -> np.ndarray:
    """Angles (steps, 20) after 1..steps closing steps of the active chain joints, capped at CLOSED."""
    path = np.repeat(start[None], steps, axis=0)
    idx = np.asarray(chain)[active]
    k = np.arange(1, steps + 1)[:, None]
    path[:, idx] = np.minimum(start[idx] + k * delta[idx], CLOSED[idx])
    return path


def close_finger(template: HandTemplate, articulation: np.ndarray, finger: int, object_points: np.ndarray,
                 config: GraspConfig, curl: float) -> tuple[np.ndarray, bool]:
    """Close one finger onto the object; returns the new angles and whether it touches."""
    chain, links = CLOSING_CHAINS[finger], np.asarray(CHAIN_LINKS[finger])
    start = np.asarray(articulation, dtype=np.float64).copy()
    delta = np.zeros(NUM_ARTICULATIONS)
    delta[list(chain)] = np.maximum(CLOSED[list(chain)] - start[list(chain)], 0.0) / config.close_steps
    active = np.ones(len(chain), dtype=bool)
    current, touched = start, False

    points = within_reach(template, object_points, finger)

    def gaps(angles: np.ndarray) -> np.ndarray:
        return phalanx_distances(pose_hand(template, angles), points, finger)

    while active.any():
        path = _closing_path(current, active, chain, config.close_steps, delta)
        joints = pose_hand(template, path)
        hit = next((k for k in range(len(path)) if phalanx_distances(joints[k], points, finger).min() <= 0.0), None)
        if hit is None:
            break
        lo, hi = (current if hit == 0 else path[hit - 1]), path[hit]
        for _ in range(config.bisection_steps):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if gaps(mid).min() <= 0.0 else (mid, hi)
        current, touched = lo, True
        link = int(np.argmin(gaps(hi)))
        active &= links > link
        if np.allclose(current[list(chain)][active], CLOSED[list(chain)][active]):
            break
    if not touched:
        current = start.copy()
        current[list(chain)] = start[list(chain)] + curl * (CLOSED[list(chain)] - start[list(chain)])
        current[list(chain)] = np.minimum(current[list(chain)], np.maximum(CLOSED[list(chain)], start[list(chain)]))
    return current, touched


def _approach_frame(
    rng: np.random.Generator, template: HandTemplate, config: GraspConfig
) -> tuple[np.ndarray, np.ndarray]:
    """A grasp point below the palm and a unit approach direction (from the palm toward the object)."""
    palm = template.palm_length()
    point = np.array([palm * rng.uniform(*config.grasp_point_x), template.palm_width() * rng.uniform(-0.2, 0.35), 0.0])
    tilt, heading = rng.uniform(0.0, config.approach_tilt), rng.uniform(0.0, 2.0 * math.pi)
    direction = np.array([math.sin(tilt) * math.cos(heading), math.sin(tilt) * math.sin(heading), -math.cos(tilt)])
    return point, direction


def _clearance(hand: HandShape, points: np.ndarray) -> float:
    return float(hand.sdf(points, exact_within=0.01).min())


def approach(open_joints: np.ndarray, rest_points: np.ndarray, rotation: np.ndarray, point: np.ndarray,
             direction: np.ndarray, gap: float, bisection_steps: int = 14) -> np.ndarray:
    """Object pose (hand <- object) at ``point + s * direction`` with the smallest offset s at which
    the open hand stays ``gap`` away from the object's surface points (``rest_points``, object frame)."""
    hand = HandShape.from_joints(open_joints)
    rotated = rest_points @ rotation.T
    lo, hi = 0.0, float(np.linalg.norm(rest_points, axis=1).max()) + 0.1
    while _clearance(hand, rotated + point + hi * direction) < gap:
        hi *= 1.5
    for _ in range(bisection_steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _clearance(hand, rotated + point + mid * direction) < gap else (lo, mid)
    return make_pose(rotation, point + hi * direction)


def object_surface_points(obj: SynthObject, voxel: float) -> np.ndarray:
    """Surface points (N, 3) of the object in its own frame: vertices of its rest mesh."""
    return np.asarray(obj.with_pose(np.eye(4)).mesh(voxel).vertices, dtype=np.float64)


def plan_hand_grasp(rng: np.random.Generator, template: HandTemplate, obj: SynthObject,
                    config: GraspConfig = GraspConfig()) -> HandGrasp:
    """Approach and close the fingers on ``obj`` (its orientation kept); the best of ``attempts``
    tries that meets the interpenetration bound, preferring more finger contacts."""
    rest_points = object_surface_points(obj, config.object_voxel)
    best: HandGrasp | None = None
    for _ in range(config.attempts):
        open_angles = sample_open_articulation(rng)
        point, direction = _approach_frame(rng, template, config)
        pose = approach(pose_hand(template, open_angles), rest_points, obj.pose[:3, :3], point, direction,
                        config.palm_gap)
        placed = obj.with_pose(pose)
        points = sdf_ops.apply_pose(pose, rest_points)
        angles, contacts = open_angles.copy(), []
        curl = rng.uniform(*config.natural_curl)
        for finger in range(len(FINGER_NAMES)):
            angles, touched = close_finger(template, angles, finger, points, config, curl)
            contacts.append(touched)
        depth = interpenetration(HandShape.from_joints(pose_hand(template, angles)), placed, points)
        if depth > config.max_penetration:
            continue
        grasp = HandGrasp(template, angles, open_angles, placed, tuple(contacts))
        if best is None or sum(contacts) > sum(best.contacts):
            best = grasp
        if sum(contacts) >= config.min_contacts:
            break
    if best is None:
        raise RuntimeError(f"no grasp of the {obj.family} within {config.max_penetration} m interpenetration "
                           f"in {config.attempts} attempts")
    return best


# ---------------------------------------------------------------- camera placement


def _view_ok(rotation: np.ndarray, max_away: float = 0.3) -> bool:
    """False when the palm (and so the object) faces away from the camera by more than ``max_away``
    (cosine of the palm normal with the optical axis): the object would hide behind the hand."""
    palm_normal_cam = rotation @ np.array([0.0, 0.0, -1.0])
    return bool(palm_normal_cam[2] < max_away)


def inside_image(uv: np.ndarray, camera: Intrinsics, margin: float) -> bool:
    """Whether every pixel (N, 2) lies at least ``margin`` pixels inside the image."""
    return bool(np.all(np.isfinite(uv)) and np.all(uv >= margin)
                and np.all(uv[:, 0] <= camera.width - 1 - margin) and np.all(uv[:, 1] <= camera.height - 1 - margin))


def place_in_camera(rng: np.random.Generator, points: np.ndarray, camera: Intrinsics,
                    config: GraspConfig = GraspConfig()) -> np.ndarray:
    """A pose camera <- hand (4, 4) with the wrist at a depth in ``wrist_depth`` and every hand-frame
    point of ``points`` (N, 3) projected inside the image (raises RuntimeError if none is found)."""
    pts = sdf_ops.as_points(points).astype(np.float64)
    lo, hi = config.wrist_depth
    tan_half = min(camera.width / camera.fx, camera.height / camera.fy) / 2.0
    spread = float(np.linalg.norm(pts - pts.mean(axis=0), axis=1).max())
    for _ in range(config.placements):
        rotation = random_rotation(rng)
        if not _view_ok(rotation):
            continue
        rel = pts @ rotation.T
        depth = rng.uniform(min(max(lo, 0.9 * spread / tan_half), hi), hi)
        centroid = rel.mean(axis=0)
        u = camera.cx + rng.uniform(-0.2, 0.2) * camera.width
        v = camera.cy + rng.uniform(-0.2, 0.2) * camera.height
        target = camera.unproject(np.array([[u, v]]), centroid[2] + depth)[0]
        translation = np.array([target[0] - centroid[0], target[1] - centroid[1], depth])
        cam_pts = rel + translation
        if cam_pts[:, 2].min() > 0.1 and inside_image(camera.project(cam_pts), camera, config.image_margin):
            return make_pose(rotation, translation)
    raise RuntimeError(f"could not place the hand and object inside a {camera.width}x{camera.height} image "
                       f"(fx={camera.fx:.0f}) at wrist depths {config.wrist_depth}")


def object_view_points(obj: SynthObject, count: int = 150) -> np.ndarray:
    """About ``count`` surface points of the object in its own frame, for visibility checks."""
    surface = object_surface_points(obj, 0.006)
    return surface[:: max(1, len(surface) // count)]


def visibility_points(grasp: HandGrasp) -> np.ndarray:
    """Hand-frame points that must stay in view: the joints and object surface points."""
    surface = sdf_ops.apply_pose(grasp.object.pose, object_view_points(grasp.object))
    return np.vstack([pose_hand(grasp.template, grasp.articulation), surface])


def to_camera(grasp: HandGrasp, wrist_pose: np.ndarray) -> Grasp:
    """The hand-frame grasp seen from a camera at ``wrist_pose`` (camera <- hand)."""
    pose = sdf_ops.check_pose(wrist_pose)
    return Grasp(
        template=grasp.template,
        articulation=grasp.articulation.copy(),
        open_articulation=grasp.open_articulation.copy(),
        wrist_pose=pose,
        object=grasp.object.with_pose(pose @ grasp.object.pose),
        contacts=grasp.contacts,
        joints=pose_hand(grasp.template, grasp.articulation, pose),
    )


def sample_grasp(rng: np.random.Generator, camera: Intrinsics, family: str | None = None,
                 template: HandTemplate | None = None, config: GraspConfig = GraspConfig()) -> Grasp:
    """A random object of ``family`` grasped by a random (or the given) right hand, in view of ``camera``."""
    template = sample_template(rng) if template is None else template
    obj = sample_object(rng, family, position=np.zeros(3))
    hand_grasp = plan_hand_grasp(rng, template, obj, config)
    pose = place_in_camera(rng, visibility_points(hand_grasp), camera, config)
    return to_camera(hand_grasp, pose)


def fingertip_gaps(grasp: Grasp, object_points: np.ndarray | None = None) -> np.ndarray:
    """Per finger (5,), the distance (m) of its distal phalanx to the object surface."""
    points = object_points
    if points is None:
        points = sdf_ops.apply_pose(grasp.object.pose, object_surface_points(grasp.object, 0.002))
    return np.array([phalanx_distances(grasp.joints, points, f)[2] for f in range(len(FINGER_NAMES))])


__all__ = [
    "CLOSED",
    "CLOSING_CHAINS",
    "Grasp",
    "GraspConfig",
    "HandGrasp",
    "approach",
    "close_finger",
    "fingertip_gaps",
    "interpenetration",
    "object_surface_points",
    "object_view_points",
    "finger_cones",
    "phalanx_distances",
    "place_in_camera",
    "plan_hand_grasp",
    "pose_hand",
    "sample_grasp",
    "to_camera",
    "visibility_points",
]
