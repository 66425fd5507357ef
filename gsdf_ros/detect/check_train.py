"""Training the hand check (:mod:`gsdf_ros.detect.check`) on the detector's own candidates.

Harvest: for every scene of a split the trained detector proposes its best ``proposals`` candidates;
each candidate's square is cut from the full-resolution frame and labelled by how much of the true
hand it holds (:func:`square_label`). Frames with a hand add ``jitter`` squares around the true box,
moved and resized as the detector's boxes are (:func:`jittered_box`). The squares are cut once and
cached beside the run (``squares_<split>.npz``, keyed by the scenes' and the detector's fingerprints).

Loss: binary cross-entropy of the hand logit on labelled squares, plus a smooth L1 of the hand's box
(fractions of the square) on squares that hold at least part of the hand. Every epoch's randomness
comes from (seed, epoch), so a run resumed from ``last.pt`` continues as an uninterrupted one would.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import yaml

from gsdf_ros.detect.check import KIND, Box, CheckConfig, HandCheck, box_in_square, candidate_square, cut_square
from gsdf_ros.detect.data import SceneDataset, scenes_fingerprint
from gsdf_ros.detect.trained import config_from_yaml, load_trained, training_state, write_atomically
from gsdf_ros.image_norm import IMAGENET_MEAN, IMAGENET_STD

log = logging.getLogger("gsdf_ros.detect")
HOLDS_HAND = 0.7
"""A square is a hand when it holds at least this share of the true box's area ..."""
HAND_SHARE = (0.15, 1.0)
"""... and the true box's longer side is this share of the square's side (not a speck, not cut)."""
NO_HAND = 0.1
"""A square is no hand when it holds at most this share of the true box (or the frame has none)."""
BOX_TARGET = 0.3
"""Squares holding at least this share of the true box learn its box."""


@dataclass
class CheckTrainConfig:
    data_root: str = "data/scenes_full"
    train_split: str = "train"
    detector: str = "models/hand_detector.pt"
    """The detector whose candidates the check learns to judge."""
    model: dict[str, Any] = field(default_factory=dict)
    """:class:`CheckConfig` fields."""
    proposals: int = 5
    jitter: int = 3
    """Squares around the true box per frame with a hand."""
    epochs: int = 12
    batch_size: int = 64
    lr: float = 2e-3
    milestones: tuple[int, ...] = (8, 11)
    lr_gamma: float = 0.3
    box_weight: float = 5.0
    seed: int = 0
    out_dir: str = "runs/hand_check"

    def __post_init__(self) -> None:
        self.milestones = tuple(int(m) for m in self.milestones)
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.proposals < 1 or self.jitter < 0:
            raise ValueError("epochs, batch_size and proposals must be positive, jitter >= 0 and lr > 0")

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> CheckTrainConfig:
        return config_from_yaml(cls, path, overrides, "hand-check training")


def held_share(box: Box, square: tuple[float, float, float]) -> float:
    """The share of ``box``'s area inside ``square`` (x0, y0, side)."""
    x0, y0, side = square
    iw = max(0.0, min(box[2], x0 + side) - max(box[0], x0))
    ih = max(0.0, min(box[3], y0 + side) - max(box[1], y0))
    area = max(box[2] - box[0], 1e-9) * max(box[3] - box[1], 1e-9)
    return float(iw * ih / area)


def square_label(true_box: Box | None, square: tuple[float, float, float]) -> float:
    """1: the square holds the hand (:data:`HOLDS_HAND`, :data:`HAND_SHARE`); 0: it holds none of it
    (:data:`NO_HAND`); -1: in between (not learnt)."""
    if true_box is None:
        return 0.0
    held = held_share(true_box, square)
    if held <= NO_HAND:
        return 0.0
    share = max(true_box[2] - true_box[0], true_box[3] - true_box[1]) / square[2]
    if held >= HOLDS_HAND and HAND_SHARE[0] <= share <= HAND_SHARE[1]:
        return 1.0
    return -1.0


def jittered_box(box: Box, rng: np.random.Generator) -> Box:
    """``box`` with its centre moved (sd 0.15 of its longer side) and its sides scaled (log sd 0.25 each)."""
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    w, h = max(box[2] - box[0], 1.0), max(box[3] - box[1], 1.0)
    side = max(w, h)
    cx, cy = cx + rng.normal(0.0, 0.15) * side, cy + rng.normal(0.0, 0.15) * side
    w, h = w * math.exp(rng.normal(0.0, 0.25)), h * math.exp(rng.normal(0.0, 0.25))
    return cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0


def file_fingerprint(path: str | Path, length: int = 16) -> str:
    """A short hash of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:length]


def harvest(detector: Any, data: SceneDataset, cfg: CheckTrainConfig) -> dict[str, np.ndarray]:
    """The labelled squares of every scene of ``data`` (see the module docstring): ``squares`` (N,S,S,3)
    uint8, ``label`` (N,) 1 / 0 / -1, ``box`` (N,4) the hand's box in the square (NaN where it holds too
    little of it), ``scene`` (N,) the scene index."""
    from gsdf_ros.detect.train import propose

    check = CheckConfig(**cfg.model)
    squares, labels, boxes, scenes = [], [], [], []
    for index in range(len(data)):
        image, true_box = data.frame(index)
        rng = np.random.default_rng([cfg.seed, index])
        candidates = [c.box for c in propose(detector, image, cfg.proposals)]
        if true_box is not None:
            candidates += [jittered_box(true_box, rng) for _ in range(cfg.jitter)]
        for box in candidates:
            square = candidate_square(box, check.enlarge)
            squares.append(cut_square(image, square, check.size))
            labels.append(square_label(true_box, square))
            holds = true_box is not None and held_share(true_box, square) >= BOX_TARGET
            boxes.append(box_in_square(true_box, square) if holds else (math.nan,) * 4)
            scenes.append(index)
        if index % 500 == 0:
            log.info("hand check: harvested %d of %d scenes, %d squares", index, len(data), len(squares))
    return {"squares": np.stack(squares), "label": np.asarray(labels, np.float32),
            "box": np.asarray(boxes, np.float32), "scene": np.asarray(scenes, np.int64)}


def harvested(cfg: CheckTrainConfig, split: str) -> dict[str, np.ndarray]:
    """:func:`harvest` of ``split``, read from the run's cache when the scenes, the detector and the
    settings that shape it are unchanged."""
    from gsdf_ros.detect.train import load_detector

    key = "-".join([scenes_fingerprint(cfg.data_root, split), file_fingerprint(cfg.detector),
                    str(cfg.proposals), str(cfg.jitter), str(cfg.seed), str(sorted(cfg.model.items()))])
    cache = Path(cfg.out_dir) / f"squares_{split}.npz"
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        if str(stored["key"]) == key:
            return {name: stored[name] for name in ("squares", "label", "box", "scene")}
    detector, _ = load_detector(cfg.detector, inference=True)
    data = SceneDataset(cfg.data_root, split, detector.cfg)
    found = harvest(detector, data, cfg)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.stem}.tmp.npz")
    np.savez(tmp, key=np.asarray(key), **found)
    tmp.replace(cache)
    return found


def augmented_batch(squares: np.ndarray, boxes: np.ndarray, rng: np.random.Generator
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (B,3,S,S) squares and their (B,4) boxes after a random horizontal flip, colour gains and
    blur per square."""
    out = np.empty((len(squares), 3, squares.shape[1], squares.shape[2]), np.float32)
    boxes = boxes.copy()
    for row, square in enumerate(squares):
        image = square.astype(np.float32)
        if rng.random() < 0.5:
            image = image[:, ::-1]
            boxes[row] = (1.0 - boxes[row, 2], boxes[row, 1], 1.0 - boxes[row, 0], boxes[row, 3])
        image = image * rng.uniform(0.7, 1.3, size=3) + rng.uniform(-20.0, 20.0)
        if rng.random() < 0.2:
            image = cv2.GaussianBlur(np.ascontiguousarray(image), (0, 0), sigmaX=float(rng.uniform(0.3, 1.5)))
        image = np.clip(image, 0.0, 255.0) / 255.0
        out[row] = ((image - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
    return torch.from_numpy(out), torch.from_numpy(boxes)


def check_loss(out: dict[str, torch.Tensor], label: torch.Tensor, box: torch.Tensor, box_weight: float) -> dict:
    """BCE of the hand logit where ``label`` >= 0, plus ``box_weight`` times a smooth L1 of the box where
    it is finite."""
    known = label >= 0
    zero = out["logit"].new_zeros(())
    cls = F.binary_cross_entropy_with_logits(out["logit"][known], label[known]) if bool(known.any()) else zero
    has_box = torch.isfinite(box).all(dim=1)
    reg = F.smooth_l1_loss(out["box"][has_box], box[has_box], beta=0.05) if bool(has_box.any()) else zero
    return {"loss": cls + box_weight * reg, "cls": cls, "box": reg}


def save_check(path: Path, model: HandCheck, cfg: CheckTrainConfig, optimiser=None, epoch: int = 0, step: int = 0,
               fingerprint: str | None = None) -> Path:
    """Write a hand-check checkpoint atomically (with or without optimiser state)."""
    return write_atomically(training_state(KIND, "check_config", model, cfg, optimiser, epoch, step, fingerprint),
                            path)


def load_check(path: str | Path, device: str | torch.device = "cpu", inference: bool = False
               ) -> tuple[HandCheck, dict]:
    """A hand-check checkpoint's model (eval mode) and its stored dict
    (:func:`~gsdf_ros.detect.trained.load_trained`)."""
    return load_trained(path, KIND, "hand-check", lambda state: HandCheck(CheckConfig(**state["check_config"])),
                        device, inference)


def train_check(cfg: CheckTrainConfig, resume: str | Path | None = None) -> Path:
    """Run (or continue) a hand-check training; returns the path of ``last.pt``."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.yaml").write_text(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
    torch.manual_seed(cfg.seed)
    model = HandCheck(CheckConfig(**cfg.model))
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    epoch = step = 0
    if resume is not None:
        _, state = load_check(resume)
        model.load_state_dict(state["model_state"])
        optimiser.load_state_dict(state["optimizer_state"])
        epoch, step = int(state["epoch"]), int(state["step"])
    found = harvested(cfg, cfg.train_split)
    fingerprint = scenes_fingerprint(cfg.data_root, cfg.train_split)
    usable = np.flatnonzero((found["label"] >= 0) | np.isfinite(found["box"]).all(axis=1))
    log.info("hand check: %d squares (%d hands, %d not), %d used", len(found["label"]),
             int((found["label"] == 1).sum()), int((found["label"] == 0).sum()), len(usable))
    log_path = out / "train_log.csv"
    new_log = not log_path.exists()
    with log_path.open("a", newline="") as log_file:
        writer = csv.DictWriter(log_file, fieldnames=["epoch", "step", "lr", "loss", "cls", "box"])
        if new_log:
            writer.writeheader()
        while epoch < cfg.epochs:
            lr = cfg.lr * cfg.lr_gamma ** sum(epoch >= m for m in cfg.milestones)
            for group in optimiser.param_groups:
                group["lr"] = lr
            rng = np.random.default_rng([cfg.seed, epoch])
            order = rng.permutation(usable)
            model.train()
            for start in range(0, len(order) - cfg.batch_size + 1, cfg.batch_size):
                rows = np.sort(order[start:start + cfg.batch_size])
                images, boxes = augmented_batch(found["squares"][rows], found["box"][rows], rng)
                losses = check_loss(model(images), torch.from_numpy(found["label"][rows]), boxes, cfg.box_weight)
                optimiser.zero_grad(set_to_none=True)
                losses["loss"].backward()
                optimiser.step()
                step += 1
                writer.writerow({"epoch": epoch, "step": step, "lr": lr,
                                 **{k: float(v.detach()) for k, v in losses.items()}})
            log_file.flush()
            epoch += 1
            save_check(out / "last.pt", model, cfg, optimiser, epoch, step, fingerprint)
            log.info("hand check epoch %d/%d, step %d, loss %.4g", epoch, cfg.epochs, step,
                     float(losses["loss"].detach()))
    return out / "last.pt"
