"""ObMan meta pickles and the gSDF ObMan tree, loaded through the package's datasets."""

from __future__ import annotations

import json
import pickle
import sys
import types

import cv2
import numpy as np
import pytest
import trimesh

from gsdf_ros.cli.prepare import main
from gsdf_ros.data.dataset import FrameDataset
from gsdf_ros.data.layout import (
    LayoutError,
    read_annotations,
    read_image,
    read_mesh,
    read_norm,
    read_sdf,
    read_split_ids,
)
from gsdf_ros.data.obman import (
    OBMAN_INTRINSICS,
    annotation_from_meta,
    link_gsdf_obman,
    read_meta,
    seal_faces,
)
from gsdf_ros.geometry.transforms import apply_transform

from .conftest import (
    OPENCV_FLIP,
    SHAPENET_PARTS,
    fake_mano,
    object_model,
    rot_x,
    rot_z,
    write_gsdf_obman_tree,
    write_obman_tree,
)


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


def _corners_of_bounds(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The 8 corners of [lo, hi], x slowest and z fastest."""
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def _rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """The rotation matrix of an axis-angle vector."""
    angle = np.linalg.norm(rotvec)
    k = np.array(rotvec) / angle
    skew = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * skew + (1 - np.cos(angle)) * skew @ skew


def test_global_rotation_from_verts_and_template(tmp_path, monkeypatch):
    """hand_poses[:3]: verts_3d (native frame) are the MANO template rotated by a known R, then shifted."""
    rng = np.random.default_rng(11)
    template = rng.normal(size=(778, 3)) * (0.05, 0.03, 0.012) + (0.1, -0.02, 0.03)  # anisotropic
    mano = {**fake_mano(), "v_template": template}
    rotvecs = {0: np.array([0.3, -0.5, 0.8]), 1: np.array([-2.0, 1.1, 0.4])}  # the second one beyond pi/2
    overrides = {}
    for i, w in rotvecs.items():
        verts_cv = template @ _rodrigues(w).T + (0.02 * i, 0.01, 0.5)
        overrides[i] = {"verts_3d": verts_cv @ OPENCV_FLIP}
    meta_dir, shapenet, metas = write_obman_tree(tmp_path, overrides=overrides)
    monkeypatch.setattr("gsdf_ros.cli.prepare.load_mano_pickle", lambda path: mano)
    out = tmp_path / "layout"
    assert main(["obman", "--meta-dir", str(meta_dir), "--out", str(out), "--shapenet-root", str(shapenet),
                 "--mano-pkl", str(tmp_path / "MANO_RIGHT.pkl"), "--no-meshes"]) == 0
    annotations = read_annotations(out / "train", "train")
    for i, w in rotvecs.items():
        np.testing.assert_allclose(annotations[i].hand_poses[:3], w, atol=1e-9)
        np.testing.assert_allclose(annotations[i].hand_poses[3:], metas[i]["hand_pose"], atol=0)


def test_meta_extras_pass_through(converted):
    """Every scalar meta value and pca_pose reaches the layout json as obman_<key>, and nothing else."""
    root, metas, _ = converted
    annotations = read_annotations(root, "train")
    for sample_id, meta in metas.items():
        expected = {
            "obman_side": "right",
            "obman_class_id": "02876657",
            "obman_sample_id": "abc123",
            "obman_obj_scale": 1.7,
            "obman_obj_path": meta["obj_path"],
            "obman_depth_min": 0.4,
            "obman_depth_max": 0.7,
            "obman_hand_depth_min": 0.45,
            "obman_hand_depth_max": 0.55,
            "obman_obj_depth_min": 0.5,
            "obman_obj_depth_max": 0.6,
            "obman_grasp_quality": 0.2,
            "obman_grasp_epsilon": 0.031,
            "obman_grasp_volume": 0.0125,
            "obman_pca_pose": np.linspace(0.1, 0.5, 45).tolist(),
        }
        assert meta["obj_path"].endswith("/02876657/abc123/models/model_normalized.pkl")
        assert annotations[sample_id].extra == expected


def test_meta_images_are_copied_byte_for_byte(converted):
    root, metas, _ = converted
    source = root.parent.parent / "obman" / "train" / "rgb"
    images = {}
    for sample_id in metas:
        name = f"{sample_id:08d}"
        original = (source / f"{name}.jpg").read_bytes()
        assert (root / "rgb" / f"{name}.jpg").read_bytes() == original
        decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(original, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        images[sample_id] = read_image(root, name)
        np.testing.assert_array_equal(images[sample_id], decoded)
    assert np.abs(images[0].astype(int) - images[1].astype(int)).mean() > 10  # each sample its own image


def _other_model() -> trimesh.Trimesh:
    """A ShapeNet stand-in unlike object_model(): other bounds, other vertex and face counts."""
    mesh = trimesh.creation.icosphere(subdivisions=1, radius=0.03)
    mesh.apply_scale((1.0, 0.5, 2.0))
    mesh.apply_translation((-0.01, 0.02, 0.005))
    return mesh


@pytest.mark.parametrize("as_list", [False, True])
def test_shapenet_pkl_model_is_used_when_the_meta_names_it(tmp_path, as_list):
    """obj_path names model_normalized.pkl: that pickle ({vertices, faces}, or a list of one) is the model,
    even with a different model_normalized.obj beside it; without the pickle the .obj is used."""
    meta_dir, shapenet, metas = write_obman_tree(tmp_path, ids=(5,))
    model = _other_model()
    data = {"vertices": np.asarray(model.vertices), "faces": np.asarray(model.faces)}
    pkl = shapenet.joinpath(*SHAPENET_PARTS).with_suffix(".pkl")
    pkl.write_bytes(pickle.dumps([data] if as_list else data, protocol=2))
    affine = metas[5]["affine_transform"]
    for expected_model, out in ((model, tmp_path / "a"), (object_model(), tmp_path / "b")):
        assert main(["obman", "--meta-dir", str(meta_dir), "--out", str(out), "--shapenet-root", str(shapenet)]) == 0
        ann = read_annotations(out / "train", "train")[5]
        lo, hi = expected_model.bounds
        expected = (_corners_of_bounds(lo, hi) @ affine[:3, :3].T + affine[:3, 3]) @ OPENCV_FLIP
        np.testing.assert_allclose(ann.obj_corners_3d, expected, atol=1e-9)
        mesh = read_mesh(out / "train", "obj", "00000005")
        np.testing.assert_allclose(mesh.vertices, (expected_model.vertices @ affine[:3, :3].T + affine[:3, 3])
                                   @ OPENCV_FLIP, atol=1e-12)
        np.testing.assert_array_equal(mesh.faces, expected_model.faces)
        pkl.unlink(missing_ok=True)  # the second pass: only the .obj is left


def test_anisotropic_scale_gives_rest_corners_of_the_stretched_model(tmp_path):
    """affine = R·S with S symmetric, not diagonal: the rest frame holds S·v, the transform is [R | t]."""
    q = rot_z(0.7) @ rot_x(-0.4)
    stretch = q @ np.diag([1.3, 0.6, 2.2]) @ q.T
    rotation = rot_x(0.9) @ rot_z(-1.2)
    affine = np.eye(4)
    affine[:3, :3], affine[:3, 3] = rotation @ stretch, (0.04, 0.02, -0.6)
    meta_dir, shapenet, _ = write_obman_tree(tmp_path, ids=(6,), overrides={6: {"affine_transform": affine}})
    out = tmp_path / "layout"
    assert main(["obman", "--meta-dir", str(meta_dir), "--out", str(out), "--shapenet-root", str(shapenet),
                 "--no-meshes"]) == 0
    ann = read_annotations(out / "train", "train")[6]
    stretched = object_model().vertices @ stretch  # S symmetric: (S v)^T = v^T S
    rest = _corners_of_bounds(stretched.min(axis=0), stretched.max(axis=0))
    np.testing.assert_allclose(ann.obj_rest_corners_3d, rest, atol=1e-12)
    expected_transform = np.eye(4)
    expected_transform[:3, :3] = OPENCV_FLIP @ rotation
    expected_transform[:3, 3] = OPENCV_FLIP @ affine[:3, 3]
    np.testing.assert_allclose(ann.obj_transform, expected_transform, atol=1e-12)
    np.testing.assert_allclose(ann.obj_corners_3d, (rest @ rotation.T + affine[:3, 3]) @ OPENCV_FLIP, atol=1e-12)
    np.testing.assert_allclose(ann.obj_center_3d, OPENCV_FLIP @ affine[:3, 3], atol=1e-12)


def test_meta_shapes_are_checked(tmp_path):
    meta_dir, _, metas = write_obman_tree(tmp_path, ids=(8,))
    for key, bad in (("coords_3d", np.zeros((20, 3))), ("verts_3d", np.zeros((777, 3))), ("hand_pose", np.zeros(48)),
                     ("affine_transform", np.eye(3))):
        path = meta_dir / "00000008.pkl"
        path.write_bytes(pickle.dumps({**metas[8], key: bad}, protocol=2))
        with pytest.raises(LayoutError, match=f"00000008.pkl: meta {key} must have shape"):
            read_meta(path)


def _json_entries(path):
    return json.loads(path.read_text())


def test_gsdf_tree_annotation_arrays_and_id_fallbacks(tmp_path):
    """The json object arrays, bbox and hand poses reach the layout unchanged; an entry without 'id'
    takes its image_id, an image without 'file_name' the 8-digit id."""
    written = write_gsdf_obman_tree(tmp_path / "obman")
    source = tmp_path / "obman" / "obman_train.json"
    document = _json_entries(source)
    del document["annotations"][1]["id"]  # id 7
    del document["images"][1]["file_name"]
    source.write_text(json.dumps(document))
    out = tmp_path / "layout"
    assert main(["obman-gsdf", "--gsdf-root", str(tmp_path / "obman"), "--split", "train", "--out", str(out)]) == 0
    annotations = read_annotations(out / "train", "train")
    assert sorted(annotations) == [2, 7]
    for sample_id, w in written.items():
        ann, entry = annotations[sample_id], w["entry"]
        assert ann.file_name == f"{sample_id:08d}"
        for name in ("obj_center_3d", "obj_corners_3d", "bbox", "hand_poses", "obj_transform", "obj_rest_corners_3d",
                     "hand_joints_3d", "sdf_offset"):
            np.testing.assert_array_equal(getattr(ann, name), np.asarray(entry[name], np.float64), err_msg=name)
        assert ann.sdf_scale == entry["sdf_scale"][0]
        # the fixture's arrays are consistent and far from the defaults
        np.testing.assert_allclose(apply_transform(ann.obj_transform, ann.obj_rest_corners_3d), ann.obj_corners_3d,
                                   atol=1e-12)
        assert not np.allclose(ann.bbox, [0, 0, 256, 256]) and np.abs(ann.hand_poses).max() > 0.1
    assert read_split_ids(out / "train", "train") == [2, 7]


def test_gsdf_tree_object_sdf_norm_image_and_meshes(tmp_path):
    """Through the linked folders: sdf_obj rows (own SDF = object), norm files, rgb and both meshes."""
    written = write_gsdf_obman_tree(tmp_path / "obman")
    out = tmp_path / "layout"
    assert main(["obman-gsdf", "--gsdf-root", str(tmp_path / "obman"), "--split", "train", "--out", str(out)]) == 0
    root = out / "train"
    for folder in ("rgb", "sdf_hand", "sdf_obj", "norm", "mesh_hand", "mesh_obj"):
        assert (root / folder).is_symlink(), folder
    s = 7.0
    data = FrameDataset(root, "train", recon_scale=s, input_size=256, num_points=400, subset="train_87k")
    for index, sample_id in enumerate(data.ids):
        w, name = written[sample_id], f"{sample_id:08d}"
        stored = read_sdf(root, "obj", name).arrays()
        for key, value in w["sdf"]["obj"].items():
            np.testing.assert_array_equal(stored[key], value, err_msg=key)
        offset, scale = read_norm(root, name)
        np.testing.assert_array_equal(offset, w["offset"].astype(np.float64))
        assert scale == float(w["scale"][0])
        wrist = np.asarray(w["entry"]["hand_joints_3d"][0])
        expected = []
        for side in ("pos", "neg"):
            rows = w["sdf"]["obj"][side].astype(np.float64)
            other = w["sdf"]["obj"][f"{side}_other"][:, 0].astype(np.float64)
            q = ((rows[:, :3] / scale - offset) - wrist) * s / 2
            # columns: q, hand_sdf (= the other mesh's SDF), obj_sdf (= the file's own SDF)
            expected.append(np.column_stack([q, other / scale * s / 2, rows[:, 3] / scale * s / 2]))
        expected = np.concatenate(expected)
        item = data[index]
        obj = ~item["from_hand"].numpy()
        got = np.column_stack([item["points"].numpy(), item["hand_sdf"].numpy(), item["obj_sdf"].numpy()])[obj]
        assert obj.sum() == 200
        error = np.abs(got[:, None, :] - expected[None, :, :]).max(axis=2).min(axis=1)
        assert error.max() < 1e-5
        original = (tmp_path / "obman" / "data" / "train" / "rgb" / f"{name}.jpg").read_bytes()
        decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(original, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        image = read_image(root, name)
        np.testing.assert_array_equal(image, decoded)
        assert np.abs(image.astype(int) - w["image"].astype(int)).mean() < 3  # RGB order, this sample's file
        hand, obj_mesh = data.gt_meshes(index)
        for kind, mesh in (("hand", hand), ("obj", obj_mesh)):
            vertices, faces = w["meshes"][kind]
            np.testing.assert_array_equal(mesh.vertices, vertices, err_msg=kind)
            np.testing.assert_array_equal(mesh.faces, faces, err_msg=kind)
