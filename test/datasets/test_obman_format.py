"""ObMan meta pickles and the gSDF ObMan tree, loaded through the package's datasets."""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest
import trimesh

from gsdf_ros.cli.prepare import main
from gsdf_ros.data.dataset import FrameDataset
from gsdf_ros.data.layout import LayoutError, read_annotations, read_mesh
from gsdf_ros.data.obman import (
    OBMAN_INTRINSICS,
    annotation_from_meta,
    link_gsdf_obman,
    read_meta,
    seal_faces,
)

from .conftest import OPENCV_FLIP, fake_mano, object_model, write_gsdf_obman_tree, write_obman_tree


@pytest.fixture
def converted(tmp_path, monkeypatch):
    meta_dir, shapenet, metas = write_obman_tree(tmp_path)
    mano = fake_mano()
    monkeypatch.setattr("gsdf_ros.cli.prepare.load_mano_pickle", lambda path: mano)
    out = tmp_path / "layout"
    rc = main(["obman", "--meta-dir", str(meta_dir), "--out", str(out), "--shapenet-root", str(shapenet),
               "--mano-pkl", str(tmp_path / "MANO_RIGHT.pkl")])
    assert rc == 0
    return out / "train", metas, mano


def test_joints_intrinsics_and_object_from_meta(converted):
    root, metas, _ = converted
    data = FrameDataset(root, "train", recon_scale=7.0, input_size=256, num_points=0, crop="full")
    assert len(data) == 2
    for index, sample_id in enumerate(data.ids):
        meta = metas[sample_id]
        item = data[index]
        np.testing.assert_allclose(item["joints"].numpy(), meta["coords_3d"] * [1, -1, -1], atol=1e-6)
        np.testing.assert_allclose(item["K"].numpy(), [[480, 0, 128], [0, 480, 128], [0, 0, 1]], atol=1e-6)
        affine = meta["affine_transform"]
        np.testing.assert_allclose(item["obj_center"].numpy(), affine[:3, 3] * [1, -1, -1], atol=1e-6)
        ann = data.record(index)
        lo, hi = object_model().bounds
        model_corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        expected = (model_corners @ affine[:3, :3].T + affine[:3, 3]) @ OPENCV_FLIP
        np.testing.assert_allclose(ann.obj_corners_3d, expected, atol=1e-9)
        rotation = ann.obj_transform[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)
        np.testing.assert_allclose(rotation, OPENCV_FLIP @ affine[:3, :3] / 1.7, atol=1e-9)
        np.testing.assert_allclose(ann.bbox, [0, 0, 256, 256])
        assert ann.intrinsics == OBMAN_INTRINSICS
        assert ann.extra["obman_side"] == "right" and ann.extra["obman_class_id"] == "02876657"
        np.testing.assert_allclose(ann.hand_poses[3:], meta["hand_pose"])


def test_meshes_in_camera_frame_and_sealed(converted):
    root, metas, mano = converted
    hand = read_mesh(root, "hand", "00000001")
    np.testing.assert_allclose(hand.vertices, metas[1]["verts_3d"] @ OPENCV_FLIP, atol=1e-12)
    assert len(hand.faces) > len(mano["f"])
    used = np.unique(hand.faces)
    assert trimesh.Trimesh(hand.vertices, hand.faces).is_watertight and used.max() < 642
    obj = read_mesh(root, "obj", "00000001")
    affine = metas[1]["affine_transform"]
    expected = (object_model().vertices @ affine[:3, :3].T + affine[:3, 3]) @ OPENCV_FLIP
    np.testing.assert_allclose(obj.vertices, expected, atol=1e-12)


def test_seal_faces_closes_one_hole_consistently():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    faces = np.asarray(sphere.faces)
    open_faces = faces[~np.any(faces == 5, axis=1)]
    sealed = trimesh.Trimesh(sphere.vertices, seal_faces(open_faces), process=False)
    assert sealed.is_watertight and sealed.is_winding_consistent and sealed.volume > 0
    assert len(sealed.faces) == len(faces) - 2


def test_chumpy_values_are_read_without_chumpy(tmp_path, monkeypatch):
    _, shapenet, metas = write_obman_tree(tmp_path, ids=(3,))
    module = types.ModuleType("chumpy.ch")

    class Ch:
        pass

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    module.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", module)
    value = Ch()
    value.__dict__ = {"x": metas[3]["hand_pose"]}
    path = tmp_path / "chumpy_meta.pkl"
    path.write_bytes(pickle.dumps({**metas[3], "hand_pose": value}, protocol=2))
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    meta = read_meta(path)
    ann = annotation_from_meta(meta, 3, object_model().vertices, fake_mano()["v_template"])
    np.testing.assert_allclose(ann.hand_poses[3:], metas[3]["hand_pose"])


def test_errors_name_the_file(tmp_path):
    meta_dir, shapenet, metas = write_obman_tree(tmp_path, ids=(4,))
    broken = meta_dir / "00000004.pkl"
    broken.write_bytes(pickle.dumps({k: v for k, v in metas[4].items() if k != "affine_transform"}))
    with pytest.raises(LayoutError, match="00000004.pkl.*affine_transform"):
        read_meta(broken)
    rc = main(["obman", "--meta-dir", str(meta_dir), "--out", str(tmp_path / "o")])
    assert rc == 2
    broken.write_bytes(pickle.dumps(metas[4]))
    rc = main(["obman", "--meta-dir", str(meta_dir), "--out", str(tmp_path / "o"), "--shapenet-root",
               str(tmp_path / "nowhere"), "--no-meshes"])
    assert rc == 2


def test_gsdf_tree_sdf_points_and_values(tmp_path):
    """§5.5: points = ((x/scale − offset) − wrist)·s/2 and hand_sdf = sdf/scale·s/2."""
    written = write_gsdf_obman_tree(tmp_path / "obman")
    out = tmp_path / "layout"
    assert main(["obman-gsdf", "--gsdf-root", str(tmp_path / "obman"), "--split", "train", "--out", str(out)]) == 0
    annotations = read_annotations(out / "train", "train")
    assert annotations[2].intrinsics == OBMAN_INTRINSICS
    s = 7.0
    data = FrameDataset(out / "train", "train", recon_scale=s, input_size=256, num_points=400, subset="train_87k")
    for index, sample_id in enumerate(data.ids):
        w = written[sample_id]
        wrist = np.asarray(w["entry"]["hand_joints_3d"][0])
        scale, offset = float(w["scale"][0]), w["offset"].astype(np.float64)
        expected = []
        for side in ("pos", "neg"):
            rows = w["sdf"]["hand"][side].astype(np.float64)
            other = w["sdf"]["hand"][f"{side}_other"][:, 0].astype(np.float64)
            q = ((rows[:, :3] / scale - offset) - wrist) * s / 2
            expected.append(np.column_stack([q, rows[:, 3] / scale * s / 2, other / scale * s / 2]))
        expected = np.concatenate(expected)
        item = data[index]
        hand = item["from_hand"].numpy()
        got = np.column_stack([item["points"].numpy(), item["hand_sdf"].numpy(), item["obj_sdf"].numpy()])[hand]
        assert hand.sum() == 200
        error = np.abs(got[:, None, :] - expected[None, :, :]).max(axis=2).min(axis=1)
        assert error.max() < 1e-5
        np.testing.assert_allclose(item["joints"].numpy(), w["entry"]["hand_joints_3d"], atol=1e-6)


def test_gsdf_tree_missing_data_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="data/train"):
        link_gsdf_obman(tmp_path, tmp_path / "out", "train")
