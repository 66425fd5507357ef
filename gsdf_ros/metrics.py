"""Reconstruction metrics of the gSDF evaluation protocol: CD, F-score, E_h, E_o, and ICP alignment.

Inputs are in metres; reported values follow the paper: CD in cm^2 (sum of both directions of the
mean squared nearest-neighbour distance), F-scores at thresholds in mm, E_h and E_o in cm.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
import trimesh
from scipy.spatial import cKDTree

CM_PER_M = 100.0

HAND_FS_MM = (1.0, 5.0)
OBJECT_FS_MM = (5.0, 10.0)

METRICS: tuple[str, ...] = ("CD_h", "FS_h@1", "FS_h@5", "CD_o", "FS_o@5", "FS_o@10", "E_h", "E_o")
"""Metric names in the order of the paper's tables."""

_UNITS = {"CD_h": "cm²", "CD_o": "cm²", "E_h": "cm", "E_o": "cm"}
_LOWER_IS_BETTER = {"CD_h", "CD_o", "E_h", "E_o"}


def _points(pts: np.ndarray, name: str) -> np.ndarray:
    """``pts`` as a non-empty finite float array (N, 3), or a ValueError."""
    pts = np.asarray(pts, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
        raise ValueError(f"{name} must have shape (N, 3) with N > 0, got {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise ValueError(f"{name} contains non-finite values")
    return pts


def to_cm(values_m: np.ndarray) -> np.ndarray:
    """Metres to centimetres."""
    return np.asarray(values_m, dtype=np.float64) * CM_PER_M


def is_empty(mesh: Optional[trimesh.Trimesh]) -> bool:
    """True for a missing mesh or one without any surface area."""
    return mesh is None or len(mesh.faces) == 0 or not mesh.area > 0


def sample_surface(mesh: trimesh.Trimesh, n: int = 30000, seed: int = 0) -> np.ndarray:
    """``n`` points uniformly distributed over the surface (area-weighted faces), deterministic per seed."""
    if is_empty(mesh):
        raise ValueError("cannot sample an empty mesh")
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    triangles = np.asarray(mesh.triangles, dtype=np.float64)
    areas = np.asarray(mesh.area_faces, dtype=np.float64)
    face = rng.choice(len(areas), size=n, p=areas / areas.sum())
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1.0
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    a, b, c = triangles[face, 0], triangles[face, 1], triangles[face, 2]
    return a + u[:, None] * (b - a) + v[:, None] * (c - a)


_query_workers = -1
"""Threads per nearest-neighbour query (-1: every core); the results do not depend on it."""


def set_query_workers(workers: int) -> None:
    """Threads for the nearest-neighbour queries of CD, F-score and ICP (-1: every core)."""
    global _query_workers
    if workers == 0 or workers < -1:
        raise ValueError(f"workers must be -1 or positive, got {workers}")
    _query_workers = int(workers)


def nearest_distances(gt_pts: np.ndarray, pred_pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour distances (gt to pred, pred to gt), in the units given."""
    gt_pts, pred_pts = _points(gt_pts, "gt_pts"), _points(pred_pts, "pred_pts")
    gt_to_pred = cKDTree(pred_pts).query(gt_pts, workers=_query_workers)[0]
    pred_to_gt = cKDTree(gt_pts).query(pred_pts, workers=_query_workers)[0]
    return gt_to_pred, pred_to_gt


def chamfer_from_distances(gt_to_pred: np.ndarray, pred_to_gt: np.ndarray) -> float:
    """Mean squared distance of each direction, summed."""
    return float(np.mean(np.square(gt_to_pred)) + np.mean(np.square(pred_to_gt)))


def f_score_from_distances(gt_to_pred: np.ndarray, pred_to_gt: np.ndarray, threshold: float) -> float:
    """F = 2·P_a·P_b/(P_a + P_b) with P_a, P_b the fractions of each direction below the threshold."""
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    p_a = float(np.mean(gt_to_pred < threshold))
    p_b = float(np.mean(pred_to_gt < threshold))
    return 0.0 if p_a + p_b == 0 else 2.0 * p_a * p_b / (p_a + p_b)


def chamfer_distance(a_pts: np.ndarray, b_pts: np.ndarray) -> float:
    """Chamfer distance in the squared units given: mean d²(a→b) + mean d²(b→a)."""
    return chamfer_from_distances(*nearest_distances(a_pts, b_pts))


def chamfer_distance_cm2(a_pts_m: np.ndarray, b_pts_m: np.ndarray) -> float:
    """Chamfer distance of point sets in metres, in cm² as the paper reports it."""
    return chamfer_distance(to_cm(a_pts_m), to_cm(b_pts_m))


def f_score(gt_pts: np.ndarray, pred_pts: np.ndarray, threshold: float) -> float:
    """F-score at a distance threshold in the units of the points."""
    return f_score_from_distances(*nearest_distances(gt_pts, pred_pts), threshold)


def apply_scale_translation(pts: np.ndarray, scale: float, translation: np.ndarray) -> np.ndarray:
    """x' = s·x + t."""
    return np.asarray(pts, dtype=np.float64) * scale + np.asarray(translation, dtype=np.float64)


def icp_scale_translation(
    src_pts: np.ndarray,
    dst_pts: np.ndarray,
    max_iter: int = 100,
    *,
    min_improvement: float = 1e-5,
    min_error: float = 1e-3,
) -> tuple[float, np.ndarray]:
    """Scale and translation (no rotation) taking ``src_pts`` onto ``dst_pts``: x' = s·x + t.

    Starts by matching centroids and RMS radii. Each iteration pairs every transformed source point
    with its nearest destination point and every destination point with its nearest transformed
    source point, then solves s and t by least squares over both sets of pairs. The error is the mean
    squared pair distance in the destination's units; iteration stops after ``max_iter`` rounds, when
    the error improves by less than ``min_improvement`` or falls below ``min_error``.
    """
    src, dst = _points(src_pts, "src_pts"), _points(dst_pts, "dst_pts")
    if max_iter < 0:
        raise ValueError(f"max_iter must be non-negative, got {max_iter}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_rms = math.sqrt(np.mean(np.sum((src - src_mean) ** 2, axis=1)))
    dst_rms = math.sqrt(np.mean(np.sum((dst - dst_mean) ** 2, axis=1)))
    if src_rms == 0 or dst_rms == 0:
        raise ValueError("ICP needs point sets with non-zero spread")
    scale = dst_rms / src_rms
    translation = dst_mean - scale * src_mean
    src_tree, dst_tree = cKDTree(src), cKDTree(dst)
    previous = math.inf
    for _ in range(max_iter):
        forward = dst_tree.query(apply_scale_translation(src, scale, translation), workers=_query_workers)[1]
        backward = src_tree.query((dst - translation) / scale, workers=_query_workers)[1]
        a = np.concatenate([src, src[backward]])
        b = np.concatenate([dst[forward], dst])
        error = float(np.mean(np.sum((apply_scale_translation(a, scale, translation) - b) ** 2, axis=1)))
        if error < min_error or previous - error < min_improvement:
            break
        previous = error
        scale, translation = _fit_scale_translation(a, b)
    return scale, translation


def _fit_scale_translation(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares s, t minimising Σ‖s·a + t − b‖² over paired points."""
    a_mean, b_mean = a.mean(axis=0), b.mean(axis=0)
    a_c = a - a_mean
    scale = float(np.sum(a_c * (b - b_mean)) / np.sum(a_c * a_c))
    if not scale > 0:
        raise ValueError("ICP found a non-positive scale: the point sets do not overlap")
    return scale, b_mean - scale * a_mean


def joint_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean Euclidean distance over joints (J, 3), in the units given (E_h when J = 21)."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 2 or pred.shape[1] != 3 or len(pred) == 0:
        raise ValueError(f"joints must share a shape (J, 3), got {pred.shape} and {gt.shape}")
    return float(np.mean(np.linalg.norm(pred - gt, axis=1)))


def center_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Euclidean distance between two 3D points, in the units given (E_o)."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.shape != (3,) or gt.shape != (3,):
        raise ValueError(f"centres must have shape (3,), got {pred.shape} and {gt.shape}")
    return float(np.linalg.norm(pred - gt))


def _surface_scores(gt_cm: np.ndarray, pred_cm: np.ndarray, thresholds_mm: Sequence[float]) -> list[float]:
    """[CD in cm², then the F-score at each threshold in mm]."""
    gt_to_pred, pred_to_gt = nearest_distances(gt_cm, pred_cm)
    return [chamfer_from_distances(gt_to_pred, pred_to_gt)] + [
        f_score_from_distances(gt_to_pred, pred_to_gt, mm / 10.0) for mm in thresholds_mm
    ]


def evaluate_reconstruction(
    pred_hand_mesh: Optional[trimesh.Trimesh],
    pred_obj_mesh: Optional[trimesh.Trimesh],
    gt_hand_mesh: trimesh.Trimesh,
    gt_obj_mesh: trimesh.Trimesh,
    pred_joints: Optional[np.ndarray],
    gt_joints: np.ndarray,
    pred_center: Optional[np.ndarray],
    gt_center: np.ndarray,
    *,
    n_points: int = 30000,
    align: bool = True,
    seed: int = 0,
) -> dict:
    """The paper's metrics for one sample; every input in metres, camera frame.

    With ``align`` the predicted hand is fitted to the ground-truth hand by scale + translation ICP
    and the same transform is applied to the predicted object. A missing or empty predicted mesh gives
    NaN for its metrics and sets ``hand_missing`` / ``object_missing``; with ``align`` the object
    metrics also need the hand. Missing predicted joints or centre give NaN for E_h or E_o.
    """
    if is_empty(gt_hand_mesh) or is_empty(gt_obj_mesh):
        raise ValueError("ground-truth hand and object meshes must be non-empty")
    result: dict = {name: math.nan for name in METRICS}
    result.update(hand_missing=is_empty(pred_hand_mesh), object_missing=is_empty(pred_obj_mesh))
    result.update(icp_scale=math.nan, icp_translation_m=None)
    if pred_joints is not None:
        result["E_h"] = joint_error(pred_joints, gt_joints) * CM_PER_M
    if pred_center is not None:
        result["E_o"] = center_error(pred_center, gt_center) * CM_PER_M
    if result["hand_missing"]:
        if align or result["object_missing"]:
            return result
        scale, translation = 1.0, np.zeros(3)
    else:
        gt_hand = to_cm(sample_surface(gt_hand_mesh, n_points, seed))
        pred_hand = to_cm(sample_surface(pred_hand_mesh, n_points, seed + 1))
        scale, translation = icp_scale_translation(pred_hand, gt_hand) if align else (1.0, np.zeros(3))
        pred_hand = apply_scale_translation(pred_hand, scale, translation)
        result["CD_h"], result["FS_h@1"], result["FS_h@5"] = _surface_scores(gt_hand, pred_hand, HAND_FS_MM)
        result.update(icp_scale=scale, icp_translation_m=(translation / CM_PER_M).tolist())
    if not result["object_missing"]:
        gt_obj = to_cm(sample_surface(gt_obj_mesh, n_points, seed + 2))
        pred_obj = apply_scale_translation(to_cm(sample_surface(pred_obj_mesh, n_points, seed + 3)), scale, translation)
        result["CD_o"], result["FS_o@5"], result["FS_o@10"] = _surface_scores(gt_obj, pred_obj, OBJECT_FS_MM)
    return result


def summarize(rows: Iterable[Mapping[str, object]]) -> dict:
    """Mean and median of each metric over rows, ignoring NaN; ``count`` valid of ``total`` rows."""
    rows = list(rows)
    summary = {}
    for name in METRICS:
        values = np.array([float(row.get(name, math.nan)) for row in rows], dtype=np.float64)
        valid = values[np.isfinite(values)]
        summary[name] = {
            "mean": float(valid.mean()) if len(valid) else math.nan,
            "median": float(np.median(valid)) if len(valid) else math.nan,
            "count": int(len(valid)),
            "total": int(len(values)),
        }
    return summary


def markdown_table(summary: Mapping[str, Mapping[str, float]], digits: int = 3) -> str:
    """The summary as a Markdown table with one column per metric (paper order) and rows mean, median, n."""
    names = [name for name in METRICS if name in summary]
    if not names:
        raise ValueError("summary holds none of the known metrics")
    header = [f"{name} ({_UNITS[name]})" if name in _UNITS else name for name in names]
    header = [f"{h} {'↓' if n in _LOWER_IS_BETTER else '↑'}" for h, n in zip(header, names)]
    lines = ["| | " + " | ".join(header) + " |", "|---" * (len(names) + 1) + "|"]
    for stat in ("mean", "median"):
        cells = [f"{summary[name][stat]:.{digits}f}" for name in names]
        lines.append(f"| {stat} | " + " | ".join(cells) + " |")
    counts = [f"{summary[name]['count']}/{summary[name]['total']}" for name in names]
    lines.append("| n | " + " | ".join(counts) + " |")
    return "\n".join(lines)
