"""Hand crops that follow the hand and cannot run away.

A confident detection starts a track. Between detections the next crop comes from the model's own
joints projected into the frame, but the crop's centre may move at most ``max_shift`` of its side
per frame, its side may change at most by ``max_scale_step`` per frame, both smoothed, and the side
never falls below the last detected hand's (enlarged) size. A new detection is asked for every
``redetect_every`` frames, and at once when the joints disagree with the crop (they leave it, or
their box is far smaller than the detected hand) or the model's confidence drops.

Boxes here are squares (x0, y0, side) in frame pixels, as :mod:`gsdf_ros.geometry.virtual_camera` uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Square = tuple[float, float, float]
JOINTS_ENLARGE = 1.5
"""A tracked crop's side over the longer side of the joints' box."""


@dataclass(frozen=True)
class TrackerConfig:
    score_threshold: float = 0.5
    """Hand score below which a detection means "no hand"."""
    redetect_every: int = 5
    max_shift: float = 0.15
    """Largest centre move per frame, as a fraction of the crop side."""
    max_drift: float = 0.2
    """Largest centre move since the last detection, as a fraction of the crop side, before re-detection."""
    max_scale_step: float = 1.15
    """Largest side ratio between two frames."""
    smoothing: float = 0.6
    """Weight of the new target against the current crop (1: no smoothing)."""
    detection_enlarge: float = 1.3
    """Crop side over the detected box's longer side."""
    min_joint_fraction: float = 0.8
    """Share of the projected joints that must lie inside the crop for the track to be trusted."""
    min_extent_ratio: float = 0.35
    """The joints' box may not be smaller than this share of the detected hand's before re-detection."""

    def __post_init__(self) -> None:
        if self.redetect_every < 1 or not 0 < self.max_shift or not self.max_scale_step >= 1.0:
            raise ValueError("redetect_every >= 1, max_shift > 0 and max_scale_step >= 1 are required")
        if not 0.0 < self.smoothing <= 1.0 or not self.detection_enlarge > 0:
            raise ValueError("smoothing must lie in (0, 1] and detection_enlarge be positive")


def square_around(box: tuple[float, float, float, float], enlarge: float) -> Square:
    """The square (x0, y0, side) centred on an (x0, y0, x1, y1) box, ``enlarge`` times its longer side."""
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    side = max(box[2] - box[0], box[3] - box[1], 1.0) * enlarge
    return (cx - side / 2.0, cy - side / 2.0, side)


def bounded_step(current: Square, target: Square, cfg: TrackerConfig, min_side: float) -> Square:
    """One smoothed step from ``current`` towards ``target``: centre move and side ratio bounded, side
    at least ``min_side``."""
    side = current[2]
    ccx, ccy = current[0] + side / 2.0, current[1] + side / 2.0
    tcx, tcy = target[0] + target[2] / 2.0, target[1] + target[2] / 2.0
    dx, dy = cfg.smoothing * (tcx - ccx), cfg.smoothing * (tcy - ccy)
    limit = cfg.max_shift * side
    norm = math.hypot(dx, dy)
    if norm > limit:
        dx, dy = dx * limit / norm, dy * limit / norm
    ratio = (target[2] / side) ** cfg.smoothing
    ratio = min(max(ratio, 1.0 / cfg.max_scale_step), cfg.max_scale_step)
    new_side = max(side * ratio, min_side)
    cx, cy = ccx + dx, ccy + dy
    return (cx - new_side / 2.0, cy - new_side / 2.0, new_side)


def inside_fraction(points: np.ndarray, square: Square) -> float:
    """Share of 2D points (N, 2) inside a square."""
    x0, y0, side = square
    pts = np.asarray(points, dtype=np.float64)
    inside = (pts[:, 0] >= x0) & (pts[:, 0] <= x0 + side) & (pts[:, 1] >= y0) & (pts[:, 1] <= y0 + side)
    return float(inside.mean()) if len(pts) else 0.0


class HandTracker:
    """The crop state of one camera stream (see the module docstring). Not thread-safe."""

    def __init__(self, cfg: TrackerConfig = TrackerConfig()) -> None:
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        """Forget the hand (no track)."""
        self.crop: Square | None = None
        self.anchor: Square | None = None
        """The crop of the last detection."""
        self.min_side = 0.0
        self.since_detection = 0
        self.trusted = False

    @property
    def tracking(self) -> bool:
        return self.crop is not None

    def needs_detection(self) -> bool:
        """Whether the next frame should run the detector."""
        return self.crop is None or not self.trusted or self.since_detection >= self.cfg.redetect_every

    def on_detection(self, score: float, box: tuple[float, float, float, float]) -> Square | None:
        """A detection on the current frame: the crop to use now, or None for "no hand"."""
        if not score >= self.cfg.score_threshold:
            self.reset()
            return None
        self.crop = square_around(box, self.cfg.detection_enlarge)
        self.anchor = self.crop
        self.min_side = self.crop[2]
        self.since_detection = 0
        self.trusted = True
        return self.crop

    def on_joints(self, joints_2d: np.ndarray, enlarge: float = JOINTS_ENLARGE) -> Square | None:
        """The model's joints (21, 2) in frame pixels for the current crop: the crop of the next frame."""
        if self.crop is None:
            return None
        pts = np.asarray(joints_2d, dtype=np.float64)
        self.since_detection += 1
        if not np.all(np.isfinite(pts)):
            self.trusted = False
            return self.crop
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        extent = float(max(hi - lo))
        consistent = (inside_fraction(pts, self.crop) >= self.cfg.min_joint_fraction
                      and extent * enlarge >= self.cfg.min_extent_ratio * self.min_side)
        step = bounded_step(self.crop, square_around((*lo, *hi), enlarge), self.cfg, self.min_side)
        self.trusted = consistent and self.drift(step) <= self.cfg.max_drift
        if self.trusted:
            self.crop = step
        return self.crop

    def drift(self, crop: Square | None = None) -> float:
        """How far a crop's centre (default: the current one) lies from the last detection's, as a
        fraction of its side."""
        crop = self.crop if crop is None else crop
        if crop is None or self.anchor is None:
            return 0.0
        (x0, y0, side), (a0, b0, aside) = crop, self.anchor
        return math.hypot(x0 + side / 2 - a0 - aside / 2, y0 + side / 2 - b0 - aside / 2) / side
