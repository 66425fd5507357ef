"""Test-double predictors for the hardening tests, loaded by the inference node as module:factory.

:class:`WindowEcho` writes the window it was given into its result, so a subscriber can see
which frames went into each reconstruction: joint ``i`` has x = (stamp of sample ``i`` - stamp
of the newest sample) in seconds, for ``i < len(window)``; the other joints sit at x = 1.
"""

from __future__ import annotations

import time

import numpy as np

from gsdf_ros.result import CropSample, Reconstruction

FRAME_PERIOD_NS = 100_000_000
"""Frame k of the NaN test is stamped k * FRAME_PERIOD_NS."""
UNUSED_JOINT_X = 1.0


def is_bad_frame(stamp_ns: int) -> bool:
    """Every other frame (odd k) gets a non-finite result from :func:`nan_every_other`."""
    return (stamp_ns // FRAME_PERIOD_NS) % 2 == 1


class WindowEcho:
    def __init__(self, window_length: int, delay_s: float = 0.0, poison_odd_frames: bool = False) -> None:
        self.window_length = window_length
        self.delay_s = delay_s
        self.poison_odd_frames = poison_odd_frames

    def warm_up(self) -> None:
        pass

    def predict(self, window: list[CropSample]) -> Reconstruction:
        time.sleep(self.delay_s)
        newest = window[-1]
        joints = np.column_stack([np.full(21, UNUSED_JOINT_X), np.zeros(21), np.full(21, 0.5)])
        joints[: len(window), 0] = [(s.stamp_ns - newest.stamp_ns) / 1e9 for s in window]
        centre = np.array([0.0, 0.0, 0.5])
        if self.poison_odd_frames and is_bad_frame(newest.stamp_ns):
            k = newest.stamp_ns // FRAME_PERIOD_NS
            (joints if k % 4 == 1 else centre)[0] = np.nan if k % 4 == 1 else np.inf
        return Reconstruction(newest.stamp_ns, newest.frame_id, joints, np.ones(21), centre)


def window_echo(device: str, window_length: int) -> WindowEcho:
    return WindowEcho(window_length or 4, delay_s=0.01)


def nan_every_other(device: str, window_length: int) -> WindowEcho:
    return WindowEcho(window_length or 2, poison_odd_frames=True)


def window_offsets_s(joint_x: list[float]) -> list[float]:
    """The per-sample offsets a WindowEcho result carries (joints at UNUSED_JOINT_X left out)."""
    return [x for x in joint_x if x != UNUSED_JOINT_X]
