"""Vectorised signed distance primitives and operations (numpy).

Every function takes points as an (N, 3) float array in metres and returns (N,) distances,
negative inside. Primitives are centred at the origin of their own frame; place them with
:func:`transformed`. Exact primitives give the Euclidean distance; the few that only bound it
from below (the convex polytope outside, smooth unions inside the blend) say so; a lower bound
keeps sphere tracing safe.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import trimesh
from skimage import measure

from gsdf_ros.geometry.sampling import as_points

_GRID_SHIFT = 0.3183

SDF = Callable[[np.ndarray], np.ndarray]
"""A signed distance function: (N, 3) points -> (N,) distances, negative inside."""


def _positive(name: str, value: float) -> float:
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return float(value)


def _vec3(name: str, value: np.ndarray) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a finite 3-vector, got {value!r}")
    return arr


def sphere(points: np.ndarray, radius: float) -> np.ndarray:
    p = as_points(points)
    return np.linalg.norm(p, axis=1) - _positive("radius", radius)


def rounded_box(points: np.ndarray, half_extents: np.ndarray, rounding: float = 0.0) -> np.ndarray:
    """Box with the given half extents (outer size), edges rounded with radius ``rounding``."""
    p = as_points(points)
    h = _vec3("half_extents", half_extents)
    if np.any(h <= 0.0):
        raise ValueError(f"half_extents must be positive, got {h}")
    if rounding < 0.0 or rounding > h.min():
        raise ValueError(f"rounding must lie in [0, {h.min()}], got {rounding}")
    q = np.abs(p) - (h - rounding)
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
    inside = np.minimum(q.max(axis=1), 0.0)
    return outside + inside - rounding


def box(points: np.ndarray, half_extents: np.ndarray) -> np.ndarray:
    return rounded_box(points, half_extents, 0.0)


def _extrude(d2: np.ndarray, z: np.ndarray, half_height: float) -> np.ndarray:
    """Exact 3D distance of a 2D profile distance ``d2`` extruded over |z| <= half_height."""
    w = np.stack([d2, np.abs(z) - half_height], axis=1)
    return np.linalg.norm(np.maximum(w, 0.0), axis=1) + np.minimum(w.max(axis=1), 0.0)


def cylinder(points: np.ndarray, radius: float, half_height: float) -> np.ndarray:
    """Solid cylinder along z."""
    p = as_points(points)
    radial = np.hypot(p[:, 0], p[:, 1]) - _positive("radius", radius)
    return _extrude(radial, p[:, 2], _positive("half_height", half_height))


def capsule(points: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """Segment a-b swept by a sphere of the given radius."""
    return round_cone(points, a, b, radius, radius)


def round_cone(
    points: np.ndarray, a: np.ndarray, b: np.ndarray, radius_a: float, radius_b: float
) -> np.ndarray:
    """Exact distance to the convex hull of two spheres (a tapered capsule)."""
    cones = RoundCones(np.asarray(a, float)[None], np.asarray(b, float)[None],
                       np.array([radius_a], float), np.array([radius_b], float))
    return cones.distances(as_points(points))[:, 0]


class RoundCones:
    """M tapered capsules (ends a, b (M, 3), radii (M,)) with their derived constants."""

    def __init__(self, a: np.ndarray, b: np.ndarray, radius_a: np.ndarray, radius_b: np.ndarray):
        self.a = np.asarray(a, dtype=np.float64)
        axis = np.asarray(b, dtype=np.float64) - self.a
        self.radius_a = np.asarray(radius_a, dtype=np.float64)
        self.radius_b = np.asarray(radius_b, dtype=np.float64)
        if self.a.ndim != 2 or self.a.shape[1] != 3 or axis.shape != self.a.shape:
            raise ValueError("round cone ends must both be (M, 3)")
        if self.radius_a.shape != (len(self.a),) or self.radius_b.shape != (len(self.a),):
            raise ValueError("round cone radii must be (M,)")
        self.length = np.linalg.norm(axis, axis=1)
        if np.any(self.length <= 0.0) or np.any(self.radius_a <= 0.0) or np.any(self.radius_b <= 0.0):
            raise ValueError("round cones need distinct ends and positive radii")
        if np.any(np.abs(self.radius_a - self.radius_b) >= self.length):
            raise ValueError("round cone radii differ by more than the segment length")
        self.unit = axis / self.length[:, None]
        self.sin = (self.radius_a - self.radius_b) / self.length  # slope of the side line
        self.cos = np.sqrt(1.0 - self.sin * self.sin)
        self.center = self.a + 0.5 * axis
        self.bound = 0.5 * self.length + np.maximum(self.radius_a, self.radius_b)
        """Radius of a sphere around ``center`` that holds the whole cone."""

    def distances(self, points: np.ndarray) -> np.ndarray:
        """Distances (N, M) from every point to every cone."""
        a = self.a.astype(points.dtype)
        rel = [points[:, k:k + 1] - a[None, :, k] for k in range(3)]
        return self._profile(rel, slice(None))

    def pair_distances(self, points: np.ndarray, cone_index: np.ndarray) -> np.ndarray:
        """Distances (P,) from point i to cone ``cone_index[i]``."""
        a = self.a.astype(points.dtype)[cone_index]
        return self._profile([points[:, k] - a[:, k] for k in range(3)], cone_index)

    def _profile(self, rel: list[np.ndarray], pick: slice | np.ndarray) -> np.ndarray:
        """Distance in the (radial x, axial y) half plane: cap a, side line or cap b.

        ``rel`` holds the three components of point - a, each broadcastable with the picked cones."""
        dt = rel[0].dtype
        unit, sin, cos = self.unit[pick].astype(dt), self.sin[pick].astype(dt), self.cos[pick].astype(dt)
        ra, rb, length = self.radius_a[pick].astype(dt), self.radius_b[pick].astype(dt), self.length[pick].astype(dt)
        y = rel[0] * unit[..., 0] + rel[1] * unit[..., 1] + rel[2] * unit[..., 2]
        r2 = rel[0] * rel[0] + rel[1] * rel[1] + rel[2] * rel[2]
        x = np.sqrt(np.maximum(r2 - y * y, 0.0))
        along = cos * y - sin * x  # foot of the point on the side line, 0 at a's tangent point
        side = cos * x + sin * y - ra
        cap_a = np.sqrt(r2) - ra
        cap_b = np.sqrt(x * x + (y - length) ** 2) - rb
        return np.where(along < 0.0, cap_a, np.where(along > cos * length, cap_b, side))


def culled(sdf: SDF, points: np.ndarray, centre: np.ndarray, radius: float, within: float) -> np.ndarray:
    """``sdf`` of a shape inside the sphere (centre, radius), evaluated only for points closer than
    ``within`` to that sphere; farther points get the distance to the sphere, a lower bound."""
    bound = np.linalg.norm(points - np.asarray(centre).astype(points.dtype), axis=1) - radius
    near = bound < within
    if np.any(near):
        bound[near] = sdf(points[near])
    return bound


def distance_to_points(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean distances (N, M) between N points and M centres."""
    c = np.asarray(centres).astype(points.dtype)
    sq = sum((points[:, k:k + 1] - c[None, :, k]) ** 2 for k in range(3))
    return np.sqrt(sq)


def capped_cone(points: np.ndarray, radius_bottom: float, radius_top: float,
                half_height: float) -> np.ndarray:
    """Exact distance to a truncated cone along z from z=-h (radius_bottom) to z=+h (radius_top)."""
    p = as_points(points)
    h = _positive("half_height", half_height)
    r0 = _positive("radius_bottom", radius_bottom)
    if radius_top < 0.0:
        raise ValueError(f"radius_top must be >= 0, got {radius_top}")
    rho = np.hypot(p[:, 0], p[:, 1])
    z = p[:, 2]
    # the mantle as a 2D segment in the (rho, z) half plane from (r0, -h) to (r1, h)
    seg = np.array([radius_top - r0, 2.0 * h])
    seg_len2 = float(seg @ seg)
    t = np.clip(((rho - r0) * seg[0] + (z + h) * seg[1]) / seg_len2, 0.0, 1.0)
    d_mantle = np.hypot(rho - (r0 + t * seg[0]), z - (-h + t * seg[1]))
    # the caps as 2D segments on z = +-h
    d_bottom = np.hypot(np.maximum(rho - r0, 0.0), z + h)
    d_top = np.hypot(np.maximum(rho - radius_top, 0.0), z - h)
    dist = np.minimum(d_mantle, np.minimum(d_bottom, d_top))
    radius_at_z = r0 + (np.clip(z, -h, h) + h) / (2.0 * h) * (radius_top - r0)
    inside = (np.abs(z) <= h) & (rho <= radius_at_z)
    return np.where(inside, -dist, dist)


def torus(points: np.ndarray, major_radius: float, minor_radius: float) -> np.ndarray:
    """Torus around the z axis."""
    p = as_points(points)
    ring = np.hypot(p[:, 0], p[:, 1]) - _positive("major_radius", major_radius)
    return np.hypot(ring, p[:, 2]) - _positive("minor_radius", minor_radius)


def convex_polygon_2d(points_2d: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Exact signed distance to a convex polygon with counter-clockwise vertices (M, 2)."""
    q = np.asarray(points_2d)
    q = q if np.issubdtype(q.dtype, np.floating) else q.astype(np.float64)
    v = np.asarray(vertices, dtype=q.dtype)
    if q.ndim != 2 or q.shape[1] != 2 or v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
        raise ValueError("convex_polygon_2d needs (N, 2) points and (M>=3, 2) vertices")
    edge = np.roll(v, -1, axis=0) - v
    rel = q[:, None, :] - v[None, :, :]
    t = np.clip(np.einsum("nmk,mk->nm", rel, edge) / np.einsum("mk,mk->m", edge, edge), 0.0, 1.0)
    closest = rel - t[..., None] * edge[None]
    dist = np.sqrt(np.einsum("nmk,nmk->nm", closest, closest).min(axis=1))
    cross = edge[None, :, 0] * rel[..., 1] - edge[None, :, 1] * rel[..., 0]
    inside = np.all(cross >= 0.0, axis=1)
    return np.where(inside, -dist, dist)


def extruded_polygon(points: np.ndarray, vertices: np.ndarray, half_height: float) -> np.ndarray:
    """Convex xy polygon (counter-clockwise vertices (M, 2)) extruded over |z| <= half_height."""
    p = as_points(points)
    return _extrude(convex_polygon_2d(p[:, :2], vertices), p[:, 2], _positive("half_height", half_height))


def halfspaces_from_hull(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outward unit normals (F, 3) and offsets (F,) of the convex hull of (M >= 4, 3) points."""
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) < 4:
        raise ValueError("a 3D hull needs at least 4 points of shape (M, 3)")
    hull = trimesh.convex.convex_hull(v)
    normals = np.asarray(hull.face_normals)
    offsets = np.einsum("fk,fk->f", normals, hull.triangles[:, 0, :])
    return normals, offsets


def convex_polytope(points: np.ndarray, normals: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Intersection of half spaces n.x <= o; exact inside and on faces, a lower bound near edges."""
    p = as_points(points)
    n = np.asarray(normals, dtype=p.dtype)
    o = np.asarray(offsets, dtype=p.dtype)
    if n.ndim != 2 or n.shape[1] != 3 or o.shape != (len(n),):
        raise ValueError("normals must be (F, 3) and offsets (F,)")
    return (p @ n.T - o[None, :]).max(axis=1)


def union(*distances: np.ndarray) -> np.ndarray:
    if not distances:
        raise ValueError("union needs at least one distance array")
    return np.minimum.reduce(distances)


def intersection(*distances: np.ndarray) -> np.ndarray:
    if not distances:
        raise ValueError("intersection needs at least one distance array")
    return np.maximum.reduce(distances)


def subtraction(base: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """``base`` minus ``cut``."""
    return np.maximum(base, -cut)


def smooth_union(d1: np.ndarray, d2: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum with blend width k (metres); k = 0 is the plain union."""
    if k < 0.0:
        raise ValueError(f"blend width k must be >= 0, got {k}")
    if k == 0.0:
        return np.minimum(d1, d2)
    h = np.clip(0.5 + 0.5 * (d2 - d1) / k, 0.0, 1.0)
    return d2 + (d1 - d2) * h - k * h * (1.0 - h)


def smooth_union_all(distances: list[np.ndarray], k: float) -> np.ndarray:
    """Fold :func:`smooth_union` over a list of distance arrays."""
    if not distances:
        raise ValueError("smooth_union_all needs at least one distance array")
    out = distances[0]
    for d in distances[1:]:
        out = smooth_union(out, d, k)
    return out


def check_pose(pose: np.ndarray) -> np.ndarray:
    """Validate a rigid 4x4 transform and return it as float64."""
    t = np.asarray(pose, dtype=np.float64)
    if t.shape != (4, 4) or not np.all(np.isfinite(t)):
        raise ValueError(f"pose must be a finite 4x4 matrix, got shape {t.shape}")
    rot = t[:3, :3]
    if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-6) or np.linalg.det(rot) < 0.0:
        raise ValueError("pose rotation must be orthonormal with determinant +1")
    if not np.allclose(t[3], [0.0, 0.0, 0.0, 1.0]):
        raise ValueError("pose last row must be [0, 0, 0, 1]")
    return t


def inverse_pose(pose: np.ndarray) -> np.ndarray:
    t = check_pose(pose)
    inv = np.eye(4)
    inv[:3, :3] = t[:3, :3].T
    inv[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return inv


def apply_pose(pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map points with a 4x4 transform (keeps the points' float dtype)."""
    p = as_points(points)
    t = np.asarray(pose, dtype=p.dtype)
    return p @ t[:3, :3].T + t[:3, 3]


def transformed(sdf: SDF, pose: np.ndarray) -> SDF:
    """The SDF of the shape ``sdf`` (in its own frame) placed by the rigid ``pose`` (world <- local)."""
    world_to_local = inverse_pose(pose)
    return lambda points: sdf(apply_pose(world_to_local, points))


def evaluate_chunked(sdf: SDF, points: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """Evaluate ``sdf`` on many points in chunks to bound memory."""
    p = as_points(points)
    if len(p) == 0:
        return np.zeros(0, dtype=p.dtype)
    return np.concatenate([sdf(p[i:i + chunk]) for i in range(0, len(p), chunk)])


def sdf_to_mesh(sdf: SDF, lower: np.ndarray, upper: np.ndarray, voxel: float) -> trimesh.Trimesh:
    """Marching cubes of the zero set inside the box [lower, upper] (padded by two voxels)."""
    voxel = _positive("voxel", voxel)
    # the odd shift keeps flat faces off the sample planes, where marching cubes splits them
    lo = _vec3("lower", lower) - (2.0 + _GRID_SHIFT) * voxel
    hi = _vec3("upper", upper) + 2.0 * voxel
    if np.any(hi <= lo):
        raise ValueError("upper must exceed lower")
    counts = np.ceil((hi - lo) / voxel).astype(int) + 1
    if np.prod(counts) > 60_000_000:
        raise ValueError(f"grid of {counts.tolist()} samples is too large; use a coarser voxel")
    axes = [lo[i] + voxel * np.arange(counts[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    values = evaluate_chunked(sdf, grid).reshape(counts)
    if values.min() >= 0.0 or values.max() <= 0.0:
        raise ValueError("the SDF has no zero crossing inside the given bounds")
    verts, faces, _, _ = measure.marching_cubes(values, level=0.0, spacing=(voxel,) * 3)
    mesh = trimesh.Trimesh(vertices=verts + lo, faces=faces, process=True)
    if mesh.volume < 0.0:
        mesh.invert()
    return mesh
