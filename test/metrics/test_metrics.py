"""Tests of the gSDF evaluation metrics on shapes with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from gsdf_ros import metrics

N = 5000


def _sphere(radius: float, center=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    mesh.apply_translation(center)
    return mesh


def _transformed(mesh: trimesh.Trimesh, scale: float, translation) -> trimesh.Trimesh:
    return trimesh.Trimesh(mesh.vertices * scale + np.asarray(translation), mesh.faces, process=False)


def test_sample_surface_is_deterministic_and_on_the_surface():
    mesh = _sphere(0.3)
    a = metrics.sample_surface(mesh, N, seed=3)
    assert a.shape == (N, 3)
    np.testing.assert_array_equal(a, metrics.sample_surface(mesh, N, seed=3))
    assert not np.allclose(a, metrics.sample_surface(mesh, N, seed=4))
    radius = np.linalg.norm(a, axis=1)
    assert np.all(np.abs(radius - 0.3) < 2e-3)
    # Area weighting: a box 1 x 1 x 4 has 16 of its 18 area units on the long sides.
    box = trimesh.creation.box(extents=(1.0, 1.0, 4.0))
    pts = metrics.sample_surface(box, N, seed=0)
    on_caps = np.mean(np.isclose(np.abs(pts[:, 2]), 2.0))
    assert on_caps == pytest.approx(2.0 / 18.0, abs=0.02)


def test_chamfer_of_concentric_spheres_is_twice_the_squared_gap():
    r1, r2 = 1.0, 1.5
    inner = metrics.sample_surface(_sphere(r1), N, seed=0)
    outer = metrics.sample_surface(_sphere(r2), N, seed=1)
    cd = metrics.chamfer_distance(inner, outer)
    assert cd == pytest.approx(2 * (r2 - r1) ** 2, rel=0.03)
    # Metres to cm^2: a 2 cm gap between spheres of radii 10 and 12 cm.
    cd_cm2 = metrics.chamfer_distance_cm2(inner * 0.10, outer / r2 * 0.12)
    assert cd_cm2 == pytest.approx(2 * 2.0**2, rel=0.05)


def test_chamfer_sums_both_directions():
    a = np.zeros((1, 3))
    b = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    assert metrics.chamfer_distance(a, b) == pytest.approx(0.0 + 9.0 / 2.0)
    assert metrics.chamfer_distance(b, a) == pytest.approx(4.5)


def test_f_score_of_concentric_spheres_steps_at_the_gap():
    inner = metrics.sample_surface(_sphere(1.0), N, seed=0)
    outer = metrics.sample_surface(_sphere(1.2), N, seed=1)
    assert metrics.f_score(inner, outer, 0.25) == pytest.approx(1.0)
    assert metrics.f_score(inner, outer, 0.15) == 0.0


def test_f_score_combines_both_precisions():
    gt = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    pred = np.array([[0.0, 0.0, 0.0]])
    # P_a = 1/2 (gt->pred), P_b = 1 (pred->gt): F = 2 * 0.5 / 1.5.
    assert metrics.f_score(gt, pred, 0.5) == pytest.approx(2.0 / 3.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: metrics.chamfer_distance(np.zeros((0, 3)), np.zeros((3, 3))),
        lambda: metrics.chamfer_distance(np.zeros((4, 2)), np.zeros((3, 3))),
        lambda: metrics.f_score(np.zeros((2, 3)), np.zeros((2, 3)), 0.0),
        lambda: metrics.joint_error(np.zeros((21, 3)), np.zeros((20, 3))),
        lambda: metrics.center_error(np.zeros(3), np.zeros(2)),
        lambda: metrics.sample_surface(trimesh.Trimesh(), 10),
        lambda: metrics.icp_scale_translation(np.zeros((5, 3)), np.ones((5, 3))),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_icp_recovers_scale_and_translation():
    gt = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    pred = _transformed(gt, 1.0 / 1.3, (0.2, -0.1, 0.3))
    src = metrics.sample_surface(pred, N, seed=0)
    dst = metrics.sample_surface(gt, N, seed=1)
    scale, translation = metrics.icp_scale_translation(src, dst)
    assert scale == pytest.approx(1.3, rel=0.01)
    np.testing.assert_allclose(translation, -1.3 * np.array([0.2, -0.1, 0.3]), atol=0.02)
    aligned = metrics.apply_scale_translation(src, scale, translation)
    assert metrics.chamfer_distance(aligned, dst) < 0.1 * metrics.chamfer_distance(src, dst)


def test_icp_improves_on_its_initialisation():
    # Extra points on the top face of the prediction shift its centroid and radius: the
    # centroid/RMS start is off, the nearest-neighbour iterations must bring it back.
    gt = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    pts = metrics.sample_surface(gt, N, seed=0)
    top = pts[pts[:, 2] > 1.49]
    src = np.concatenate([pts, np.repeat(top, 2, axis=0)]) * 0.5 + [1.0, 0.0, 0.0]
    dst = metrics.sample_surface(gt, N, seed=1)
    start = metrics.icp_scale_translation(src, dst, max_iter=0)
    fitted = metrics.icp_scale_translation(src, dst)
    cd_start = metrics.chamfer_distance(metrics.apply_scale_translation(src, *start), dst)
    cd_fit = metrics.chamfer_distance(metrics.apply_scale_translation(src, *fitted), dst)
    assert abs(start[0] - 2.0) > 0.03
    assert cd_fit < 0.3 * cd_start
    assert fitted[0] == pytest.approx(2.0, rel=0.005)
    np.testing.assert_allclose(fitted[1], [-2.0, 0.0, 0.0], atol=0.02)


def test_joint_and_center_errors():
    gt = np.zeros((21, 3))
    pred = gt.copy()
    pred[:10] += [0.03, 0.04, 0.0]  # 5 cm
    pred[10:] += [0.0, 0.0, 0.01]  # 1 cm
    assert metrics.joint_error(pred, gt) == pytest.approx((10 * 0.05 + 11 * 0.01) / 21)
    assert metrics.center_error(np.array([0.01, 0.02, 0.02]), np.zeros(3)) == pytest.approx(0.03)


def _scene():
    hand = trimesh.creation.box(extents=(0.08, 0.02, 0.1))
    hand.apply_translation((0.0, 0.0, 0.5))
    obj = _sphere(0.04, center=(0.0, 0.05, 0.5))
    return hand, obj


def test_evaluate_reconstruction_aligns_the_object_with_the_hand_transform():
    hand, obj = _scene()
    # Prediction: both meshes scaled and shifted by the same transform, as a normalised-space output would be.
    pred_hand, pred_obj = _transformed(hand, 0.8, (0.01, 0.0, 0.02)), _transformed(obj, 0.8, (0.01, 0.0, 0.02))
    gt_joints = np.zeros((21, 3))
    pred_joints = gt_joints + [0.0, 0.01, 0.0]
    kwargs = dict(n_points=N, seed=0)
    aligned = metrics.evaluate_reconstruction(
        pred_hand, pred_obj, hand, obj, pred_joints, gt_joints, np.array([0.0, 0.0, 0.52]), np.array([0.0, 0.0, 0.5]),
        **kwargs,
    )
    raw = metrics.evaluate_reconstruction(
        pred_hand, pred_obj, hand, obj, pred_joints, gt_joints, None, np.zeros(3), align=False, **kwargs
    )
    assert set(metrics.METRICS) <= set(aligned)
    assert aligned["icp_scale"] == pytest.approx(1.25, rel=0.02)
    assert aligned["CD_h"] < 0.06 and aligned["CD_o"] < 0.06  # cm^2, sampling noise of 5k points only
    assert aligned["FS_h@5"] > 0.95 and aligned["FS_o@10"] > 0.95
    assert raw["CD_h"] > 10 * aligned["CD_h"] and raw["CD_o"] > 10 * aligned["CD_o"]
    assert aligned["E_h"] == pytest.approx(1.0) and aligned["E_o"] == pytest.approx(2.0)
    assert math.isnan(raw["E_o"]) and raw["E_h"] == pytest.approx(1.0)
    assert not aligned["hand_missing"] and not aligned["object_missing"]


def test_evaluate_reconstruction_survives_missing_meshes():
    hand, obj = _scene()
    joints = np.zeros((21, 3))
    no_obj = metrics.evaluate_reconstruction(
        hand, trimesh.Trimesh(), hand, obj, joints, joints, None, np.zeros(3), n_points=N
    )
    assert no_obj["object_missing"] and not no_obj["hand_missing"]
    assert no_obj["CD_h"] < 0.06 and math.isnan(no_obj["CD_o"]) and math.isnan(no_obj["FS_o@5"])
    no_hand = metrics.evaluate_reconstruction(None, obj, hand, obj, joints, joints, None, np.zeros(3), n_points=N)
    assert no_hand["hand_missing"] and all(math.isnan(no_hand[k]) for k in ("CD_h", "CD_o", "FS_o@10"))
    assert no_hand["E_h"] == 0.0
    unaligned = metrics.evaluate_reconstruction(
        None, obj, hand, obj, None, joints, None, np.zeros(3), n_points=N, align=False
    )
    assert unaligned["CD_o"] < 0.06 and math.isnan(unaligned["CD_h"])


def test_summarize_ignores_nan_and_counts():
    rows = [
        {"CD_h": 1.0, "E_h": 2.0, "CD_o": math.nan},
        {"CD_h": 3.0, "E_h": 4.0, "CD_o": 5.0},
        {"CD_h": 8.0, "E_h": math.nan, "CD_o": math.nan},
    ]
    summary = metrics.summarize(rows)
    assert summary["CD_h"] == {"mean": 4.0, "median": 3.0, "count": 3, "total": 3}
    assert summary["E_h"]["mean"] == 3.0 and summary["E_h"]["count"] == 2
    assert summary["CD_o"]["median"] == 5.0 and summary["CD_o"]["count"] == 1
    assert math.isnan(summary["FS_h@1"]["mean"]) and summary["FS_h@1"]["count"] == 0
    table = metrics.markdown_table(summary)
    lines = table.splitlines()
    assert lines[0].startswith("| | CD_h (cm²) ↓ | FS_h@1 ↑")
    assert "| mean | 4.000 |" in table and "| median | 3.000 |" in table
    assert lines[-1].startswith("| n | 3/3 | 0/3")
    assert all(line.count("|") == lines[0].count("|") for line in lines)
