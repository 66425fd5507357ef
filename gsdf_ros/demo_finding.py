"""The demo's second part: finding the hand in whole camera frames, and saying "no hand".

The source is a folder of 640x480 frames: a SynthHO crossing clip (a hand moving across the frame,
:mod:`gsdf_ros.synth.crossing`) followed by frames without a hand (pure noise and rendered scenes
with distractors but no hand, :mod:`gsdf_ros.synth.scenes`), with the ground truth in ``truth.json``.
The graph reads it in its default ``crop_mode`` (the hand detector and tracker). Scored per frame:
the hand score, whether a hand was reported, the share of the true joints inside the model's crop
(a frame is covered at >= 95%) and the joint error in the camera frame (live E_h, cm). Imports no
ROS module.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gsdf_ros.detect.tracker import inside_fraction
from gsdf_ros.picture_files import save_strips
from gsdf_ros.result import Reconstruction

COVERED = 0.95
"""A frame is covered when at least this share of the true joints lies inside the crop."""
TRUTH_FILE = "truth.json"


@dataclass(frozen=True)
class FindingSource:
    """What the finding part plays: clip frames, then noise and rendered hand-free frames."""

    seed: int
    clip_frames: int = 48
    noise_frames: int = 6
    hand_free_frames: int = 6

    def __post_init__(self) -> None:
        if self.clip_frames < 2 or self.noise_frames < 0 or self.hand_free_frames < 0:
            raise ValueError("the finding part needs >= 2 clip frames and non-negative hand-free counts")


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise OSError(f"cannot write {path}")


def hand_free_scene(seed: int, index: int, size: tuple[int, int]) -> np.ndarray:
    """A rendered scene of ``size`` (width, height) with distractors and no hand (RGB)."""
    from gsdf_ros.synth.scenes import SceneConfig, generate_scene

    config = SceneConfig(long_side=max(size), frame_sizes=(tuple(size),), no_hand_prob=1.0, distractors=(1, 3))
    image = generate_scene(index, seed, config).image
    if image.shape[1::-1] != tuple(size):
        image = cv2.resize(image, tuple(size), interpolation=cv2.INTER_LINEAR)
    return image


def write_finding_source(folder: Path, source: FindingSource) -> dict:
    """Render the frames into ``folder/frames`` (played in name order) and the truth into
    ``folder/truth.json``, unless they are there already; returns the truth."""
    from gsdf_ros.synth.crossing import CrossingConfig, crossing_camera, crossing_clip

    folder = Path(folder)
    truth_path = folder / TRUTH_FILE
    if truth_path.is_file():
        truth = json.loads(truth_path.read_text())
        if truth.get("source") == source.__dict__:
            return truth
    config = CrossingConfig(frames=source.clip_frames)
    frames: dict[str, dict] = {}
    for frame in crossing_clip(source.seed, config):
        name = f"{frame.index:04d}_hand.jpg"
        _write_jpeg(folder / "frames" / name, frame.rgb)
        frames[name] = {"kind": "hand", "joints": np.round(frame.joints, 6).tolist(),
                        "joints_2d": np.round(frame.joints_2d, 2).tolist()}
    rng = np.random.default_rng([source.seed, 1])
    width, height = config.size
    for i in range(source.noise_frames):
        name = f"{source.clip_frames + i:04d}_noise.jpg"
        _write_jpeg(folder / "frames" / name, rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        frames[name] = {"kind": "noise"}
    for i in range(source.hand_free_frames):
        name = f"{source.clip_frames + source.noise_frames + i:04d}_hand_free.jpg"
        _write_jpeg(folder / "frames" / name, hand_free_scene(source.seed, i, config.size))
        frames[name] = {"kind": "hand_free"}
    truth = {"source": source.__dict__, "size": [width, height], "hfov_deg": config.hfov_deg,
             "K": crossing_camera(config).matrix().tolist(), "frames": frames}
    truth_path.write_text(json.dumps(truth))
    return truth


def score_finding_frame(truth: dict, result: Reconstruction) -> dict:
    """One answered frame: hand score, hand reported, and for clip frames the crop's share of the true
    joints and the live joint error (cm; None when the graph said "no hand")."""
    row = {"kind": truth["kind"], "hand_score": float(result.hand_score), "hand_reported": bool(result.hand_present)}
    if truth["kind"] != "hand":
        return row
    share = 0.0
    if result.hand_present and result.crop_box is not None:
        share = inside_fraction(np.asarray(truth["joints_2d"]), result.crop_box)
    row["joints_in_crop"] = share
    row["covered"] = share >= COVERED
    row["E_h"] = (100.0 * float(np.linalg.norm(result.hand_joints - np.asarray(truth["joints"]), axis=1).mean())
                  if result.hand_present else None)
    return row


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def summarize_finding(rows: list[dict], truth: dict) -> dict:
    """Per kind of frame: frames played and answered; clip frames covered and their live E_h; frames
    without a hand that were reported as a hand."""
    kinds = [f["kind"] for f in truth["frames"].values()]
    clip = [r for r in rows if r["kind"] == "hand"]
    free = [r for r in rows if r["kind"] != "hand"]
    errors = [r["E_h"] for r in clip if r["E_h"] is not None]
    return {
        "clip_frames": kinds.count("hand"), "clip_frames_answered": len(clip),
        "clip_frames_hand_reported": sum(r["hand_reported"] for r in clip),
        "clip_frames_covered": sum(r["covered"] for r in clip),
        "clip_covered_share": _mean([float(r["covered"]) for r in clip]),
        "clip_E_h_mean": _mean(errors), "clip_E_h_median": float(np.median(errors)) if errors else math.nan,
        "hand_free_frames": len(kinds) - kinds.count("hand"), "hand_free_frames_answered": len(free),
        "hand_free_frames_hand_reported": sum(r["hand_reported"] for r in free),
        "clip_hand_score_mean": _mean([r["hand_score"] for r in clip]),
        "hand_free_hand_score_mean": _mean([r["hand_score"] for r in free]),
    }


def finding_picture(image: np.ndarray, result: Reconstruction, intrinsics: np.ndarray, row: dict) -> np.ndarray:
    """The whole frame with the model's crop box, the reported joints and the hand score (RGB)."""
    out = image.copy()
    if result.crop_box is not None and result.hand_present:
        x0, y0, side = (int(round(v)) for v in result.crop_box)
        cv2.rectangle(out, (x0, y0), (x0 + side, y0 + side), (255, 220, 0), 2)
        k = np.asarray(intrinsics, dtype=np.float64)
        joints = np.asarray(result.hand_joints, dtype=np.float64)
        if np.all(joints[:, 2] > 1e-6):
            uv = (joints @ k.T)[:, :2] / joints[:, 2:3]
            for u, v in uv:
                cv2.circle(out, (int(round(u)), int(round(v))), 3, (255, 60, 60), -1)
    said = "hand" if result.hand_present else "no hand"
    text = f"{row['kind']}: {said} (score {result.hand_score:.2f})"
    if row.get("E_h") is not None:
        text += f", E_h {row['E_h']:.1f} cm"
    cv2.putText(out, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def finding_markdown(summary: dict, pictures: list[str]) -> str:
    """The report section of the finding part."""
    s = summary
    return "\n".join([
        "## Finding the hand in whole 640x480 frames",
        "",
        "The graph in its default crop mode (hand detector + tracker) on a SynthHO crossing clip, then on "
        "frames of noise and rendered scenes without a hand. A clip frame is covered when at least "
        f"{COVERED:.0%} of the true joints lie inside the model's crop.",
        "",
        "| clip frames answered | hand reported | covered | live E_h (cm), mean (median) "
        "| hand-free frames answered | hand reported on them |",
        "|---|---|---|---|---|---|",
        f"| {s['clip_frames_answered']}/{s['clip_frames']} | {s['clip_frames_hand_reported']} "
        f"| {s['clip_frames_covered']} ({s['clip_covered_share']:.0%}) "
        f"| {s['clip_E_h_mean']:.2f} ({s['clip_E_h_median']:.2f}) "
        f"| {s['hand_free_frames_answered']}/{s['hand_free_frames']} | {s['hand_free_frames_hand_reported']} |",
        "",
        *[f"![{p}]({p})" for p in pictures],
        "",
    ])


def write_finding_report(results: list, folder: Path, out: Path) -> dict:
    """Score the finding part's results (``LiveFrame`` s named by frame file), draw its pictures into
    ``out`` and return ``{"summary", "per_frame", "pictures"}``."""
    folder, out = Path(folder), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    truth = json.loads((folder / TRUTH_FILE).read_text())
    unknown = [f.name for f in results if f.name not in truth["frames"]]
    if unknown:
        raise ValueError(f"results for frames that {folder} does not have: {unknown[:3]}")
    rows, strips = [], []
    for frame in sorted(results, key=lambda f: f.name):
        row = {"name": frame.name, **score_finding_frame(truth["frames"][frame.name], frame.result)}
        rows.append(row)
        image = cv2.cvtColor(cv2.imread(str(folder / "frames" / frame.name)), cv2.COLOR_BGR2RGB)
        strips.append(cv2.resize(finding_picture(image, frame.result, np.asarray(truth["K"]), row), None,
                                 fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    pictures = save_strips(strips, out, prefix="finding", gif="finding.gif")
    return {"summary": summarize_finding(rows, truth), "per_frame": rows, "pictures": pictures}
