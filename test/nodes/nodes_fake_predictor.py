"""Test doubles of gsdf_ros.predictor.Predictor, loaded by the inference node as module:factory."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

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
