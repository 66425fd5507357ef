"""Shared pieces of the video tests: a small gSDF-layout dataset with clip lists, and random-weights
single-frame and video checkpoints of the ``tiny`` model on 64x64 crops."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
import trimesh

from gsdf_ros.checkpoint import Checkpoint, save_checkpoint
from gsdf_ros.data.layout import Annotation, SampleRecord, SdfSamples, write_split
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.model import build_model
from gsdf_ros.train import TrainConfig, model_config

IMAGE_SIZE = 64
CLIP_LEN = 3
SMALL = {"image_size": IMAGE_SIZE, "heatmap_size": 16, "depth_bins": 16, "decoder": {"dropout": 0.0}}
"""Model overrides of the ``tiny`` presets: 64x64 crops, 16^3 volumes, a 4x4 SDF feature map."""

TRAIN_CLIPS = [[1, 2, 3], [4, 5, 6]]
TEST_CLIPS = [[11, 12, 13, 14, 15], [16, 17]]
"""Test windows of 3: [11,12,13], [13,14,15] (13 repeated), [16,17,17] (17 repeated): 7 frames once each."""


def _sdf_samples(rng: np.random.Generator, n: int = 40) -> SdfSamples:
    def rows(sign: float) -> np.ndarray:
        return np.concatenate([rng.uniform(-0.5, 0.5, (n, 3)), sign * rng.uniform(0.01, 0.3, (n, 1))], axis=1)

    return SdfSamples(pos=rows(1.0), neg=rows(-1.0), pos_other=rng.uniform(-0.5, 0.5, (n, 1)),
                      neg_other=rng.uniform(-0.5, 0.5, (n, 1)))


def _record(sample_id: int) -> SampleRecord:
    """A hand (sphere at the wrist) and a box moving a little from frame to frame, on a noise image."""
    rng = np.random.default_rng(sample_id)
    centre = np.array([0.004 * (sample_id % 10), 0.0, 0.5])
    joints = centre + rng.uniform(-0.04, 0.04, (21, 3))
    obj_center = centre + np.array([0.02, 0.01, 0.02])
    corners = obj_center + 0.02 * np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    ann = Annotation(
        id=sample_id, intrinsics=Intrinsics(150.0, 150.0, 63.5, 63.5, 128, 128), hand_joints_3d=joints,
        obj_center_3d=obj_center, obj_corners_3d=corners, hand_poses=np.zeros(48), obj_transform=np.eye(4),
        obj_rest_corners_3d=corners - obj_center, sdf_offset=-centre, sdf_scale=1.0 / (1.03 * 0.15),
    )
    hand = trimesh.creation.icosphere(subdivisions=1, radius=0.04)
    hand.apply_translation(joints[0])
    obj = trimesh.creation.box(extents=(0.04, 0.04, 0.04))
    obj.apply_translation(obj_center)
    image = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
    return SampleRecord(annotation=ann, image=image, sdf_hand=_sdf_samples(rng), sdf_obj=_sdf_samples(rng),
                        mesh_hand=hand, mesh_obj=obj)


@pytest.fixture(scope="session")
def clip_root(tmp_path_factory) -> Path:
    """Splits ``train`` (two 3-frame sequences) and ``test`` (sequences of 5 and 2 frames)."""
    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("clips")
    for split, clips in (("train", TRAIN_CLIPS), ("test", TEST_CLIPS)):
        write_split(root, split, [_record(i) for clip in clips for i in clip], clips=clips)
    return root


def small_config(model: str, frames: int = CLIP_LEN):
    """The ``tiny``/``tiny_video`` preset with :data:`SMALL` overrides (``frames`` per clip)."""
    overrides = dict(SMALL, temporal={"num_frames": frames}) if model.endswith("video") else SMALL
    return model_config(TrainConfig(model=model, model_overrides=overrides))


def random_checkpoint(path: Path, model: str, seed: int, data_root: Path | None = None,
                      edit: Callable[[torch.nn.Module], None] | None = None) -> Path:
    """An sdf-stage checkpoint of a freshly initialised model (changed by ``edit``), as training would save it."""
    torch.manual_seed(seed)
    mcfg = small_config(model)
    net = build_model(mcfg)
    if edit is not None:
        edit(net)
    train_config = TrainConfig(model=model, model_overrides=SMALL, data_root=str(data_root or ""), crop="full")
    return save_checkpoint(path, Checkpoint(model_config=mcfg.to_dict(), stage="sdf", model_state=net.state_dict(),
                                            train_config=train_config.to_dict()))


@pytest.fixture(scope="session")
def small() -> dict:
    """:data:`SMALL`, for model configs built in the tests."""
    return dict(SMALL)


@pytest.fixture(scope="session")
def single_checkpoint(tmp_path_factory, clip_root) -> Path:
    return random_checkpoint(tmp_path_factory.mktemp("single") / "sdf.pt", "tiny", seed=1, data_root=clip_root)


@pytest.fixture(scope="session")
def video_checkpoint(tmp_path_factory, clip_root) -> Path:
    return random_checkpoint(tmp_path_factory.mktemp("video") / "video.pt", "tiny_video", seed=2, data_root=clip_root,
                             edit=open_transformer_skip)


def open_transformer_skip(net: torch.nn.Module) -> None:
    """Give the transformer's zero-initialised output projection random weights, so it changes the maps
    as a trained one does (a fresh one is the identity)."""
    with torch.no_grad():
        torch.nn.init.normal_(net.temporal.skip_proj.weight, std=0.5)


@pytest.fixture
def no_plots(monkeypatch) -> None:
    """Evaluation without its histograms and example renders (matplotlib is the slow part here)."""
    import gsdf_ros.evaluate as ev

    monkeypatch.setattr(ev, "plot_histograms", lambda *args, **kwargs: None)
    monkeypatch.setattr(ev, "render_example", lambda *args, **kwargs: None)
