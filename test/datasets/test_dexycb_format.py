"""DexYCB toolkit tree to the layout: annotations, the s0 rule, and exact off-centre crops."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest

from gsdf_ros.cli.prepare import main
from gsdf_ros.data.dataset import FrameDataset
from gsdf_ros.data.dexycb import (
    RecordedSequence,
    crop_image,
    list_sequences,
    model_path,
    read_labels,
    s0_split_of,
    split_sequences,
)
from gsdf_ros.data.layout import LayoutError, read_annotations, read_clips, read_image, read_mesh

from .conftest import (
    DEX_GRASPED,
    DEX_K,
    DEX_LEFT_BETAS,
    DEX_LEFT_GRASPED,
    DEX_LEFT_SEQUENCE,
    DEX_SEQUENCE,
    DEX_SUBJECT,
    dex_model,
    fake_mano_pca,
    object_model,
    write_dexycb_left_sequence,
    write_dexycb_tree,
)

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


SERIAL = "836212060125"
LEFT = "1_20200709_152000_836212060125"
"""File-name prefix of the left-hand sequence's frames."""

# The DexYCB toolkit's _YCB_CLASSES (dex_ycb_toolkit/dex_ycb.py), written out by hand.
TOOLKIT_YCB_CLASSES = {
    1: "002_master_chef_can", 2: "003_cracker_box", 3: "004_sugar_box", 4: "005_tomato_soup_can",
    5: "006_mustard_bottle", 6: "007_tuna_fish_can", 7: "008_pudding_box", 8: "009_gelatin_box",
    9: "010_potted_meat_can", 10: "011_banana", 11: "019_pitcher_base", 12: "021_bleach_cleanser",
    13: "024_bowl", 14: "025_mug", 15: "035_power_drill", 16: "036_wood_block", 17: "037_scissors",
    18: "040_large_marker", 19: "051_large_clamp", 20: "052_extra_large_clamp", 21: "061_foam_brick",
}


def _corners(mesh) -> np.ndarray:
    lo, hi = mesh.bounds
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def _convert(tmp_path, *options: str):
    out = tmp_path / "layout"
    assert main(["dexycb", "--root", str(tmp_path / "dex"), "--split", "s0", "--out", str(out), *options]) == 0
    return out, read_annotations(out, "train_s0")


@pytest.fixture
def two_sides(tmp_path):
    """The base tree (right hand, grasps id 2) and the left-hand sequence (grasps id 1)."""
    right = write_dexycb_tree(tmp_path / "dex")
    left = write_dexycb_left_sequence(tmp_path / "dex")
    return right, left


def test_mano_sides_filter_and_extra(tmp_path, two_sides):
    """meta.yml mano_sides[0] selects sequences by --sides and is kept as the extra mano_side."""
    _, annotations = _convert(tmp_path)
    assert [a.file_name for a in annotations.values()] == [NAME0]
    assert annotations[0].extra["mano_side"] == "right"
    _, annotations = _convert(tmp_path, "--sides", "left")
    assert [a.file_name for a in annotations.values()] == [f"{LEFT}_0", f"{LEFT}_5"]
    assert {a.extra["mano_side"] for a in annotations.values()} == {"left"}
    np.testing.assert_allclose(annotations[0].hand_shapes, DEX_LEFT_BETAS)  # the left calibration's betas
    out, annotations = _convert(tmp_path, "--sides", "right", "left")
    sides = {a.file_name: a.extra["mano_side"] for a in annotations.values()}
    assert sides == {NAME0: "right", f"{LEFT}_0": "left", f"{LEFT}_5": "left"}
    assert {a.file_name: a.ycb_id for a in annotations.values()} == {NAME0: DEX_GRASPED, f"{LEFT}_0": DEX_LEFT_GRASPED,
                                                                   f"{LEFT}_5": DEX_LEFT_GRASPED}
    assert read_clips(out, "train_s0") == [[0], [1, 2]]


def test_frames_follow_num_frames_and_the_step(tmp_path, two_sides):
    """Frames 0, step, 2·step ... below num_frames (7), though label files exist up to frame 11."""
    _, annotations = _convert(tmp_path, "--sides", "left", "--frame-step", "3")
    assert [a.file_name for a in annotations.values()] == [f"{LEFT}_0", f"{LEFT}_3", f"{LEFT}_6"]
    _, annotations = _convert(tmp_path, "--sides", "left", "--frame-step", "1")
    assert [a.file_name for a in annotations.values()] == [f"{LEFT}_{f}" for f in range(7)]


def test_object_transform_rest_corners_and_model_folder(tmp_path, two_sides):
    """obj_transform is pose_y[ycb_grasp_ind] as 4x4; the rest corners are the bounds of the grasped
    id's model (the fixture's two models differ)."""
    right, left = two_sides
    assert not np.allclose(_corners(dex_model(1)), _corners(dex_model(2)))
    _, annotations = _convert(tmp_path, "--sides", "right", "left")
    by_name = {a.file_name: a for a in annotations.values()}
    for name, lab, index, ycb_id in ((NAME0, right[0], 1, DEX_GRASPED), (f"{LEFT}_5", left[5], 0, DEX_LEFT_GRASPED)):
        ann = by_name[name]
        pose = lab["pose_y"][index].astype(np.float64)
        expected = np.eye(4)
        expected[:3, :] = pose
        np.testing.assert_array_equal(ann.obj_transform, expected)
        rest = _corners(dex_model(ycb_id))
        np.testing.assert_allclose(ann.obj_rest_corners_3d, rest, atol=1e-12)
        np.testing.assert_allclose(ann.obj_corners_3d, rest @ pose[:, :3].T + pose[:, 3], atol=1e-9)
        np.testing.assert_allclose(ann.obj_center_3d, pose[:, :3] @ rest.mean(axis=0) + pose[:, 3], atol=1e-9)


def test_ycb_model_folders_follow_the_toolkit_names(tmp_path):
    for ycb_id, name in TOOLKIT_YCB_CLASSES.items():
        assert model_path(tmp_path, ycb_id) == tmp_path / "models" / name / "textured_simple.obj"
    for bad in (0, 22):
        with pytest.raises(LayoutError, match=f"unknown YCB id {bad}"):
            model_path(tmp_path, bad)


def test_pca_pose_and_hand_poses_from_a_mano_pickle(tmp_path, two_sides):
    """extra mano_pose_pca = pose_m[:48]; hand_poses = [pose_m[:3], hands_mean + pose_m[3:48]·hands_components]."""
    right, left = two_sides
    manos = {"right": fake_mano_pca(), "left": fake_mano_pca(seed=10)}
    for side, mano in manos.items():
        (tmp_path / f"MANO_{side.upper()}.pkl").write_bytes(pickle.dumps(mano, protocol=2))
    _, annotations = _convert(tmp_path, "--sides", "right", "left", "--mano-pkl", str(tmp_path / "MANO_RIGHT.pkl"),
                              "--mano-pkl-left", str(tmp_path / "MANO_LEFT.pkl"))
    by_name = {a.file_name: a for a in annotations.values()}
    for name, lab, side in ((NAME0, right[0], "right"), (f"{LEFT}_0", left[0], "left"), (f"{LEFT}_5", left[5], "left")):
        pose_m = lab["pose_m"][0].astype(np.float64)
        mano = manos[side]
        ann = by_name[name]
        np.testing.assert_array_equal(ann.extra["mano_pose_pca"], pose_m[:48])
        fingers = [mano["hands_mean"][j] + sum(pose_m[3 + c] * mano["hands_components"][c, j] for c in range(45))
                   for j in range(45)]
        np.testing.assert_allclose(ann.hand_poses, np.concatenate([pose_m[:3], fingers]), atol=1e-9)
        np.testing.assert_allclose(ann.hand_trans, pose_m[48:51], atol=0)
    _, annotations = _convert(tmp_path)
    assert annotations[0].hand_poses is None  # no --mano-pkl: no hand poses


def test_left_hands_need_their_own_mano_model(tmp_path, two_sides, capsys):
    (tmp_path / "MANO_RIGHT.pkl").write_bytes(pickle.dumps(fake_mano_pca(), protocol=2))
    out = tmp_path / "layout"
    code = main(["dexycb", "--root", str(tmp_path / "dex"), "--split", "s0", "--out", str(out),
                 "--sides", "right", "left", "--mano-pkl", str(tmp_path / "MANO_RIGHT.pkl")])
    assert code != 0 and "--mano-pkl-left" in capsys.readouterr().err
    assert not (out / "train_s0.json").exists()


def test_images_are_copied_and_object_meshes_posed(tmp_path, two_sides):
    right, left = two_sides
    out, annotations = _convert(tmp_path, "--sides", "right", "left", "--meshes")
    frames = {NAME0: (DEX_SEQUENCE, 0, right[0], 1, DEX_GRASPED), f"{LEFT}_5": (DEX_LEFT_SEQUENCE, 5, left[5], 0,
                                                                                DEX_LEFT_GRASPED)}
    for name, (sequence, frame, lab, index, ycb_id) in frames.items():
        source = tmp_path / "dex" / DEX_SUBJECT / sequence / SERIAL / f"color_{frame:06d}.jpg"
        assert (out / "rgb" / f"{name}.jpg").read_bytes() == source.read_bytes()
        decoded = cv2.cvtColor(cv2.imread(str(source)), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(read_image(out, name), decoded)
        pose = lab["pose_y"][index].astype(np.float64)
        model = dex_model(ycb_id)
        mesh = read_mesh(out, "obj", name)
        np.testing.assert_allclose(mesh.vertices, model.vertices @ pose[:, :3].T + pose[:, 3], atol=1e-12)
        np.testing.assert_array_equal(mesh.faces, model.faces)
    written = sorted(p.name for p in (out / "mesh_obj").iterdir())
    assert written == sorted(f"{a.file_name}.obj" for a in annotations.values())
    bare = tmp_path / "bare"
    assert main(["dexycb", "--root", str(tmp_path / "dex"), "--out", str(bare)]) == 0
    assert not (bare / "mesh_obj").exists()  # meshes only with --meshes
