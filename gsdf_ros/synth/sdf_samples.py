"""DeepSDF-style SDF samples for one hand-object pair, in the gSDF file layout.

Per shape: area-weighted surface points, each perturbed once with each of two isotropic Gaussian
scales, plus points uniform in the cube [-1, 1]^3 of the per-sample unit sphere
(:mod:`gsdf_ros.geometry.sampling`, shared with the dataset preparation). Distances come from the
analytic SDFs (exact where the primitives are, see :mod:`sdf_ops`), not from a virtual scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from gsdf_ros.geometry.sampling import (
    DEFAULT_SIGMAS,
    Normalisation,
    sample_points,
    split_by_sign,
    unit_sphere_normalisation,
)
from gsdf_ros.synth import sdf_ops


@dataclass(frozen=True)
class SdfSampleFiles:
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
) -> SdfSampleFiles:
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
    return SdfSampleFiles(hand=files[0], obj=files[1], norm=norm)
