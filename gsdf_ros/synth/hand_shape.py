"""A right-hand surface built from 21 joint positions as a smooth union of analytic solids.

Pieces: one tapered capsule per bone (the 20 parent-child pairs of :mod:`gsdf_ros.hand.joints`),
a rounded palm slab spanning the wrist and the five MCPs, and a short sealed wrist stub. Each
finger chain is a plain union of its four tapered capsules (they share the joint spheres) and the
fingers are a plain union of the chains, so neighbouring fingers do not web together; palm, wrist
stub and fingers are blended with a polynomial smooth minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import trimesh
from scipy.spatial import ConvexHull

from gsdf_ros.geometry.sampling import box_corners
from gsdf_ros.hand.joints import BONES, FINGER_JOINTS, MCP_JOINTS, NUM_JOINTS, TIP_JOINTS
from gsdf_ros.synth import sdf_ops

# radius (m) at MCP, PIP, DIP and tip of each finger; thumb thicker, little finger thinner
FINGER_RADII: tuple[tuple[float, float, float, float], ...] = (
    (0.0120, 0.0108, 0.0098, 0.0088),
    (0.0100, 0.0092, 0.0083, 0.0075),
    (0.0102, 0.0094, 0.0085, 0.0077),
    (0.0098, 0.0090, 0.0081, 0.0073),
    (0.0088, 0.0080, 0.0073, 0.0066),
)
THUMB_BASE_RADIUS = 0.0135
"""Radius of the thumb's metacarpal capsule at the wrist (the thenar bulge)."""
PALM_THICKNESS = 0.025
PALM_ROUNDING = 0.009
STUB_LENGTH = 0.03
BLEND = 0.006
"""Blend width (m) of the smooth union between palm, wrist stub and fingers."""
MIN_BONE_LENGTH = 0.003


def _joint_radii(scale: float) -> np.ndarray:
    radii = np.zeros(NUM_JOINTS)
    for joints, finger_radii in zip(FINGER_JOINTS, FINGER_RADII):
        radii[list(joints)] = finger_radii
    return radii * scale


def _palm_frame(joints: np.ndarray) -> np.ndarray:
    """Rotation whose columns are the palm's lateral axis, wrist-to-fingers axis and normal."""
    pts = joints[[0, *MCP_JOINTS[1:]]]
    _, _, vt = np.linalg.svd(pts - pts.mean(axis=0))
    normal = vt[2]
    forward = joints[MCP_JOINTS[2]] - joints[0]
    forward = forward - (forward @ normal) * normal
    if np.linalg.norm(forward) < 1e-6:
        raise ValueError("degenerate hand: the middle MCP sits on the wrist")
    forward /= np.linalg.norm(forward)
    return np.stack([np.cross(forward, normal), forward, normal], axis=1)


@dataclass(frozen=True)
class HandShape:
    """Analytic hand surface around 21 joints (camera frame, metres)."""

    joints: np.ndarray
    radius_scale: float = 1.0

    @classmethod
    def from_joints(cls, joints: np.ndarray, radius_scale: float = 1.0) -> "HandShape":
        j = np.asarray(joints, dtype=np.float64)
        if j.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(j)):
            raise ValueError(f"joints must be a finite ({NUM_JOINTS}, 3) array, got {j.shape}")
        if not 0.3 <= radius_scale <= 3.0:
            raise ValueError(f"radius_scale must lie in [0.3, 3], got {radius_scale}")
        lengths = np.linalg.norm(j[[c for _, c in BONES]] - j[[p for p, _ in BONES]], axis=1)
        if lengths.min() < MIN_BONE_LENGTH:
            raise ValueError(f"bone {BONES[int(lengths.argmin())]} is shorter than {MIN_BONE_LENGTH} m")
        return cls(joints=j, radius_scale=float(radius_scale))

    @cached_property
    def _bones(self) -> sdf_ops.RoundCones:
        """One tapered capsule per bone, finger by finger; fingertips are pulled in by their
        radius so the surface ends at the tip joint."""
        radii = _joint_radii(self.radius_scale)
        starts, ends, r0, r1 = [], [], [], []
        for parent, child in BONES:
            a, b = self.joints[parent], self.joints[child]
            ra = radii[child] if parent == 0 else radii[parent]
            if parent == 0 and child == MCP_JOINTS[0]:
                ra = THUMB_BASE_RADIUS * self.radius_scale
            rb = radii[child]
            if child in TIP_JOINTS:
                axis = b - a
                length = np.linalg.norm(axis)
                b = b - axis / length * min(rb, 0.5 * length)
            if np.linalg.norm(b - a) <= abs(ra - rb):
                rb = ra = max(ra, rb)
            starts.append(a), ends.append(b), r0.append(ra), r1.append(rb)
        return sdf_ops.RoundCones(np.array(starts), np.array(ends), np.array(r0), np.array(r1))

    @cached_property
    def _palm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Palm frame rotation, the palm polygon (ccw, palm-frame xy) and the wrist stub pose."""
        rot = _palm_frame(self.joints)
        wrist = self.joints[0]
        local = (self.joints[list(MCP_JOINTS)] - wrist) @ rot
        width = np.ptp(local[1:, 0])
        side = np.array([[-0.4 * width, 0.0], [0.4 * width, 0.0]])
        outline = np.vstack([local[:, :2], side])
        hull = ConvexHull(outline)
        polygon = outline[hull.vertices]
        stub_pose = np.eye(4)
        stub_pose[:3, :3] = rot
        stub_pose[:3, 3] = wrist - rot[:, 1] * (STUB_LENGTH / 2.0)
        return rot, polygon, stub_pose

    @cached_property
    def _stub_half_extents(self) -> np.ndarray:
        width = np.ptp(self._palm[1][:, 0])
        return np.array([0.4 * width, STUB_LENGTH / 2.0, 0.45 * PALM_THICKNESS * self.radius_scale])

    @cached_property
    def _part_spheres(self) -> tuple[tuple[np.ndarray, float], tuple[np.ndarray, float]]:
        """Bounding spheres (centre, radius) of the palm slab and the wrist stub."""
        rot, polygon, stub_pose = self._palm
        half = 0.5 * PALM_THICKNESS * self.radius_scale
        palm = self.joints[0] + np.column_stack([polygon, np.zeros(len(polygon))]) @ rot.T
        palm_centre = (palm.min(axis=0) + palm.max(axis=0)) / 2.0
        palm_radius = np.linalg.norm(palm - palm_centre, axis=1).max() + half
        stub_radius = float(np.linalg.norm(self._stub_half_extents))
        return (palm_centre, float(palm_radius)), (stub_pose[:3, 3].copy(), stub_radius)

    def _palm_sdf(self, points: np.ndarray) -> np.ndarray:
        rot, polygon, _ = self._palm
        local = (points - self.joints[0].astype(points.dtype)) @ rot.astype(points.dtype)
        half = 0.5 * PALM_THICKNESS * self.radius_scale
        rounding = min(PALM_ROUNDING * self.radius_scale, 0.9 * half)
        return sdf_ops.extruded_polygon(local, polygon, half - rounding) - rounding

    def _stub_sdf(self, points: np.ndarray) -> np.ndarray:
        _, _, pose = self._palm
        local = sdf_ops.apply_pose(sdf_ops.inverse_pose(pose), points)
        half = self._stub_half_extents
        return sdf_ops.rounded_box(local, half, min(PALM_ROUNDING * self.radius_scale, 0.9 * half.min()))

    def finger_sdfs(self, points: np.ndarray, exact_within: float | None = None) -> np.ndarray:
        """Distances (N, 5) to each finger chain (its metacarpal and three phalanx capsules).

        With ``exact_within`` set, a bone whose bounding sphere is farther than that answers
        with the distance to the sphere: a lower bound, exact wherever the result is smaller."""
        p = sdf_ops.as_points(points)
        cones = self._bones
        if exact_within is None:
            per_bone = cones.distances(p)
        else:
            per_bone = sdf_ops.distance_to_points(p, cones.center) - cones.bound.astype(p.dtype)
            point_idx, bone_idx = np.nonzero(per_bone < exact_within)
            per_bone[point_idx, bone_idx] = cones.pair_distances(p[point_idx], bone_idx)
        return per_bone.reshape(len(p), 5, 4).min(axis=2)

    def sdf(self, points: np.ndarray, exact_within: float | None = None) -> np.ndarray:
        """Signed distance (metres) of camera-frame points; negative inside the hand.

        ``exact_within`` (metres) trades exactness far from the surface for speed: values above
        it are only lower bounds (what sphere tracing needs)."""
        p = sdf_ops.as_points(points)
        fingers = self.finger_sdfs(p, exact_within)
        if exact_within is None:
            parts = [self._palm_sdf(p), self._stub_sdf(p)]
        else:
            parts = [sdf_ops.culled(f, p, *self._part_spheres[k], exact_within)
                     for k, f in enumerate((self._palm_sdf, self._stub_sdf))]
        # fingers meet each other with a plain union (no webbing), the palm with a smooth one
        parts.append(fingers.min(axis=1))
        return sdf_ops.smooth_union_all(parts, BLEND).astype(p.dtype)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """An axis-aligned box (lower, upper) that contains the whole surface."""
        cones = self._bones
        stub = sdf_ops.apply_pose(self._palm[2], box_corners(self._stub_half_extents))
        rot, polygon, _ = self._palm
        palm = self.joints[0] + np.column_stack([polygon, np.zeros(len(polygon))]) @ rot.T
        pts = np.vstack([cones.a, cones.a + cones.unit * cones.length[:, None], stub, palm])
        widest = max(cones.radius_a.max(), cones.radius_b.max(), 0.5 * PALM_THICKNESS * self.radius_scale)
        margin = widest + BLEND / 4 + 1e-3
        return pts.min(axis=0) - margin, pts.max(axis=0) + margin

    def bounding_sphere(self) -> tuple[np.ndarray, float]:
        lo, hi = self.bounds()
        return (lo + hi) / 2.0, float(np.linalg.norm(hi - lo) / 2.0)

    def mesh(self, voxel: float = 0.002) -> trimesh.Trimesh:
        """Marching-cubes mesh of the zero set, vertices in metres in the joints' frame."""
        lo, hi = self.bounds()
        return sdf_ops.sdf_to_mesh(self.sdf, lo, hi, voxel)

