"""ObMan: meta pickles to gSDF-layout annotations, and the released gSDF ObMan tree as a layout.

ObMan stores every 3D value in its native (Blender) camera frame, y up and z backwards; the
OpenCV optical frame is reached with diag(1, −1, −1). Per sample (``<split>/meta/<id>.pkl``):

- ``coords_3d`` (21, 3) joints, ``verts_3d`` (778, 3) MANO vertices: multiplied by diag(1, −1, −1).
- ``affine_transform`` (4, 4) maps the ShapeNet model into the native camera frame, object scale
  included. Its 3x3 block is split by the polar decomposition A = R·S (R orthonormal, S symmetric):
  the object transform is [R | t] with rows 1 and 2 negated, ``obj_center_3d`` is its translation
  (the model origin), the rest frame holds S·v, and the corners are those of the rest-frame
  axis-aligned bounds mapped by the transform.
- ``hand_pose`` (45) finger axis-angles, ``pca_pose``, ``side``, ``class_id``, ``sample_id``,
  ``obj_scale``, ``obj_path`` and the depth ranges are kept as extra annotation values.

Intrinsics are fixed: fx = fy = 480, cx = cy = 128, 256x256, and the box is the full image.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

import cv2
import numpy as np
import scipy.linalg
import torch
import trimesh

from gsdf_ros.data.layout import (
    Annotation,
    LayoutError,
    LayoutWriter,
    SampleRecord,
    annotation_from_json,
    annotation_path,
    annotation_to_json,
    format_id,
    json_bytes,
    read_json,
    split_path,
)
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.sampling import aabb_corners
from gsdf_ros.geometry.transforms import apply_transform, matrix_to_axis_angle
from gsdf_ros.hand.ik import kabsch_rotation
from gsdf_ros.hand.joints import NUM_JOINTS
from gsdf_ros.hand.mano import MANO_NUM_VERTICES, ChumpyStandIn, as_array

OBMAN_INTRINSICS = Intrinsics(480.0, 480.0, 128.0, 128.0, 256, 256)
OBMAN_TO_OPENCV = np.diag([1.0, -1.0, -1.0])
"""ObMan's native camera frame to the OpenCV optical frame."""
REQUIRED_META_KEYS = ("coords_3d", "affine_transform")
EXTRA_META_KEYS = (
    "side", "class_id", "sample_id", "obj_scale", "obj_path", "depth_min", "depth_max",
    "hand_depth_min", "hand_depth_max", "obj_depth_min", "obj_depth_max",
    "grasp_quality", "grasp_epsilon", "grasp_volume",
)
"""Scalar meta values carried into the annotation (as ``obman_<key>``) when present."""
GSDF_SAMPLE_FOLDERS = ("rgb", "sdf_hand", "sdf_obj", "mesh_hand", "mesh_obj", "norm")
"""Per-sample folders of ``data/<split>/`` in the gSDF ObMan tree, named as the layout names them."""


# ---------------------------------------------------------------- pickles


class _NoChumpyUnpickler(pickle.Unpickler):
    """Reads Python 2 pickles (latin1) and replaces chumpy classes by stand-ins."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return ChumpyStandIn
        return super().find_class(module, name)


def load_pickle(path: Path | str) -> Any:
    """Unpickle a file without chumpy; errors name the file."""
    try:
        with open(path, "rb") as fh:
            return _NoChumpyUnpickler(fh, encoding="latin1").load()
    except FileNotFoundError:
        raise FileNotFoundError(f"missing pickle: {path}") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise LayoutError(f"{path}: unreadable pickle ({exc})") from None


def read_meta(path: Path | str) -> dict[str, Any]:
    """One ObMan meta dictionary, checked for the keys and shapes the conversion needs."""
    meta = load_pickle(path)
    if not isinstance(meta, dict):
        raise LayoutError(f"{path}: expected a meta dictionary, got {type(meta).__name__}")
    missing = [k for k in REQUIRED_META_KEYS if k not in meta]
    if missing:
        raise LayoutError(f"{path}: meta lacks {missing}")
    for key, shape in (("coords_3d", (NUM_JOINTS, 3)), ("affine_transform", (4, 4)),
                       ("verts_3d", (MANO_NUM_VERTICES, 3)), ("hand_pose", (45,))):
        if key in meta and as_array(meta[key]).shape != shape:
            raise LayoutError(f"{path}: meta {key} must have shape {shape}, got {as_array(meta[key]).shape}")
    return meta


# ---------------------------------------------------------------- geometry


def to_opencv(points: np.ndarray) -> np.ndarray:
    """Native ObMan camera points (N, 3) in the OpenCV frame."""
    return np.asarray(points, np.float64) @ OBMAN_TO_OPENCV


def object_pose(affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(4x4 rigid object transform in the OpenCV frame, 3x3 symmetric scale S) of an ObMan affine."""
    affine = np.asarray(affine, np.float64)
    rotation, stretch = scipy.linalg.polar(affine[:3, :3], side="right")
    if np.linalg.det(rotation) < 0:
        raise ValueError("affine_transform contains a reflection")
    transform = np.eye(4)
    transform[:3, :3], transform[:3, 3] = rotation, affine[:3, 3]
    transform[1:3, :] *= -1.0
    return transform, stretch


def global_rotation(template_vertices: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Axis-angle (3,) of the rotation best aligning the centred template to the centred vertices."""
    t = torch.as_tensor(template_vertices - template_vertices.mean(axis=0), dtype=torch.float64)
    p = torch.as_tensor(vertices - vertices.mean(axis=0), dtype=torch.float64)
    rotation, _ = kabsch_rotation(t, p[None])
    return np.asarray(matrix_to_axis_angle(rotation[0].numpy()))


def _scalar_extras(meta: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready copies of the scalar meta values of EXTRA_META_KEYS."""
    extra: dict[str, Any] = {}
    for key in EXTRA_META_KEYS:
        if key not in meta or meta[key] is None:
            continue
        value = meta[key]
        if isinstance(value, bytes):
            value = value.decode("latin1")
        if isinstance(value, str):
            extra[f"obman_{key}"] = value
        else:
            number = np.asarray(as_array(value)).reshape(-1)
            if number.size == 1 and np.isfinite(number[0]):
                extra[f"obman_{key}"] = float(number[0])
    return extra


def annotation_from_meta(
    meta: Mapping[str, Any],
    sample_id: int,
    object_vertices: np.ndarray,
    template_vertices: Optional[np.ndarray] = None,
) -> Annotation:
    """The camera-frame annotation of one meta dictionary.

    `object_vertices` are the ShapeNet model's vertices as the affine transform expects them;
    `template_vertices` (MANO ``v_template``) enables ``hand_poses`` (global rotation by Procrustes
    between the template and ``verts_3d``, then the 45 finger values of ``hand_pose``).
    """
    joints = to_opencv(as_array(meta["coords_3d"]))
    transform, stretch = object_pose(as_array(meta["affine_transform"]))
    rest_corners = aabb_corners(np.asarray(object_vertices, np.float64) @ stretch.T)
    extra = _scalar_extras(meta)
    if "pca_pose" in meta:
        extra["obman_pca_pose"] = as_array(meta["pca_pose"]).reshape(-1).tolist()
    hand_poses = None
    if template_vertices is not None and "verts_3d" in meta and "hand_pose" in meta:
        rot = global_rotation(np.asarray(template_vertices), to_opencv(as_array(meta["verts_3d"])))
        hand_poses = np.concatenate([rot, as_array(meta["hand_pose"]).reshape(-1)])
    return Annotation(
        id=sample_id,
        intrinsics=OBMAN_INTRINSICS,
        hand_joints_3d=joints,
        obj_center_3d=transform[:3, 3],
        obj_corners_3d=apply_transform(transform, rest_corners),
        obj_transform=transform,
        obj_rest_corners_3d=rest_corners,
        hand_poses=hand_poses,
        extra=extra,
    )


def object_mesh_camera(meta: Mapping[str, Any], mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The ShapeNet mesh in the OpenCV camera frame (full affine, scale included)."""
    affine = as_array(meta["affine_transform"])
    vertices = to_opencv(apply_transform(affine, np.asarray(mesh.vertices, np.float64)))
    return trimesh.Trimesh(vertices, np.asarray(mesh.faces), process=False)


def seal_faces(faces: np.ndarray) -> np.ndarray:
    """Faces with every boundary loop closed by a fan from its first vertex, wound like the mesh."""
    faces = np.asarray(faces, np.int64)
    edges = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    undirected = np.sort(edges, axis=1)
    _, inverse, counts = np.unique(undirected, axis=0, return_inverse=True, return_counts=True)
    boundary = edges[counts[inverse.reshape(-1)] == 1]
    following = {int(a): int(b) for a, b in boundary}
    caps = []
    while following:
        start = next(iter(following))
        loop = [start]
        while following.get(loop[-1], start) != start:
            loop.append(following.pop(loop[-1]))
        following.pop(loop[-1], None)
        caps += [(loop[0], loop[i + 1], loop[i]) for i in range(1, len(loop) - 1)]
    return np.concatenate([faces, np.asarray(caps, np.int64).reshape(-1, 3)])


def hand_mesh_camera(meta: Mapping[str, Any], sealed_faces: np.ndarray) -> trimesh.Trimesh:
    """The MANO hand of one sample in the OpenCV camera frame."""
    if "verts_3d" not in meta:
        raise LayoutError("meta lacks 'verts_3d' (needed for the hand mesh)")
    return trimesh.Trimesh(to_opencv(as_array(meta["verts_3d"])), sealed_faces, process=False)


# ---------------------------------------------------------------- ShapeNet models


def resolve_object_path(obj_path: str, shapenet_root: Optional[Path]) -> Path:
    """The local ShapeNet model file of a meta ``obj_path`` (its last four parts under `shapenet_root`)."""
    original = Path(obj_path)
    path = original if shapenet_root is None else Path(shapenet_root).joinpath(*original.parts[-4:])
    if path.is_file():
        return path
    alternative = path.with_suffix(".obj" if path.suffix == ".pkl" else ".pkl")
    if alternative.is_file():
        return alternative
    raise FileNotFoundError(f"missing object model {path} (from obj_path {obj_path!r})")


def load_object_mesh(path: Path) -> trimesh.Trimesh:
    """A ShapeNet model from .obj, or from a pickle of {'vertices', 'faces'} (or a list of such)."""
    if path.suffix == ".pkl":
        data = load_pickle(path)
        data = data[0] if isinstance(data, (list, tuple)) and data else data
        if not isinstance(data, dict) or not {"vertices", "faces"} <= data.keys():
            raise LayoutError(f"{path}: expected a dictionary with 'vertices' and 'faces'")
        return trimesh.Trimesh(as_array(data["vertices"]), np.asarray(data["faces"], np.int64), process=False)
    try:
        mesh = trimesh.load(str(path), force="mesh", process=False)
    except Exception as exc:  # trimesh raises many kinds for bad files
        raise LayoutError(f"{path}: unreadable mesh ({exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.vertices) == 0:
        raise LayoutError(f"{path}: no vertices")
    return mesh


# ---------------------------------------------------------------- raw ObMan -> layout


@dataclass(frozen=True)
class ObmanSource:
    """Where one raw ObMan split lives and what converts it."""

    meta_dir: Path
    shapenet_root: Optional[Path] = None
    mano_model: Optional[Mapping[str, Any]] = None
    """A MANO_RIGHT dictionary (``load_mano_pickle``): enables hand meshes and ``hand_poses``."""
    write_meshes: bool = True

    @property
    def rgb_dir(self) -> Path:
        return self.meta_dir.parent / "rgb"


def meta_files(meta_dir: Path) -> list[Path]:
    """The meta pickles of one split, sorted by id."""
    if not meta_dir.is_dir():
        raise FileNotFoundError(f"missing ObMan meta folder: {meta_dir}")
    files = sorted(p for p in meta_dir.glob("*.pkl") if p.stem.isdigit())
    if not files:
        raise LayoutError(f"{meta_dir}: no <id>.pkl meta files")
    return files


def read_obman_image(path: Path) -> np.ndarray:
    """A 256x256 RGB image; errors name the file."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"missing or unreadable image: {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class ObmanConverter:
    """Turns meta files of one split into layout records, caching object models."""

    def __init__(self, source: ObmanSource) -> None:
        self.source = source
        self._models: dict[Path, trimesh.Trimesh] = {}
        model = source.mano_model
        self._template = as_array(model["v_template"]) if model is not None else None
        self._faces = seal_faces(np.asarray(model["f"], np.int64)) if model is not None else None

    def object_mesh(self, meta: Mapping[str, Any], where: Path) -> trimesh.Trimesh:
        if "obj_path" not in meta:
            raise LayoutError(f"{where}: meta lacks 'obj_path' (needed for the object corners)")
        obj_path = meta["obj_path"]
        obj_path = obj_path.decode("latin1") if isinstance(obj_path, bytes) else str(obj_path)
        path = resolve_object_path(obj_path, self.source.shapenet_root)
        if path not in self._models:
            self._models[path] = load_object_mesh(path)
        return self._models[path]

    def record(self, meta_file: Path) -> tuple[SampleRecord, Path]:
        """One sample's layout record and the path of its original image."""
        meta = read_meta(meta_file)
        mesh = self.object_mesh(meta, meta_file)
        ann = annotation_from_meta(meta, int(meta_file.stem), mesh.vertices, self._template)
        image_file = self.source.rgb_dir / f"{meta_file.stem}.jpg"
        meshes: dict[str, trimesh.Trimesh] = {}
        if self.source.write_meshes:
            meshes["mesh_obj"] = object_mesh_camera(meta, mesh)
            if self._faces is not None:
                meshes["mesh_hand"] = hand_mesh_camera(meta, self._faces)
        return SampleRecord(annotation=ann, image=read_obman_image(image_file), **meshes), image_file


def convert_obman(
    source: ObmanSource,
    out: Path,
    split: str,
    limit: Optional[int] = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Write one raw ObMan split as a layout split; images keep their original JPEG bytes."""
    files = meta_files(source.meta_dir)[:limit]
    converter = ObmanConverter(source)
    with LayoutWriter(out, split, image_format="jpg") as writer:
        for done, meta_file in enumerate(files, start=1):
            record, image_file = converter.record(meta_file)
            writer.add(record)
            shutil.copyfile(image_file, Path(out) / "rgb" / f"{record.annotation.file_name}.jpg")
            progress(done, len(files))
    return len(files)


# ---------------------------------------------------------------- the gSDF ObMan tree


def gsdf_entry_to_layout(image: Mapping[str, Any], entry: Mapping[str, Any], source: Path) -> Annotation:
    """One gSDF ObMan json entry (no intrinsics, no image size) as a layout annotation."""
    entry = {"fx": OBMAN_INTRINSICS.fx, "fy": OBMAN_INTRINSICS.fy, "cx": OBMAN_INTRINSICS.cx,
             "cy": OBMAN_INTRINSICS.cy, **entry}
    entry.setdefault("id", entry.get("image_id"))
    image = {"width": OBMAN_INTRINSICS.width, "height": OBMAN_INTRINSICS.height,
             "file_name": format_id(int(image["id"])), **image}
    return annotation_from_json(image, entry, source)


def _gsdf_document(path: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(images entry, annotations entry) pairs of a COCO-style gSDF json."""
    document = read_json(path, "gSDF annotation file")
    if not isinstance(document, dict) or not isinstance(document.get("images"), list) or not isinstance(
        document.get("annotations"), list
    ):
        raise LayoutError(f"{path}: expected an object with 'images' and 'annotations' lists")
    try:
        images = {int(im["id"]): im for im in document["images"]}
        for entry in document["annotations"]:
            yield images[int(entry["image_id"])], entry
    except (KeyError, TypeError, ValueError) as exc:
        raise LayoutError(f"{path}: malformed images / annotations entry ({exc!r})") from None


def _link(target: Path, link: Path) -> None:
    """A relative symlink at `link` to `target`, replacing an older link."""
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise FileExistsError(f"{link} exists and is not a link; remove it or choose another --out")
    link.symlink_to(os.path.relpath(target, link.parent))


def link_gsdf_obman(gsdf_root: Path, out: Path, split: str) -> int:
    """Present a released gSDF ObMan tree (``obman_<split>.json``, ``splits/``, ``data/<split>/``) as
    a layout root `out`: the annotation json gains intrinsics and image sizes, ``splits/<split>.json``
    lists every id, the gSDF split lists are copied, and the per-sample folders are symlinked.
    Returns the number of annotations."""
    gsdf_root, out = Path(gsdf_root), Path(out)
    source = gsdf_root / f"obman_{split}.json"
    data_dir = gsdf_root / "data" / split
    if not data_dir.is_dir():
        raise FileNotFoundError(f"missing gSDF ObMan data folder: {data_dir}")
    annotations = sorted((gsdf_entry_to_layout(im, e, source) for im, e in _gsdf_document(source)),
                         key=lambda a: a.id)
    pairs = [annotation_to_json(a) for a in annotations]
    document = {"info": {"layout": "gsdf", "source": str(source)},
                "images": [p[0] for p in pairs], "annotations": [p[1] for p in pairs]}
    annotation_path(out, split).parent.mkdir(parents=True, exist_ok=True)
    annotation_path(out, split).write_bytes(json_bytes(document))
    split_path(out, split).parent.mkdir(parents=True, exist_ok=True)
    split_path(out, split).write_bytes(json_bytes([a.id_str for a in annotations]))
    for listed in sorted((gsdf_root / "splits").glob("*.json")):
        if listed.name != f"{split}.json":
            (out / "splits" / listed.name).write_text(json.dumps(read_json(listed, "split list")))
    for folder in GSDF_SAMPLE_FOLDERS:
        if (data_dir / folder).is_dir():
            _link(data_dir / folder, out / folder)
    return len(annotations)

