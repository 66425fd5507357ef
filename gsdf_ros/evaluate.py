"""Evaluation of a trained gSDF model under the ``paper`` and ``live`` protocols (Part B §4).

Per sample: encode once, extract hand and object meshes (:mod:`gsdf_ros.mesh`), map them to metric
camera space with the wrist the protocol uses (ground truth for ``paper``, predicted for ``live``),
rotate back to the source camera, and score against the ground-truth meshes with
:func:`gsdf_ros.metrics.evaluate_reconstruction`. Writes ``per_sample.jsonl``, ``summary.json``,
``results.md`` and plots (metric histograms; best, median and worst reconstructions).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import multiprocessing
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import trimesh

from gsdf_ros.checkpoint import load_model
from gsdf_ros.live_crop import REFINE_STEPS, locate_hand
from gsdf_ros.metrics import METRICS, evaluate_reconstruction, markdown_table, set_query_workers, summarize
from gsdf_ros.model import GSDFNet, SDFState
from gsdf_ros.reconstruction import (  # noqa: F401 (re-exported: the live path and evaluation share them)
    MESH_METHODS,
    extract_meshes,
    frame_state,
    metric_mesh,
    resolve_window_length,
)

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

    @property
    def protocols(self) -> tuple[str, ...]:
        return PROTOCOLS if self.protocol == "both" else (self.protocol,)


# ----------------------------------------------------------------------------- one reconstruction


@dataclass
class SampleReconstruction:
    """Predictions for one sample in the source camera frame (metres)."""

    hand_mesh: trimesh.Trimesh | None
    object_mesh: trimesh.Trimesh | None
    joints: np.ndarray
    object_center: np.ndarray
    wrist: np.ndarray
    seconds: float
    hand_reason: str | None = None
    object_reason: str | None = None


def _tensor(value: Any, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value).to(device)


def _newest(x: np.ndarray, dims: int) -> np.ndarray:
    """The last frame of a clip array (more than ``dims`` dimensions), else the array."""
    return x[-1] if x.ndim > dims else x


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
    hand, obj, _ = extract_meshes(model, state, method, resolution, coarse)
    used = state.wrist[0].double().cpu().numpy()
    scale = model.cfg.recon_scale
    return SampleReconstruction(
        hand_mesh=metric_mesh(hand, scale, used, rotation),
        object_mesh=metric_mesh(obj, scale, used, rotation),
        joints=state.joints[0].double().cpu().numpy() @ rotation.T,
        object_center=state.obj_center[0].double().cpu().numpy() @ rotation.T,
        wrist=used @ rotation.T,
        seconds=0.0,
        hand_reason=hand.reason,
        object_reason=obj.reason,
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
    with torch.no_grad():
        state = model.encode(image.float(), K.float(), None if wrist is None else wrist.float())
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


def score_sample(pred: SampleReconstruction, sample: dict, gt: tuple[trimesh.Trimesh, trimesh.Trimesh], n_points: int) -> dict:
    """The paper's metrics plus the wrist error (cm) for one reconstruction."""
    rotation = _newest(np.asarray(sample["cam_rot"], dtype=np.float64), 2)
    gt_joints = _newest(np.asarray(sample["joints"], dtype=np.float64), 2) @ rotation.T
    gt_center = _newest(np.asarray(sample["obj_center"], dtype=np.float64), 1) @ rotation.T
    gt_wrist = _newest(np.asarray(sample["wrist"], dtype=np.float64), 1) @ rotation.T
    row = evaluate_reconstruction(
        pred.hand_mesh, pred.object_mesh, gt[0], gt[1], pred.joints, gt_joints, pred.object_center, gt_center,
        n_points=n_points,
    )
    row["wrist_error_cm"] = float(np.linalg.norm(pred.wrist - gt_wrist) * 100.0)
    row.update(seconds=pred.seconds, hand_reason=pred.hand_reason, object_reason=pred.object_reason)
    return row


# ----------------------------------------------------------------------------- the run


def open_eval_dataset(cfg: EvalConfig, model: GSDFNet, train_config: dict) -> Any:
    """The test dataset of ``cfg.data`` as the checkpoint's model reads it; with ``cfg.clip_len``,
    consecutive non-overlapping clips of that length (each frame scored once)."""
    from gsdf_ros.train import TrainConfig, open_dataset

    known = {f.name for f in dataclasses.fields(TrainConfig)}
    tcfg = TrainConfig.from_dict({k: v for k, v in train_config.items() if k in known})
    tcfg.data_root = cfg.data
    if cfg.crop is not None:
        tcfg.crop = cfg.crop
    return open_dataset(tcfg, model.cfg, cfg.split, train=False, clip_len=cfg.clip_len)


def _ranking_key(row: dict) -> float:
    """Lower is better: CD_h + CD_o, failed reconstructions last."""
    value = float(row.get("CD_h", math.nan)) + float(row.get("CD_o", math.nan))
    return value if math.isfinite(value) else math.inf


def pick_examples(rows: Sequence[dict]) -> dict[str, int]:
    """Positions in ``rows`` of the best, median and worst reconstruction."""
    order = sorted(range(len(rows)), key=lambda i: _ranking_key(rows[i]))
    return {"best": order[0], "median": order[len(order) // 2], "worst": order[-1]}


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def frame_gt_meshes(dataset: Any, index: int, sample: dict, t: int) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """Ground-truth meshes of frame ``t`` of item ``index`` (clips read them from their frame dataset)."""
    if is_clip(sample):
        return dataset.frames.gt_meshes(int(sample["index"][t]))
    return dataset.gt_meshes(index)


SCORED_KEYS: tuple[str, ...] = ("cam_rot", "joints", "obj_center", "wrist")
"""The ground-truth fields of a frame that :func:`score_sample` reads."""

ScoringJob = tuple[dict, SampleReconstruction, dict, tuple[trimesh.Trimesh, trimesh.Trimesh]]
"""(row head, prediction, ground-truth fields, ground-truth meshes) of one scored frame."""


def live_inputs(model: GSDFNet, dataset: Any, index: int, refine_steps: int) -> dict:
    """The network inputs of item ``index`` as a camera would give them: only its whole image and
    intrinsics are read; the crop comes from the model's own joints (``refine_steps`` looks)."""
    image, intrinsics = dataset.source(index)
    look = locate_hand(model.pose_net, image, intrinsics, model.cfg.image_size, refine_steps)
    return {"image": look.image[0], "K": look.K[0], "cam_rot": look.crop.rotation}


def protocol_inputs(model: GSDFNet, dataset: Any, index: int, sample: dict, cfg: EvalConfig, protocol: str,
                    trained_crop: str = "full") -> dict:
    """What the model sees of item ``index`` under ``protocol``: the dataset's crop for ``paper``;
    for ``live`` single frames a crop found from the whole image (:func:`live_inputs`)."""
    if protocol == "paper":
        return sample
    if is_clip(sample):
        if getattr(getattr(dataset, "frames", dataset), "crop", "full") != "full":
            raise ValueError("the live protocol on clips needs whole-image crops (--crop full): "
                             "any other dataset crop is placed with the ground truth")
        return sample
    steps = cfg.refine_steps if cfg.refine_steps is not None else (0 if trained_crop == "full" else REFINE_STEPS)
    return live_inputs(model, dataset, index, steps)


def reconstruct_item(model: GSDFNet, dataset: Any, index: int, cfg: EvalConfig, protocol: str,
                     trained_crop: str = "full") -> list[ScoringJob]:
    """Reconstruct item ``index`` under ``protocol``: one scoring job per scored frame."""
    sample = dataset[index]
    positions = scored_positions(sample)
    inputs = protocol_inputs(model, dataset, index, sample, cfg, protocol, trained_crop)
    preds = reconstruct_frames(model, inputs, protocol, cfg.mesh, cfg.resolution, cfg.coarse, positions)
    jobs = []
    for t, pred in zip(positions, preds):
        frame = clip_frame(sample, t)
        head = {"index": index, "frame": t, "id": str(frame["id"]), "protocol": protocol}
        truth = {k: np.asarray(frame[k], dtype=np.float64) for k in SCORED_KEYS}
        jobs.append((head, pred, truth, frame_gt_meshes(dataset, index, sample, t)))
    return jobs


def score_job(job: ScoringJob, n_points: int) -> dict:
    """The row of one scoring job."""
    head, pred, truth, gt = job
    return {**head, **score_sample(pred, truth, gt, n_points)}


def score_item(model: GSDFNet, dataset: Any, index: int, cfg: EvalConfig, protocol: str) -> list[dict]:
    """One row per scored frame of item ``index`` (every new frame of a clip, once)."""
    return [score_job(job, cfg.n_points) for job in reconstruct_item(model, dataset, index, cfg, protocol)]


def _init_scoring_process() -> None:
    set_query_workers(1)  # one core per scoring process
    torch.set_num_threads(1)


class ScoringPool:
    """Scores jobs in ``workers`` processes (in this one when 1) and hands rows back in submission order."""

    def __init__(self, workers: int, n_points: int) -> None:
        self.n_points = n_points
        self.pending: collections.deque = collections.deque()
        self.limit = 2 * workers
        self.executor = None
        if workers > 1:
            context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
            self.executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_scoring_process)

    def submit(self, job: ScoringJob) -> list[dict]:
        """Queue ``job``; returns the rows finished meanwhile, oldest first."""
        if self.executor is None:
            return [score_job(job, self.n_points)]
        self.pending.append(self.executor.submit(score_job, job, self.n_points))
        done = []
        while len(self.pending) > self.limit:
            done.append(self.pending.popleft().result())
        return done

    def drain(self) -> list[dict]:
        """Every row still queued, in submission order."""
        rows = [future.result() for future in self.pending]
        self.pending.clear()
        return rows

    def __enter__(self) -> ScoringPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:
            self.executor.shutdown(cancel_futures=True)


def evaluate(cfg: EvalConfig, dataset: Any | None = None, progress: bool = True) -> dict:
    """Run the evaluation ``cfg`` describes; returns the summary (per protocol) it also writes."""
    model, checkpoint = load_model(cfg.checkpoint, cfg.device, stage="sdf")
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
                lines.write(json.dumps(row, default=_json_default) + "\n")

        trained_crop = str(checkpoint.train_config.get("crop", "full"))
        for index in indices:
            for protocol in cfg.protocols:
                for job in reconstruct_item(model, dataset, index, cfg, protocol, trained_crop):
                    record(pool.submit(job))
        record(pool.drain())
    summary = {p: summarize(r) for p, r in rows.items()}
    frames = len(next(iter(rows.values())))
    meta = {"checkpoint": str(cfg.checkpoint), "split": cfg.split, "mesh": cfg.mesh, "resolution": cfg.resolution,
            "samples": frames, "items": count, "clip_len": clip_len, "git_commit": checkpoint.git_commit,
            "data_fingerprint": checkpoint.data_fingerprint}
    (out / "summary.json").write_text(json.dumps({"meta": meta, **summary}, indent=2, default=_json_default))
    (out / "results.md").write_text(results_markdown(summary, meta))
    for protocol, protocol_rows in rows.items():
        plot_histograms(protocol_rows, out / f"hist_{protocol}.png", title=f"{protocol} protocol")
        for label, position in pick_examples(protocol_rows).items():
            index, t = protocol_rows[position]["index"], protocol_rows[position]["frame"]
            sample = dataset[index]
            inputs = protocol_inputs(model, dataset, index, sample, cfg, protocol, trained_crop)
            pred = reconstruct_frames(model, inputs, protocol, cfg.mesh, cfg.resolution, cfg.coarse, [t])[0]
            render_example(clip_frame({**sample, **inputs} if not is_clip(sample) else sample, t), pred, frame_gt_meshes(dataset, index, sample, t),
                           out / f"render_{protocol}_{label}.png",
                           title=f"{protocol} {label}: {protocol_rows[position]['id']}")
    return summary


def results_markdown(summary: dict[str, dict], meta: dict) -> str:
    """Mean and median tables of every protocol."""
    parts = [f"# gSDF evaluation: {meta['split']} ({meta['samples']} samples, {meta['mesh']} {meta['resolution']}³)"]
    notes = {"paper": "ground-truth wrist (the paper's protocol)", "live": "predicted wrist (no ground truth)"}
    for protocol, table in summary.items():
        parts += [f"## {protocol}: {notes[protocol]}", markdown_table({k: table[k] for k in METRICS})]
    return "\n\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- plots (matplotlib Agg)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_histograms(rows: Sequence[dict], path: Path, title: str = "") -> None:
    """One histogram per metric (finite values only)."""
    plt = _pyplot()
    names = list(METRICS) + ["wrist_error_cm"]
    fig, axes = plt.subplots(3, 3, figsize=(12, 9))
    for ax, name in zip(axes.flat, names):
        values = np.array([float(r.get(name, math.nan)) for r in rows], dtype=np.float64)
        values = values[np.isfinite(values)]
        if len(values):
            ax.hist(values, bins=min(30, max(5, len(values))), color="tab:blue", alpha=0.8)
        ax.set_title(f"{name} (n={len(values)})")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def input_rgb(image: Any) -> np.ndarray:
    """The ImageNet-normalised (3,S,S) crop (newest frame of a clip) back to (S,S,3) in [0, 1]."""
    image = _newest(np.asarray(image, dtype=np.float64), 3)
    return np.clip(image.transpose(1, 2, 0) * STD + MEAN, 0.0, 1.0)


def project_mesh(mesh: trimesh.Trimesh, K: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source-frame mesh into crop pixels: triangles (F,3,2), their mean depth (F,) and shade (F,)."""
    vertices = np.asarray(mesh.vertices) @ rotation  # source -> virtual frame
    uvw = vertices @ K.T
    uv = uvw[:, :2] / np.maximum(uvw[:, 2:], 1e-6)
    faces = np.asarray(mesh.faces)
    normals = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    shade = 0.35 + 0.65 * np.abs(normals[:, 2])
    return uv[faces], vertices[faces, 2].mean(axis=1), shade


def _draw_meshes(ax, rgb: np.ndarray, meshes: Sequence[tuple[trimesh.Trimesh | None, tuple]], K, rotation) -> None:
    """Painter's-algorithm rasterisation of the meshes over the input crop."""
    from matplotlib.collections import PolyCollection

    ax.imshow(rgb, alpha=0.6)
    triangles, depths, colours = [], [], []
    for mesh, colour in meshes:
        if mesh is None or len(mesh.faces) == 0:
            continue
        tri, depth, shade = project_mesh(mesh, K, rotation)
        triangles.append(tri)
        depths.append(depth)
        colours.append(shade[:, None] * np.asarray(colour)[None])
    if triangles:
        tri, depth, colour = np.concatenate(triangles), np.concatenate(depths), np.concatenate(colours)
        order = np.argsort(-depth)
        ax.add_collection(PolyCollection(tri[order], facecolors=np.clip(colour[order], 0, 1), edgecolors="none"))
    ax.set_xlim(0, rgb.shape[1])
    ax.set_ylim(rgb.shape[0], 0)
    ax.set_axis_off()


HAND_COLOUR = (1.0, 0.6, 0.3)
OBJECT_COLOUR = (0.3, 0.6, 1.0)


def render_example(sample: dict, pred: SampleReconstruction, gt: tuple[trimesh.Trimesh, trimesh.Trimesh],
                   path: Path, title: str = "") -> None:
    """Input crop, prediction and ground truth side by side, meshes projected into the crop."""
    plt = _pyplot()
    K = _newest(np.asarray(sample["K"], dtype=np.float64), 2)
    rotation = _newest(np.asarray(sample["cam_rot"], dtype=np.float64), 2)
    rgb = input_rgb(sample["image"])
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.3))
    axes[0].imshow(rgb)
    axes[0].set_axis_off()
    axes[0].set_title("input")
    _draw_meshes(axes[1], rgb, [(pred.hand_mesh, HAND_COLOUR), (pred.object_mesh, OBJECT_COLOUR)], K, rotation)
    axes[1].set_title("prediction")
    _draw_meshes(axes[2], rgb, [(gt[0], HAND_COLOUR), (gt[1], OBJECT_COLOUR)], K, rotation)
    axes[2].set_title("ground truth")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
