"""Scoring the pose net alone: hand joint error under the ``paper`` and ``live`` protocols.

- ``paper``: the hand-centred crop of the data set (the box around the true joints, as ObMan and
  DexYCB ship their images) and the true wrist depth; E_h says how well the net reads the pose.
- ``live``: nothing from the ground truth: the whole image first, then crops around the net's own
  joints (:func:`gsdf_ros.live_crop.locate_hand`), the root-depth head's wrist depth; optionally the
  joints averaged over several crops around the last estimate (:func:`gsdf_ros.live_crop.read_hand`).

Beside E_h each row carries the centroid baseline (every joint at the true hand centroid: a net
that does no better has learned nothing), the mean bone-length error and the wrist error, in cm.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from gsdf_ros.geometry.pose_looks import DEFAULT_LOOKS, PoseLooks, pose_looks
from gsdf_ros.geometry.virtual_camera import to_source_frame
from gsdf_ros.hand.joints import BONES
from gsdf_ros.live_crop import REFINE_STEPS, read_hand
from gsdf_ros.metrics import CM_PER_M, joint_error

POSE_PROTOCOLS: tuple[str, ...] = ("paper", "live")


def mean_joint_error_cm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean Euclidean distance over joints (21, 3) given in metres, in cm (E_h of :mod:`gsdf_ros.metrics`)."""
    return joint_error(pred, gt) * CM_PER_M


def centroid_baseline_cm(gt: np.ndarray) -> float:
    """E_h of the trivial prediction that puts every joint at the true joints' centroid, in cm."""
    gt = np.asarray(gt, dtype=np.float64)
    return mean_joint_error_cm(np.broadcast_to(gt.mean(axis=0), gt.shape), gt)


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Lengths (20,) of the skeleton's bones, parent to child, in the joints' units."""
    joints = np.asarray(joints, dtype=np.float64)
    index = np.asarray(BONES)
    return np.linalg.norm(joints[index[:, 1]] - joints[index[:, 0]], axis=-1)


def bone_length_error_cm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute bone-length difference of two skeletons in metres, in cm."""
    return float(np.abs(bone_lengths(pred) - bone_lengths(gt)).mean() * CM_PER_M)


def size_blind_joints(gt: np.ndarray, template: np.ndarray, mean_template: np.ndarray) -> np.ndarray:
    """The true joints (21, 3, camera frame, metres) as a net that reads the image perfectly but takes
    every hand for the mean hand would place them: scaled about the camera centre by the mean
    template's total bone length over the hand's own (``template``, its 21 rest joints). The scaled
    skeleton projects onto the same pixels; only its depth and size are off."""
    scale = bone_lengths(mean_template).sum() / bone_lengths(template).sum()
    return np.asarray(gt, dtype=np.float64) * scale


def score_joints(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """E_h, centroid baseline, bone-length and wrist errors (cm) of joints (21, 3) in one frame, metres."""
    return {
        "E_h": mean_joint_error_cm(pred, gt),
        "centroid_E_h": centroid_baseline_cm(gt),
        "bone_error": bone_length_error_cm(pred, gt),
        "wrist_error": float(np.linalg.norm(np.asarray(pred)[0] - np.asarray(gt)[0]) * CM_PER_M),
    }


def paper_joints(pose_net: torch.nn.Module, sample: dict) -> np.ndarray:
    """Joints (21, 3) of a hand-centred dataset sample with its true wrist depth, in the sample's frame."""
    device = next(pose_net.parameters()).device
    with torch.no_grad():
        out = pose_net(
            sample["image"][None].to(device), sample["K"][None].to(device), sample["wrist"][None, 2].to(device)
        )
    return out.joints[0].double().cpu().numpy()


@dataclass
class PoseEvalConfig:
    protocols: tuple[str, ...] = POSE_PROTOCOLS
    limit: int | None = None
    refine_steps: int = REFINE_STEPS
    looks: PoseLooks = pose_looks(DEFAULT_LOOKS)

    def __post_init__(self) -> None:
        unknown = set(self.protocols) - set(POSE_PROTOCOLS)
        if unknown or not self.protocols:
            raise ValueError(f"protocols must be among {POSE_PROTOCOLS}, got {self.protocols}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be positive, got {self.limit}")


def evaluate_pose_net(pose_net: torch.nn.Module, hand_crops, cfg: PoseEvalConfig) -> list[dict]:
    """One row per (sample, protocol). ``hand_crops`` is a ``FrameDataset`` with ``crop='hand'`` and no
    augmentation: its items are the paper protocol's inputs, its :meth:`source` images the live one's."""
    pose_net.eval()
    count = len(hand_crops) if cfg.limit is None else min(cfg.limit, len(hand_crops))
    size = int(pose_net.cfg.image_size)
    rows = []
    for index in range(count):
        sample = hand_crops[index]
        truth = to_source_frame(sample["joints"].double().numpy(), sample["cam_rot"].double().numpy())
        for protocol in cfg.protocols:
            if protocol == "paper":
                pred = to_source_frame(paper_joints(pose_net, sample), sample["cam_rot"].double().numpy())
            else:
                image, intrinsics = hand_crops.source(index)
                pred = read_hand(pose_net, image, intrinsics, size, cfg.refine_steps, cfg.looks).joints_source
            rows.append({"id": str(sample["id"]), "protocol": protocol, **score_joints(pred, truth)})
    return rows


POSE_METRICS: tuple[str, ...] = ("E_h", "centroid_E_h", "bone_error", "wrist_error")


def summarize_pose(rows: Iterable[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Per protocol and metric: mean, median and n."""
    rows = list(rows)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for protocol in sorted({r["protocol"] for r in rows}):
        mine = [r for r in rows if r["protocol"] == protocol]
        out[protocol] = {}
        for metric in POSE_METRICS:
            values = np.array([r[metric] for r in mine], dtype=np.float64)
            finite = values[np.isfinite(values)]
            out[protocol][metric] = {
                "mean": float(finite.mean()) if len(finite) else math.nan,
                "median": float(np.median(finite)) if len(finite) else math.nan,
                "n": int(len(finite)),
            }
    return out


def pose_table(summary: dict, label: str = "") -> str:
    """A markdown table: one line per protocol, mean (median) of each metric in cm."""
    head = (
        "| protocol | E_h (cm) | centroid baseline (cm) | baseline / E_h "
        "| bone-length error (cm) | wrist error (cm) | n |"
    )
    lines = [head, "|---|---|---|---|---|---|---|"]
    for protocol, metrics in summary.items():
        e, c = metrics["E_h"], metrics["centroid_E_h"]
        ratio = c["mean"] / e["mean"] if e["mean"] > 0 else math.nan
        cells = [f"{metrics[m]['mean']:.2f} ({metrics[m]['median']:.2f})" for m in ("E_h", "centroid_E_h")]
        cells.append(f"{ratio:.2f}")
        cells += [f"{metrics[m]['mean']:.2f} ({metrics[m]['median']:.2f})" for m in ("bone_error", "wrist_error")]
        lines.append(f"| {label}{protocol} | " + " | ".join(cells) + f" | {e['n']} |")
    return "\n".join(lines)


def write_pose_report(out: Path | str, rows: Sequence[dict], summary: dict, meta: dict) -> Path:
    """``per_sample.jsonl``, ``summary.json`` (with ``meta``) and ``results.md`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "per_sample.jsonl").open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    (out / "summary.json").write_text(json.dumps({"meta": meta, "summary": summary}, indent=2))
    (out / "results.md").write_text(f"# Pose net on {meta.get('data')} / {meta.get('split')}\n\n"
                                    "mean (median) in cm\n\n" + pose_table(summary) + "\n")
    return out / "results.md"
