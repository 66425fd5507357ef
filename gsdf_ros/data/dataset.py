"""Torch datasets over the gSDF layout: single frames and clips.

A frame sample (all float32 unless said, 3D data in the crop's virtual frame, metres):

    image       (3, S, S)  ImageNet-normalised RGB crop
    K           (3, 3)     crop intrinsics
    wrist       (3,)       ground-truth wrist
    joints      (21, 3)    ground-truth joints
    obj_center  (3,)       ground-truth object centre
    points      (N, 3)     SDF query points in the normalised space q = (P − wrist)·s/2
    hand_sdf    (N,)       hand SDF ×s/2 (metres ×s/2)
    obj_sdf     (N,)       object SDF ×s/2
    from_hand   (N,) bool  the point was drawn from the hand SDF file
    cam_rot     (3, 3)     rotation virtual → source camera (P_source = cam_rot·P_virtual)
    id          str        the sample's file_name (the 8-digit id for ObMan-style data)
    index       int        position in the dataset

A clip sample has the same keys with a leading T axis (``id`` a list of T names, ``index`` a (T,)
int64 tensor), plus ``clip_index`` (int) and ``new_frame`` (T,) bool: False on test-mode padding.

Randomness is a pure function of (seed, epoch, index): call :meth:`set_epoch` once per epoch to
draw new points and augmentations while staying reproducible with any number of workers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np
import torch
import trimesh
from torch.utils.data import Dataset

from gsdf_ros.data.augment import (
    AugmentConfig,
    AugmentParams,
    apply_blur,
    apply_colour,
    apply_lowres,
    sample_augment,
)
from gsdf_ros.data.layout import (
    Annotation,
    LayoutError,
    SdfSamples,
    annotation_path,
    clips_path,
    image_path,
    read_annotations,
    read_clips,
    read_image,
    read_mesh,
    read_sdf,
    read_split_ids,
    sdf_path,
    split_path,
)
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.virtual_camera import (
    HAND_CROP_ENLARGE,
    VirtualCrop,
    full_image_crop,
    hand_crop_box,
    rotate_crop,
    scale_box,
    square_box_around,
    virtual_crop,
    warp_crop,
)
from gsdf_ros.image_norm import normalise_image

SDF_LIMIT = 2.0
"""Rows with |sdf_hand| or |sdf_obj| at or above this (unit-sphere units) are dropped."""
DATASET_CROPS = ("full", "box", "hand")
"""``full`` image, ``box`` around hand and object (§3.5), or ``hand``: around the hand joints alone."""
CLIP_MODES = ("train", "test")


# ---------------------------------------------------------------- pure helpers


def unit_sphere_to_camera(x: np.ndarray, offset: np.ndarray, scale: float) -> np.ndarray:
    """Per-sample unit-sphere coordinates to camera metres: P = x / scale − offset."""
    return np.asarray(x, np.float64) / scale - np.asarray(offset, np.float64)


def normalise_points(points: np.ndarray, wrist: np.ndarray, recon_scale: float) -> np.ndarray:
    """q = (P − wrist)·s/2."""
    return (np.asarray(points, np.float64) - wrist) * (recon_scale / 2.0)


def normalise_sdf(sdf_file: np.ndarray, scale: float, recon_scale: float) -> np.ndarray:
    """Unit-sphere SDF to the normalised space: sdf / scale · s/2."""
    return np.asarray(sdf_file, np.float64) / scale * (recon_scale / 2.0)


def _valid_rows(rows: np.ndarray) -> np.ndarray:
    """Rows [x, y, z, sdf_h, sdf_o] without NaN and with both |sdf| below SDF_LIMIT."""
    keep = np.all(np.isfinite(rows), axis=1) & np.all(np.abs(rows[:, 3:5]) < SDF_LIMIT, axis=1)
    return rows[keep]


def draw_sdf_rows(
    samples: SdfSamples, count: int, own_is_hand: bool, rng: np.random.Generator, source: str
) -> np.ndarray:
    """`count` rows [x, y, z, sdf_hand, sdf_obj], half from ``pos`` and half from ``neg``, with replacement."""
    drawn = []
    for side, k in (("pos", count // 2), ("neg", count - count // 2)):
        own = getattr(samples, side)
        other = getattr(samples, f"{side}_other")
        sdfs = (own[:, 3:4], other) if own_is_hand else (other, own[:, 3:4])
        rows = _valid_rows(np.concatenate([own[:, :3], *sdfs], axis=1))
        if len(rows) == 0:
            raise LayoutError(f"{source}: no valid '{side}' rows (all NaN or |sdf| >= {SDF_LIMIT})")
        drawn.append(rows[rng.integers(0, len(rows), size=k)])
    return np.concatenate(drawn, axis=0)


def hand_object_box(ann: Annotation, pad_px: float = 10.0, enlarge: float = 1.25) -> tuple[float, float, float]:
    """The §3.5 box: square around the projected joints and object corners, padded and enlarged."""
    uv = ann.intrinsics.project(np.concatenate([ann.hand_joints_3d, ann.obj_corners_3d], axis=0))
    if not np.all(np.isfinite(uv)):
        raise LayoutError(f"sample {ann.file_name}: joints or object corners lie behind the camera")
    return square_box_around(uv, pad_px=pad_px, enlarge=enlarge)


def shift_box(box: tuple[float, float, float], shift: tuple[float, float]) -> tuple[float, float, float]:
    """Move a square box by a fraction of its size."""
    x0, y0, side = box
    return (x0 + shift[0] * side, y0 + shift[1] * side, side)


def _f32(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


# ---------------------------------------------------------------- frames


class FrameDataset(Dataset):
    """Single training/test frames of one split (see the module docstring for the sample keys).

    `subset` names a list in ``splits/`` selecting from ``<split>.json`` (default: `split`).
    """

    def __init__(
        self,
        root: Path | str,
        split: str,
        recon_scale: float,
        input_size: int,
        num_points: int = 2000,
        crop: str = "full",
        augment: Optional[AugmentConfig] = None,
        seed: int = 0,
        subset: Optional[str] = None,
        box_pad_px: float = 10.0,
        box_enlarge: float = 1.25,
        hand_enlarge: float = HAND_CROP_ENLARGE,
        pose_crop: bool = False,
    ) -> None:
        if crop not in DATASET_CROPS:
            raise ValueError(f"crop must be one of {DATASET_CROPS}, got {crop!r}")
        if not recon_scale > 0:
            raise ValueError(f"recon_scale must be positive, got {recon_scale}")
        if int(input_size) != input_size or input_size <= 0:
            raise ValueError(f"input_size must be a positive integer, got {input_size}")
        if num_points < 0:
            raise ValueError(f"num_points must be >= 0, got {num_points}")
        self.root = Path(root)
        self.split = split
        self.recon_scale = float(recon_scale)
        self.input_size = int(input_size)
        self.num_points = int(num_points)
        self.crop = crop
        self.augment = augment
        self.seed = int(seed)
        self.box_pad_px = box_pad_px
        self.box_enlarge = box_enlarge
        if not hand_enlarge > 0:
            raise ValueError(f"hand_enlarge must be positive, got {hand_enlarge}")
        self.hand_enlarge = float(hand_enlarge)
        self.pose_crop = bool(pose_crop)
        """Also the pose net's own crop (``pose_image``, ``pose_K``, ``pose_R``): the tight hand crop."""
        self.epoch = 0
        self._annotations = read_annotations(self.root, split)
        self.ids = read_split_ids(self.root, subset or split)
        unknown = [i for i in self.ids if i not in self._annotations]
        if unknown:
            listed = split_path(self.root, subset or split)
            raise LayoutError(f"{listed}: ids {unknown[:5]} are not in {annotation_path(self.root, split)}")
        self._index_of = {sample_id: k for k, sample_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of this epoch."""
        self.epoch = int(epoch)

    def rng(self, index: int, stream: int = 0) -> np.random.Generator:
        """The generator of one item in the current epoch."""
        return np.random.default_rng([self.seed, self.epoch, int(index), int(stream)])

    def record(self, index: int) -> Annotation:
        """The raw annotation of item `index`."""
        return self._annotations[self.ids[index]]

    def index_of(self, sample_id: int) -> int:
        """Position of a sample id in this dataset."""
        try:
            return self._index_of[int(sample_id)]
        except KeyError:
            raise KeyError(f"sample id {sample_id} is not in split {self.split!r}") from None

    def gt_meshes(self, index: int) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
        """Ground-truth (hand, object) meshes in the source camera frame, metres."""
        name = self.record(index).file_name
        return read_mesh(self.root, "hand", name), read_mesh(self.root, "obj", name)

    def source(self, index: int) -> tuple[np.ndarray, Intrinsics]:
        """Item `index`'s whole image (H, W, 3) uint8 RGB and its intrinsics: what a live camera gives."""
        ann = self.record(index)
        return read_image(self.root, ann.file_name), ann.intrinsics

    def crop_of(self, ann: Annotation, params: AugmentParams, pose: bool = False) -> VirtualCrop:
        """The (augmented) virtual camera of one sample; ``pose``: the pose net's tight hand crop."""
        mode = "hand" if pose else self.crop
        if mode == "full":
            crop = full_image_crop(ann.intrinsics, self.input_size)
        else:
            if mode == "hand":
                enlarge = HAND_CROP_ENLARGE if pose else self.hand_enlarge
                box = hand_crop_box(ann.intrinsics, ann.hand_joints_3d, enlarge)
            else:
                box = hand_object_box(ann, self.box_pad_px, self.box_enlarge)
            box = scale_box(shift_box(box, params.box_shift), params.box_scale)
            crop = virtual_crop(ann.intrinsics, box, self.input_size)
        return rotate_crop(crop, params.rotation_deg)

    def pixels(self, image: np.ndarray, crop: VirtualCrop, params: AugmentParams) -> np.ndarray:
        """The network input (3, S, S) of one crop of a source image under the augmentation."""
        pixels = warp_crop(image, crop, interpolation=cv2.INTER_LINEAR)
        pixels = apply_blur(apply_lowres(pixels, params.lowres_px), params.blur_sigma_px)
        return normalise_image(apply_colour(pixels, params.colour_gains))

    def pose_inputs(self, image: np.ndarray, ann: Annotation, crop: VirtualCrop, params: AugmentParams) -> dict:
        """The pose net's tight hand crop of a sample: its image, K and the rotation pose crop -> ``crop``."""
        pose = self.crop_of(ann, params, pose=True)
        return {
            "pose_image": _f32(self.pixels(image, pose, params)),
            "pose_K": _f32(pose.intrinsics.matrix()),
            "pose_R": _f32(crop.rotation.T @ pose.rotation),
        }

    def sdf_rows(self, ann: Annotation, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Drawn rows [x, y, z, sdf_h, sdf_o] (unit sphere) and the from-hand flags."""
        n_hand = self.num_points // 2
        parts, flags = [], []
        for kind, count in (("hand", n_hand), ("obj", self.num_points - n_hand)):
            source = str(sdf_path(self.root, kind, ann.file_name))
            rows = draw_sdf_rows(read_sdf(self.root, kind, ann.file_name), count, kind == "hand", rng, source)
            parts.append(rows)
            flags.append(np.full(count, kind == "hand"))
        return np.concatenate(parts, axis=0), np.concatenate(flags)

    def load(self, index: int, params: AugmentParams, rng: np.random.Generator) -> dict[str, Any]:
        """Item `index` under the given augmentation; `rng` draws the SDF points."""
        ann = self.record(index)
        if self.num_points > 0 and not ann.has_sdf_norm:
            where = annotation_path(self.root, self.split)
            raise LayoutError(f"{where}: sample {ann.file_name} has no sdf_scale / sdf_offset")
        image = read_image(self.root, ann.file_name)
        k = ann.intrinsics
        if image.shape[:2] != (k.height, k.width):
            raise LayoutError(
                f"{image_path(self.root, ann.file_name)}: image is {image.shape[1]}x{image.shape[0]}, "
                f"the annotation says {k.width}x{k.height}"
            )
        crop = self.crop_of(ann, params)
        joints = crop.to_virtual(ann.hand_joints_3d)
        wrist = joints[0]
        if self.num_points > 0:
            rows, from_hand = self.sdf_rows(ann, rng)
            points = crop.to_virtual(unit_sphere_to_camera(rows[:, :3], ann.sdf_offset, ann.sdf_scale))
            q = normalise_points(points, wrist, self.recon_scale)
            sdf = normalise_sdf(rows[:, 3:5], ann.sdf_scale, self.recon_scale)
        else:
            q, sdf, from_hand = np.zeros((0, 3)), np.zeros((0, 2)), np.zeros(0, bool)
        pose = self.pose_inputs(image, ann, crop, params) if self.pose_crop else {}
        return {
            "image": _f32(self.pixels(image, crop, params)),
            **pose,
            "K": _f32(crop.intrinsics.matrix()),
            "wrist": _f32(wrist),
            "joints": _f32(joints),
            "obj_center": _f32(crop.to_virtual(ann.obj_center_3d)),
            "points": _f32(q),
            "hand_sdf": _f32(sdf[:, 0]),
            "obj_sdf": _f32(sdf[:, 1]),
            "from_hand": torch.from_numpy(np.asarray(from_hand, dtype=bool)),
            "cam_rot": _f32(crop.rotation),
            "id": ann.file_name,
            "index": int(index),
        }

    def params_for(self, rng: np.random.Generator) -> AugmentParams:
        """One augmentation draw (the identity without an AugmentConfig)."""
        return sample_augment(self.augment, rng) if self.augment is not None else AugmentParams()

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        rng = self.rng(index)
        return self.load(index, self.params_for(rng), rng)


# ---------------------------------------------------------------- clips


def clip_windows(length: int, clip_len: int) -> list[tuple[list[int], list[bool]]]:
    """Consecutive non-overlapping windows over a sequence; the last one is filled up with the
    preceding frames (or, for a sequence shorter than a clip, its last frame repeated).

    Returns (positions, new) per window; `new` is False where a frame repeats an earlier window's.
    """
    if length <= 0 or clip_len <= 0:
        raise ValueError(f"need length > 0 and clip_len > 0, got {length}, {clip_len}")
    windows = []
    for start in range(0, length, clip_len):
        if start + clip_len <= length:
            positions = list(range(start, start + clip_len))
        elif length >= clip_len:
            positions = list(range(length - clip_len, length))
        else:
            positions = list(range(length)) + [length - 1] * (clip_len - length)
        seen: set[int] = set()
        new = []
        for p in positions:
            new.append(p >= start and p not in seen)
            seen.add(p)
        windows.append((positions, new))
    return windows


def stack_frames(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-frame samples to one with a leading T axis."""
    out: dict[str, Any] = {}
    for key, value in frames[0].items():
        values = [f[key] for f in frames]
        if isinstance(value, torch.Tensor):
            out[key] = torch.stack(values)
        elif key == "index":
            out[key] = torch.tensor(values, dtype=torch.int64)
        else:
            out[key] = values
    return out


class ClipDataset(Dataset):
    """Clips of T frames from the sequences of ``clips/<split>.json``.

    ``train``: one item per sequence with at least T frames; T distinct frames drawn at random, in
    random order. ``test``: consecutive non-overlapping windows over every sequence. Every frame of
    a clip shares one augmentation draw.
    """

    def __init__(
        self,
        root: Path | str,
        split: str,
        clip_len: int,
        mode: str = "train",
        *,
        recon_scale: float,
        input_size: int,
        **frame_kwargs: Any,
    ) -> None:
        if mode not in CLIP_MODES:
            raise ValueError(f"mode must be one of {CLIP_MODES}, got {mode!r}")
        if clip_len <= 0:
            raise ValueError(f"clip_len must be positive, got {clip_len}")
        self.frames = FrameDataset(root, split, recon_scale, input_size, **frame_kwargs)
        self.clip_len = int(clip_len)
        self.mode = mode
        sequences = [[self._frame_index(root, split, i) for i in seq] for seq in read_clips(root, split)]
        if mode == "train":
            self.sequences = [s for s in sequences if len(s) >= clip_len]
            if not self.sequences:
                raise ValueError(f"{clips_path(root, split)}: no sequence has {clip_len} frames or more")
            self.windows: list[tuple[list[int], list[bool]]] = []
        else:
            self.sequences = sequences
            self.windows = [
                ([seq[p] for p in positions], new)
                for seq in sequences
                for positions, new in clip_windows(len(seq), clip_len)
            ]

    def _frame_index(self, root: Path | str, split: str, sample_id: int) -> int:
        try:
            return self.frames.index_of(sample_id)
        except KeyError:
            where = clips_path(root, split)
            raise LayoutError(f"{where}: id {sample_id} is not in {split_path(root, split)}") from None

    def __len__(self) -> int:
        return len(self.sequences) if self.mode == "train" else len(self.windows)

    def set_epoch(self, epoch: int) -> None:
        self.frames.set_epoch(epoch)

    def frame_indices(self, index: int, rng: np.random.Generator) -> tuple[list[int], list[bool]]:
        """Frame-dataset indices of clip `index` and which of them are new (not padding)."""
        if self.mode == "test":
            return self.windows[index]
        seq = self.sequences[index]
        picks = rng.choice(len(seq), size=self.clip_len, replace=False)
        return [seq[int(p)] for p in picks], [True] * self.clip_len

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
        rng = self.frames.rng(index, stream=1)
        indices, new = self.frame_indices(index, rng)
        params = self.frames.params_for(rng)
        clip = stack_frames([self.frames.load(i, params, rng) for i in indices])
        clip["clip_index"] = int(index)
        clip["new_frame"] = torch.tensor(new, dtype=torch.bool)
        return clip


# ---------------------------------------------------------------- fingerprint


_SAMPLE_FILES: tuple[tuple[str, str], ...] = (
    ("rgb", ".png"), ("rgb", ".jpg"), ("sdf_hand", ".npz"), ("sdf_obj", ".npz"), ("norm", ".npz"),
    ("mesh_hand", ".obj"), ("mesh_obj", ".obj"),
)


def data_fingerprint(root: Path | str, split: str, length: int = 16) -> str:
    """A short stable hash of the annotation file, split list, clip list (if any) and the sizes of
    every sample file of the split, for checkpoints to name the data they were trained on."""
    root = Path(root)
    digest = hashlib.sha256()
    documents = [annotation_path(root, split), split_path(root, split)]
    for path in documents + [p for p in (clips_path(root, split),) if p.is_file()]:
        if not path.is_file():
            raise FileNotFoundError(f"missing {path}")
        digest.update(f"{path.relative_to(root)}\0".encode() + path.read_bytes())
    annotations = read_annotations(root, split)
    for sample_id in read_split_ids(root, split):
        ann = annotations.get(sample_id)
        if ann is None:
            raise LayoutError(f"{split_path(root, split)}: id {sample_id} is not in {annotation_path(root, split)}")
        for sub, ext in _SAMPLE_FILES:
            path = root / sub / f"{ann.file_name}{ext}"
            if path.is_file():
                digest.update(f"{sub}/{path.name}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:length]
