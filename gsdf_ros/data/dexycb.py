"""DexYCB: the toolkit's folder tree to gSDF-layout annotations, with the s0 split.

Read from the DexYCB root::

    <YYYYMMDD-subject-NN>/<YYYYMMDD_HHMMSS>/meta.yml        ycb_ids, ycb_grasp_ind, mano_sides, mano_calib
    <YYYYMMDD-subject-NN>/<YYYYMMDD_HHMMSS>/<serial>/color_{frame:06d}.jpg     640x480
    <YYYYMMDD-subject-NN>/<YYYYMMDD_HHMMSS>/<serial>/labels_{frame:06d}.npz    pose_y, pose_m, joint_3d
    calibration/intrinsics/<serial>_640x480.yml              color: {fx, fy, ppx, ppy}
    calibration/mano_<mano_calib>/mano.yml                   betas (optional)
    models/<ycb name>/textured_simple.obj                    YCB models, metres

DexYCB is already in the OpenCV optical frame. Per frame the grasped object is
``ycb_ids[ycb_grasp_ind]`` with pose ``pose_y[ycb_grasp_ind]`` = [R | t]; ``obj_center_3d`` is the
centre of the model's rest axis-aligned bounds mapped by that pose (R·offset + t), the corners are
the bounds' corners mapped the same way. Frames whose ``joint_3d`` is all −1 (no hand) are skipped.
The crop box is the §3.5 rule (:func:`gsdf_ros.data.dataset.hand_object_box`), cut with the exact
virtual-camera homography at load time.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import cv2
import numpy as np
import trimesh
import yaml

from gsdf_ros.data.dataset import hand_object_box
from gsdf_ros.data.layout import Annotation, LayoutError, LayoutWriter, SampleRecord
from gsdf_ros.data.obman import load_object_mesh
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.sampling import aabb_corners
from gsdf_ros.geometry.transforms import apply_transform
from gsdf_ros.geometry.virtual_camera import VirtualCrop, virtual_crop, warp_crop
from gsdf_ros.hand.joints import NUM_JOINTS
from gsdf_ros.hand.mano import as_array

YCB_NAMES: tuple[str, ...] = (
    "002_master_chef_can", "003_cracker_box", "004_sugar_box", "005_tomato_soup_can",
    "006_mustard_bottle", "007_tuna_fish_can", "008_pudding_box", "009_gelatin_box",
    "010_potted_meat_can", "011_banana", "019_pitcher_base", "021_bleach_cleanser", "024_bowl",
    "025_mug", "035_power_drill", "036_wood_block", "037_scissors", "040_large_marker",
    "051_large_clamp", "052_extra_large_clamp", "061_foam_brick",
)
"""YCB model folder of DexYCB object id k (1-based): YCB_NAMES[k - 1]."""
IMAGE_SIZE = (640, 480)
SUBJECT_PATTERN = re.compile(r"^\d{8}-subject-(\d{2})$")
SEQUENCE_PATTERN = re.compile(r"^\d{8}_\d{6}$")
S0_TEST_SUBJECTS = frozenset(range(3, 11))
SPLITS = ("train", "test")


# ---------------------------------------------------------------- the s0 split


@dataclass(frozen=True)
class RecordedSequence:
    """One recorded sequence: subject number (1-10), its folder, and its index within the subject."""

    subject: int
    path: Path
    index: int

    @property
    def name(self) -> str:
        return self.path.name


def s0_split_of(subject: int, index: int) -> Optional[str]:
    """'train', 'test' or None (the toolkit's validation part) of the s0 split.

    All subjects and cameras; per subject, sequence i (sorted by name) is train when i % 5 != 4,
    test when i % 5 == 4 and the subject is 3-10; i % 5 == 4 of subjects 1-2 is in neither.
    """
    if index % 5 != 4:
        return "train"
    return "test" if subject in S0_TEST_SUBJECTS else None


def list_sequences(root: Path) -> list[RecordedSequence]:
    """Every sequence under the subject folders, subjects and sequences sorted by name."""
    subjects = sorted(p for p in Path(root).iterdir() if p.is_dir() and SUBJECT_PATTERN.match(p.name))
    if not subjects:
        raise FileNotFoundError(f"{root}: no <YYYYMMDD-subject-NN> folders (is this the DexYCB root?)")
    sequences = []
    for subject_dir in subjects:
        number = int(SUBJECT_PATTERN.match(subject_dir.name).group(1))
        names = sorted(p for p in subject_dir.iterdir() if p.is_dir() and SEQUENCE_PATTERN.match(p.name))
        sequences += [RecordedSequence(number, path, i) for i, path in enumerate(names)]
    return sequences


def split_sequences(sequences: Sequence[RecordedSequence], split: str) -> list[RecordedSequence]:
    """The sequences of one s0 part ('train' or 'test')."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return [s for s in sequences if s0_split_of(s.subject, s.index) == split]


def file_name_of(subject: int, sequence: str, serial: str, frame: int) -> str:
    """The gSDF DexYCB name: ``{subject#}_{YYYYMMDD_HHMMSS}_{serial}_{frame#}``."""
    return f"{subject}_{sequence}_{serial}_{frame}"


# ---------------------------------------------------------------- files


def read_yaml(path: Path, what: str) -> Any:
    """A YAML file; errors name the file."""
    if not path.is_file():
        raise FileNotFoundError(f"missing {what}: {path}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise LayoutError(f"{path}: not valid YAML ({exc})") from None


@dataclass(frozen=True)
class SequenceMeta:
    """The ``meta.yml`` values the conversion reads."""

    serials: tuple[str, ...]
    num_frames: int
    ycb_ids: tuple[int, ...]
    grasp_index: int
    side: str
    mano_calib: str

    @property
    def ycb_id(self) -> int:
        return self.ycb_ids[self.grasp_index]


def read_sequence_meta(path: Path) -> SequenceMeta:
    """Parse a sequence's ``meta.yml``."""
    data = read_yaml(path, "sequence meta")
    try:
        meta = SequenceMeta(
            serials=tuple(str(s) for s in data["serials"]),
            num_frames=int(data["num_frames"]),
            ycb_ids=tuple(int(i) for i in data["ycb_ids"]),
            grasp_index=int(data["ycb_grasp_ind"]),
            side=str(data["mano_sides"][0]),
            mano_calib=str(data["mano_calib"][0]),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise LayoutError(f"{path}: malformed sequence meta ({exc!r})") from None
    if not 0 <= meta.grasp_index < len(meta.ycb_ids):
        raise LayoutError(f"{path}: ycb_grasp_ind {meta.grasp_index} outside ycb_ids {list(meta.ycb_ids)}")
    return meta


def read_intrinsics(root: Path, serial: str) -> Intrinsics:
    """The colour intrinsics of one camera."""
    path = Path(root) / "calibration" / "intrinsics" / f"{serial}_640x480.yml"
    data = read_yaml(path, "camera intrinsics")
    try:
        c = data["color"]
        return Intrinsics(float(c["fx"]), float(c["fy"]), float(c["ppx"]), float(c["ppy"]), *IMAGE_SIZE)
    except (KeyError, TypeError, ValueError) as exc:
        raise LayoutError(f"{path}: malformed intrinsics ({exc!r})") from None


def read_betas(root: Path, calib: str) -> Optional[np.ndarray]:
    """The subject's 10 MANO shape values, or None when the calibration file is absent."""
    path = Path(root) / "calibration" / f"mano_{calib}" / "mano.yml"
    if not path.is_file():
        return None
    data = read_yaml(path, "MANO calibration")
    betas = np.asarray(data.get("betas", []) if isinstance(data, dict) else [], np.float64)
    if betas.shape != (10,):
        raise LayoutError(f"{path}: betas must hold 10 values, got shape {betas.shape}")
    return betas


@dataclass(frozen=True)
class Labels:
    """One ``labels_*.npz``: object poses (n_obj, 3, 4), MANO pose (51,), joints (21, 3)."""

    pose_y: np.ndarray
    pose_m: np.ndarray
    joint_3d: np.ndarray

    @property
    def has_hand(self) -> bool:
        """False for frames without a hand annotation (every joint value −1)."""
        return not bool(np.all(self.joint_3d == -1.0))


def read_labels(path: Path) -> Labels:
    """Parse a label file, checking the shapes."""
    if not path.is_file():
        raise FileNotFoundError(f"missing label file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k], np.float64) for k in ("pose_y", "pose_m", "joint_3d")}
    except KeyError as exc:
        raise LayoutError(f"{path}: label file lacks {exc.args[0]}") from None
    except (OSError, ValueError) as exc:
        raise LayoutError(f"{path}: unreadable label file ({exc})") from None
    pose_y, pose_m, joints = arrays["pose_y"], arrays["pose_m"], arrays["joint_3d"]
    if pose_y.ndim != 3 or pose_y.shape[1:] != (3, 4):
        raise LayoutError(f"{path}: pose_y must be (n_obj, 3, 4), got {pose_y.shape}")
    if pose_m.shape != (1, 51) or joints.shape != (1, NUM_JOINTS, 3):
        raise LayoutError(f"{path}: need pose_m (1, 51) and joint_3d (1, 21, 3), got {pose_m.shape}, {joints.shape}")
    return Labels(pose_y, pose_m[0], joints[0])


def model_path(root: Path, ycb_id: int) -> Path:
    """``models/<name>/textured_simple.obj`` of a DexYCB object id."""
    if not 1 <= ycb_id <= len(YCB_NAMES):
        raise LayoutError(f"unknown YCB id {ycb_id} (expected 1-{len(YCB_NAMES)})")
    return Path(root) / "models" / YCB_NAMES[ycb_id - 1] / "textured_simple.obj"


def load_ycb_mesh(path: Path) -> trimesh.Trimesh:
    """A YCB model mesh (metres, rest frame)."""
    if not path.is_file():
        raise FileNotFoundError(f"missing YCB model: {path}")
    return load_object_mesh(path)


# ---------------------------------------------------------------- annotations


def object_transform(pose: np.ndarray) -> np.ndarray:
    """The 4x4 form of a (3, 4) object pose."""
    transform = np.eye(4)
    transform[:3, :] = np.asarray(pose, np.float64)
    return transform


def full_hand_pose(pose_m: np.ndarray, mano_model: Mapping[str, Any]) -> np.ndarray:
    """48 axis-angle values (global + fingers, mean included) of a PCA-space ``pose_m``."""
    components = as_array(mano_model["hands_components"])[:45]
    mean = as_array(mano_model["hands_mean"]).reshape(-1)
    return np.concatenate([pose_m[:3], mean + pose_m[3:48] @ components])


@dataclass(frozen=True)
class FrameSource:
    """What one frame's annotation is made of."""

    file_name: str
    intrinsics: Intrinsics
    labels: Labels
    meta: SequenceMeta
    rest_vertices: np.ndarray
    betas: Optional[np.ndarray] = None
    mano_model: Optional[Mapping[str, Any]] = None


def annotation_from_labels(sample_id: int, src: FrameSource, pad_px: float = 10.0,
                           enlarge: float = 1.25) -> Annotation:
    """The camera-frame annotation of one frame, its box by the §3.5 rule."""
    pose = src.labels.pose_y[src.meta.grasp_index]
    transform = object_transform(pose)
    rest_corners = aabb_corners(src.rest_vertices)
    offset = rest_corners.mean(axis=0)
    ann = Annotation(
        id=sample_id,
        intrinsics=src.intrinsics,
        file_name=src.file_name,
        hand_joints_3d=src.labels.joint_3d,
        obj_center_3d=apply_transform(transform, offset[None])[0],
        obj_corners_3d=apply_transform(transform, rest_corners),
        obj_transform=transform,
        obj_rest_corners_3d=rest_corners,
        hand_trans=src.labels.pose_m[48:51],
        hand_shapes=src.betas,
        hand_poses=None if src.mano_model is None else full_hand_pose(src.labels.pose_m, src.mano_model),
        ycb_id=src.meta.ycb_id,
        extra={"mano_side": src.meta.side, "mano_pose_pca": src.labels.pose_m[:48].tolist()},
    )
    x0, y0, side = hand_object_box(ann, pad_px, enlarge)
    return replace(ann, bbox=np.array([x0, y0, side, side]))


def crop_of(ann: Annotation, size: int = 256) -> VirtualCrop:
    """The virtual camera of an annotation's square box."""
    x0, y0, side, _ = ann.bbox
    return virtual_crop(ann.intrinsics, (x0, y0, side), size)


def crop_image(image: np.ndarray, ann: Annotation, size: int = 256) -> tuple[np.ndarray, VirtualCrop]:
    """The box crop of a source image, cut with the exact homography, and its virtual camera."""
    crop = crop_of(ann, size)
    return warp_crop(image, crop), crop


# ---------------------------------------------------------------- tree -> layout


@dataclass
class DexYcbConverter:
    """Walks the DexYCB tree and yields layout records of one s0 part."""

    root: Path
    frame_step: int = 5
    sides: tuple[str, ...] = ("right",)
    mano_models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """MANO model per hand side ("right", "left"): hand_poses of that side's frames (none without)."""
    write_meshes: bool = False
    _models: dict[int, trimesh.Trimesh] = field(default_factory=dict)
    _intrinsics: dict[str, Intrinsics] = field(default_factory=dict)

    def model(self, ycb_id: int) -> trimesh.Trimesh:
        if ycb_id not in self._models:
            self._models[ycb_id] = load_ycb_mesh(model_path(self.root, ycb_id))
        return self._models[ycb_id]

    def intrinsics(self, serial: str) -> Intrinsics:
        if serial not in self._intrinsics:
            self._intrinsics[serial] = read_intrinsics(self.root, serial)
        return self._intrinsics[serial]

    def frames(self, seq: RecordedSequence) -> Iterator[tuple[FrameSource, Path]]:
        """(frame source, colour image path) for each kept frame of a sequence, camera by camera."""
        meta = read_sequence_meta(seq.path / "meta.yml")
        if meta.side not in self.sides:
            return
        betas = read_betas(self.root, meta.mano_calib)
        rest = np.asarray(self.model(meta.ycb_id).vertices, np.float64)
        for serial in meta.serials:
            folder = seq.path / serial
            for frame in range(0, meta.num_frames, self.frame_step):
                labels = read_labels(folder / f"labels_{frame:06d}.npz")
                if not labels.has_hand:
                    continue
                name = file_name_of(seq.subject, seq.name, serial, frame)
                yield FrameSource(name, self.intrinsics(serial), labels, meta, rest, betas,
                                  self.mano_models.get(meta.side)), folder / f"color_{frame:06d}.jpg"

    def record(self, sample_id: int, src: FrameSource, image_file: Path) -> SampleRecord:
        """One frame's layout record (object mesh posed by pose_y when meshes are written)."""
        ann = annotation_from_labels(sample_id, src)
        bgr = cv2.imread(str(image_file), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"missing or unreadable image: {image_file}")
        meshes = {}
        if self.write_meshes:
            model = self.model(src.meta.ycb_id)
            vertices = apply_transform(ann.obj_transform, np.asarray(model.vertices, np.float64))
            meshes["mesh_obj"] = trimesh.Trimesh(vertices, np.asarray(model.faces), process=False)
        return SampleRecord(annotation=ann, image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), **meshes)


def convert_dexycb(
    converter: DexYcbConverter,
    out: Path,
    split: str,
    layout_split: Optional[str] = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Write one s0 part as a layout split (``<split>_s0`` by default); one clip per sequence and
    camera. Images keep their original JPEG bytes. Returns the number of frames written."""
    sequences = split_sequences(list_sequences(converter.root), split)
    count = 0
    with LayoutWriter(out, layout_split or f"{split}_s0", image_format="jpg") as writer:
        for done, seq in enumerate(sequences, start=1):
            clips: dict[str, list[int]] = {}
            for src, image_file in converter.frames(seq):
                writer.add(converter.record(count, src, image_file))
                shutil.copyfile(image_file, Path(out) / "rgb" / f"{src.file_name}.jpg")
                clips.setdefault(src.file_name.rsplit("_", 1)[0], []).append(count)
                count += 1
            for ids in clips.values():
                writer.add_clip(ids)
            progress(done, len(sequences))
    return count
