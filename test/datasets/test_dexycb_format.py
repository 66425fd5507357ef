"""DexYCB toolkit tree to the layout: annotations, the s0 rule, and exact off-centre crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gsdf_ros.cli.prepare import main
from gsdf_ros.data.dataset import FrameDataset
from gsdf_ros.data.dexycb import (
    RecordedSequence,
    crop_image,
    list_sequences,
    read_labels,
    s0_split_of,
    split_sequences,
)
from gsdf_ros.data.layout import LayoutError, read_annotations, read_clips

from .conftest import DEX_GRASPED, DEX_K, object_model, write_dexycb_tree

NAME0 = "1_20200709_141754_836212060125_0"


@pytest.fixture
def converted(tmp_path):
    labels = write_dexycb_tree(tmp_path / "dex")
    out = tmp_path / "layout"
    assert main(["dexycb", "--root", str(tmp_path / "dex"), "--split", "s0", "--out", str(out)]) == 0
    return out, labels


def _box_by_hand(points2d: np.ndarray) -> np.ndarray:
    lo, hi = points2d.min(axis=0) - 10, points2d.max(axis=0) + 10
    side = (hi - lo).max() * 1.25
    centre = (lo + hi) / 2
    return np.array([centre[0] - side / 2, centre[1] - side / 2, side, side])


def test_annotation_fields(converted):
    out, labels = converted
    annotations = read_annotations(out, "train_s0")
    assert [a.file_name for a in annotations.values()] == [NAME0]  # frame 5 has no hand: skipped
    ann = annotations[0]
    lab = labels[0]
    np.testing.assert_allclose(ann.hand_joints_3d, lab["joint_3d"][0], atol=1e-7)
    pose = lab["pose_y"][1].astype(np.float64)
    lo, hi = object_model().bounds
    np.testing.assert_allclose(ann.obj_center_3d, pose[:, :3] @ ((lo + hi) / 2) + pose[:, 3], atol=1e-9)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    np.testing.assert_allclose(ann.obj_corners_3d, corners @ pose[:, :3].T + pose[:, 3], atol=1e-9)
    k = ann.intrinsics
    assert (k.fx, k.fy, k.cx, k.cy, k.width, k.height) == (615.0, 614.0, 318.5, 242.0, 640, 480)
    uv = np.concatenate([lab["joint_2d"][0], k.project(ann.obj_corners_3d)])
    np.testing.assert_allclose(ann.bbox, _box_by_hand(uv), atol=1e-3)
    assert ann.ycb_id == DEX_GRASPED
    np.testing.assert_allclose(ann.hand_trans, lab["pose_m"][0, 48:51], atol=1e-7)
    np.testing.assert_allclose(ann.hand_shapes, np.linspace(-1, 1, 10))
    assert read_annotations(out, "test_s0") == {}
    assert read_clips(out, "train_s0") == [[0]]


def test_off_centre_crop_lands_joints_on_their_pixels(converted):
    out, _ = converted
    ann = read_annotations(out, "train_s0")[0]
    x0, y0, side, _ = ann.bbox
    box_centre = np.array([x0 + side / 2, y0 + side / 2])
    assert np.linalg.norm(box_centre - [DEX_K["ppx"], DEX_K["ppy"]]) > 150  # well off the optical axis
    v, u = np.mgrid[0:480, 0:640].astype(np.float32)
    ramp = np.dstack([u, v, np.zeros_like(u)])
    crop_pixels, crop = crop_image(ramp, ann)
    uv_crop = crop.intrinsics.project(crop.to_virtual(ann.hand_joints_3d)).astype(np.float32)
    shown = cv2.remap(crop_pixels, uv_crop[:, :1], uv_crop[:, 1:], cv2.INTER_LINEAR)[:, 0, :2]
    uv_source = ann.intrinsics.project(ann.hand_joints_3d)
    assert np.abs(shown - uv_source).max() < 0.5
    data = FrameDataset(out, "train_s0", recon_scale=6.2, input_size=256, num_points=0, crop="box")
    item = data[0]
    np.testing.assert_allclose(item["K"].numpy(), crop.intrinsics.matrix(), rtol=1e-6)
    np.testing.assert_allclose(item["joints"].numpy(), crop.to_virtual(ann.hand_joints_3d), atol=1e-6)


def test_s0_rule_on_a_synthetic_list():
    parts = {(subject, i): s0_split_of(subject, i) for subject in range(1, 11) for i in range(100)}
    values = list(parts.values())
    assert values.count("train") == 800 and values.count("test") == 160 and values.count(None) == 40
    assert parts[(1, 4)] is None and parts[(2, 99)] is None and parts[(3, 4)] == "test"
    assert parts[(10, 9)] == "test" and parts[(1, 3)] == "train" and parts[(7, 5)] == "train"


def test_s0_sequences_from_a_tree(tmp_path):
    for subject, date in ((1, "20200709"), (3, "20200820")):
        for k in range(6):
            (tmp_path / f"{date}-subject-{subject:02d}" / f"{date}_1{k}0000").mkdir(parents=True)
    (tmp_path / "calibration").mkdir()
    sequences = list_sequences(tmp_path)
    assert len(sequences) == 12 and all(isinstance(s, RecordedSequence) for s in sequences)
    test = split_sequences(sequences, "test")
    assert [(s.subject, s.name) for s in test] == [(3, "20200820_140000")]
    train = split_sequences(sequences, "train")
    assert len(train) == 10 and all(s.index % 5 != 4 for s in train)


def test_errors_name_the_file(tmp_path):
    write_dexycb_tree(tmp_path)
    labels = tmp_path / "20200709-subject-01" / "20200709_141754" / "836212060125" / "labels_000000.npz"
    np.savez(labels, pose_y=np.zeros((2, 3, 4)), joint_3d=np.zeros((1, 21, 3)))
    assert main(["dexycb", "--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    with pytest.raises(LayoutError, match="labels_000000.npz.*pose_m"):
        read_labels(labels)
    with pytest.raises(FileNotFoundError, match="subject"):
        list_sequences(tmp_path / "calibration")
