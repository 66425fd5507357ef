"""Finding the hand in whole camera frames inside the inference process (``crop_mode`` detect).

Per frame, the :class:`HandFinder` either runs a hand detector (when the tracker asks for one: no
track yet, every ``redetect_every`` frames, or when the model's joints stopped agreeing with the
crop) or takes the crop the :class:`~gsdf_ros.detect.tracker.HandTracker` made from the previous
frame's joints; it cuts that crop with the exact virtual camera. After the model ran on the crop,
:meth:`HandFinder.follow` gives the tracker the joints projected into the frame. A detection below
the score threshold is the answer "no hand" (no crop, no model run).

After the model ran on a crop, its mean joint confidence is the pose check: below
``min_confidence`` the crop did not hold a hand the model can read (noise, a distractor the detector
took for a hand, a hand that left a tracked crop); :meth:`HandFinder.follow` then says so, the frame's
answer becomes "no hand" and the track is dropped, so the next frame runs the detector.

A detector is any callable ``(rgb, intrinsics) -> Detection``: the trained
:class:`~gsdf_ros.detect.model.HandDetector` (:func:`load_detect_fn`; by default in the inference node
its best candidates verified by the model's pose net, :mod:`gsdf_ros.detect.verify`), or, without a checkpoint, a
pseudo-detector made from the model's own whole-image look (:func:`look_detector`: the box of the
projected joints, the mean joint confidence as the score), which finds the hand less reliably.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from gsdf_ros.detect.tracker import HandTracker, TrackerConfig, square_around
from gsdf_ros.detect.verify import (
    CheckFn,
    DetectFn,
    Detection,
    Found,
    PoseLook,
    image_detector,
    joints_box,
    verified_detector,
)
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.pose_looks import PoseLooks
from gsdf_ros.geometry.virtual_camera import rotate_crop, virtual_crop, warp_crop
from gsdf_ros.result import CropSample

LookFn = Callable[[np.ndarray, Intrinsics], tuple[np.ndarray, np.ndarray]]
"""(H, W, 3) uint8 RGB frame and its intrinsics -> joints (21, 3) in its optical frame and their confidences (21,)."""
NO_DETECTOR = "none"
"""The ``detector`` value that asks for the model's own whole-image look even when a checkpoint exists."""


@dataclass(frozen=True)
class Finding:
    """What the finder decided for one frame: the crop to run the model on (None: no hand), the
    frame's hand score and whether the detector ran on it."""

    sample: CropSample | None
    score: float
    detected: bool


def frame_intrinsics(frame: CropSample) -> Intrinsics:
    """The camera intrinsics of a whole frame (its K and image size)."""
    return Intrinsics.from_matrix(np.asarray(frame.k, dtype=np.float64), frame.image.shape[1], frame.image.shape[0])


def look_detector(look: LookFn) -> DetectFn:
    """A pseudo-detector from a whole-image look: the box of the projected joints, scored by their mean
    confidence (score 0 when the joints do not project into the image plane)."""

    def detect(image: np.ndarray, intrinsics: Intrinsics) -> Detection:
        joints, confidence = look(image, intrinsics)
        try:
            box = joints_box(intrinsics.project(np.asarray(joints, dtype=np.float64)))
        except ValueError:
            return Found(0.0, (0.0, 0.0, 1.0, 1.0))
        score = float(np.clip(np.mean(confidence), 0.0, 1.0)) if np.all(np.isfinite(confidence)) else 0.0
        return Found(score, box)

    return detect


def model_source(spec: str, default_path: Path, what: str) -> str | Path | None:
    """What a ``detector`` or ``hand_check`` parameter names: None for ``none`` (or empty when `default_path`
    does not exist), a ``module:factory`` string as it is, else the checkpoint's path (empty:
    `default_path`). FileNotFoundError (naming `what`) when a named checkpoint does not exist."""
    from gsdf_ros.predictor import is_factory_spec

    spec = spec.strip()
    if spec.lower() == NO_DETECTOR or (not spec and not default_path.is_file()):
        return None
    if spec and is_factory_spec(spec):
        return spec
    path = Path(spec).expanduser() if spec else default_path
    if not path.is_file():
        raise FileNotFoundError(f"{what} checkpoint not found: {path}")
    return path


def load_check_fn(spec: str, default_path: Path) -> CheckFn | None:
    """The hand check named by the ``hand_check`` parameter (:func:`model_source`; a factory returns a
    :data:`~gsdf_ros.detect.verify.CheckFn`, for tests), on the CPU; None: no check."""
    source = model_source(spec, default_path, "hand check")
    if source is None:
        return None
    if isinstance(source, str):
        from gsdf_ros.predictor import load_factory

        return load_factory(source, "hand check")()
    from gsdf_ros.detect.check import check_fn
    from gsdf_ros.detect.check_train import load_check

    return check_fn(load_check(source, "cpu", inference=True)[0])


def load_detect_fn(spec: str, default_path: Path, look: PoseLook | None = None, proposals: int = 0,
                   check: CheckFn | None = None) -> DetectFn | None:
    """The hand detector named by the ``detector`` parameter (:func:`model_source`; a factory returns
    ``rgb -> Detection``, for tests), on the CPU. None: no detector (the caller falls back to the model's
    own look). With a pose ``look`` and ``proposals`` > 0, the detector's best ``proposals`` candidates
    are verified by the pose net and, with a ``check``, judged by the hand check too
    (:func:`~gsdf_ros.detect.verify.verified_detector`); else its best candidate is the answer."""
    if proposals < 0:
        raise ValueError(f"proposals must be >= 0, got {proposals}")
    source = model_source(spec, default_path, "hand detector")
    if source is None:
        return None
    look = look if proposals > 0 else None
    if isinstance(source, str):
        from gsdf_ros.predictor import load_factory

        single = load_factory(source, "detector")()
        if look is None:
            return image_detector(single)
        return verified_detector(lambda image: [single(image)], look, proposals, check=check)
    from gsdf_ros.detect.train import load_detector, model_detect_fn

    model, _ = load_detector(source, "cpu", inference=True)
    return model_detect_fn(model, look, proposals, check=check)


def finder_looks(predictor: object, count: int) -> PoseLooks | None:
    """The first ``count`` of a predictor's pose looks (its ``pose_looks``: models trained on hand crops),
    as a :class:`HandFinder` takes them (the inference node's ``pose_looks`` parameter); None, the hand
    crop alone, when the predictor has none or ``count`` is 1."""
    looks = getattr(predictor, "pose_looks", None)
    return replace(looks, limit=count) if looks is not None and count > 1 else None


def crop_of(frame: CropSample, square: tuple[float, float, float], size: int, turn: float = 0.0) -> CropSample:
    """The `size` x `size` crop of a whole frame inside the square (x0, y0, side), cut with the exact
    virtual camera, turned in-plane by ``turn`` degrees about its centre."""
    crop = rotate_crop(virtual_crop(frame_intrinsics(frame), square, size), turn)
    return CropSample(frame.stamp_ns, frame.frame_id, warp_crop(frame.image, crop), crop.intrinsics.matrix(),
                      crop.rotation, crop.box)


class HandFinder:
    """Detector + tracker + crop for one camera stream (see the module docstring). Not thread-safe:
    the inference node's pose worker is its only user."""

    def __init__(self, detect: DetectFn, crop_size: int, cfg: TrackerConfig = TrackerConfig(),
                 min_confidence: float = 0.0, shape_scale: float | None = None,
                 looks: PoseLooks | None = None) -> None:
        if crop_size < 1:
            raise ValueError(f"crop_size must be positive, got {crop_size}")
        if shape_scale is not None and not shape_scale >= 1.0:
            raise ValueError(f"shape_scale must be >= 1, got {shape_scale}")
        self.shape_scale = shape_scale
        """None: the model reads the hand crop; else its shape net reads the concentric crop this many
        times wider, with the hand crop as the pose net's own view (``CropSample.pose_view``)."""
        self.looks = looks
        """Crops around the hand crop whose joints the model averages (``CropSample.pose_looks``); None:
        the hand crop alone."""
        self.detect = detect
        self.min_confidence = 0.0
        self.set_min_confidence(min_confidence)
        self.refused = 0
        self.crop_size = int(crop_size)
        self.tracker = HandTracker(cfg)
        self.score = 0.0
        self.detections = 0
        self.tracked = 0
        self._intrinsics: Intrinsics | None = None

    def set_threshold(self, threshold: float) -> None:
        """Change the hand score below which a detection means "no hand" (from the next detection on)."""
        if threshold != self.tracker.cfg.score_threshold:
            self.tracker.cfg = replace(self.tracker.cfg, score_threshold=float(threshold))

    def set_min_confidence(self, value: float) -> None:
        """Change the pose check's threshold: the mean joint confidence a crop's result needs (0: no check)."""
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"min_confidence must lie in [0, 1], got {value}")
        self.min_confidence = float(value)

    def reset(self) -> None:
        """Forget the hand (a new stream, a jump back in time)."""
        self.tracker.reset()
        self._intrinsics = None

    def find(self, frame: CropSample) -> Finding:
        """The crop of a whole frame: from a detection when the tracker asks for one, else the tracked
        crop. ``sample`` None: no hand (the detector's score is below the threshold)."""
        intrinsics = frame_intrinsics(frame)
        detected = self.tracker.needs_detection()
        if detected:
            found = self.detect(frame.image, intrinsics)
            self.detections += 1
            self.score = float(found.score) if np.isfinite(found.score) else 0.0
            square = self.tracker.on_detection(self.score, tuple(float(v) for v in found.box))
        else:
            self.tracked += 1
            square = self.tracker.crop
        if square is None:
            self._intrinsics = None
            return Finding(None, self.score, detected)
        self._intrinsics = intrinsics
        hand = crop_of(frame, square, self.crop_size)
        looks: tuple[CropSample, ...] = ()
        if self.looks is not None:  # the first look is the hand crop itself
            size = (frame.image.shape[1], frame.image.shape[0])
            looks = (hand, *(crop_of(frame, box, self.crop_size, turn)
                             for box, turn in self.looks.looks(square, size)[1:]))
        if self.shape_scale is None:
            return Finding(replace(hand, pose_looks=looks), self.score, detected)
        x0, y0, side = square
        outer = square_around((x0, y0, x0 + side, y0 + side), self.shape_scale)
        return Finding(replace(crop_of(frame, outer, self.crop_size), pose_view=hand, pose_looks=looks),
                       self.score, detected)

    def follow(self, joints: np.ndarray, confidence: np.ndarray | None = None) -> bool:
        """The model's joints (21, 3) in the frame's optical frame and their confidences (21,) for the crop
        :meth:`find` returned last. True: the result stands and the next frame's crop follows the joints
        (bounded; see the tracker). False: the pose check refused it (mean confidence below
        ``min_confidence``, or not finite): "no hand" for this frame, and the track is dropped."""
        if self._intrinsics is None:
            return True
        if confidence is not None and self.min_confidence > 0.0:
            mean = float(np.mean(confidence))
            if not mean >= self.min_confidence:
                self.refused += 1
                self.tracker.reset()
                self._intrinsics = None
                return False
        self.tracker.on_joints(self._intrinsics.project(np.asarray(joints, dtype=np.float64)))
        return True
