"""The crops of the final pose reading: several crop sizes and centres around the hand.

Averaging the pose net's joints over them (:func:`gsdf_ros.live_crop.read_hand`, and the inference
node's crops in ``crop_mode`` detect) lowers the live joint error, above all the wrist's depth, which
the root-depth head reads from the crop's scale. Pure geometry: no torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.virtual_camera import (
    HAND_CROP_ENLARGE,
    Box,
    VirtualCrop,
    hand_crop_box,
    scale_box,
    virtual_crop,
)


@dataclass(frozen=True)
class PoseLooks:
    """The crops of the final pose reading: every crop size (``enlarges``, over the joints' box) at
    every centre (``shifts``, fractions of the crop's side); the first pair is the tracker's crop."""

    enlarges: tuple[float, ...] = (HAND_CROP_ENLARGE, 1.9, 2.3)
    shifts: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.08, 0.0), (-0.08, 0.0), (0.0, 0.08), (0.0, -0.08))

    def __post_init__(self) -> None:
        if not self.enlarges or not self.shifts:
            raise ValueError("PoseLooks needs at least one crop size and one centre")
        if not all(np.isfinite(e) and e > 0 for e in self.enlarges):
            raise ValueError(f"crop sizes must be positive, got {self.enlarges}")
        if not all(len(s) == 2 and all(np.isfinite(s)) for s in self.shifts):
            raise ValueError(f"centres must be finite (x, y) pairs, got {self.shifts}")

    @property
    def count(self) -> int:
        return len(self.enlarges) * len(self.shifts)

    def squares(self, square: Box) -> list[Box]:
        """The looks' squares (x0, y0, side) around the hand crop's ``square`` (the first crop size)."""
        out = []
        for enlarge in self.enlarges:
            x0, y0, side = scale_box(square, enlarge / self.enlarges[0])
            out += [(x0 + dx * side, y0 + dy * side, side) for dx, dy in self.shifts]
        return out

    def crops(self, intrinsics: Intrinsics, joints_source: np.ndarray, size: int) -> list[VirtualCrop]:
        """The looks' crops of an image around joints (21, 3) in its optical frame."""
        square = hand_crop_box(intrinsics, joints_source, self.enlarges[0])
        return [virtual_crop(intrinsics, box, size) for box in self.squares(square)]


SINGLE_LOOK = PoseLooks(enlarges=(HAND_CROP_ENLARGE,), shifts=((0.0, 0.0),))
"""One look: the tracker's crop alone."""
