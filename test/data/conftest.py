"""A tiny gSDF-layout fixture written with the package's own writer.

Images are coordinate ramps (red = source column u, green = source row v), so any pixel of a crop
tells which source pixel it shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import trimesh

from gsdf_ros.data.layout import Annotation, SampleRecord, SdfSamples, write_split
from gsdf_ros.geometry.camera import Intrinsics

IMAGE_SIZE = 128
NAN_ROW_MARK = 0.123
"""x of the pos row that holds a NaN, and of the neg row whose other SDF is out of range."""


def ramp_image(size: int = IMAGE_SIZE) -> np.ndarray:
    v, u = np.mgrid[0:size, 0:size]
    return np.stack([u, v, np.full_like(u, 128)], axis=-1).astype(np.uint8)


def _box_corners(centre: np.ndarray, half: float) -> np.ndarray:
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    return centre + half * signs


def _sdf_samples(rng: np.random.Generator, n: int) -> SdfSamples:
    """Rows inside the unit sphere, plus one NaN row and one row with |sdf_other| >= 2."""

    def rows(sign: float) -> np.ndarray:
        xyz = rng.uniform(-0.5, 0.5, size=(n, 3))
        own = sign * rng.uniform(0.01, 0.3, size=(n, 1))
        return np.concatenate([xyz, own], axis=1)

    pos, neg = rows(1.0), rows(-1.0)
    pos_other, neg_other = rng.uniform(-0.5, 0.5, size=(n, 1)), rng.uniform(-0.5, 0.5, size=(n, 1))
    pos[0] = (NAN_ROW_MARK, 0.0, 0.0, np.nan)
    neg[0] = (NAN_ROW_MARK, 0.1, 0.1, -0.05)
    neg_other[0] = 2.5
    return SdfSamples(pos=pos, neg=neg, pos_other=pos_other, neg_other=neg_other)


def make_record(sample_id: int, seed: int, off_centre: bool = False, with_meshes: bool = True) -> SampleRecord:
    """One sample: hand joints and an object box in front of the camera, SDF files and meshes."""
    rng = np.random.default_rng(seed)
    k = Intrinsics(150.0, 150.0, 63.5, 63.5, IMAGE_SIZE, IMAGE_SIZE)
    centre = np.array([0.12, -0.08, 0.5]) if off_centre else np.array([0.0, 0.0, 0.5])
    joints = centre + rng.uniform(-0.04, 0.04, size=(21, 3))
    obj_center = centre + np.array([0.02, 0.01, 0.02])
    corners = _box_corners(obj_center, 0.02)
    offset = -centre
    scale = 1.0 / (1.03 * 0.15)
    ann = Annotation(
        id=sample_id,
        intrinsics=k,
        hand_joints_3d=joints,
        obj_center_3d=obj_center,
        obj_corners_3d=corners,
        hand_poses=rng.normal(size=48) * 0.1,
        obj_transform=np.eye(4),
        obj_rest_corners_3d=_box_corners(np.zeros(3), 0.02),
        sdf_offset=offset,
        sdf_scale=scale,
        extra={"object_class": "box"},
    )
    meshes = {}
    if with_meshes:
        hand = trimesh.creation.icosphere(subdivisions=1, radius=0.04)
        hand.apply_translation(joints[0])
        obj = trimesh.creation.box(extents=(0.04, 0.04, 0.04))
        obj.apply_translation(obj_center)
        meshes = {"mesh_hand": hand, "mesh_obj": obj}
    return SampleRecord(
        annotation=ann,
        image=ramp_image(),
        sdf_hand=_sdf_samples(rng, 50),
        sdf_obj=_sdf_samples(rng, 50),
        **meshes,
    )


WriteFixture = Callable[..., list[SampleRecord]]


@pytest.fixture
def write_fixture() -> WriteFixture:
    """Write `count` samples (ids 1..count) into `root` and return their records."""

    def write(
        root: Path, count: int = 3, split: str = "train", off_centre: bool = False, clips=None
    ) -> list[SampleRecord]:
        records = [make_record(i + 1, seed=i, off_centre=off_centre) for i in range(count)]
        write_split(root, split, records, clips=clips)
        return records

    return write
