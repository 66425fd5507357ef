"""A tiny analytic hand-object dataset (capsule "hand", sphere "object") with the FrameDataset contract,
and the small model/training settings the training tests share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from torch.utils.data import Dataset

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.hand.skeleton import default_template
from gsdf_ros.train import TrainConfig, TrainResult, train

IMAGE_SIZE = 64
FOCAL = 110.0
SCALE = 7.0
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

TINY_64 = {
    "image_size": IMAGE_SIZE,
    "heatmap_size": 16,
    "depth_bins": 16,
    "decoder": {"dropout": 0.0},
    "loss": {"clamp": 1.0},
}
"""Model overrides: the ``tiny`` preset on 64x64 crops with narrow decoders."""


def _rotation_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _capsule_sdf(p: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - radius


def _sphere_sdf(p: np.ndarray, center: np.ndarray, radius: float) -> np.ndarray:
    return np.linalg.norm(p - center, axis=1) - radius


class AnalyticHandObject(Dataset):
    """Samples of the FrameDataset contract built from a capsule hand and a sphere object."""

    def __init__(self, count: int = 4, num_points: int = 256, seed: int = 0) -> None:
        self.count = count
        self.num_points = num_points
        rng = np.random.default_rng(seed)
        self.scenes = [self._scene(rng, i) for i in range(count)]

    @staticmethod
    def _scene(rng: np.random.Generator, index: int) -> dict:
        wrist = np.array([-0.04, 0.0, 0.5]) + rng.uniform(-0.01, 0.01, 3)
        tip = wrist + np.array([0.09, 0.0, 0.0])
        obj = wrist + np.array([0.05, 0.045 * (-1) ** index, 0.02]) + rng.uniform(-0.01, 0.01, 3)
        return {
            "wrist": wrist,
            "hand": (wrist, tip, 0.022),
            "object": (obj, 0.03 + 0.005 * (index % 2)),
            "cam_rot": _rotation_y(0.15 * index),
            "joints": default_template().joints + wrist,
        }

    def __len__(self) -> int:
        return self.count

    def _sdfs(self, scene: dict, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _capsule_sdf(p, *scene["hand"]), _sphere_sdf(p, *scene["object"])

    def _points(self, scene: dict, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Half from each shape, half of those inside it (as the paper's 500 in / 500 out per file)."""
        rng = np.random.default_rng(1000 + index)
        half = self.num_points // 2
        (a, b, r), (c, ro) = scene["hand"], scene["object"]
        hand = a + rng.uniform(0, 1, (half, 1)) * (b - a) + self._offsets(rng, half, r)
        obj = c + self._offsets(rng, self.num_points - half, ro)
        return np.concatenate([hand, obj]), np.arange(self.num_points) < half

    @staticmethod
    def _offsets(rng: np.random.Generator, count: int, radius: float) -> np.ndarray:
        """Random directions; the first half of the lengths inside ``radius``, the rest out to 6x."""
        direction = rng.normal(size=(count, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        inside = np.arange(count) < count // 2
        length = np.where(inside, rng.uniform(0, 1, count), 1 + 5 * rng.uniform(0, 1, count)) * radius
        return direction * length[:, None]

    def _image(self, scene: dict) -> np.ndarray:
        """Silhouettes: the hand red, the object green, on grey; ImageNet-normalised (3,S,S)."""
        v, u = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float64) + 0.5
        rays = np.stack([(u - IMAGE_SIZE / 2) / FOCAL, (v - IMAGE_SIZE / 2) / FOCAL, np.ones_like(u)], -1)
        rgb = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 0.5)
        for depth in np.linspace(0.4, 0.6, 24):
            hand, obj = self._sdfs(scene, (rays * depth).reshape(-1, 3))
            rgb.reshape(-1, 3)[obj < 0] = (0.2, 0.8, 0.2)
            rgb.reshape(-1, 3)[hand < 0] = (0.9, 0.3, 0.2)
        return ((rgb - MEAN) / STD).transpose(2, 0, 1).astype(np.float32)

    def source(self, index: int) -> tuple[np.ndarray, Intrinsics]:
        """The silhouette image as a camera gives it (uint8 RGB) and its intrinsics. Its camera is the
        scene's virtual one, so live predictions on these samples are not comparable to the truth."""
        rgb = self._image(self.scenes[index]).transpose(1, 2, 0) * STD + MEAN
        image = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
        centre = IMAGE_SIZE / 2 - 0.5  # the rays above pass through pixel centres at u + 0.5
        return image, Intrinsics(FOCAL, FOCAL, centre, centre, IMAGE_SIZE, IMAGE_SIZE)

    def __getitem__(self, index: int) -> dict:
        scene = self.scenes[index]
        points, from_hand = self._points(scene, index)
        hand_sdf, obj_sdf = self._sdfs(scene, points)
        K = np.array([[FOCAL, 0, IMAGE_SIZE / 2], [0, FOCAL, IMAGE_SIZE / 2], [0, 0, 1]])
        f32 = lambda x: torch.as_tensor(np.asarray(x, dtype=np.float32))  # noqa: E731
        return {
            "image": torch.from_numpy(self._image(scene)),
            "K": f32(K),
            "wrist": f32(scene["wrist"]),
            "joints": f32(scene["joints"]),
            "obj_center": f32(scene["object"][0]),
            "points": f32((points - scene["wrist"]) * SCALE / 2),
            "hand_sdf": f32(hand_sdf * SCALE / 2),
            "obj_sdf": f32(obj_sdf * SCALE / 2),
            "from_hand": torch.from_numpy(from_hand),
            "cam_rot": f32(scene["cam_rot"]),
            "id": f"analytic{index:03d}",
            "index": index,
        }

    def gt_meshes(self, index: int) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
        """Hand capsule and object sphere in the source camera frame (metres)."""
        scene = self.scenes[index]
        a, b, r = scene["hand"]
        hand = trimesh.creation.capsule(height=float(np.linalg.norm(b - a)), radius=r, count=[12, 12])
        hand.apply_transform(trimesh.geometry.align_vectors([0, 0, 1], b - a))
        hand.apply_translation((a + b) / 2)
        c, ro = scene["object"]
        obj = trimesh.creation.icosphere(subdivisions=2, radius=ro)
        obj.apply_translation(c)
        for mesh in (hand, obj):
            mesh.vertices = mesh.vertices @ scene["cam_rot"].T
        return hand, obj


@pytest.fixture(scope="session")
def analytic_data() -> AnalyticHandObject:
    torch.set_num_threads(2)
    return AnalyticHandObject()


@pytest.fixture(scope="session")
def make_config():
    return train_config


def train_config(tmp: Path, stage: str, **kw) -> TrainConfig:
    """A CPU run of the tiny model on 64x64 crops, one batch of all four samples per epoch."""
    base = dict(stage=stage, model="tiny", model_overrides=TINY_64, epochs=20, batch_size=4, lr=2e-3,
                out_dir=str(tmp / stage), progress=False, log_every=1, ckpt_every=5, device="cpu", seed=0)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def pose_run(tmp_path_factory, analytic_data) -> TrainResult:
    return train(train_config(tmp_path_factory.mktemp("pose"), "pose"), dataset=analytic_data)


@pytest.fixture(scope="session")
def sdf_run(tmp_path_factory, analytic_data, pose_run) -> TrainResult:
    cfg = train_config(tmp_path_factory.mktemp("sdf"), "sdf", pose_checkpoint=str(pose_run.last_checkpoint))
    return train(cfg, dataset=analytic_data)
