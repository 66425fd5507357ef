"""Checks of a camera frame against its CameraInfo, and counts of rejected inputs by reason."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Sequence

from gsdf_ros.nodes.image_conversion import COLOUR_ENCODINGS


class RejectReason(str, Enum):
    """Why an input was not used; the value is the name shown in logs and diagnostics."""

    UNSUPPORTED_ENCODING = "unsupported_encoding"
    MALFORMED_IMAGE = "malformed_image"
    MALFORMED_MESSAGE = "malformed_message"
    SIZE_MISMATCH = "size_mismatch"
    BAD_INTRINSICS = "bad_intrinsics"
    ZERO_STAMP = "zero_stamp"
    REPEATED_STAMP = "repeated_stamp"
    OUT_OF_ORDER = "out_of_order"
    TIME_JUMP_BACK = "time_jump_back"
    UNPAIRED = "unpaired"
    FRAME_MISMATCH = "frame_mismatch"
    NON_FINITE = "non_finite"
    PROCESSING_ERROR = "processing_error"


@dataclass(frozen=True)
class CameraFacts:
    """What validation needs from a CameraInfo."""

    width: int
    height: int
    k: Sequence[float]  # row-major 3x3
    stamp_ns: int


def check_intrinsics(k: Sequence[float]) -> RejectReason | None:
    """BAD_INTRINSICS unless K is 9 finite numbers with positive focal lengths, zero skew, last row 0 0 1."""
    values = [float(v) for v in k]
    if len(values) != 9 or not all(math.isfinite(v) for v in values):
        return RejectReason.BAD_INTRINSICS
    fx, skew, _, lower, fy, _, r0, r1, r2 = values
    if fx <= 0 or fy <= 0 or skew != 0 or lower != 0 or (r0, r1, r2) != (0.0, 0.0, 1.0):
        return RejectReason.BAD_INTRINSICS
    return None


def check_frame(
    encoding: str | None, width: int, height: int, stamp_ns: int, camera: CameraFacts
) -> RejectReason | None:
    """The first reason the frame cannot be used with `camera`, or None.

    `encoding` is None for a compressed image (any decodable format is accepted).
    """
    if encoding is not None and encoding not in COLOUR_ENCODINGS:
        return RejectReason.UNSUPPORTED_ENCODING
    if stamp_ns <= 0 or camera.stamp_ns <= 0:
        return RejectReason.ZERO_STAMP
    if (width, height) != (camera.width, camera.height) or width <= 0 or height <= 0:
        return RejectReason.SIZE_MISMATCH
    return check_intrinsics(camera.k)


CROP_ENCODING = "rgb8"
UNIT_QUATERNION_TOLERANCE = 1e-3


def check_crop(
    encoding: str, width: int, height: int, camera: CameraFacts, rotation_xyzw: Sequence[float]
) -> RejectReason | None:
    """The first reason a ``gsdf/CropFrame`` cannot be used, or None.

    Like :func:`check_frame` (the crop's own CameraInfo is `camera`), and the image must be rgb8
    and the virtual rotation a finite unit quaternion.
    """
    if encoding != CROP_ENCODING:
        return RejectReason.UNSUPPORTED_ENCODING
    reason = check_frame(encoding, width, height, camera.stamp_ns, camera)
    if reason is not None:
        return reason
    q = [float(v) for v in rotation_xyzw]
    if not all(math.isfinite(v) for v in q) or abs(math.sqrt(sum(v * v for v in q)) - 1.0) > UNIT_QUATERNION_TOLERANCE:
        return RejectReason.MALFORMED_MESSAGE
    return None


class Rejected(ValueError):
    """An input that cannot be used: the reason it is counted under, and a line for the log."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class RejectCounter:
    """Counts of rejected inputs by reason."""

    def __init__(self) -> None:
        self._counts: Counter[RejectReason] = Counter()

    def add(self, reason: RejectReason) -> int:
        """Count one reject; returns the new count for that reason."""
        self._counts[reason] += 1
        return self._counts[reason]

    def count(self, reason: RejectReason) -> int:
        return self._counts[reason]

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def as_dict(self) -> dict[str, int]:
        """Non-zero counts keyed by reason name, in a stable order."""
        return {r.value: self._counts[r] for r in RejectReason if self._counts[r]}
