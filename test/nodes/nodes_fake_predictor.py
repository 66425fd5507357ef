"""Test doubles of gsdf_ros.predictor.Predictor, loaded by the inference node as module:factory."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import numpy as np

from gsdf_ros.hand_finder import Detection, Found
from gsdf_ros.result import CropSample, Reconstruction, TriangleMesh

NAN_STAMP_NS = 1_000_000_000 * 50 + 7  # a window whose newest stamp is this gives NaN joints


class FakePredictor:
    def __init__(self, window_length: int, delay_s: float) -> None:
        self.window_length = window_length
        self.delay_s = delay_s

    def warm_up(self) -> None:
        pass

    def predict(self, window: list[CropSample]) -> Reconstruction:
        time.sleep(self.delay_s)
        newest = window[-1]
        joints = np.full((21, 3), np.nan if newest.stamp_ns == NAN_STAMP_NS else 0.5)
        return Reconstruction(newest.stamp_ns, newest.frame_id, joints, np.ones(21), np.array([0.0, 0.0, 0.5]))


def slow(device: str, window_length: int) -> FakePredictor:
    return FakePredictor(window_length or 3, delay_s=0.25)


class TwoRateFake(FakePredictor):
    """Poses in `delay_s`, meshes in `mesh_delay_s` (a square for the hand, none for the object)."""

    makes_meshes = True

    def __init__(self, window_length: int, delay_s: float, mesh_delay_s: float) -> None:
        super().__init__(window_length, delay_s)
        self.mesh_delay_s = mesh_delay_s

    def predict_pose(self, window: list[CropSample]) -> tuple[Reconstruction, Reconstruction]:
        result = self.predict(window)
        return result, result

    def predict_meshes(self, job: Reconstruction) -> Reconstruction:
        time.sleep(self.mesh_delay_s)
        faces = np.array([[0, 1, 2], [0, 2, 3]])
        square = TriangleMesh(np.array([[0, 0, 0.5], [0.1, 0, 0.5], [0.1, 0.1, 0.5], [0, 0.1, 0.5]], np.float32), faces)
        return dataclasses.replace(job, hand_mesh=square, mesh_stamp_ns=job.stamp_ns)


def two_rate(device: str, window_length: int) -> TwoRateFake:
    return TwoRateFake(window_length or 1, delay_s=0.02, mesh_delay_s=0.5)


def crop_joints(sample: CropSample, depth_m: float = 0.5) -> np.ndarray:
    """21 joints (source optical frame) that project onto a 5 x 5 grid spanning the middle half of the
    crop, at `depth_m` in its virtual frame: a hand that fills the crop as a detector framed it."""
    size = float(sample.image.shape[0])
    grid = np.linspace(0.25 * size, 0.75 * size, 5)
    uv = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)[:21]
    k = np.asarray(sample.k, dtype=np.float64)
    rays = np.column_stack([(uv[:, 0] - k[0, 2]) / k[0, 0], (uv[:, 1] - k[1, 2]) / k[1, 1], np.ones(21)])
    return (rays * depth_m) @ np.asarray(sample.rotation, dtype=np.float64).T


class CentredFake(TwoRateFake):
    """Two-rate fake whose joints fill the middle of the crop it is given (see :func:`crop_joints`)."""

    def predict(self, window: list[CropSample]) -> Reconstruction:
        newest = window[-1]
        joints = crop_joints(newest)
        return Reconstruction(newest.stamp_ns, newest.frame_id, joints, np.ones(21), np.array([0.0, 0.0, 0.5]))


def centred(device: str, window_length: int) -> CentredFake:
    return CentredFake(window_length or 1, delay_s=0.0, mesh_delay_s=0.05)


def red_patch(rgb: np.ndarray) -> Detection:
    """A stand-in hand detector: the box of the pure-red pixels (score 0.9), else score 0.05 (no hand)."""
    mask = (rgb[..., 0] > 200) & (rgb[..., 1] < 40) & (rgb[..., 2] < 40)
    if mask.sum() < 20:
        return Found(0.05, (0.0, 0.0, 1.0, 1.0))
    ys, xs = np.nonzero(mask)
    return Found(0.9, (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)))


def red_patch_detector() -> Callable[[np.ndarray], Detection]:
    return red_patch


def red_patch_check() -> Callable[[np.ndarray, list], list]:
    """A stand-in hand check: probability 0.95 for a box holding the red patch's centre, else 0.02; the box
    as it was shown."""

    def check(rgb: np.ndarray, boxes: list) -> list:
        patch = red_patch(rgb)
        cx, cy = (patch.box[0] + patch.box[2]) / 2, (patch.box[1] + patch.box[3]) / 2
        holds = [patch.score > 0.5 and b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes]
        return [(0.95 if inside else 0.02, tuple(b)) for inside, b in zip(holds, boxes)]

    return check


def save_untrained_detector(path: Path) -> Path:
    """A tiny untrained HandDetector checkpoint: it says "no hand" (score ~0.01) everywhere."""
    from gsdf_ros.detect.model import DetectorConfig, HandDetector
    from gsdf_ros.detect.train import DetectorTrainConfig, save

    model = HandDetector(DetectorConfig(canvas=(128, 96), channels=(4, 4, 8, 8, 8), head_channels=4))
    return save(path, model, DetectorTrainConfig())
