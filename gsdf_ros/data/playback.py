"""Frame sources for the demo camera: SynthHO (gSDF layout), an image folder, a video file.

Each source yields :class:`PlaybackFrame` (RGB image + intrinsics + a name that identifies the
ground truth where there is one). Imports no ROS module; rosbag2 bags are in gsdf_ros.nodes.bag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from gsdf_ros.data import layout
from gsdf_ros.geometry.camera import Intrinsics

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass(frozen=True)
class PlaybackFrame:
    """One frame to publish: (H, W, 3) uint8 RGB, its intrinsics and a source-specific name."""

    image: np.ndarray
    intrinsics: Intrinsics
    name: str


def default_intrinsics(width: int, height: int, hfov_deg: float) -> Intrinsics:
    """A centred pinhole camera with square pixels and the given horizontal field of view."""
    if not 1.0 <= hfov_deg <= 179.0:
        raise ValueError(f"horizontal field of view must be in [1, 179] degrees, got {hfov_deg}")
    f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    return Intrinsics(f, f, (width - 1) / 2.0, (height - 1) / 2.0, width, height)


def synthho_order(root: Path, split: str) -> list[int]:
    """Sample ids in playback order: clip after clip when the split has clips, else the split list."""
    if layout.clips_path(root, split).is_file():
        return [sample_id for clip in layout.read_clips(root, split) for sample_id in clip]
    return layout.read_split_ids(root, split)


def synthho_frames(root: Path, split: str) -> Iterator[PlaybackFrame]:
    """The frames of a gSDF-layout split (SynthHO, ObMan) with their per-sample intrinsics."""
    annotations = layout.read_annotations(root, split)
    for sample_id in synthho_order(root, split):
        ann = annotations[sample_id]
        yield PlaybackFrame(layout.read_image(root, ann.file_name), ann.intrinsics, ann.file_name)


def folder_frames(folder: Path, hfov_deg: float) -> Iterator[PlaybackFrame]:
    """Every image of a folder in name order."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot decode image {path}")
        h, w = bgr.shape[:2]
        yield PlaybackFrame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), default_intrinsics(w, h, hfov_deg), path.name)


def video_frames(path: Path, hfov_deg: float) -> Iterator[PlaybackFrame]:
    """Every frame of a video file."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot open video {path}")
    try:
        index = 0
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            h, w = bgr.shape[:2]
            yield PlaybackFrame(
                cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), default_intrinsics(w, h, hfov_deg), f"{path.name}#{index}"
            )
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise ValueError(f"no frame could be read from {path}")


def open_source(spec: str, hfov_deg: float = 60.0) -> Iterator[PlaybackFrame]:
    """Frames of ``synthho:DIR[:SPLIT]``, ``images:DIR`` or ``video:FILE`` (bags: gsdf_ros.nodes.bag)."""
    kind, _, rest = spec.partition(":")
    if not rest:
        raise ValueError(f"source {spec!r}: expected synthho:DIR[:SPLIT], images:DIR, video:FILE or bag:PATH")
    if kind == "synthho":
        root, _, split = rest.partition(":")
        return synthho_frames(Path(root), split or "test")
    path = Path(rest)
    if not path.exists():
        raise FileNotFoundError(f"source {spec!r}: {path} does not exist")
    if kind == "images":
        return folder_frames(path, hfov_deg)
    if kind == "video":
        return video_frames(path, hfov_deg)
    raise ValueError(f"source {spec!r}: unknown kind {kind!r} (synthho, images, video)")
