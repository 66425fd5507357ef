"""The gSDF on-disk layout (ObMan style): writer and reader.

One root holds, for each split::

    <root>/<split>.json             COCO-style annotations: images [{id, file_name, width, height}],
                                    annotations [{id, image_id, bbox, hand_joints_3d, obj_center_3d,
                                    obj_corners_3d, fx, fy, cx, cy, ...}] (camera frame, metres)
    <root>/splits/<split>.json      the split's ids, zero-padded to 8 digits
    <root>/clips/<split>.json       optional: sequences, each an ordered list of 8-digit ids

and, per sample, files named by its ``file_name``::

    rgb/<name>.png | rgb/<name>.jpg
    sdf_hand/<name>.npz, sdf_obj/<name>.npz   pos / neg (N, 4) and pos_other / neg_other (N, 1),
                                              in the per-sample unit sphere
    norm/<name>.npz                           offset (3,) and scale (1,): P = x / scale - offset
    mesh_hand/<name>.obj, mesh_obj/<name>.obj  camera frame, metres

Everything is written deterministically (sorted keys, fixed zip dates, no timestamps): the same
records give the same bytes.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import cv2
import numpy as np
import trimesh

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.hand.joints import NUM_JOINTS

LAYOUT_VERSION = 1
ID_DIGITS = 8
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg")
"""Image extensions the reader looks for, in this order."""
SDF_KINDS: tuple[str, ...] = ("hand", "obj")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

_ARRAY_SHAPES: dict[str, tuple[int, ...]] = {
    "bbox": (4,),
    "hand_joints_3d": (NUM_JOINTS, 3),
    "obj_center_3d": (3,),
    "obj_corners_3d": (8, 3),
    "hand_poses": (48,),
    "obj_transform": (4, 4),
    "obj_rest_corners_3d": (8, 3),
    "sdf_offset": (3,),
    "hand_trans": (3,),
    "hand_shapes": (10,),
}
_REQUIRED_ARRAYS = ("hand_joints_3d", "obj_center_3d", "obj_corners_3d")
_OPTIONAL_ARRAYS = (
    "bbox", "hand_poses", "obj_transform", "obj_rest_corners_3d", "sdf_offset", "hand_trans", "hand_shapes"
)
_INTRINSIC_KEYS = ("fx", "fy", "cx", "cy")
_RESERVED_KEYS = frozenset(_ARRAY_SHAPES) | frozenset(_INTRINSIC_KEYS) | {"id", "image_id", "sdf_scale", "ycb_id"}


class LayoutError(ValueError):
    """A layout file exists but its content is malformed."""


def format_id(sample_id: int) -> str:
    """The zero-padded 8-digit form of an id, as split and clip lists store it."""
    if not isinstance(sample_id, (int, np.integer)) or not 0 <= int(sample_id) < 10**ID_DIGITS:
        raise ValueError(f"sample id must be an integer in [0, {10**ID_DIGITS}), got {sample_id!r}")
    return f"{int(sample_id):0{ID_DIGITS}d}"


def _check_file_name(name: str) -> str:
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"file_name must be a non-empty name without path separators, got {name!r}")
    return name


def _as_array(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A finite float64 copy of `value` with exactly `shape`."""
    a = np.array(value, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return a


@dataclass(frozen=True, eq=False)
class Annotation:
    """One sample's entry of ``<split>.json``: camera-frame metres, OpenCV optical axes."""

    id: int
    intrinsics: Intrinsics
    hand_joints_3d: np.ndarray
    obj_center_3d: np.ndarray
    obj_corners_3d: np.ndarray
    file_name: str = ""
    """Defaults to the 8-digit id."""
    bbox: Optional[np.ndarray] = None
    """[x0, y0, w, h] in source pixels; defaults to the full image."""
    hand_poses: Optional[np.ndarray] = None
    obj_transform: Optional[np.ndarray] = None
    obj_rest_corners_3d: Optional[np.ndarray] = None
    sdf_offset: Optional[np.ndarray] = None
    sdf_scale: Optional[float] = None
    hand_trans: Optional[np.ndarray] = None
    hand_shapes: Optional[np.ndarray] = None
    ycb_id: Optional[int] = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further JSON values stored at the top level of the annotation (e.g. a class name)."""

    def __post_init__(self) -> None:
        format_id(self.id)
        object.__setattr__(self, "id", int(self.id))
        object.__setattr__(self, "file_name", _check_file_name(self.file_name or format_id(self.id)))
        if self.bbox is None:
            full = (0.0, 0.0, self.intrinsics.width, self.intrinsics.height)
            object.__setattr__(self, "bbox", np.array(full, dtype=np.float64))
        for name in _REQUIRED_ARRAYS + _OPTIONAL_ARRAYS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _as_array(value, _ARRAY_SHAPES[name], name))
        if self.sdf_scale is not None:
            scale = float(np.asarray(self.sdf_scale, dtype=np.float64).reshape(-1)[0])
            if not (math.isfinite(scale) and scale > 0):
                raise ValueError(f"sdf_scale must be positive and finite, got {self.sdf_scale!r}")
            object.__setattr__(self, "sdf_scale", scale)
        if (self.sdf_scale is None) != (self.sdf_offset is None):
            raise ValueError("sdf_scale and sdf_offset come together (both or neither)")
        clash = _RESERVED_KEYS.intersection(self.extra)
        if clash:
            raise ValueError(f"extra keys {sorted(clash)} clash with annotation fields")
        object.__setattr__(self, "extra", dict(self.extra))

    @property
    def id_str(self) -> str:
        return format_id(self.id)

    @property
    def has_sdf_norm(self) -> bool:
        return self.sdf_scale is not None


@dataclass(frozen=True, eq=False)
class SdfSamples:
    """One SDF file: rows [x, y, z, sdf_own] split by sign, and the SDF of the same points to the other mesh."""

    pos: np.ndarray
    neg: np.ndarray
    pos_other: np.ndarray
    neg_other: np.ndarray

    def __post_init__(self) -> None:
        for side in ("pos", "neg"):
            rows = np.asarray(getattr(self, side), dtype=np.float32)
            other = np.asarray(getattr(self, f"{side}_other"), dtype=np.float32)
            if other.ndim == 1:
                other = other[:, None]
            if rows.ndim != 2 or rows.shape[1] != 4:
                raise ValueError(f"{side} must have shape (N, 4), got {rows.shape}")
            if other.shape != (rows.shape[0], 1):
                raise ValueError(f"{side}_other must have shape ({rows.shape[0]}, 1), got {other.shape}")
            object.__setattr__(self, side, rows)
            object.__setattr__(self, f"{side}_other", other)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"pos": self.pos, "neg": self.neg, "pos_other": self.pos_other, "neg_other": self.neg_other}


@dataclass(frozen=True, eq=False)
class SampleRecord:
    """Everything the writer stores for one sample; files that are None are not written."""

    annotation: Annotation
    image: np.ndarray
    """(H, W, 3) uint8 RGB, H and W as in the intrinsics."""
    sdf_hand: Optional[SdfSamples] = None
    sdf_obj: Optional[SdfSamples] = None
    mesh_hand: Optional[trimesh.Trimesh] = None
    mesh_obj: Optional[trimesh.Trimesh] = None

    def __post_init__(self) -> None:
        k = self.annotation.intrinsics
        image = np.asarray(self.image)
        if image.dtype != np.uint8 or image.shape != (k.height, k.width, 3):
            raise ValueError(
                f"image of sample {self.annotation.file_name} must be uint8 ({k.height}, {k.width}, 3), "
                f"got {image.dtype} {image.shape}"
            )
        if (self.sdf_hand is not None or self.sdf_obj is not None) and not self.annotation.has_sdf_norm:
            raise ValueError(f"sample {self.annotation.file_name} has SDF files but no sdf_scale / sdf_offset")


# ---------------------------------------------------------------- paths


def annotation_path(root: Path | str, split: str) -> Path:
    return Path(root) / f"{split}.json"


def split_path(root: Path | str, split: str) -> Path:
    return Path(root) / "splits" / f"{split}.json"


def clips_path(root: Path | str, split: str) -> Path:
    return Path(root) / "clips" / f"{split}.json"


def _kind_path(root: Path | str, folder: str, kind: str, file_name: str, ext: str) -> Path:
    """<root>/<folder>_<kind>/<name><ext> for kind 'hand' or 'obj'."""
    if kind not in SDF_KINDS:
        raise ValueError(f"kind must be one of {SDF_KINDS}, got {kind!r}")
    return Path(root) / f"{folder}_{kind}" / f"{file_name}{ext}"


def sdf_path(root: Path | str, kind: str, file_name: str) -> Path:
    return _kind_path(root, "sdf", kind, file_name, ".npz")


def mesh_path(root: Path | str, kind: str, file_name: str) -> Path:
    return _kind_path(root, "mesh", kind, file_name, ".obj")


def norm_path(root: Path | str, file_name: str) -> Path:
    return Path(root) / "norm" / f"{file_name}.npz"


def image_path(root: Path | str, file_name: str) -> Path:
    """The sample's image, the first of rgb/<name>.png and rgb/<name>.jpg that exists."""
    candidates = [Path(root) / "rgb" / f"{file_name}{ext}" for ext in IMAGE_EXTENSIONS]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"no image for sample {file_name!r}: none of {', '.join(map(str, candidates))}")


# ---------------------------------------------------------------- deterministic file writers


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary name so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def json_bytes(value: Any) -> bytes:
    """Canonical JSON: sorted keys, compact separators, shortest round-trip floats, trailing newline."""
    return (json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n").encode()


def save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """An uncompressed .npz readable by numpy.load, with sorted members and a fixed zip date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arrays[key]), allow_pickle=False)
    os.replace(tmp, path)


def obj_bytes(mesh: trimesh.Trimesh) -> bytes:
    """A Wavefront OBJ with vertices (shortest exact float64 text) and 1-based triangles, nothing else."""
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"mesh must have (V, 3) vertices and (F, 3) faces, got {vertices.shape}, {faces.shape}")
    lines = [f"v {x!r} {y!r} {z!r}" for x, y, z in vertices.tolist()]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces.tolist()]
    return ("\n".join(lines) + "\n").encode()


def image_bytes(image: np.ndarray, ext: str, jpeg_quality: int = 95) -> bytes:
    """Encode an RGB uint8 image as .png or .jpg."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"could not encode an image as {ext}")
    return buf.tobytes()


# ---------------------------------------------------------------- annotation <-> JSON


def annotation_to_json(ann: Annotation) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (images entry, annotations entry) pair of one annotation."""
    k = ann.intrinsics
    image = {"id": ann.id, "file_name": ann.file_name, "width": k.width, "height": k.height}
    entry: dict[str, Any] = dict(ann.extra)
    entry.update({"id": ann.id, "image_id": ann.id, "fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy})
    for name in _REQUIRED_ARRAYS + _OPTIONAL_ARRAYS:
        value = getattr(ann, name)
        if value is not None:
            entry[name] = value.tolist()
    if ann.sdf_scale is not None:
        entry["sdf_scale"] = [ann.sdf_scale]
    if ann.ycb_id is not None:
        entry["ycb_id"] = int(ann.ycb_id)
    return image, entry


def annotation_from_json(image: Mapping[str, Any], entry: Mapping[str, Any], source: Path) -> Annotation:
    """Parse one images/annotations pair; any problem raises LayoutError naming `source`."""
    where = f"{source}: annotation id {entry.get('id', '?')}"
    try:
        for key in ("id",) + _INTRINSIC_KEYS + _REQUIRED_ARRAYS:
            if key not in entry:
                raise KeyError(key)
        for key in ("file_name", "width", "height"):
            if key not in image:
                raise KeyError(f"images[].{key}")
        k = Intrinsics(*(float(entry[key]) for key in _INTRINSIC_KEYS), int(image["width"]), int(image["height"]))
        arrays = {name: entry[name] for name in _REQUIRED_ARRAYS + _OPTIONAL_ARRAYS if name in entry}
        extra = {key: value for key, value in entry.items() if key not in _RESERVED_KEYS}
        return Annotation(
            id=int(entry["id"]),
            intrinsics=k,
            file_name=str(image["file_name"]),
            sdf_scale=entry.get("sdf_scale"),
            ycb_id=entry.get("ycb_id"),
            extra=extra,
            **arrays,
        )
    except KeyError as exc:
        raise LayoutError(f"{where} lacks {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise LayoutError(f"{where} is malformed: {exc}") from None


# ---------------------------------------------------------------- writer


class LayoutWriter:
    """Streams samples of one split into a root; :meth:`close` writes the split's JSON files.

    Per-sample files are written by :meth:`add` as they come; ids must be unique within the root.
    """

    def __init__(self, root: Path | str, split: str, image_format: str = "png", jpeg_quality: int = 95) -> None:
        if image_format not in ("png", "jpg"):
            raise ValueError(f"image_format must be 'png' or 'jpg', got {image_format!r}")
        _check_file_name(split)
        self.root = Path(root)
        self.split = split
        self._ext = f".{image_format}"
        self._jpeg_quality = jpeg_quality
        self._entries: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._names: set[str] = set()
        self._clips: list[list[int]] = []
        self._closed = False

    def __enter__(self) -> LayoutWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()

    def add(self, record: SampleRecord) -> None:
        """Write one sample's files and keep its annotation for :meth:`close`."""
        ann = record.annotation
        if self._closed:
            raise RuntimeError("the writer is closed")
        if ann.id in self._entries or ann.file_name in self._names:
            raise ValueError(f"duplicate sample id {ann.id} or file_name {ann.file_name!r}")
        other = IMAGE_EXTENSIONS[1 - IMAGE_EXTENSIONS.index(self._ext)]
        (self.root / "rgb" / f"{ann.file_name}{other}").unlink(missing_ok=True)
        encoded = image_bytes(record.image, self._ext, self._jpeg_quality)
        write_atomic(self.root / "rgb" / f"{ann.file_name}{self._ext}", encoded)
        for kind, samples in (("hand", record.sdf_hand), ("obj", record.sdf_obj)):
            if samples is not None:
                save_npz(sdf_path(self.root, kind, ann.file_name), samples.arrays())
        if ann.has_sdf_norm:
            norm = {"offset": ann.sdf_offset.astype(np.float32), "scale": np.array([ann.sdf_scale], np.float32)}
            save_npz(norm_path(self.root, ann.file_name), norm)
        for kind, mesh in (("hand", record.mesh_hand), ("obj", record.mesh_obj)):
            if mesh is not None:
                write_atomic(mesh_path(self.root, kind, ann.file_name), obj_bytes(mesh))
        self._entries[ann.id] = annotation_to_json(ann)
        self._names.add(ann.file_name)

    def keep(self, ann: Annotation) -> None:
        """Declare a sample whose files are already on disk (a resumed run): only its annotation is kept."""
        if self._closed:
            raise RuntimeError("the writer is closed")
        if ann.id in self._entries or ann.file_name in self._names:
            raise ValueError(f"duplicate sample id {ann.id} or file_name {ann.file_name!r}")
        image = self.root / "rgb" / f"{ann.file_name}{self._ext}"
        if not image.is_file():
            raise LayoutError(f"{image}: cannot keep sample {ann.file_name}, its image is missing")
        self._entries[ann.id] = annotation_to_json(ann)
        self._names.add(ann.file_name)

    def add_clip(self, ids: Sequence[int]) -> None:
        """Declare one sequence (ordered sample ids) for ``clips/<split>.json``."""
        if len(ids) == 0:
            raise ValueError("a clip sequence needs at least one id")
        self._clips.append([int(i) for i in ids])

    def close(self) -> None:
        """Write ``<split>.json``, ``splits/<split>.json`` and, if sequences were added, ``clips/<split>.json``."""
        if self._closed:
            return
        ids = sorted(self._entries)
        unknown = sorted({i for clip in self._clips for i in clip} - set(ids))
        if unknown:
            raise ValueError(f"clips name ids that were not added: {unknown[:5]}")
        document = {
            "info": {"layout": "gsdf", "version": LAYOUT_VERSION},
            "images": [self._entries[i][0] for i in ids],
            "annotations": [self._entries[i][1] for i in ids],
        }
        write_atomic(annotation_path(self.root, self.split), json_bytes(document))
        write_atomic(split_path(self.root, self.split), json_bytes([format_id(i) for i in ids]))
        if self._clips:
            clips = [[format_id(i) for i in clip] for clip in self._clips]
            write_atomic(clips_path(self.root, self.split), json_bytes(clips))
        self._closed = True


def write_split(
    root: Path | str,
    split: str,
    records: Iterable[SampleRecord],
    clips: Optional[Sequence[Sequence[int]]] = None,
    image_format: str = "png",
) -> Path:
    """Write a whole split at once; returns the annotation file."""
    with LayoutWriter(root, split, image_format=image_format) as writer:
        for record in records:
            writer.add(record)
        for clip in clips or ():
            writer.add_clip(clip)
    return annotation_path(root, split)


# ---------------------------------------------------------------- reader


def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"missing {what}: {path}")
    return path


def read_json(path: Path, what: str) -> Any:
    _require_file(path, what)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: not valid JSON ({exc})") from None


def _parse_ids(value: Any, path: Path) -> list[int]:
    if not isinstance(value, list):
        raise LayoutError(f"{path}: expected a list of zero-padded ids")
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        raise LayoutError(f"{path}: ids must be integers or zero-padded digit strings") from None


def read_split_ids(root: Path | str, split: str) -> list[int]:
    """The ids listed in ``splits/<split>.json``, in file order."""
    path = split_path(root, split)
    return _parse_ids(read_json(path, "split list"), path)


def read_clips(root: Path | str, split: str) -> list[list[int]]:
    """The sequences of ``clips/<split>.json``, each an ordered list of ids."""
    path = clips_path(root, split)
    value = read_json(path, "clip list")
    if not isinstance(value, list) or not all(isinstance(c, list) and c for c in value):
        raise LayoutError(f"{path}: expected a list of non-empty id lists")
    return [_parse_ids(c, path) for c in value]


def read_annotations(root: Path | str, split: str) -> dict[int, Annotation]:
    """All annotations of ``<split>.json`` by id."""
    path = annotation_path(root, split)
    document = read_json(path, "annotation file")
    if not isinstance(document, dict) or not isinstance(document.get("images"), list) or not isinstance(
        document.get("annotations"), list
    ):
        raise LayoutError(f"{path}: expected an object with 'images' and 'annotations' lists")
    result: dict[int, Annotation] = {}
    try:
        images = {int(im["id"]): im for im in document["images"]}
        for entry in document["annotations"]:
            image = images.get(int(entry["image_id"]))
            if image is None:
                raise LayoutError(f"{path}: annotation {entry.get('id')} names an unlisted image {entry['image_id']}")
            ann = annotation_from_json(image, entry, path)
            if ann.id in result:
                raise LayoutError(f"{path}: annotation id {ann.id} appears twice")
            result[ann.id] = ann
    except LayoutError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LayoutError(f"{path}: malformed images / annotations entry ({exc!r})") from None
    return result


def _load_npz(path: Path, what: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
    _require_file(path, what)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise LayoutError(f"{path}: {what} lacks {missing}")
            return {k: data[k] for k in keys}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        if isinstance(exc, LayoutError):
            raise
        raise LayoutError(f"{path}: unreadable {what} ({exc})") from None


def read_sdf(root: Path | str, kind: str, file_name: str) -> SdfSamples:
    """One SDF file (unit-sphere units)."""
    path = sdf_path(root, kind, file_name)
    arrays = _load_npz(path, f"{kind} SDF file", ("pos", "neg", "pos_other", "neg_other"))
    try:
        return SdfSamples(**arrays)
    except ValueError as exc:
        raise LayoutError(f"{path}: {exc}") from None


def read_norm(root: Path | str, file_name: str) -> tuple[np.ndarray, float]:
    """(offset (3,), scale) of ``norm/<name>.npz``: camera metres P = x / scale - offset."""
    path = norm_path(root, file_name)
    arrays = _load_npz(path, "normalisation file", ("offset", "scale"))
    offset = np.asarray(arrays["offset"], np.float64).reshape(-1)
    scale = np.asarray(arrays["scale"], np.float64).reshape(-1)
    if offset.shape != (3,) or scale.shape != (1,) or not scale[0] > 0:
        raise LayoutError(f"{path}: need offset (3,) and a positive scale (1,), got {offset.shape}, {scale.tolist()}")
    return offset, float(scale[0])


def read_image(root: Path | str, file_name: str) -> np.ndarray:
    """The sample's image as (H, W, 3) uint8 RGB."""
    path = image_path(root, file_name)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise LayoutError(f"{path}: not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_mesh(root: Path | str, kind: str, file_name: str) -> trimesh.Trimesh:
    """A ground-truth mesh (camera frame, metres), vertex order as stored."""
    path = _require_file(mesh_path(root, kind, file_name), f"{kind} mesh")
    try:
        mesh = trimesh.load(str(path), file_type="obj", force="mesh", process=False, maintain_order=True)
    except Exception as exc:  # trimesh raises many kinds for bad files
        raise LayoutError(f"{path}: unreadable mesh ({exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise LayoutError(f"{path}: no triangles")
    return mesh


def read_record(root: Path | str, ann: Annotation) -> SampleRecord:
    """Everything stored for one sample (files that are absent come back as None, the image is required)."""

    def optional(read: Any, path: Path, *args: Any) -> Any:
        return read(root, *args) if path.is_file() else None

    name = ann.file_name
    return SampleRecord(
        annotation=ann,
        image=read_image(root, name),
        sdf_hand=optional(read_sdf, sdf_path(root, "hand", name), "hand", name),
        sdf_obj=optional(read_sdf, sdf_path(root, "obj", name), "obj", name),
        mesh_hand=optional(read_mesh, mesh_path(root, "hand", name), "hand", name),
        mesh_obj=optional(read_mesh, mesh_path(root, "obj", name), "obj", name),
    )
