"""Where to crop: the full frame, a fixed region, or a box around the last reconstructed hand; or not
here at all (``detect``: the whole frame goes to the inference node, which finds the hand)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from gsdf_ros.geometry import Intrinsics, square_box_around
from gsdf_ros.geometry.virtual_camera import Box

DETECT_MODE = "detect"
LIVE_CROP_MODES = (DETECT_MODE, "full", "roi", "tracked")


@dataclass(frozen=True)
class TrackedHand:
    """The hand joints (21, 3) of the last reconstruction, in its camera optical frame."""

    stamp_ns: int
    frame_id: str
    joints: np.ndarray


def full_frame_box(intrinsics: Intrinsics) -> Box:
    """The smallest square centred on the principal point that covers the whole image.

    Centring it on the principal point keeps the virtual camera's rotation the identity.
    """
    half = max(
        intrinsics.cx + 0.5,
        intrinsics.width - 0.5 - intrinsics.cx,
        intrinsics.cy + 0.5,
        intrinsics.height - 0.5 - intrinsics.cy,
    )
    return (intrinsics.cx - half, intrinsics.cy - half, 2.0 * half)


def roi_box(roi: Sequence[float]) -> Box | None:
    """The (x0, y0, size) region, or None when it is not three finite numbers with size > 0."""
    if len(roi) != 3 or not all(math.isfinite(float(v)) for v in roi) or float(roi[2]) <= 0:
        return None
    return (float(roi[0]), float(roi[1]), float(roi[2]))


def tracked_box(
    intrinsics: Intrinsics,
    hand: TrackedHand | None,
    frame_id: str,
    stamp_ns: int,
    timeout_ns: int,
    pad_px: float,
    enlarge: float,
) -> Box | None:
    """A square box around the projected joints of a fresh hand of the same camera, else None."""
    if hand is None or hand.frame_id != frame_id or not 0 <= stamp_ns - hand.stamp_ns <= timeout_ns:
        return None
    uv = intrinsics.project(hand.joints)
    if not np.all(np.isfinite(uv)):
        return None
    return square_box_around(uv, pad_px=pad_px, enlarge=enlarge)


def choose_box(
    mode: str,
    intrinsics: Intrinsics,
    roi: Sequence[float],
    hand: TrackedHand | None,
    frame_id: str,
    stamp_ns: int,
    timeout_ns: int,
    pad_px: float,
    enlarge: float,
) -> tuple[Box, str]:
    """The crop box for `mode` and the mode it really used ('full' when roi/tracked are unusable;
    ``detect`` crops in the inference node, so here it is the full-frame box)."""
    if mode not in LIVE_CROP_MODES:
        raise ValueError(f"crop_mode must be one of {', '.join(LIVE_CROP_MODES)}, got {mode!r}")
    box = None
    if mode == "roi":
        box = roi_box(roi)
    elif mode == "tracked":
        box = tracked_box(intrinsics, hand, frame_id, stamp_ns, timeout_ns, pad_px, enlarge)
    if box is None:
        return full_frame_box(intrinsics), "full"
    return box, mode
