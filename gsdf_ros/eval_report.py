"""What an evaluation writes besides its rows: the markdown tables, metric histograms and pictures of
the best, median and worst reconstructions (meshes drawn by :mod:`gsdf_ros.overlay`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import trimesh

from gsdf_ros.colours import HAND_COLOUR, OBJECT_COLOUR
from gsdf_ros.eval_scoring import SampleReconstruction, newest
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.image_norm import denormalise_image
from gsdf_ros.metrics import METRICS, markdown_table
from gsdf_ros.overlay import draw_scene

PROTOCOL_NOTES = {"paper": "ground-truth wrist (the paper's protocol)", "live": "predicted wrist (no ground truth)"}


def results_markdown(summary: dict[str, dict], meta: dict) -> str:
    """Mean and median tables of every protocol."""
    parts = [f"# gSDF evaluation: {meta['split']} ({meta['samples']} samples, {meta['mesh']} {meta['resolution']}³)"]
    for protocol, table in summary.items():
        parts += [f"## {protocol}: {PROTOCOL_NOTES[protocol]}", markdown_table({k: table[k] for k in METRICS})]
    return "\n\n".join(parts) + "\n"


def json_default(value: Any) -> Any:
    """numpy scalars and arrays as JSON numbers and lists."""
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _ranking_key(row: dict) -> float:
    """Lower is better: CD_h + CD_o, failed reconstructions last."""
    value = float(row.get("CD_h", math.nan)) + float(row.get("CD_o", math.nan))
    return value if math.isfinite(value) else math.inf


def pick_examples(rows: Sequence[dict]) -> dict[str, int]:
    """Positions in ``rows`` of the best, median and worst reconstruction."""
    order = sorted(range(len(rows)), key=lambda i: _ranking_key(rows[i]))
    return {"best": order[0], "median": order[len(order) // 2], "worst": order[-1]}


def _pyplot():
    """matplotlib's pyplot on the Agg backend."""
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


def input_rgb(image: Any) -> np.ndarray:
    """The ImageNet-normalised (3,S,S) crop (newest frame of a clip) back to (S,S,3) in [0, 1]."""
    return denormalise_image(newest(np.asarray(image, dtype=np.float64), 3))


def _meshes_in_crop(
    meshes: Sequence[tuple[trimesh.Trimesh | None, tuple[int, int, int]]], rotation: np.ndarray
) -> list:
    """Source-frame meshes as (vertices, faces, colour) in the crop's virtual camera, empty ones left out."""
    return [(np.asarray(m.vertices, dtype=np.float64) @ rotation, np.asarray(m.faces), colour)
            for m, colour in meshes if m is not None and len(m.faces)]


def render_example(sample: dict, pred: SampleReconstruction, gt: tuple[trimesh.Trimesh, trimesh.Trimesh],
                   path: Path, title: str = "") -> None:
    """Input crop, prediction and ground truth side by side, meshes drawn into the crop."""
    plt = _pyplot()
    K = newest(np.asarray(sample["K"], dtype=np.float64), 2)
    rotation = newest(np.asarray(sample["cam_rot"], dtype=np.float64), 2)
    rgb = (input_rgb(sample["image"]) * 255.0).round().astype(np.uint8)
    camera = Intrinsics.from_matrix(K, rgb.shape[1], rgb.shape[0])
    panels = {
        "input": rgb,
        "prediction": draw_scene(
            rgb, camera, _meshes_in_crop([(pred.hand_mesh, HAND_COLOUR), (pred.object_mesh, OBJECT_COLOUR)], rotation)
        ),
        "ground truth": draw_scene(
            rgb, camera, _meshes_in_crop([(gt[0], HAND_COLOUR), (gt[1], OBJECT_COLOUR)], rotation)
        ),
    }
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.3))
    for ax, (label, image) in zip(axes, panels.items()):
        ax.imshow(image)
        ax.set_axis_off()
        ax.set_title(label)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
