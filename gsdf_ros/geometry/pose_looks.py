"""The crops of the final pose reading: several crop sizes, centres and in-plane turns around the hand.

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
    rotate_crop,
    scale_box,
    virtual_crop,
)

Look = tuple[Box, float]
"""One look: its square (x0, y0, side) in source pixels and its in-plane turn in degrees."""


@dataclass(frozen=True)
class PoseLooks:
    """The crops of the final pose reading: every in-plane turn (``turns``, degrees; the pose net trained
    on crops turned so) of every crop size (``enlarges``, over the joints' box) at every centre
    (``shifts``, fractions of the crop's side), in that order: all sizes and centres unturned first.
    ``limit`` keeps the first that many (None: all). The first crop is the hand crop itself."""

    enlarges: tuple[float, ...] = (HAND_CROP_ENLARGE, 1.9, 2.3)
    shifts: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
    turns: tuple[float, ...] = (0.0, 45.0, -45.0)
    limit: int | None = None

    def __post_init__(self) -> None:
        if not self.enlarges or not self.shifts or not self.turns:
            raise ValueError("PoseLooks needs at least one crop size, one centre and one turn")
        if not all(np.isfinite(e) and e > 0 for e in self.enlarges):
            raise ValueError(f"crop sizes must be positive, got {self.enlarges}")
        if not all(len(s) == 2 and all(np.isfinite(s)) for s in self.shifts):
            raise ValueError(f"centres must be finite (x, y) pairs, got {self.shifts}")
        if not all(np.isfinite(t) for t in self.turns) or self.turns[0] != 0.0:
            raise ValueError(f"turns must be finite angles in degrees, the first 0, got {self.turns}")
        if self.limit is not None and not 1 <= self.limit <= self._full:
            raise ValueError(f"limit must lie in [1, {self._full}], got {self.limit}")

    @property
    def _full(self) -> int:
        return len(self.enlarges) * len(self.shifts) * len(self.turns)

    @property
    def count(self) -> int:
        return self._full if self.limit is None else self.limit

    def looks(self, square: Box, frame: tuple[int, int] | None = None) -> list[Look]:
        """The looks' squares and turns around the hand crop's ``square`` (the first crop size); with
        ``frame`` (width, height), those after the first whose square reaches out of it by more than
        :data:`MAX_OUTSIDE` of its area are left out (they would see padding, not the hand's context)."""
        squares = []
        for enlarge in self.enlarges:
            x0, y0, side = scale_box(square, enlarge / self.enlarges[0])
            squares += [(x0 + dx * side, y0 + dy * side, side) for dx, dy in self.shifts]
        out = [(box, float(turn)) for turn in self.turns for box in squares][:self.count]
        if frame is None:
            return out
        return out[:1] + [look for look in out[1:] if outside_share(look[0], frame) <= MAX_OUTSIDE]

    def crops(self, intrinsics: Intrinsics, joints_source: np.ndarray, size: int) -> list[VirtualCrop]:
        """The looks' crops of an image around joints (21, 3) in its optical frame."""
        square = hand_crop_box(intrinsics, joints_source, self.enlarges[0])
        frame = (intrinsics.width, intrinsics.height)
        return [rotate_crop(virtual_crop(intrinsics, box, size), turn) for box, turn in self.looks(square, frame)]


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


MAX_LOOKS = PoseLooks().count
"""Crops of the full reading (:class:`PoseLooks` defaults): 9."""

DEFAULT_LOOKS = MAX_LOOKS
"""Crops read per frame by default (the inference node's ``pose_looks``, the evaluations' ``--pose-looks``):
on 800 pose samples of a tuning seed mean live E_h 3.41 cm with the hand crop alone, 3.03 with the three
sizes, 2.94 with all nine (the shipped pose net); each crop costs one pose-net pass."""

LOOKS_HELP = ("the published joints are their mean over this many crops around the hand (1: the hand crop "
              "alone; 3: it at 1, 1.27 and 1.53 times its size; 9: those also turned by +-45 degrees); each "
              "crop costs one pose-net pass")
"""What a pose-looks count means, for parameter and option help."""


def pose_looks(count: int) -> PoseLooks:
    """The first ``count`` crops (1 to 9) of the default reading: 1 is the hand crop alone, 3 the hand
    crop at its three sizes, 9 those also turned by +45 and -45 degrees."""
    return PoseLooks(limit=count)


SINGLE_LOOK = pose_looks(1)
"""One look: the tracker's crop alone."""
