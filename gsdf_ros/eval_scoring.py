"""Scoring of evaluation reconstructions: one reconstruction against its ground truth, and a process
pool that scores while the model reconstructs the next samples (rows come back in order)."""

from __future__ import annotations

import collections
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import trimesh

from gsdf_ros.metrics import evaluate_reconstruction, set_query_workers


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


SCORED_KEYS: tuple[str, ...] = ("cam_rot", "joints", "obj_center", "wrist")
"""The ground-truth fields of a frame that :func:`score_sample` reads."""

ScoringJob = tuple[dict, SampleReconstruction, dict, tuple[trimesh.Trimesh, trimesh.Trimesh]]
"""(row head, prediction, ground-truth fields, ground-truth meshes) of one scored frame."""


def newest(x: np.ndarray, dims: int) -> np.ndarray:
    """The last frame of a clip array (more than ``dims`` dimensions), else the array."""
    return x[-1] if x.ndim > dims else x


def score_sample(
    pred: SampleReconstruction, sample: dict, gt: tuple[trimesh.Trimesh, trimesh.Trimesh], n_points: int
) -> dict:
    """The paper's metrics plus the wrist error (cm) for one reconstruction."""
    rotation = newest(np.asarray(sample["cam_rot"], dtype=np.float64), 2)
    gt_joints = newest(np.asarray(sample["joints"], dtype=np.float64), 2) @ rotation.T
    gt_center = newest(np.asarray(sample["obj_center"], dtype=np.float64), 1) @ rotation.T
    gt_wrist = newest(np.asarray(sample["wrist"], dtype=np.float64), 1) @ rotation.T
    row = evaluate_reconstruction(
        pred.hand_mesh, pred.object_mesh, gt[0], gt[1], pred.joints, gt_joints, pred.object_center, gt_center,
        n_points=n_points,
    )
    row["wrist_error_cm"] = float(np.linalg.norm(pred.wrist - gt_wrist) * 100.0)
    row.update(seconds=pred.seconds, hand_reason=pred.hand_reason, object_reason=pred.object_reason)
    return row


def score_job(job: ScoringJob, n_points: int) -> dict:
    """The row of one scoring job."""
    head, pred, truth, gt = job
    return {**head, **score_sample(pred, truth, gt, n_points)}


def _init_scoring_process() -> None:
    """One core per scoring process."""
    set_query_workers(1)
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
