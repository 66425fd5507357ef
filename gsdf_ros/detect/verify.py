"""Hand candidates checked by the pose net: the detector proposes, the pose net verifies and places.

The detector's heatmap proposes its best few hand candidates. The pose net then looks at each
candidate's crop, cut as the tracker would cut it, and returns where the hand's joints are and how
sure it is of them. Two things improve:

- **score**: the candidate's hand score is the geometric mean of the detector's score and the pose
  net's mean joint confidence. Skin-coloured blobs and hand-like clutter can fool the detector, but
  the pose net finds no skeleton in them;
- **box**: the box of the projected joints, pushed out by :data:`FLESH_MARGIN`, fits the hand better
  than the detector's own size regression.

The best candidate by that score is the frame's hand. Nothing here imports torch; the pose net
comes in as a :data:`PoseLook` (``GSDFPredictor.pose_look``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from gsdf_ros.detect.tracker import Square, square_around
from gsdf_ros.geometry.camera import Intrinsics

Box = tuple[float, float, float, float]


class Detection(Protocol):
    """What a detector returns (:class:`gsdf_ros.detect.model.Detection` is one)."""

    score: float
    box: Box
    """(x0, y0, x1, y1) in frame pixels."""


@dataclass(frozen=True)
class Found:
    """A plain :class:`Detection`."""

    score: float
    box: Box


@dataclass(frozen=True)
class VerifiedHand:
    """A candidate after the pose net's look: its hand score and box, and the two scores behind them."""

    score: float
    box: Box
    detector_score: float
    joint_confidence: float


DetectFn = Callable[[np.ndarray, Intrinsics], Detection]
"""(H, W, 3) uint8 RGB frame and its intrinsics -> the best hand (score, box in frame pixels)."""
ProposeFn = Callable[[np.ndarray], Sequence[Detection]]
"""(H, W, 3) uint8 RGB frame -> hand candidates, best first (boxes in frame pixels)."""
PoseLook = Callable[[np.ndarray, Intrinsics, Square], tuple[np.ndarray, np.ndarray]]
"""(frame, its intrinsics, a square crop (x0, y0, side)) -> the pose net's joints projected into the
frame (21, 2) pixels, and their confidences (21,)."""

FLESH_MARGIN = 0.08
"""How far the hand's visible box reaches past its joints' box on each side, as a share of the joints'
box's longer side. Measured on the ground truth of the 4,379 training scenes (``data/scenes`` train)
whose hand the frame edge does not cut: per-side medians of the gap between the mask's box and the
2D joints' box 0.06 to 0.09, overall median 0.077."""
DEFAULT_PROPOSALS = 2
"""Candidates the pose net verifies per detection."""
RAW_THRESHOLD = 0.5
"""Hand score threshold of the detector alone (its sigmoid score)."""
VERIFIED_THRESHOLD = 0.33
"""Hand score threshold of verified candidates (:func:`verified_score`), chosen on a calibration set of
whole-frame scenes (``gsdf-synth --scenes --out data/scenes_calib --num 500 --seed 301 --size 384
--val-frac 1.0 --test-frac 0.0``) that neither the detector's training nor the held-out scores use. It
lies between the calibration set's 2% point (0.320: at most 2% of its hand-free frames pass) and its 1%
point (0.346); 1.2% pass it."""
LOOK_ENLARGE = 1.3
"""A candidate's crop side over its box's longer side (as the tracker crops a detection)."""


def image_detector(detect: Callable[[np.ndarray], Detection]) -> DetectFn:
    """A detector of RGB frames alone (intrinsics unused) as a :data:`DetectFn`."""
    return lambda image, intrinsics: detect(image)


def joints_box(uv: np.ndarray) -> Box:
    """The (x0, y0, x1, y1) box of finite 2D points (N, 2); ValueError when none is finite."""
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    finite = uv[np.all(np.isfinite(uv), axis=1)]
    if not len(finite):
        raise ValueError("no finite projected joint")
    (x0, y0), (x1, y1) = finite.min(axis=0), finite.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def flesh_box(joints_uv: np.ndarray, margin: float = FLESH_MARGIN) -> Box:
    """The hand's box from its projected joints (N, 2): their box pushed out on each side by ``margin``
    times its longer side. ValueError when no joint is finite."""
    x0, y0, x1, y1 = joints_box(joints_uv)
    pad = margin * max(x1 - x0, y1 - y0)
    return x0 - pad, y0 - pad, x1 + pad, y1 + pad


def verified_score(detector_score: float, joint_confidence: float) -> float:
    """The geometric mean of a detector score and a mean joint confidence, both clipped to [0, 1];
    0 when either is not finite."""
    if not (math.isfinite(detector_score) and math.isfinite(joint_confidence)):
        return 0.0
    return math.sqrt(min(max(detector_score, 0.0), 1.0) * min(max(joint_confidence, 0.0), 1.0))


def verify(image: np.ndarray, intrinsics: Intrinsics, candidate: Detection, look: PoseLook,
           enlarge: float = LOOK_ENLARGE, margin: float = FLESH_MARGIN) -> VerifiedHand:
    """One candidate after the pose net's look at its crop; its box is the joints' flesh box cut to the
    frame (the visible hand). A look without finite joints or confidences, or whose joints lie outside
    the frame, keeps the detector's box with hand score 0."""
    detector_score = float(candidate.score)
    box = tuple(float(v) for v in candidate.box)
    if not all(math.isfinite(v) for v in box):
        return VerifiedHand(0.0, box, detector_score, 0.0)
    uv, confidence = look(image, intrinsics, square_around(box, enlarge))
    confidence = np.asarray(confidence, dtype=np.float64)
    joint_confidence = float(np.mean(confidence)) if confidence.size and np.all(np.isfinite(confidence)) else 0.0
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    if joint_confidence <= 0.0 or not np.all(np.isfinite(uv)):
        return VerifiedHand(0.0, box, detector_score, joint_confidence)
    x0, y0, x1, y1 = flesh_box(uv, margin)
    height, width = image.shape[:2]
    inside = (min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width), min(max(y1, 0.0), height))
    if inside[2] - inside[0] < 1.0 or inside[3] - inside[1] < 1.0:
        return VerifiedHand(0.0, box, detector_score, joint_confidence)
    return VerifiedHand(verified_score(detector_score, joint_confidence), inside, detector_score, joint_confidence)


def verified_detector(propose: ProposeFn, look: PoseLook, count: int = 2, enlarge: float = LOOK_ENLARGE,
                      margin: float = FLESH_MARGIN) -> DetectFn:
    """A :data:`DetectFn` that verifies the detector's ``count`` best candidates with the pose net and
    returns the best :class:`VerifiedHand` (hand score 0 when the detector proposes nothing)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")

    def detect(image: np.ndarray, intrinsics: Intrinsics) -> VerifiedHand:
        candidates = list(propose(image))[:count]
        checked = [verify(image, intrinsics, c, look, enlarge, margin) for c in candidates]
        if not checked:
            return VerifiedHand(0.0, (0.0, 0.0, 1.0, 1.0), 0.0, 0.0)
        return max(checked, key=lambda hand: hand.score)

    return detect
