"""Points around shapes: box corners, area-weighted mesh surface samples and the per-sample unit
sphere of gSDF SDF files, shared by SynthHO (analytic SDFs) and the dataset preparation (meshes).

Everything stored in an SDF file is in the per-sample unit sphere: x_file = (x + offset) * scale
and sdf_file = sdf * scale, with offset = -centre of the joint hand+object bounding box and
scale = 1 / (1.03 * largest vertex distance from that centre), so x = x_file / scale - offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

DEFAULT_SIGMAS = (float(np.sqrt(0.005)), float(np.sqrt(0.0005)))
"""Perturbation scales in unit-sphere units (variances 0.005 and 0.0005)."""


def as_points(points: np.ndarray) -> np.ndarray:
    """Validate and return points as a float (N, 3) array (float32 stays float32)."""
    arr = np.asarray(points)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def box_corners(half_extents: np.ndarray) -> np.ndarray:
    """The 8 corners (8, 3) of an origin-centred box, x slowest, z fastest."""
    half = np.asarray(half_extents, dtype=np.float64)
    if half.shape != (3,) or not np.all(np.isfinite(half)):
        raise ValueError(f"half_extents must be a finite 3-vector, got {half_extents!r}")
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
    return signs * half


def aabb_corners(vertices: np.ndarray) -> np.ndarray:
    """The 8 corners of the axis-aligned bounds of (N, 3) vertices."""
    v = np.asarray(vertices, np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    return (lo + hi) / 2.0 + box_corners((hi - lo) / 2.0)


@dataclass(frozen=True)
class Normalisation:
    """The per-sample unit sphere: offset (3,) = -centre and scale = 1/(1.03 max distance)."""

    offset: np.ndarray
    scale: float

    def to_unit(self, points: np.ndarray) -> np.ndarray:
        """Metres to unit-sphere units."""
        return (as_points(points) + self.offset) * self.scale

    def to_metres(self, unit_points: np.ndarray) -> np.ndarray:
        """Unit-sphere units to metres."""
        return as_points(unit_points) / self.scale - self.offset

    def as_npz(self) -> dict[str, np.ndarray]:
        """Arrays of a ``norm/*.npz`` file."""
        return {"offset": self.offset.astype(np.float32), "scale": np.array([self.scale], np.float32)}


def unit_sphere_normalisation(*meshes: trimesh.Trimesh) -> Normalisation:
    """Normalisation from the joint bounding box of the meshes' vertices."""
    if not meshes:
        raise ValueError("need at least one mesh")
    verts = np.vstack([np.asarray(m.vertices, dtype=np.float64) for m in meshes])
    if len(verts) == 0:
        raise ValueError("meshes have no vertices")
    centre = (verts.min(axis=0) + verts.max(axis=0)) / 2.0
    max_dist = float(np.linalg.norm(verts - centre, axis=1).max())
    return Normalisation(offset=-centre, scale=1.0 / (1.03 * max_dist))


def sample_surface(rng: np.random.Generator, mesh: trimesh.Trimesh, count: int) -> np.ndarray:
    """``count`` points (count, 3) uniform over the mesh area."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    areas = np.asarray(mesh.area_faces, dtype=np.float64)
    if len(areas) == 0 or areas.sum() <= 0.0:
        raise ValueError("mesh has no area to sample")
    faces = rng.choice(len(areas), size=count, p=areas / areas.sum())
    u, v = rng.uniform(size=(2, count))
    flip = u + v > 1.0
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    tri = np.asarray(mesh.triangles)[faces]
    return tri[:, 0] + u[:, None] * (tri[:, 1] - tri[:, 0]) + v[:, None] * (tri[:, 2] - tri[:, 0])


def sample_points(rng: np.random.Generator, mesh: trimesh.Trimesh, norm: Normalisation,
                  n_surface: int = 2000, n_uniform: int = 500,
                  sigmas: tuple[float, ...] = DEFAULT_SIGMAS) -> np.ndarray:
    """Query points in metres: each surface point once per sigma (unit-sphere units), then uniform."""
    if n_uniform < 0 or any(s <= 0.0 for s in sigmas):
        raise ValueError("n_uniform must be >= 0 and sigmas > 0")
    surface = sample_surface(rng, mesh, n_surface)
    jittered = [surface + rng.normal(scale=s / norm.scale, size=surface.shape) for s in sigmas]
    uniform = norm.to_metres(rng.uniform(-1.0, 1.0, size=(n_uniform, 3)))
    return np.vstack([*jittered, uniform])


def split_by_sign(unit_points: np.ndarray, own: np.ndarray, other: np.ndarray) -> dict[str, np.ndarray]:
    """The ``pos`` / ``neg`` (x, y, z, own sdf) and ``pos_other`` / ``neg_other`` arrays."""
    rows = np.column_stack([unit_points, own]).astype(np.float32)
    other = other.astype(np.float32)[:, None]
    outside = own > 0.0
    return {"pos": rows[outside], "neg": rows[~outside], "pos_other": other[outside],
            "neg_other": other[~outside]}
