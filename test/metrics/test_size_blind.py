"""The size-blind skeleton (tools/size_blind_floor.py): a hand 10% larger than the mean hand is placed
10% nearer, on the same pixels; the mean hand itself is placed exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from gsdf_ros.hand.skeleton import default_template
from gsdf_ros.pose_eval import bone_lengths, size_blind_joints

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from size_blind_floor import floor_rows  # noqa: E402

MEAN = np.asarray(default_template().joints)
GT = MEAN @ np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).T + np.array([0.05, -0.02, 0.6])


def project(points: np.ndarray) -> np.ndarray:
    return points[:, :2] / points[:, 2:]


def test_a_larger_hand_is_placed_nearer_on_the_same_pixels():
    blind = size_blind_joints(GT * 1.1, MEAN * 1.1, MEAN)
    assert blind == pytest.approx(GT)
    assert project(blind) == pytest.approx(project(GT * 1.1))
    assert bone_lengths(blind).sum() == pytest.approx(bone_lengths(MEAN).sum())
    assert size_blind_joints(GT, MEAN, MEAN) == pytest.approx(GT)


def test_floor_rows_measure_the_depth_error_of_size_alone():
    annotations = [{"hand_joints_3d": (GT * 1.1).tolist(), "hand_template": (MEAN * 1.1).tolist()},
                   {"hand_joints_3d": GT.tolist(), "hand_template": MEAN.tolist()}]
    larger, mean = floor_rows(annotations)
    assert larger["size_ratio"] == pytest.approx(1.1) and mean["size_ratio"] == pytest.approx(1.0)
    wrist = np.linalg.norm(GT[0] * 1.1 - GT[0]) * 100.0
    assert larger["wrist_error"] == pytest.approx(wrist) and mean["wrist_error"] == pytest.approx(0.0)
    assert larger["E_h"] == pytest.approx(np.linalg.norm(GT * 0.1, axis=1).mean() * 100.0)
