"""Hand candidates checked by the pose net: the detector proposes, the pose net verifies and places.

The detector's heatmap proposes its best few hand candidates. The pose net then looks at each
candidate's crop, cut as the tracker would cut it, and returns where the hand's joints are and how
sure it is of them; a second look is cut around the first look's joints, as the tracker's next frame
would be, so the hand fills the crop as in the pose net's training. Two things improve:

- **score**: the candidate's hand score is a weighted geometric mean of the detector's score and the
  pose net's mean joint confidence in its last look. Skin-coloured blobs and hand-like clutter can
  fool the detector, but the pose net finds no skeleton in them;
- **box**: the box of the projected joints, pushed out by :data:`FLESH_MARGIN`, fits the hand better
  than the detector's own size regression.

A third opinion is optional: the hand check (:mod:`gsdf_ros.detect.check`), a small network that reads
each verified box cut from the frame at full resolution. Its hand probability joins the hand score
(:func:`checked_score`) and its own box of the hand is averaged with the joints' box
(:data:`CHECK_BOX_SHARE`).

The best candidate by that score is the frame's hand. Nothing here imports torch; the pose net
comes in as a :data:`PoseLook` (``GSDFPredictor.pose_look``), the check as a :data:`CheckFn`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
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
    check_probability: float | None = None
    """The hand check's probability for the pose net's box (None: no check ran)."""


DetectFn = Callable[[np.ndarray, Intrinsics], Detection]
"""(H, W, 3) uint8 RGB frame and its intrinsics -> the best hand (score, box in frame pixels)."""
ProposeFn = Callable[[np.ndarray], Sequence[Detection]]
"""(H, W, 3) uint8 RGB frame -> hand candidates, best first (boxes in frame pixels)."""
PoseLook = Callable[[np.ndarray, Intrinsics, Square], tuple[np.ndarray, np.ndarray]]
"""(frame, its intrinsics, a square crop (x0, y0, side)) -> the pose net's joints projected into the
frame (21, 2) pixels, and their confidences (21,)."""

CheckFn = Callable[[np.ndarray, Sequence[Box]], Sequence[tuple[float, Box]]]
"""(H, W, 3) uint8 RGB frame and boxes in it (frame pixels) -> for each box, in order, the hand check's
probability that it holds a hand and the hand's box (frame pixels)."""

FLESH_MARGIN = 0.08
"""How far the hand's visible box reaches past its joints' box on each side, as a share of the joints'
box's longer side. Measured on the ground truth of the 4,379 training scenes (``data/scenes`` train)
whose hand the frame edge does not cut: per-side medians of the gap between the mask's box and the
2D joints' box 0.06 to 0.09, overall median 0.077."""
DEFAULT_PROPOSALS = 3
"""Candidates the pose net verifies per detection. Chosen on the calibration scenes (see
:data:`VERIFIED_THRESHOLD`) among 2 to 5: at the weight 0.3 (:data:`DETECTOR_WEIGHT`) three, four and
five all found 0.941 of the hands at the 2% false-hand point, two 0.932; each one more costs two
pose-net looks."""
RAW_THRESHOLD = 0.5
"""Hand score threshold of the detector alone (its sigmoid score)."""
VERIFIED_THRESHOLD = 0.30
"""Hand score threshold of verified candidates (:func:`verified_score`), chosen on a calibration set of
whole-frame scenes rendered at their camera frame size (``gsdf-synth --scenes --out
data/scenes_calib_full --num 500 --seed 301 --size 0 --val-frac 1.0 --test-frac 0.0``) that neither the
detector's training nor the held-out scores use. It lies between the calibration set's 2% point (0.295:
at most 2% of its hand-free frames pass) and its 1% point (0.313), with the shipped pose net (two
residual blocks per stage) verifying and the first look at :data:`FIRST_LOOK_ENLARGE`; there it finds
0.929 of the hands at 1.8% false hands (first look at 1.3: points 0.295 and 0.331, 0.917 of the hands).
With the one-block pose net before it the points were 0.285 and 0.316 and the threshold 0.29. The shipped
pose net fine-tuned on images of another seed (``configs/tiny_pose_fresh.yaml``) gives the same points (0.295
and 0.313) and the same 0.929 at 1.8%. With three proposals (the shipped pose net fine-tuned once more,
``configs/tiny_pose_fresh2.yaml``) the points are 0.292 and 0.307, so 0.30 stays between them."""
DETECTOR_WEIGHT = 0.3
"""Exponent of the detector's score in the hand score; the pose net's joint confidence gets the rest.
Chosen on the same calibration set among 0.2, 0.3 ... 0.7 (0.5: the plain geometric mean): 0.3 gave the
highest recall at IoU >= 0.5 at both its 1% and its 2% points (0.914 and 0.929; 0.5: 0.872 and 0.899)."""
LOOKS = 2
"""The pose net's looks per candidate: the candidate's crop, then crops around the previous look's joints."""
LOOK_ENLARGE = 1.3
"""A look's crop side over the previous look's box's longer side (as the tracker crops a detection)."""
FIRST_LOOK_ENLARGE = 1.6
"""The first look's crop side over the candidate's box's longer side: wider than :data:`LOOK_ENLARGE`,
since the detector's own box often misses part of the hand (a finger, the palm's far side) and a crop
cut from it would cut the hand too. Chosen on the calibration scenes (see :data:`VERIFIED_THRESHOLD`)
among 1.3 and 1.6, with 2 proposals and 2 looks: recall at IoU >= 0.5 at threshold 0.30 0.917 with 1.3,
0.929 with 1.6, both at 1.8% false hands (three looks instead of two: 0.914 and 0.923)."""


CHECK_WEIGHT = 0.4
"""Exponent of the hand check's probability in the checked hand score (:func:`checked_score`); the verified
score gets the rest. See :data:`CHECKED_THRESHOLD` for how it was chosen."""
CHECK_BOX_SHARE = 0.5
"""Weight of the hand check's box in the reported box; the pose net's joints' box gets the rest. See
:data:`CHECKED_THRESHOLD`."""
CHECKED_THRESHOLD = 0.39
"""Hand score threshold of checked candidates (:func:`checked_score`). Chosen with the shipped check
(``models/hand_check.pt``, ``configs/hand_check.yaml``) on 1,500 calibration scenes: the 500 of
:data:`VERIFIED_THRESHOLD` (seed 301) and 1,000 more (``gsdf-synth --scenes --out data/scenes_calib2_full
--num 1000 --seed 302 --size 0 --val-frac 1.0 --test-frac 0.0``), 1,055 frames with a hand and 445
without. Weights 0.3, 0.4 and 0.5 with box shares 0.3 and 0.5 were compared by recall at IoU >= 0.5 at
the 2% and the 1% false-hand points; 0.4 with 0.5 found 0.969 and 0.961 (0.3: 0.964 and 0.955; 0.5:
0.971 and 0.961 but its 1% point lies further from its 2% one). Its 2% and 1% points are 0.373 and
0.412; at 0.39 it finds 0.967 of the calibration hands at 1.8% false hands, where the pose net alone
(:data:`VERIFIED_THRESHOLD`) found 0.911 at 1.6%. A smaller check (80 px squares, half the widths,
12 epochs) found 0.961 and 0.945 at the same points."""


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


def cut_to_frame(box: Box, width: int, height: int) -> Box:
    """``box`` cut to the frame [0, width] x [0, height]."""
    x0, y0, x1, y1 = box
    return min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width), min(max(y1, 0.0), height)


def verified_score(detector_score: float, joint_confidence: float, detector_weight: float = DETECTOR_WEIGHT
                   ) -> float:
    """detector_score ** w * joint_confidence ** (1 - w) with w = ``detector_weight``, both scores clipped to
    [0, 1]; 0 when either is not finite."""
    if not (math.isfinite(detector_score) and math.isfinite(joint_confidence)):
        return 0.0
    detector_score, joint_confidence = min(max(detector_score, 0.0), 1.0), min(max(joint_confidence, 0.0), 1.0)
    return detector_score ** detector_weight * joint_confidence ** (1.0 - detector_weight)


def checked_score(verified: float, probability: float, check_weight: float = CHECK_WEIGHT) -> float:
    """verified ** (1 - w) * probability ** w with w = ``check_weight``, both clipped to [0, 1]; 0 when either
    is not finite."""
    return verified_score(probability, verified, check_weight)


def blend_boxes(first: Box, second: Box, share: float) -> Box:
    """The box whose corners lie ``share`` of the way from ``first``'s to ``second``'s."""
    return tuple(float((1.0 - share) * a + share * b) for a, b in zip(first, second))


def checked_hands(image: np.ndarray, hands: Sequence[VerifiedHand], check: CheckFn,
                  check_weight: float = CHECK_WEIGHT, box_share: float = CHECK_BOX_SHARE) -> list[VerifiedHand]:
    """Verified candidates after the hand check's look at their boxes: hand score :func:`checked_score`, box
    blended with the check's (:func:`blend_boxes`) and cut to the frame. A candidate the pose net turned down
    (score 0), or whose check answer is not finite, keeps score 0 and its box."""
    answers = list(check(image, [hand.box for hand in hands])) if hands else []
    if len(answers) != len(hands):
        raise ValueError(f"the hand check answered {len(answers)} boxes for {len(hands)}")
    height, width = image.shape[:2]
    out = []
    for hand, (probability, box) in zip(hands, answers):
        probability = float(probability)
        box = tuple(float(v) for v in box)
        if hand.score <= 0.0 or not math.isfinite(probability) or not all(math.isfinite(v) for v in box):
            out.append(replace(hand, score=0.0, check_probability=probability))
            continue
        blended = cut_to_frame(blend_boxes(hand.box, box, box_share), width, height)
        out.append(replace(hand, score=checked_score(hand.score, probability, check_weight), box=blended,
                           check_probability=probability))
    return out


def look_box(image: np.ndarray, intrinsics: Intrinsics, square: Square, look: PoseLook,
             margin: float = FLESH_MARGIN) -> tuple[Box | None, float]:
    """The pose net's look at one square crop: its joints' flesh box cut to the frame (None when the look
    has no finite joints or confidences, or its joints lie outside the frame) and its mean joint confidence
    (0 when not finite)."""
    uv, confidence = look(image, intrinsics, square)
    confidence = np.asarray(confidence, dtype=np.float64)
    joint_confidence = float(np.mean(confidence)) if confidence.size and np.all(np.isfinite(confidence)) else 0.0
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    if joint_confidence <= 0.0 or not np.all(np.isfinite(uv)):
        return None, joint_confidence
    height, width = image.shape[:2]
    inside = cut_to_frame(flesh_box(uv, margin), width, height)
    if inside[2] - inside[0] < 1.0 or inside[3] - inside[1] < 1.0:
        return None, joint_confidence
    return inside, joint_confidence


def verify(image: np.ndarray, intrinsics: Intrinsics, candidate: Detection, look: PoseLook,
           enlarge: float = LOOK_ENLARGE, margin: float = FLESH_MARGIN, looks: int = LOOKS,
           detector_weight: float = DETECTOR_WEIGHT, first_enlarge: float = FIRST_LOOK_ENLARGE) -> VerifiedHand:
    """One candidate after ``looks`` looks of the pose net, the first at the candidate's crop (``first_enlarge``
    times its box), each next one around the previous look's box (``enlarge`` times it); its box is the
    last look's joints' flesh box cut to the frame (the visible hand) and its joint confidence the last
    look's. A look without a box (:func:`look_box`) ends it with the previous box and hand score 0."""
    if looks < 1:
        raise ValueError(f"looks must be >= 1, got {looks}")
    detector_score = float(candidate.score)
    box = tuple(float(v) for v in candidate.box)
    if not all(math.isfinite(v) for v in box):
        return VerifiedHand(0.0, box, detector_score, 0.0)
    joint_confidence = 0.0
    for index in range(looks):
        side = first_enlarge if index == 0 else enlarge
        found, joint_confidence = look_box(image, intrinsics, square_around(box, side), look, margin)
        if found is None:
            return VerifiedHand(0.0, box, detector_score, joint_confidence)
        box = found
    score = verified_score(detector_score, joint_confidence, detector_weight)
    return VerifiedHand(score, box, detector_score, joint_confidence)


def verified_detector(propose: ProposeFn, look: PoseLook, count: int = DEFAULT_PROPOSALS,
                      detector_weight: float = DETECTOR_WEIGHT, looks: int = LOOKS, check: CheckFn | None = None,
                      check_weight: float = CHECK_WEIGHT) -> DetectFn:
    """A :data:`DetectFn` that verifies the detector's ``count`` best candidates with the pose net
    (:func:`verify`), and with a ``check`` has the hand check judge them too (:func:`checked_hands`), and
    returns the best :class:`VerifiedHand` (hand score 0 when the detector proposes nothing)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")

    def detect(image: np.ndarray, intrinsics: Intrinsics) -> VerifiedHand:
        candidates = list(propose(image))[:count]
        checked = [verify(image, intrinsics, c, look, looks=looks, detector_weight=detector_weight)
                   for c in candidates]
        if check is not None:
            checked = checked_hands(image, checked, check, check_weight)
        if not checked:
            return VerifiedHand(0.0, (0.0, 0.0, 1.0, 1.0), 0.0, 0.0)
        return max(checked, key=lambda hand: hand.score)

    return detect
