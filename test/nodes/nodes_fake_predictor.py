"""Test doubles of gsdf_ros.predictor.Predictor, loaded by the inference node as module:factory."""

from __future__ import annotations

import time

import numpy as np

from gsdf_ros.predictor import CropSample
from gsdf_ros.result import Reconstruction

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
