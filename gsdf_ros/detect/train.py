"""Training and scoring the hand detector on SynthHO scenes (config-driven, resumable, 2 CPU cores).

Loss: the CenterNet focal loss on the centre heatmap plus L1 of the log size and of the offset at the
true centre cell. Every epoch's randomness comes from (seed, epoch), so a run resumed from
``last.pt`` continues as an uninterrupted one would.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader

from gsdf_ros.detect.data import SceneDataset, box_iou, fit_to_canvas, scenes_fingerprint
from gsdf_ros.detect.model import Detection, DetectorConfig, HandDetector, decode_proposals
from gsdf_ros.detect.trained import config_from_yaml, load_trained, training_state, write_atomically
from gsdf_ros.detect.verify import (
    CHECK_WEIGHT,
    DEFAULT_PROPOSALS,
    DETECTOR_WEIGHT,
    Box,
    CheckFn,
    DetectFn,
    PoseLook,
    cut_to_frame,
    flesh_box,
    image_detector,
    verified_detector,
)
from gsdf_ros.image_norm import normalise_image

log = logging.getLogger("gsdf_ros.detect")
KIND = "hand_detector"


@dataclass
class DetectorTrainConfig:
    data_root: str = "data/scenes"
    train_split: str = "train"
    model: dict[str, Any] = field(default_factory=dict)
    """:class:`DetectorConfig` fields."""
    epochs: int = 30
    batch_size: int = 32
    lr: float = 2e-3
    milestones: tuple[int, ...] = (20, 26)
    lr_gamma: float = 0.3
    size_weight: float = 0.1
    offset_weight: float = 1.0
    scale_range: tuple[float, float] = (0.6, 1.2)
    workers: int = 0
    seed: int = 0
    out_dir: str = "runs/detector"

    def __post_init__(self) -> None:
        self.milestones = tuple(int(m) for m in self.milestones)
        self.scale_range = tuple(float(v) for v in self.scale_range)
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError("epochs and batch_size must be positive and lr > 0")

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> DetectorTrainConfig:
        return config_from_yaml(cls, path, overrides, "detector training")


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of centres (at least 1)."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1.0).float()
    pos_loss = -(1 - p) ** alpha * torch.log(p) * pos
    neg_loss = -((1 - target) ** beta) * p**alpha * torch.log(1 - p) * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp_min(1.0)


def detector_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], cfg: DetectorTrainConfig) -> dict:
    """Focal heatmap loss + weighted L1 of log size and offset at the true centres."""
    heat = focal_loss(out["heat"], batch["heat"])
    has = batch["has_hand"]
    size = offset = out["heat"].new_zeros(())
    if bool(has.any()):
        idx = has.nonzero()[:, 0]
        cx, cy = batch["cell"][idx, 0], batch["cell"][idx, 1]
        size = F.l1_loss(out["size"][idx, :, cy, cx], batch["size"][idx])
        offset = F.l1_loss(out["offset"][idx, :, cy, cx], batch["offset"][idx])
    total = heat + cfg.size_weight * size + cfg.offset_weight * offset
    return {"loss": total, "heat": heat, "size": size, "offset": offset}


def save(path: Path, model: HandDetector, cfg: DetectorTrainConfig, optimiser=None, epoch: int = 0, step: int = 0,
         fingerprint: str | None = None) -> Path:
    """Write a detector checkpoint atomically (with or without optimiser state)."""
    return write_atomically(training_state(KIND, "detector_config", model, cfg, optimiser, epoch, step, fingerprint),
                            path)


def load_detector(path: str | Path, device: str | torch.device = "cpu",
                  inference: bool = False) -> tuple[HandDetector, dict]:
    """A detector checkpoint's model (eval mode) and its stored dict (:func:`load_trained`)."""
    build = lambda state: HandDetector(DetectorConfig(**state["detector_config"]))  # noqa: E731
    return load_trained(path, KIND, "hand-detector", build, device, inference)


def train_detector(cfg: DetectorTrainConfig, resume: str | Path | None = None) -> Path:
    """Run (or continue) a detector training; returns the path of ``last.pt``."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.yaml").write_text(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
    torch.manual_seed(cfg.seed)
    model = HandDetector(DetectorConfig(**cfg.model))
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    epoch = step = 0
    if resume is not None:
        _, state = load_detector(resume)
        model.load_state_dict(state["model_state"])
        optimiser.load_state_dict(state["optimizer_state"])
        epoch, step = int(state["epoch"]), int(state["step"])
    data = SceneDataset(cfg.data_root, cfg.train_split, model.cfg, augment=True, seed=cfg.seed,
                        scale_range=cfg.scale_range)
    fingerprint = scenes_fingerprint(cfg.data_root, cfg.train_split)
    log_path = out / "train_log.csv"
    new_log = not log_path.exists()
    with log_path.open("a", newline="") as log_file:
        writer = csv.DictWriter(log_file, fieldnames=["epoch", "step", "lr", "loss", "heat", "size", "offset"])
        if new_log:
            writer.writeheader()
        while epoch < cfg.epochs:
            lr = cfg.lr * cfg.lr_gamma ** sum(epoch >= m for m in cfg.milestones)
            for group in optimiser.param_groups:
                group["lr"] = lr
            data.set_epoch(epoch)
            generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
            loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=True, drop_last=len(data) > cfg.batch_size,
                                num_workers=cfg.workers, generator=generator)
            model.train()
            for batch in loader:
                losses = detector_loss(model(batch["image"]), batch, cfg)
                optimiser.zero_grad(set_to_none=True)
                losses["loss"].backward()
                optimiser.step()
                step += 1
                values = {k: float(v.detach()) for k, v in losses.items()}
                writer.writerow({"epoch": epoch, "step": step, "lr": lr, **values})
            log_file.flush()
            epoch += 1
            save(out / "last.pt", model, cfg, optimiser, epoch, step, fingerprint)
            log.info("detector epoch %d/%d, step %d, loss %.4g",
                     epoch, cfg.epochs, step, float(losses["loss"].detach()))
    return out / "last.pt"


def propose(model: HandDetector, image: np.ndarray, count: int = 1) -> list[Detection]:
    """The ``count`` best hand candidates in one (H, W, 3) uint8 RGB frame of any size, in its pixels,
    best first (:func:`~gsdf_ros.detect.model.decode_proposals`).

    The frame goes to the model's device; the outputs come back to the CPU once, so the returned
    detections hold plain floats whatever the device."""
    canvas, scale = fit_to_canvas(image, model.cfg.canvas)
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model(torch.from_numpy(normalise_image(canvas))[None].to(device))
    return decode_proposals({k: v.detach().cpu() for k, v in out.items()}, 0, scale, count)


def detect(model: HandDetector, image: np.ndarray) -> Detection:
    """The best hand in one (H, W, 3) uint8 RGB frame of any size, in its pixels."""
    return propose(model, image, 1)[0]


def model_detect_fn(model: HandDetector, look: PoseLook | None = None, proposals: int = DEFAULT_PROPOSALS,
                    detector_weight: float = DETECTOR_WEIGHT, check: CheckFn | None = None,
                    check_weight: float = CHECK_WEIGHT) -> DetectFn:
    """The detector (eval mode) as a :data:`~gsdf_ros.detect.verify.DetectFn`: its best candidate alone,
    or, with a pose ``look``, its best ``proposals`` candidates verified by the pose net and, with a
    ``check``, judged by the hand check (:func:`~gsdf_ros.detect.verify.verified_detector`), as the
    inference node runs it."""
    model.eval()
    if look is None:
        return image_detector(lambda image: detect(model, image))
    return verified_detector(lambda image: propose(model, image, proposals), look, proposals, detector_weight,
                             check=check, check_weight=check_weight)


HAND_SIZE_BINS = (0.0, 60.0, 120.0, 240.0, float("inf"))
"""Edges of the hand-size bins of :func:`score_detector`: the longer side of the hand's box in the
nominal camera frame, pixels."""


def score_detector(detect_fn: DetectFn, data: SceneDataset, threshold: float = 0.5,
                   limit: int | None = None) -> dict[str, Any]:
    """Recall at IoU >= 0.5 on frames with a hand (overall and per hand size in the nominal frame), the
    share of hand-free frames called "hand", and the mean detection time per frame (ms, this process)
    of ``detect_fn`` (:func:`model_detect_fn`, or a verified detector)."""
    count = len(data) if limit is None else min(limit, len(data))
    false_alarms = empties = 0
    seconds = 0.0
    rows = []
    for index in range(count):
        image, box = data.frame(index)
        intrinsics = data.intrinsics(index)
        start = time.perf_counter()
        found = detect_fn(image, intrinsics)
        seconds += time.perf_counter() - start
        iou = box_iou(found.box, box) if box is not None else 0.0
        said_hand = found.score >= threshold
        row = {"index": index, "score": found.score, "iou": iou, "has_hand": box is not None,
               "hit": bool(box is not None and said_hand and iou >= 0.5),
               "box": [float(v) for v in found.box], "true_box": None if box is None else [float(v) for v in box]}
        for name in ("detector_score", "joint_confidence"):
            if hasattr(found, name):
                row[name] = float(getattr(found, name))
        if box is None:
            empties += 1
            false_alarms += int(said_hand)
        else:
            scale = data.scenes[index]["nominal_size"][0] / image.shape[1]
            row["hand_px"] = scale * max(box[2] - box[0], box[3] - box[1])
            joints = (data.scenes[index].get("hand") or {}).get("joints_2d")
            if joints is not None:
                row["true_joints_iou"] = true_joints_iou(joints, box, image.shape[1], image.shape[0])
        rows.append(row)
    hands = [r for r in rows if r["has_hand"]]
    read = [r["true_joints_iou"] >= 0.5 for r in hands if "true_joints_iou" in r]
    by_size = {}
    for low, high in zip(HAND_SIZE_BINS[:-1], HAND_SIZE_BINS[1:]):
        inside = [r["hit"] for r in hands if low <= r["hand_px"] < high]
        name = f"{low:.0f}-{high:.0f}px" if np.isfinite(high) else f">={low:.0f}px"
        by_size[name] = {"frames": len(inside),
                         "recall@0.5": sum(inside) / len(inside) if inside else float("nan")}
    return {
        "recall@0.5": sum(r["hit"] for r in hands) / len(hands) if hands else float("nan"), "hand_frames": len(hands),
        "recall_by_hand_size": by_size,
        "recall_with_true_joints": sum(read) / len(read) if read else float("nan"),
        "false_hand_rate": false_alarms / empties if empties else float("nan"), "empty_frames": empties,
        "ms_per_frame": 1000.0 * seconds / max(count, 1), "threshold": threshold,
        "thresholds_for_false_rate": {str(rate): threshold_for_false_rate(rows, rate) for rate in FALSE_RATES},
        "rows": rows,
    }


def true_joints_iou(joints_uv: Any, box: Box, width: int, height: int) -> float:
    """IoU of the true hand box with the box a verified detection would give if the pose net read the true
    joints (their flesh box cut to the frame): the box model's own ceiling, apart from the pose net."""
    return box_iou(cut_to_frame(flesh_box(np.asarray(joints_uv, dtype=np.float64)), width, height), box)


FALSE_RATES = (0.005, 0.01, 0.02)
"""False "hand" rates :func:`score_detector` gives thresholds (and their recall) for."""


def threshold_for_false_rate(rows: list[dict], rate: float) -> dict[str, float] | None:
    """The lowest hand score threshold (a score seen, or just above one) at which at most ``rate`` of the
    hand-free rows score at or above it, with the recall at IoU >= 0.5 it gives; None without both kinds."""
    empty = sorted((r["score"] for r in rows if not r["has_hand"]), reverse=True)
    hands = [r for r in rows if r["has_hand"]]
    if not empty or not hands:
        return None
    allowed = int(math.floor(rate * len(empty) + 1e-9))
    threshold = float(np.nextafter(empty[allowed], np.inf)) if allowed < len(empty) else 0.0
    recall = sum(r["iou"] >= 0.5 and r["score"] >= threshold for r in hands) / len(hands)
    false = sum(score >= threshold for score in empty) / len(empty)
    return {"threshold": threshold, "recall@0.5": recall, "false_hand_rate": false}
