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
    every centre (``shifts``, fractions of the crop's side), ordered size first (every centre at the
    hand crop's size, then every centre at each next size); ``limit`` keeps the first that many (None:
    all). The first crop is the hand crop itself."""

    enlarges: tuple[float, ...] = (HAND_CROP_ENLARGE, 1.9, 2.3)
    shifts: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.08, 0.0), (-0.08, 0.0), (0.0, 0.08), (0.0, -0.08))
    limit: int | None = None

    def __post_init__(self) -> None:
        if not self.enlarges or not self.shifts:
            raise ValueError("PoseLooks needs at least one crop size and one centre")
        if not all(np.isfinite(e) and e > 0 for e in self.enlarges):
            raise ValueError(f"crop sizes must be positive, got {self.enlarges}")
        if not all(len(s) == 2 and all(np.isfinite(s)) for s in self.shifts):
            raise ValueError(f"centres must be finite (x, y) pairs, got {self.shifts}")
        if self.limit is not None and not 1 <= self.limit <= len(self.enlarges) * len(self.shifts):
            raise ValueError(f"limit must lie in [1, {len(self.enlarges) * len(self.shifts)}], got {self.limit}")

    @property
    def count(self) -> int:
        full = len(self.enlarges) * len(self.shifts)
        return full if self.limit is None else self.limit

    def squares(self, square: Box, frame: tuple[int, int] | None = None) -> list[Box]:
        """The looks' squares (x0, y0, side) around the hand crop's ``square`` (the first crop size); with
        ``frame`` (width, height), those after the first that reach out of it by more than
        :data:`MAX_OUTSIDE` of their area are left out (they would see padding, not the hand's context)."""
        out = []
        for enlarge in self.enlarges:
            x0, y0, side = scale_box(square, enlarge / self.enlarges[0])
            out += [(x0 + dx * side, y0 + dy * side, side) for dx, dy in self.shifts]
        out = out[:self.count]
        if frame is None:
            return out
        return out[:1] + [box for box in out[1:] if outside_share(box, frame) <= MAX_OUTSIDE]

    def crops(self, intrinsics: Intrinsics, joints_source: np.ndarray, size: int) -> list[VirtualCrop]:
        """The looks' crops of an image around joints (21, 3) in its optical frame."""
        square = hand_crop_box(intrinsics, joints_source, self.enlarges[0])
        frame = (intrinsics.width, intrinsics.height)
        return [virtual_crop(intrinsics, box, size) for box in self.squares(square, frame)]


MAX_OUTSIDE = 0.2
"""The largest share of a look's area that may lie outside the frame (the hand crop is always read)."""


def outside_share(box: Box, frame: tuple[int, int]) -> float:
    """The share of a square (x0, y0, side)'s area outside a (width, height) frame, whose pixels span
    [-0.5, width - 0.5] x [-0.5, height - 0.5]."""
    x0, y0, side = box
    width, height = frame
    inside_x = max(0.0, min(x0 + side, width - 0.5) - max(x0, -0.5))
    inside_y = max(0.0, min(y0 + side, height - 0.5) - max(y0, -0.5))
    return 1.0 - inside_x * inside_y / (side * side)


MAX_LOOKS = 15
"""Crops of the full reading (:class:`PoseLooks` defaults)."""


def pose_looks(count: int) -> PoseLooks:
    """The first ``count`` crops (1 to 15) of the default reading: 1 is the hand crop alone, 5 the hand
    crop at its five centres, 15 all three sizes at all five centres."""
    return PoseLooks(limit=count)


SINGLE_LOOK = pose_looks(1)
"""One look: the tracker's crop alone."""
