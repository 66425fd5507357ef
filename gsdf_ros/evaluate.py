"""Evaluation of a trained gSDF model under the ``paper`` and ``live`` protocols (Part B §4).

Per sample: encode once, extract hand and object meshes (:mod:`gsdf_ros.mesh`), map them to metric
camera space with the wrist the protocol uses (ground truth for ``paper``, predicted for ``live``),
rotate back to the source camera, and score against the ground-truth meshes
(:mod:`gsdf_ros.eval_scoring`, in a process pool). Writes ``per_sample.jsonl``, ``summary.json``,
``results.md`` and plots (:mod:`gsdf_ros.eval_report`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import trimesh

from gsdf_ros.checkpoint import load_checkpoint_model
from gsdf_ros.data.loading import DataSettings, open_dataset
from gsdf_ros.eval_report import json_default, pick_examples, plot_histograms, render_example, results_markdown
from gsdf_ros.eval_scoring import SCORED_KEYS, SampleReconstruction, ScoringJob, ScoringPool, score_job
from gsdf_ros.geometry.pose_looks import DEFAULT_LOOKS, MAX_LOOKS, SINGLE_LOOK, PoseLooks, pose_looks
from gsdf_ros.geometry.virtual_camera import HAND_CROP_ENLARGE
from gsdf_ros.live_crop import REFINE_STEPS, read_hand, shape_inputs
from gsdf_ros.metrics import summarize
from gsdf_ros.model import GSDFNet, SDFState
from gsdf_ros.reconstruction import MESH_METHODS, frame_state, meshes_of, resolve_window_length

PROTOCOLS: tuple[str, ...] = ("paper", "live")


@dataclass
class EvalConfig:
    checkpoint: str
    data: str
    out: str
    split: str = "test"
    protocol: str = "both"
    mesh: str = "c2f"
    resolution: int = 128
    coarse: int = 32
    limit: int | None = None
    device: str = "cpu"
    n_points: int = 30000
    """Surface samples per mesh for CD / F-score."""
    crop: str | None = None
    """Crop mode of the dataset; None takes the training config's."""
    clip_len: int | None = None
    """Frames per test clip (consecutive, non-overlapping, §2); None takes the checkpoint's window.
    May only lower the checkpoint's window."""
    workers: int = 1
    """Processes scoring reconstructions (ICP, nearest neighbours) while the model reconstructs the
    next samples; 1 scores in this process. The results do not depend on it."""
    refine_steps: int | None = None
    """``live``, single frames: hand crops around the model's own joints after its whole-image look
    (:func:`gsdf_ros.live_crop.locate_hand`); None: 0 for models trained on whole images, else
    :data:`~gsdf_ros.live_crop.REFINE_STEPS`."""
    pose_looks: int = DEFAULT_LOOKS
    """``live``, single frames, models trained on hand crops: the joints are the mean over the first
    this many crops around the hand (:func:`~gsdf_ros.geometry.pose_looks.pose_looks`; 1: the hand crop)."""

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS + ("both",):
            raise ValueError(f"protocol must be paper, live or both, got {self.protocol!r}")
        if self.mesh not in MESH_METHODS:
            raise ValueError(f"mesh must be one of {MESH_METHODS}, got {self.mesh!r}")
        if self.resolution < 4:
            raise ValueError(f"resolution must be at least 4, got {self.resolution}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be positive, got {self.limit}")
        if self.clip_len is not None and self.clip_len < 1:
            raise ValueError(f"clip_len must be positive, got {self.clip_len}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.refine_steps is not None and self.refine_steps < 0:
            raise ValueError(f"refine_steps must be >= 0, got {self.refine_steps}")
        if not 1 <= self.pose_looks <= MAX_LOOKS:
            raise ValueError(f"pose_looks must lie in [1, {MAX_LOOKS}], got {self.pose_looks}")

    @property
    def protocols(self) -> tuple[str, ...]:
        return PROTOCOLS if self.protocol == "both" else (self.protocol,)


# ----------------------------------------------------------------------------- one reconstruction


def _tensor(value: Any, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value).to(device)


def is_clip(sample: dict) -> bool:
    """A ``ClipDataset`` item (leading T axis) rather than a single frame."""
    return "new_frame" in sample


def scored_positions(sample: dict) -> list[int]:
    """Frames of a sample to score: the new (non-padding) frames of a clip, the frame itself otherwise."""
    return [t for t, new in enumerate(sample["new_frame"].tolist()) if new] if is_clip(sample) else [0]


def clip_frame(sample: dict, t: int) -> dict:
    """Frame ``t`` of a clip sample with the keys of a frame sample (a frame sample is returned as is)."""
    if not is_clip(sample):
        return sample
    frame = {k: v[t] for k, v in sample.items() if k not in ("clip_index", "new_frame")}
    frame["index"] = int(frame["index"])
    return frame


def _reconstruct_frame(model: GSDFNet, state: SDFState, rotation: np.ndarray, method: str, resolution: int,
                       coarse: int) -> SampleReconstruction:
    """Meshes, joints and centre of a single-frame state in the source camera (``seconds`` left at 0)."""
    meshes = meshes_of(model, state, rotation, method, resolution, coarse)
    used = state.wrist[0].double().cpu().numpy()
    return SampleReconstruction(
        hand_mesh=meshes.hand,
        object_mesh=meshes.object,
        joints=state.joints[0].double().cpu().numpy() @ rotation.T,
        object_center=state.obj_center[0].double().cpu().numpy() @ rotation.T,
        wrist=used @ rotation.T,
        seconds=0.0,
        hand_reason=meshes.hand_reason,
        object_reason=meshes.object_reason,
    )


def reconstruct_frames(
    model: GSDFNet, sample: dict, protocol: str, method: str, resolution: int, coarse: int = 32,
    positions: Sequence[int] | None = None,
) -> list[SampleReconstruction]:
    """Encode a frame or a whole clip once (every frame of a clip sees the others, the paper's test
    protocol), then reconstruct the frames at ``positions`` (default: the newest) in the source camera.
    Each result's ``seconds`` holds its extraction plus an equal share of the encoding."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    start = time.perf_counter()
    device = next(model.parameters()).device
    image, K = _tensor(sample["image"], device)[None], _tensor(sample["K"], device)[None]
    wrist = _tensor(sample["wrist"], device)[None] if protocol == "paper" else None
    rotations = np.asarray(sample["cam_rot"], dtype=np.float64).reshape(-1, 3, 3)
    pose_view = None
    if "pose_image" in sample:
        pose_view = tuple(_tensor(sample[k], device)[None].float() for k in ("pose_image", "pose_K", "pose_R"))
    pose_joints = _tensor(sample["pose_joints"], device)[None].float() if "pose_joints" in sample else None
    with torch.no_grad():
        state = model.encode(image.float(), K.float(), None if wrist is None else wrist.float(), pose_view,
                             pose_joints)
    positions = [state.wrist.shape[0] - 1] if positions is None else list(positions)
    share = (time.perf_counter() - start) / max(1, len(positions))
    results = []
    for t in positions:
        begin = time.perf_counter()
        result = _reconstruct_frame(model, frame_state(state, t), rotations[t], method, resolution, coarse)
        results.append(dataclasses.replace(result, seconds=share + time.perf_counter() - begin))
    return results


def reconstruct_sample(
    model: GSDFNet, sample: dict, protocol: str, method: str, resolution: int, coarse: int = 32
) -> SampleReconstruction:
    """Encode once, extract both meshes, map everything to the source camera (the newest frame of clips)."""
    return reconstruct_frames(model, sample, protocol, method, resolution, coarse)[0]


# ----------------------------------------------------------------------------- the run


def open_eval_dataset(cfg: EvalConfig, model: GSDFNet, train_config: dict) -> Any:
    """The test dataset of ``cfg.data`` as the checkpoint's model reads it; with ``cfg.clip_len``,
    consecutive non-overlapping clips of that length (each frame scored once)."""
    settings = DataSettings.of(train_config, data_root=cfg.data)
    if cfg.crop is not None:
        settings.crop = cfg.crop
    return open_dataset(settings, model.cfg, cfg.split, train=False, clip_len=cfg.clip_len)


def frame_gt_meshes(dataset: Any, index: int, sample: dict, t: int) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """Ground-truth meshes of frame ``t`` of item ``index`` (clips read them from their frame dataset)."""
    if is_clip(sample):
        return dataset.frames.gt_meshes(int(sample["index"][t]))
    return dataset.gt_meshes(index)


def live_inputs(
    model: GSDFNet, dataset: Any, index: int, refine_steps: int, shape_enlarge: float | None = None,
    looks: PoseLooks = SINGLE_LOOK,
) -> dict:
    """The network inputs of item ``index`` as a camera would give them: only its whole image and
    intrinsics are read; the crop comes from the model's own joints (``refine_steps`` looks), the
    joints from ``looks`` around them. With ``shape_enlarge`` the shape net reads a wider crop around
    them and the pose net its last look."""
    image, intrinsics = dataset.source(index)
    look = read_hand(model.pose_net, image, intrinsics, model.cfg.image_size, refine_steps, looks)
    view = shape_inputs(look, image, intrinsics, model.cfg.image_size, shape_enlarge)
    inputs = {"image": view.image[0], "K": view.K[0], "cam_rot": view.crop.rotation, "pose_joints": view.joints[0]}
    if view.pose_view is not None:
        inputs.update(zip(("pose_image", "pose_K", "pose_R"), (x[0] for x in view.pose_view)))
    return inputs


def protocol_inputs(model: GSDFNet, dataset: Any, index: int, sample: dict, cfg: EvalConfig, protocol: str,
                    train_config: Mapping[str, Any] | None = None) -> dict:
    """What the model sees of item ``index`` under ``protocol``: the dataset's crop for ``paper``;
    for ``live`` single frames a crop found from the whole image (:func:`live_inputs`), read as the
    model was trained (``train_config``: ``crop``, ``pose_crop``, ``hand_enlarge``)."""
    train_config = train_config or {}
    trained_crop = str(train_config.get("crop", "full"))
    if protocol == "paper":
        return sample
    if is_clip(sample):
        if getattr(getattr(dataset, "frames", dataset), "crop", "full") != "full":
            raise ValueError("the live protocol on clips needs whole-image crops (--crop full): "
                             "any other dataset crop is placed with the ground truth")
        return sample
    steps = cfg.refine_steps if cfg.refine_steps is not None else (0 if trained_crop == "full" else REFINE_STEPS)
    enlarge = float(train_config.get("hand_enlarge", HAND_CROP_ENLARGE)) if train_config.get("pose_crop") else None
    looks = SINGLE_LOOK if trained_crop == "full" else pose_looks(cfg.pose_looks)
    return live_inputs(model, dataset, index, steps, enlarge, looks)


def reconstruct_item(model: GSDFNet, dataset: Any, index: int, cfg: EvalConfig, protocol: str,
                     train_config: Mapping[str, Any] | None = None) -> list[ScoringJob]:
    """Reconstruct item ``index`` under ``protocol``: one scoring job per scored frame."""
    sample = dataset[index]
    positions = scored_positions(sample)
    inputs = protocol_inputs(model, dataset, index, sample, cfg, protocol, train_config)
    preds = reconstruct_frames(model, inputs, protocol, cfg.mesh, cfg.resolution, cfg.coarse, positions)
    jobs = []
    for t, pred in zip(positions, preds):
        frame = clip_frame(sample, t)
        head = {"index": index, "frame": t, "id": str(frame["id"]), "protocol": protocol}
        truth = {k: np.asarray(frame[k], dtype=np.float64) for k in SCORED_KEYS}
        jobs.append((head, pred, truth, frame_gt_meshes(dataset, index, sample, t)))
    return jobs


def score_item(model: GSDFNet, dataset: Any, index: int, cfg: EvalConfig, protocol: str) -> list[dict]:
    """One row per scored frame of item ``index`` (every new frame of a clip, once)."""
    return [score_job(job, cfg.n_points) for job in reconstruct_item(model, dataset, index, cfg, protocol)]


def evaluate(cfg: EvalConfig, dataset: Any | None = None, progress: bool = True) -> dict:
    """Run the evaluation ``cfg`` describes; returns the summary (per protocol) it also writes."""
    model, checkpoint = load_checkpoint_model(cfg.checkpoint, cfg.device, stage="sdf")
    clip_len = resolve_window_length(checkpoint.window_length, cfg.clip_len)
    if dataset is None:
        dataset = open_eval_dataset(cfg, model, checkpoint.train_config)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    count = len(dataset) if cfg.limit is None else min(cfg.limit, len(dataset))
    rows: dict[str, list[dict]] = {p: [] for p in cfg.protocols}
    indices = range(count)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="gsdf-eval", dynamic_ncols=True)
    with (out / "per_sample.jsonl").open("w") as lines, ScoringPool(cfg.workers, cfg.n_points) as pool:

        def record(finished: list[dict]) -> None:
            for row in finished:
                rows[row["protocol"]].append(row)
                lines.write(json.dumps(row, default=json_default) + "\n")

        trained = checkpoint.train_config
        for index in indices:
            for protocol in cfg.protocols:
                for job in reconstruct_item(model, dataset, index, cfg, protocol, trained):
                    record(pool.submit(job))
        record(pool.drain())
    summary = {p: summarize(r) for p, r in rows.items()}
    frames = len(next(iter(rows.values())))
    meta = {"checkpoint": str(cfg.checkpoint), "split": cfg.split, "mesh": cfg.mesh, "resolution": cfg.resolution,
            "samples": frames, "items": count, "clip_len": clip_len, "git_commit": checkpoint.git_commit,
            "data_fingerprint": checkpoint.data_fingerprint, "pose_looks": cfg.pose_looks}
    (out / "summary.json").write_text(json.dumps({"meta": meta, **summary}, indent=2, default=json_default))
    (out / "results.md").write_text(results_markdown(summary, meta))
    for protocol, protocol_rows in rows.items():
        plot_histograms(protocol_rows, out / f"hist_{protocol}.png", title=f"{protocol} protocol")
        for label, position in pick_examples(protocol_rows).items():
            index, t = protocol_rows[position]["index"], protocol_rows[position]["frame"]
            sample = dataset[index]
            inputs = protocol_inputs(model, dataset, index, sample, cfg, protocol, trained)
            pred = reconstruct_frames(model, inputs, protocol, cfg.mesh, cfg.resolution, cfg.coarse, [t])[0]
            frame = clip_frame({**sample, **inputs} if not is_clip(sample) else sample, t)
            render_example(frame, pred, frame_gt_meshes(dataset, index, sample, t),
                           out / f"render_{protocol}_{label}.png",
                           title=f"{protocol} {label}: {protocol_rows[position]['id']}")
    return summary
