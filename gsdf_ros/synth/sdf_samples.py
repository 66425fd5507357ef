"""DeepSDF-style SDF samples for one hand-object pair, in the gSDF file layout.

Per shape: area-weighted surface points, each perturbed once with each of two isotropic Gaussian
scales, plus points uniform in the cube [-1, 1]^3 of the per-sample unit sphere. Distances come
from the analytic SDFs (exact where the primitives are, see :mod:`sdf_ops`), not from a virtual
scan. Everything stored is in the per-sample unit sphere: x_file = (x + offset) * scale and
sdf_file = sdf * scale, with offset = -centre of the joint hand+object bounding box and
scale = 1 / (1.03 * largest vertex distance from that centre), so x = x_file / scale - offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from gsdf_ros.synth import sdf_ops

DEFAULT_SIGMAS = (float(np.sqrt(0.005)), float(np.sqrt(0.0005)))
"""Perturbation scales in unit-sphere units (variances 0.005 and 0.0005)."""


@dataclass(frozen=True)
class Normalisation:
    """The per-sample unit sphere: offset (3,) = -centre and scale = 1/(1.03 max distance)."""

    offset: np.ndarray
    scale: float

    def to_unit(self, points: np.ndarray) -> np.ndarray:
        return (sdf_ops.as_points(points) + self.offset) * self.scale

    def to_metres(self, unit_points: np.ndarray) -> np.ndarray:
        return sdf_ops.as_points(unit_points) / self.scale - self.offset

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


@dataclass(frozen=True)
class SdfSamples:
    """The three files of one sample: ``hand`` and ``obj`` (sdf npz arrays) and ``norm``."""

    hand: dict[str, np.ndarray]
    obj: dict[str, np.ndarray]
    norm: Normalisation


def make_sdf_samples(
    rng: np.random.Generator,
    hand_mesh: trimesh.Trimesh,
    hand_sdf: sdf_ops.SDF,
    obj_mesh: trimesh.Trimesh,
    obj_sdf: sdf_ops.SDF,
    n_surface: int = 2000,
    n_uniform: int = 500,
    sigmas: tuple[float, ...] = DEFAULT_SIGMAS,
) -> SdfSamples:
    """Sample both shapes; each file stores its own SDF in column 3 and the other in ``*_other``.

    Meshes and SDFs are in the camera frame (metres); outputs are float32 and ready for np.savez.
    """
    norm = unit_sphere_normalisation(hand_mesh, obj_mesh)
    files = []
    for mesh, own_sdf, other_sdf in ((hand_mesh, hand_sdf, obj_sdf), (obj_mesh, obj_sdf, hand_sdf)):
        points = sample_points(rng, mesh, norm, n_surface, n_uniform, sigmas)
        own = sdf_ops.evaluate_chunked(own_sdf, points) * norm.scale
        other = sdf_ops.evaluate_chunked(other_sdf, points) * norm.scale
        files.append(split_by_sign(norm.to_unit(points), own, other))
    return SdfSamples(hand=files[0], obj=files[1], norm=norm)
