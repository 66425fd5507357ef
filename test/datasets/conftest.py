"""Builders of tiny ObMan, gSDF-ObMan and DexYCB trees in their published formats."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Mapping, Optional

import cv2
import numpy as np
import trimesh
import yaml

from gsdf_ros.data.dexycb import YCB_NAMES

OPENCV_FLIP = np.diag([1.0, -1.0, -1.0])
SHAPENET_PARTS = ("02876657", "abc123", "models", "model_normalized.obj")


def write_jpg(path: Path, width: int, height: int, seed: int) -> np.ndarray:
    """A random-ish RGB jpg; returns the RGB array written."""
    rng = np.random.default_rng(seed)
    image = (rng.uniform(0, 255, size=(height // 8, width // 8, 3))).astype(np.uint8)
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return image


def object_model() -> trimesh.Trimesh:
    """A small box whose bounds are not centred on the model origin."""
    box = trimesh.creation.box(extents=(0.04, 0.06, 0.08))
    box.apply_translation((0.01, -0.005, 0.02))
    return box


def rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def fake_hand(centre_cv: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(21 joints, 778 vertices) in the OpenCV frame around `centre_cv`."""
    rng = np.random.default_rng(seed)
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.04)
    verts = np.zeros((778, 3))
    verts[: len(sphere.vertices)] = sphere.vertices
    verts[len(sphere.vertices):] = sphere.vertices[: 778 - len(sphere.vertices)] * 0.5
    joints = centre_cv + rng.uniform(-0.05, 0.05, size=(21, 3))
    return joints, verts + centre_cv


def fake_mano() -> dict:
    """A MANO-like dictionary: a 778-vertex template and an icosphere with one vertex's fan removed."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.04)
    faces = np.asarray(sphere.faces)
    open_faces = faces[~np.any(faces == 0, axis=1)]
    template = np.zeros((778, 3))
    template[: len(sphere.vertices)] = sphere.vertices
    return {"v_template": template, "f": open_faces, "hands_components": np.eye(45), "hands_mean": np.full(45, 0.1)}


def obman_affine(seed: int) -> np.ndarray:
    """A native-frame ObMan affine: rotation times an isotropic scale, object in front of the camera."""
    affine = np.eye(4)
    affine[:3, :3] = 1.7 * rot_z(0.3 + seed) @ rot_x(0.5)
    affine[:3, 3] = OPENCV_FLIP @ np.array([0.03, -0.02, 0.55])
    return affine


def obman_meta(sample_id: int) -> dict:
    """A meta dictionary with ObMan's keys, 3D values in ObMan's native frame."""
    joints_cv, verts_cv = fake_hand(np.array([0.0, 0.01, 0.5]), sample_id)
    return {
        "coords_3d": joints_cv @ OPENCV_FLIP,
        "verts_3d": verts_cv @ OPENCV_FLIP,
        "coords_2d": np.zeros((21, 2)),
        "affine_transform": obman_affine(sample_id),
        "hand_pose": np.linspace(-0.2, 0.2, 45),
        "pca_pose": np.linspace(0.1, 0.5, 45),
        "side": "right",
        "class_id": "02876657",
        "sample_id": "abc123",
        "obj_scale": 1.7,
        "obj_path": "/far/away/ShapeNetCore.v2/" + "/".join(SHAPENET_PARTS[:-1]) + "/model_normalized.pkl",
        "depth_min": 0.4, "depth_max": 0.7, "hand_depth_min": 0.45, "hand_depth_max": 0.55,
        "obj_depth_min": 0.5, "obj_depth_max": 0.6, "grasp_quality": 0.2,
        "grasp_epsilon": np.float64(0.031), "grasp_volume": 0.0125,
    }


def write_obman_tree(
    root: Path, ids: tuple[int, ...] = (0, 1), overrides: Optional[Mapping[int, dict]] = None
) -> tuple[Path, Path, dict[int, dict]]:
    """(meta dir, shapenet root, metas by id) of a raw ObMan train split; `overrides` replaces meta
    values by id."""
    shapenet = root / "shapenet"
    model_file = shapenet.joinpath(*SHAPENET_PARTS)
    model_file.parent.mkdir(parents=True)
    object_model().export(str(model_file))
    metas = {}
    for i in ids:
        meta = {**obman_meta(i), **(overrides or {}).get(i, {})}
        path = root / "obman" / "train" / "meta" / f"{i:08d}.pkl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(meta, protocol=2))
        write_jpg(root / "obman" / "train" / "rgb" / f"{i:08d}.jpg", 256, 256, i)
        metas[i] = meta
    return root / "obman" / "train" / "meta", shapenet, metas


def sdf_rows(rng: np.random.Generator, n: int, sign: float) -> np.ndarray:
    xyz = rng.uniform(-0.6, 0.6, size=(n, 3))
    return np.concatenate([xyz, sign * rng.uniform(0.001, 0.2, size=(n, 1))], axis=1).astype(np.float32)


def obj_text(vertices: np.ndarray, faces: np.ndarray) -> str:
    """A Wavefront OBJ with exact (repr) vertex coordinates and 1-based triangles."""
    lines = [f"v {x!r} {y!r} {z!r}" for x, y, z in np.asarray(vertices, np.float64).tolist()]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces, np.int64).tolist()]
    return "\n".join(lines) + "\n"


def write_gsdf_obman_tree(root: Path, ids: tuple[int, ...] = (2, 7), n: int = 50) -> dict[int, dict]:
    """A gSDF ObMan tree (json without intrinsics, split list, rgb, sdf, norm npz and obj meshes);
    returns, by id, the json entry, the arrays, the RGB image and the meshes written. The object
    arrays are consistent (corners = transform · rest corners) and differ from every default."""
    rng = np.random.default_rng(5)
    extra_rng = np.random.default_rng(55)
    data = root / "data" / "train"
    images, annotations, written = [], [], {}
    for i in ids:
        name = f"{i:08d}"
        image = write_jpg(data / "rgb" / f"{name}.jpg", 256, 256, i)
        joints = np.array([0.01, 0.02, 0.5]) + rng.uniform(-0.04, 0.04, size=(21, 3))
        offset = rng.uniform(-0.05, 0.05, size=3).astype(np.float32) - np.float32([0, 0, 0.5])
        scale = np.float32([4.5 + i / 10])
        arrays = {}
        for kind in ("hand", "obj"):
            arrays[kind] = {"pos": sdf_rows(rng, n, 1.0), "neg": sdf_rows(rng, n, -1.0),
                            "pos_other": rng.uniform(-0.3, 0.3, (n, 1)).astype(np.float32),
                            "neg_other": rng.uniform(-0.3, 0.3, (n, 1)).astype(np.float32)}
            (data / f"sdf_{kind}").mkdir(parents=True, exist_ok=True)
            np.savez(data / f"sdf_{kind}" / f"{name}.npz", **arrays[kind])
        (data / "norm").mkdir(parents=True, exist_ok=True)
        np.savez(data / "norm" / f"{name}.npz", offset=offset, scale=scale)
        centre = joints.mean(axis=0)
        signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float64)
        rest = signs * (0.02, 0.03, 0.015) + (0.004, -0.002, 0.001)
        transform = np.eye(4)
        transform[:3, :3], transform[:3, 3] = rot_z(0.2 + i) @ rot_x(0.4), centre
        corners = rest @ transform[:3, :3].T + centre
        entry = {"id": i, "image_id": i, "bbox": [8.0 + i, 5.5, 230.0, 231.0], "hand_joints_3d": joints.tolist(),
                 "hand_poses": (extra_rng.normal(size=48) * 0.3).tolist(), "obj_transform": transform.tolist(),
                 "obj_center_3d": centre.tolist(), "obj_corners_3d": corners.tolist(),
                 "obj_rest_corners_3d": rest.tolist(), "sdf_scale": scale.tolist(), "sdf_offset": offset.tolist()}
        meshes = {}
        for kind, radius in (("hand", 0.03), ("obj", 0.02 + i / 1000)):
            sphere = trimesh.creation.icosphere(subdivisions=1, radius=radius)
            vertices = np.asarray(sphere.vertices) + joints[0] + extra_rng.uniform(-0.01, 0.01, size=3)
            meshes[kind] = (vertices, np.asarray(sphere.faces))
            (data / f"mesh_{kind}").mkdir(parents=True, exist_ok=True)
            (data / f"mesh_{kind}" / f"{name}.obj").write_text(obj_text(vertices, sphere.faces))
        images.append({"id": i, "file_name": name})
        annotations.append(entry)
        written[i] = {"entry": entry, "sdf": arrays, "offset": offset, "scale": scale, "image": image,
                      "meshes": meshes}
    (root / "obman_train.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    (root / "splits").mkdir()
    (root / "splits" / "train_87k.json").write_text(json.dumps([f"{i:08d}" for i in ids]))
    return written


DEX_SUBJECT = "20200709-subject-01"
DEX_SEQUENCE = "20200709_141754"
DEX_SERIAL = "836212060125"
DEX_K = {"fx": 615.0, "fy": 614.0, "ppx": 318.5, "ppy": 242.0}
DEX_GRASPED = 2
"""The grasped object's DexYCB id (its model folder is YCB_NAMES[1])."""


def dex_labels(seed: int, valid: bool = True) -> dict[str, np.ndarray]:
    """A labels npz dictionary: the hand and object well off the optical axis (an off-centre box)."""
    rng = np.random.default_rng(seed)
    centre = np.array([0.16, -0.09, 0.55])
    joints = centre + rng.uniform(-0.04, 0.04, size=(21, 3))
    pose_y = np.zeros((2, 3, 4))
    pose_y[0, :, :3], pose_y[0, :, 3] = np.eye(3), (0.0, 0.0, 1.0)
    pose_y[1, :, :3], pose_y[1, :, 3] = rot_z(0.4) @ rot_x(-0.3), centre + (0.03, 0.02, 0.01)
    k = np.array([[DEX_K["fx"], 0, DEX_K["ppx"]], [0, DEX_K["fy"], DEX_K["ppy"]], [0, 0, 1.0]])
    uv = (joints @ k.T)[:, :2] / joints[:, 2:]
    joint_3d, joint_2d = joints[None], uv[None]
    if not valid:
        joint_3d, joint_2d = -np.ones((1, 21, 3)), -np.ones((1, 21, 2))
    return {"seg": np.zeros((480, 640), np.uint8), "pose_y": pose_y.astype(np.float32),
            "pose_m": np.linspace(-0.5, 0.5, 51)[None].astype(np.float32),
            "joint_3d": joint_3d.astype(np.float32), "joint_2d": joint_2d.astype(np.float32)}


def dex_model(ycb_id: int) -> trimesh.Trimesh:
    """The fixture's YCB model of a DexYCB id: object_model() for DEX_GRASPED, a box of another size
    and offset for every other id, so that a wrong id -> folder mapping changes the bounds."""
    if ycb_id == DEX_GRASPED:
        return object_model()
    box = trimesh.creation.box(extents=(0.1 + ycb_id / 100, 0.02, 0.05))
    box.apply_translation((-0.03, 0.01 * ycb_id, 0.004))
    return box


def write_dex_sequence(
    root: Path, sequence: str, meta: dict, labels: Mapping[int, dict], betas: Optional[np.ndarray] = None,
    image_seed: int = 0,
) -> None:
    """One sequence of subject 01 (one camera, DEX_SERIAL): meta.yml, label files and colour images of
    `labels` (frame -> label dictionary), the sequence's MANO calibration and the models it names."""
    seq = root / DEX_SUBJECT / sequence
    (seq / DEX_SERIAL).mkdir(parents=True)
    (seq / "meta.yml").write_text(yaml.safe_dump(meta))
    for frame, lab in labels.items():
        np.savez(seq / DEX_SERIAL / f"labels_{frame:06d}.npz", **lab)
        write_jpg(seq / DEX_SERIAL / f"color_{frame:06d}.jpg", 640, 480, image_seed + frame)
    intr = root / "calibration" / "intrinsics" / f"{DEX_SERIAL}_640x480.yml"
    if not intr.is_file():
        intr.parent.mkdir(parents=True, exist_ok=True)
        intr.write_text(yaml.safe_dump({"color": DEX_K, "depth": DEX_K}))
    if betas is not None:
        mano = root / "calibration" / f"mano_{meta['mano_calib'][0]}" / "mano.yml"
        mano.parent.mkdir(parents=True)
        mano.write_text(yaml.safe_dump({"betas": np.asarray(betas).tolist()}))
    for ycb_id in meta["ycb_ids"]:
        model = root / "models" / YCB_NAMES[ycb_id - 1] / "textured_simple.obj"
        if not model.is_file():
            model.parent.mkdir(parents=True)
            dex_model(ycb_id).export(str(model))


def write_dexycb_tree(root: Path) -> dict[int, dict[str, np.ndarray]]:
    """One sequence, one camera, frames 0..9: frames 0 and 5 are kept by a step of 5, frame 5 has no hand."""
    meta = {"serials": [DEX_SERIAL], "num_frames": 10, "ycb_ids": [1, DEX_GRASPED], "ycb_grasp_ind": 1,
            "mano_sides": ["right"], "mano_calib": ["20200709-subject-01_right"], "extrinsics": "20200702_151821"}
    labels = {frame: dex_labels(frame, valid=frame != 5) for frame in range(10)}
    write_dex_sequence(root, DEX_SEQUENCE, meta, labels, betas=np.linspace(-1, 1, 10))
    return labels


DEX_LEFT_SEQUENCE = "20200709_152000"
"""A second sequence of subject 01 (s0 index 1, train): a left hand grasping object id DEX_LEFT_GRASPED."""
DEX_LEFT_GRASPED = 1
DEX_LEFT_BETAS = np.linspace(0.5, -0.4, 10)


def write_dexycb_left_sequence(root: Path) -> dict[int, dict[str, np.ndarray]]:
    """The left-hand sequence: num_frames 7 but label files for frames 0..11 (those from 7 on must be
    ignored), every frame with a hand; the grasped object is ycb_ids[0]."""
    meta = {"serials": [DEX_SERIAL], "num_frames": 7, "ycb_ids": [DEX_LEFT_GRASPED, DEX_GRASPED], "ycb_grasp_ind": 0,
            "mano_sides": ["left"], "mano_calib": ["20200709-subject-01_left"], "extrinsics": "20200702_151821"}
    labels = {}
    for frame in range(12):
        lab = dex_labels(100 + frame)
        pose_y = lab["pose_y"].astype(np.float64)
        pose_y[0, :, :3] = rot_x(0.7 + frame / 10) @ rot_z(-0.5)
        pose_y[0, :, 3] = lab["joint_3d"][0, 0] + (-0.02, 0.03, 0.02)
        lab["pose_y"] = pose_y.astype(np.float32)
        lab["pose_m"] = np.random.default_rng(200 + frame).uniform(-1, 1, size=(1, 51)).astype(np.float32)
        labels[frame] = lab
    write_dex_sequence(root, DEX_LEFT_SEQUENCE, meta, labels, betas=DEX_LEFT_BETAS, image_seed=1000)
    return labels


def fake_mano_pca(seed: int = 9) -> dict:
    """The MANO pickle keys the DexYCB conversion reads: hands_components (45, 45), not symmetric, and
    hands_mean (45,)."""
    rng = np.random.default_rng(seed)
    return {"hands_components": rng.normal(size=(45, 45)), "hands_mean": rng.uniform(-0.3, 0.3, size=45),
            "f": np.zeros((1, 3), np.int64), "v_template": np.zeros((778, 3))}
