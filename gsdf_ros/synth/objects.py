"""Procedural SynthHO objects: analytic SDFs, marching-cubes meshes and materials.

Each family builds its rest shape in an object frame whose origin is the centre of the rest
shape's axis-aligned bounding box; that point, mapped by ``pose`` (camera <- object), is the
object centre written as ``obj_center_3d``. Sizes are drawn so the largest bounding-box extent
lies in [4, 15] cm.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Callable

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from gsdf_ros.geometry.sampling import box_corners
from gsdf_ros.synth import sdf_ops
from gsdf_ros.synth.appearance import Material, sample_material

MIN_EXTENT = 0.04
MAX_EXTENT = 0.15

Params = dict[str, Any]
Shape = tuple[sdf_ops.SDF, np.ndarray]
"""A rest shape: its SDF in the object frame and its bounding-box half extents (3,)."""


def _sphere(p: Params) -> Shape:
    r = p["radius"]
    return (lambda x: sdf_ops.sphere(x, r)), np.full(3, r)


def _box(p: Params) -> Shape:
    h = np.asarray(p["half_extents"], dtype=float)
    return (lambda x: sdf_ops.rounded_box(x, h, p["rounding"])), h


def _cylinder(p: Params) -> Shape:
    r, hh = p["radius"], p["half_height"]
    return (lambda x: sdf_ops.cylinder(x, r, hh)), np.array([r, r, hh])


def _capsule(p: Params) -> Shape:
    r, hl = p["radius"], p["half_length"]
    a, b = np.array([0.0, 0.0, -hl]), np.array([0.0, 0.0, hl])
    return (lambda x: sdf_ops.capsule(x, a, b, r)), np.array([r, r, hl + r])


def _cone(p: Params) -> Shape:
    r0, r1, hh = p["radius_bottom"], p["radius_top"], p["half_height"]
    return (lambda x: sdf_ops.capped_cone(x, r0, r1, hh)), np.array([r0, r0, hh])


def _torus(p: Params) -> Shape:
    big, small = p["major_radius"], p["minor_radius"]
    return (lambda x: sdf_ops.torus(x, big, small)), np.array([big + small, big + small, small])


def _mug(p: Params) -> Shape:
    """Open cylinder shell with a bottom, plus a half-torus handle in the xz plane at +x."""
    r, hh, wall, bottom = p["radius"], p["half_height"], p["wall"], p["bottom"]
    hr, hs = p["handle_radius"], p["handle_thickness"]
    inner_hh = hh - bottom / 2.0
    inner_shift = np.array([0.0, 0.0, bottom / 2.0 + 1e-3])
    handle_rot = np.eye(4)
    handle_rot[:3, :3] = Rotation.from_euler("x", 90.0, degrees=True).as_matrix()
    handle_rot[:3, 3] = [r, 0.0, 0.0]
    handle = sdf_ops.transformed(lambda x: sdf_ops.torus(x, hr, hs), handle_rot)
    x_lo, x_hi = -r, r + hr + hs
    centre = np.array([(x_lo + x_hi) / 2.0, 0.0, 0.0])

    def sdf(x: np.ndarray) -> np.ndarray:
        q = x + centre.astype(x.dtype)
        solid = sdf_ops.cylinder(q, r, hh)
        cavity = sdf_ops.cylinder(q - inner_shift.astype(x.dtype), r - wall, inner_hh)
        cup = sdf_ops.subtraction(solid, cavity)
        return sdf_ops.union(cup, sdf_ops.subtraction(handle(q), solid))

    return sdf, np.array([(x_hi - x_lo) / 2.0, max(r, hs), hh])


def _convex(p: Params) -> Shape:
    verts = np.asarray(p["vertices"], dtype=float)
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    normals, offsets = sdf_ops.halfspaces_from_hull(verts - (lo + hi) / 2.0)
    return (lambda x: sdf_ops.convex_polytope(x, normals, offsets)), (hi - lo) / 2.0


def _blob(p: Params) -> Shape:
    """Smooth union of spheres (used as a foreground occluder)."""
    centres = np.asarray(p["centres"], dtype=float)
    radii = np.asarray(p["radii"], dtype=float)
    lo = (centres - radii[:, None]).min(axis=0)
    hi = (centres + radii[:, None]).max(axis=0)
    shifted = centres - (lo + hi) / 2.0

    def sdf(x: np.ndarray) -> np.ndarray:
        parts = [sdf_ops.sphere(x - c.astype(x.dtype), r) for c, r in zip(shifted, radii)]
        return sdf_ops.smooth_union_all(parts, p["blend"])

    return sdf, (hi - lo) / 2.0


def _draw_sphere(rng: np.random.Generator) -> Params:
    return {"radius": float(rng.uniform(0.02, 0.065))}


def _draw_box(rng: np.random.Generator) -> Params:
    longest = rng.uniform(MIN_EXTENT, MAX_EXTENT)
    sides = np.array([longest, *(longest * rng.uniform(0.3, 1.0, size=2))])
    half = np.maximum(rng.permutation(sides), 0.015) / 2.0
    return {"half_extents": half.tolist(), "rounding": float(rng.uniform(0.0, 0.4) * half.min())}


def _draw_cylinder(rng: np.random.Generator) -> Params:
    return {"radius": float(rng.uniform(0.015, 0.05)), "half_height": float(rng.uniform(0.02, 0.075))}


def _draw_capsule(rng: np.random.Generator) -> Params:
    radius = rng.uniform(0.012, 0.035)
    return {"radius": float(radius), "half_length": float(rng.uniform(0.01, MAX_EXTENT / 2.0 - radius))}


def _draw_cone(rng: np.random.Generator) -> Params:
    r0 = rng.uniform(0.02, 0.05)
    return {"radius_bottom": float(r0), "radius_top": float(r0 * rng.uniform(0.0, 0.6)),
            "half_height": float(rng.uniform(0.02, 0.07))}


def _draw_torus(rng: np.random.Generator) -> Params:
    big = rng.uniform(0.02, 0.055)
    small = min(big * rng.uniform(0.2, 0.45), MAX_EXTENT / 2.0 - big)
    return {"major_radius": float(big), "minor_radius": float(small)}


def _draw_mug(rng: np.random.Generator) -> Params:
    return {"radius": float(rng.uniform(0.028, 0.045)), "half_height": float(rng.uniform(0.035, 0.06)),
            "wall": float(rng.uniform(0.004, 0.007)), "bottom": float(rng.uniform(0.006, 0.01)),
            "handle_radius": float(rng.uniform(0.018, 0.026)),
            "handle_thickness": float(rng.uniform(0.005, 0.007))}


def _draw_convex(rng: np.random.Generator) -> Params:
    axes = rng.uniform(0.2, 1.0, size=3)
    dirs = rng.normal(size=(int(rng.integers(8, 17)), 3))
    verts = dirs / np.linalg.norm(dirs, axis=1, keepdims=True) * axes
    verts *= rng.uniform(MIN_EXTENT, MAX_EXTENT) / np.ptp(verts, axis=0).max()
    return {"vertices": verts.tolist()}


def _draw_blob(rng: np.random.Generator) -> Params:
    count = int(rng.integers(2, 5))
    return {"centres": rng.uniform(-0.02, 0.02, size=(count, 3)).tolist(),
            "radii": rng.uniform(0.012, 0.03, size=count).tolist(), "blend": 0.015}


_FAMILIES: dict[str, tuple[Callable[[np.random.Generator], Params], Callable[[Params], Shape]]] = {
    "sphere": (_draw_sphere, _sphere),
    "box": (_draw_box, _box),
    "cylinder": (_draw_cylinder, _cylinder),
    "capsule": (_draw_capsule, _capsule),
    "cone": (_draw_cone, _cone),
    "torus": (_draw_torus, _torus),
    "mug": (_draw_mug, _mug),
    "convex": (_draw_convex, _convex),
    "blob": (_draw_blob, _blob),
}

OBJECT_FAMILIES: tuple[str, ...] = tuple(f for f in _FAMILIES if f != "blob")
"""Families drawn by :func:`sample_object`; ``blob`` is kept for occluders."""


@dataclass(frozen=True)
class SynthObject:
    """One object: its family, shape parameters, pose (camera <- object, 4x4) and material."""

    family: str
    params: Params
    pose: np.ndarray = field(default_factory=lambda: np.eye(4))
    material: Material = Material(base=(0.6, 0.6, 0.6))

    def __post_init__(self) -> None:
        if self.family not in _FAMILIES:
            raise ValueError(f"unknown object family {self.family!r}; known: {', '.join(_FAMILIES)}")
        object.__setattr__(self, "pose", sdf_ops.check_pose(self.pose))

    @cached_property
    def _shape(self) -> Shape:
        return _FAMILIES[self.family][1](self.params)

    @cached_property
    def _camera_to_object(self) -> np.ndarray:
        return sdf_ops.inverse_pose(self.pose)

    @property
    def half_extents(self) -> np.ndarray:
        """Half extents (3,) of the rest shape's bounding box, in the object frame."""
        return self._shape[1]

    @property
    def center(self) -> np.ndarray:
        """Bounding-box centre of the rest shape, in the camera frame (``obj_center_3d``)."""
        return self.pose[:3, 3].copy()

    @property
    def bounding_radius(self) -> float:
        return float(np.linalg.norm(self.half_extents))

    def rest_corners(self) -> np.ndarray:
        """The 8 bounding-box corners in the object frame (``obj_rest_corners_3d``)."""
        return box_corners(self.half_extents)

    def corners(self) -> np.ndarray:
        """The 8 bounding-box corners in the camera frame (``obj_corners_3d``)."""
        return sdf_ops.apply_pose(self.pose, self.rest_corners())

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points expressed in the object frame."""
        return sdf_ops.apply_pose(self._camera_to_object, points)

    def sdf_local(self, points: np.ndarray) -> np.ndarray:
        return self._shape[0](sdf_ops.as_points(points))

    def sdf(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (metres) of camera-frame points."""
        return self.sdf_local(self.to_local(points))

    def mesh(self, voxel: float = 0.002) -> trimesh.Trimesh:
        """Marching-cubes mesh of the zero set, vertices in the camera frame."""
        h = self.half_extents
        rest = sdf_ops.sdf_to_mesh(self.sdf_local, -h, h, voxel)
        rest.apply_transform(self.pose)
        return rest

    def with_pose(self, pose: np.ndarray) -> "SynthObject":
        return replace(self, pose=np.asarray(pose, dtype=float))


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly distributed 3x3 rotation matrix."""
    quat = rng.normal(size=4)
    return Rotation.from_quat(quat / np.linalg.norm(quat)).as_matrix()


def make_pose(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = translation
    return pose


def sample_object(
    rng: np.random.Generator,
    family: str | None = None,
    position: np.ndarray = (0.0, 0.0, 0.5),
) -> SynthObject:
    """Draw an object of ``family`` (random among :data:`OBJECT_FAMILIES` if None) at ``position``
    with a uniformly random orientation and material."""
    if family is None:
        family = OBJECT_FAMILIES[rng.integers(len(OBJECT_FAMILIES))]
    if family not in _FAMILIES:
        raise ValueError(f"unknown object family {family!r}; known: {', '.join(_FAMILIES)}")
    params = _FAMILIES[family][0](rng)
    pose = make_pose(random_rotation(rng), np.asarray(position, dtype=float))
    return SynthObject(family=family, params=params, pose=pose, material=sample_material(rng))


def sample_occluder(rng: np.random.Generator, target: np.ndarray) -> SynthObject:
    """A blob between the camera (at the origin) and ``target``, at 40-75% of its distance and
    slightly off the line of sight, so it hides part of the scene."""
    target = np.asarray(target, dtype=float)
    if target.shape != (3,) or target[2] <= 0.0:
        raise ValueError("occluder target must be a 3-vector in front of the camera (z > 0)")
    centre = target * rng.uniform(0.4, 0.75) + np.append(rng.normal(scale=0.03, size=2), 0.0)
    return sample_object(rng, "blob", position=centre)
