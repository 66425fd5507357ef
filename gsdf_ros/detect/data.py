"""Whole frames for the hand detector: fitting a frame into the canvas, centre-heatmap targets, and
the dataset of SynthHO scenes (:mod:`gsdf_ros.synth.scenes`) with training augmentation."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from gsdf_ros.detect.model import STRIDE, DetectorConfig
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.image_norm import normalise_image

Box = tuple[float, float, float, float]


def fit_to_canvas(image: np.ndarray, canvas: tuple[int, int], scale: float | None = None) -> tuple[np.ndarray, float]:
    """An (H, W, 3) uint8 frame resized by ``scale`` (default: the largest that fits the canvas) into a
    zero canvas at its top-left corner (cut where it overflows); returns the canvas and the scale."""
    h, w = image.shape[:2]
    if scale is None:
        scale = min(canvas[0] / w, canvas[1] / h)
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(image, size, interpolation=interpolation)
    out = np.zeros((canvas[1], canvas[0], 3), np.uint8)
    ch, cw = min(canvas[1], size[1]), min(canvas[0], size[0])
    out[:ch, :cw] = resized[:ch, :cw]
    return out, float(scale)


def centre_targets(box: Box | None, cfg: DetectorConfig) -> dict[str, torch.Tensor]:
    """CenterNet targets of one canvas: a Gaussian ``heat`` (1,h,w) peaking at 1 on the box centre's
    cell, the log box ``size`` (2,) in cells and the sub-cell ``offset`` (2,) at ``cell`` (2,) (x, y);
    ``has_hand`` False (all zeros) without a box or with its centre off the canvas."""
    gw, gh = cfg.grid
    heat = torch.zeros(1, gh, gw)
    empty = {"heat": heat, "size": torch.zeros(2), "offset": torch.zeros(2), "cell": torch.zeros(2, dtype=torch.long),
             "has_hand": torch.tensor(False)}
    if box is None:
        return empty
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2 / STRIDE, (y0 + y1) / 2 / STRIDE
    w, h = max(x1 - x0, 1.0) / STRIDE, max(y1 - y0, 1.0) / STRIDE
    ix, iy = int(math.floor(cx)), int(math.floor(cy))
    if not (0 <= ix < gw and 0 <= iy < gh):
        return empty
    sigma = max(max(w, h) / 6.0, 0.8)
    ys, xs = torch.meshgrid(torch.arange(gh, dtype=torch.float32), torch.arange(gw, dtype=torch.float32), indexing="ij")
    heat[0] = torch.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
    return {"heat": heat, "size": torch.tensor([math.log(w), math.log(h)]), "offset": torch.tensor([cx - ix, cy - iy]),
            "cell": torch.tensor([ix, iy]), "has_hand": torch.tensor(True)}


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def read_scenes(root: Path | str, split: str) -> list[dict]:
    """The scene entries of ``scenes_<split>.json``."""
    path = Path(root) / f"scenes_{split}.json"
    if not path.is_file():
        raise FileNotFoundError(f"missing {path}")
    return json.loads(path.read_text())["scenes"]


def scenes_fingerprint(root: Path | str, split: str, length: int = 16) -> str:
    """A short hash of a split's scene list (ids, sizes, labels)."""
    return hashlib.sha256((Path(root) / f"scenes_{split}.json").read_bytes()).hexdigest()[:length]


class SceneDataset(Dataset):
    """Scenes of one split as detector samples: ``image`` (3,H,W) on the canvas, the targets of
    :func:`centre_targets`, ``box`` (4,) in canvas pixels (zeros without a hand) and ``scale``.

    ``augment``: horizontal flip, scale in ``scale_range`` times the fitting scale at a random place on
    the canvas, colour gains and blur; random per (seed, epoch, index)."""

    def __init__(self, root: Path | str, split: str, cfg: DetectorConfig, augment: bool = False, seed: int = 0,
                 scale_range: tuple[float, float] = (0.6, 1.2)) -> None:
        self.root = Path(root)
        self.scenes = read_scenes(root, split)
        self.cfg = cfg
        self.augment = augment
        self.seed = int(seed)
        self.scale_range = scale_range
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.scenes)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def frame(self, index: int) -> tuple[np.ndarray, Box | None]:
        """Scene ``index``'s RGB image and its hand box (None without a hand)."""
        entry = self.scenes[index]
        image = cv2.imread(str(self.root / entry["file"]), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read {self.root / entry['file']}")
        hand = entry.get("hand")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), None if hand is None else tuple(hand["box"])

    def intrinsics(self, index: int) -> Intrinsics:
        """Scene ``index``'s camera intrinsics at its stored image size."""
        entry = self.scenes[index]
        fx, fy, cx, cy = (float(v) for v in entry["K"])
        width, height = (int(v) for v in entry["size"])
        return Intrinsics(fx, fy, cx, cy, width, height)

    def _augmented(self, image: np.ndarray, box: Box | None, rng: np.random.Generator):
        h, w = image.shape[:2]
        if rng.random() < 0.5:
            image = np.ascontiguousarray(image[:, ::-1])
            box = None if box is None else (w - box[2], box[1], w - box[0], box[3])
        fit = min(self.cfg.canvas[0] / w, self.cfg.canvas[1] / h)
        scale = fit * rng.uniform(*self.scale_range)
        canvas, _ = fit_to_canvas(image, (max(self.cfg.canvas[0], round(w * scale) + 1),
                                          max(self.cfg.canvas[1], round(h * scale) + 1)), scale)
        dx = int(rng.integers(-max(0, canvas.shape[1] - self.cfg.canvas[0]),
                              max(1, self.cfg.canvas[0] - round(w * scale))))
        dy = int(rng.integers(-max(0, canvas.shape[0] - self.cfg.canvas[1]),
                              max(1, self.cfg.canvas[1] - round(h * scale))))
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        out = cv2.warpAffine(canvas, shift, self.cfg.canvas, flags=cv2.INTER_NEAREST, borderValue=0)
        out = np.clip(out.astype(np.float32) * rng.uniform(0.75, 1.25, size=3), 0, 255)
        if rng.random() < 0.2:
            out = cv2.GaussianBlur(out, (0, 0), sigmaX=float(rng.uniform(0.3, 1.5)))
        if box is not None:
            box = (box[0] * scale + dx, box[1] * scale + dy, box[2] * scale + dx, box[3] * scale + dy)
        return out, box, scale

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} scenes")
        image, box = self.frame(index)
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            canvas, box, scale = self._augmented(image, box, rng)
        else:
            canvas, scale = fit_to_canvas(image, self.cfg.canvas)
            box = None if box is None else tuple(v * scale for v in box)
        targets = centre_targets(box, self.cfg)
        return {
            "image": torch.from_numpy(normalise_image(canvas)),
            **targets,
            "box": torch.tensor(box if box is not None and bool(targets["has_hand"]) else (0.0,) * 4),
            "scale": torch.tensor(scale),
            "index": index,
        }
