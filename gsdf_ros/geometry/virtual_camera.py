"""The exact virtual-camera crop.

A square box in the source image defines a virtual camera that shares the source camera's centre
and is rotated so that its optical axis passes through the box centre. The crop is the image of
that virtual camera, so it is cut with the homography H = K'·Rᵀ·K⁻¹, not an affine approximation:
a 3D point expressed in the virtual frame (Rᵀ·P) and projected with K' lands exactly on the crop
pixel where the warped image shows it, for off-centre boxes too.

Conventions: R maps virtual-frame vectors to the source optical frame (P_source = R·P_virtual);
boxes are (x0, y0, size) in source pixel coordinates (pixel centres at integers, as in K) and
cover [x0, x0 + size] x [y0, y0 + size]; the box centre maps to the crop centre ((N - 1) / 2).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import cv2
import numpy as np

from gsdf_ros.geometry.camera import Intrinsics

if TYPE_CHECKING:  # torch stays out of processes that only crop (the preprocessing node)
    import torch

Array = TypeVar("Array", np.ndarray, "torch.Tensor")

Box = tuple[float, float, float]
"""A square box (x0, y0, size) in source pixels."""


def virtual_rotation(intrinsics: Intrinsics, centre_uv: tuple[float, float]) -> np.ndarray:
    """R = R_y(φ)·R_x(θ), mapping the optical axis onto the ray through pixel `centre_uv`.

    With (x, y, 1) = K⁻¹·(u, v, 1): sin θ = −y/√(1+x²+y²) and sin φ = x/√(1+x²).
    """
    u, v = centre_uv
    x = (u - intrinsics.cx) / intrinsics.fx
    y = (v - intrinsics.cy) / intrinsics.fy
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"box centre must be finite, got {centre_uv!r}")
    r_xz = math.sqrt(1.0 + x * x)
    r = math.sqrt(1.0 + x * x + y * y)
    sin_t, cos_t = -y / r, r_xz / r
    sin_p, cos_p = x / r_xz, 1.0 / r_xz
    rot_x = np.array([[1.0, 0.0, 0.0], [0.0, cos_t, -sin_t], [0.0, sin_t, cos_t]])
    rot_y = np.array([[cos_p, 0.0, sin_p], [0.0, 1.0, 0.0], [-sin_p, 0.0, cos_p]])
    return rot_y @ rot_x


def to_virtual_frame(points: Array, rotation: Array) -> Array:
    """Points (..., 3) from the source optical frame into the virtual frame: Rᵀ·P."""
    return points @ rotation


def to_source_frame(points: Array, rotation: Array) -> Array:
    """Points (..., 3) from the virtual frame back into the source optical frame: R·P."""
    return points @ rotation.swapaxes(-1, -2)


def apply_homography(homography: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Map pixels (N, 2) through a 3x3 homography."""
    uv = np.asarray(uv, dtype=np.float64)
    if uv.ndim != 2 or uv.shape[1] != 2:
        raise ValueError(f"uv must have shape (N, 2), got {uv.shape}")
    h = np.concatenate([uv, np.ones((uv.shape[0], 1))], axis=1) @ homography.T
    return h[:, :2] / h[:, 2:]


@dataclass(frozen=True)
class VirtualCrop:
    """One crop: its box, the virtual rotation R, the crop intrinsics K' and H = K'·Rᵀ·K⁻¹."""

    box: Box
    size: int
    rotation: np.ndarray
    intrinsics: Intrinsics
    homography: np.ndarray

    def to_virtual(self, points: np.ndarray) -> np.ndarray:
        """Source-frame points (..., 3) in the virtual (crop) frame."""
        return to_virtual_frame(np.asarray(points, dtype=np.float64), self.rotation)

    def to_source(self, points: np.ndarray) -> np.ndarray:
        """Virtual-frame points (..., 3) back in the source frame."""
        return to_source_frame(np.asarray(points, dtype=np.float64), self.rotation)

    def source_to_crop_pixels(self, uv: np.ndarray) -> np.ndarray:
        """Source pixels (N, 2) to crop pixels."""
        return apply_homography(self.homography, uv)

    def crop_to_source_pixels(self, uv: np.ndarray) -> np.ndarray:
        """Crop pixels (N, 2) to source pixels."""
        return apply_homography(np.linalg.inv(self.homography), uv)


def virtual_crop(intrinsics: Intrinsics, box: Box, size: int = 256) -> VirtualCrop:
    """The virtual camera of a square box and its `size` x `size` crop."""
    x0, y0, side = (float(b) for b in box)
    if not all(math.isfinite(b) for b in (x0, y0, side)) or side <= 0:
        raise ValueError(f"box must be finite (x0, y0, size) with size > 0, got {box!r}")
    if int(size) != size or size <= 0:
        raise ValueError(f"crop size must be a positive integer, got {size!r}")
    rotation = virtual_rotation(intrinsics, (x0 + side / 2.0, y0 + side / 2.0))
    scale = size / side
    centre = (size - 1) / 2.0
    crop_intrinsics = Intrinsics(intrinsics.fx * scale, intrinsics.fy * scale, centre, centre, int(size), int(size))
    homography = crop_intrinsics.matrix() @ rotation.T @ np.linalg.inv(intrinsics.matrix())
    return VirtualCrop((x0, y0, side), int(size), rotation, crop_intrinsics, homography / homography[2, 2])


def full_image_crop(intrinsics: Intrinsics, size: int) -> VirtualCrop:
    """The whole image resized to `size` x `size`: identity rotation, K scaled per axis."""
    k = intrinsics.scaled(size / intrinsics.width, size / intrinsics.height)
    homography = k.matrix() @ np.linalg.inv(intrinsics.matrix())
    box = (-0.5, -0.5, float(max(intrinsics.width, intrinsics.height)))
    return VirtualCrop(box, int(size), np.eye(3), k, homography / homography[2, 2])


def rotation_z(angle_deg: float) -> np.ndarray:
    """R_z(angle): rotation about the optical axis."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotate_crop(crop: VirtualCrop, rotation_deg: float) -> VirtualCrop:
    """The crop turned in-plane by `rotation_deg`: 3D data get R_z(−rot), the image K'·R_z(−rot)·K'⁻¹."""
    if rotation_deg == 0.0:
        return crop
    r_aug = rotation_z(-rotation_deg)
    k = crop.intrinsics.matrix()
    homography = k @ r_aug @ np.linalg.inv(k) @ crop.homography
    return dataclasses.replace(crop, rotation=crop.rotation @ r_aug.T, homography=homography / homography[2, 2])


def warp_crop(
    image: np.ndarray,
    crop: VirtualCrop,
    interpolation: int = cv2.INTER_LINEAR,
    border_value: float = 0.0,
) -> np.ndarray:
    """Cut the crop out of `image` (H x W or H x W x C) with the exact homography."""
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must be a non-empty H x W or H x W x C array, got shape {image.shape}")
    return cv2.warpPerspective(
        image,
        crop.homography,
        (crop.size, crop.size),
        flags=interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border_value,
    )


def square_box_around(points2d: np.ndarray, pad_px: float = 10.0, enlarge: float = 1.25) -> Box:
    """The DexYCB crop rule: tight box around the points, padded by `pad_px` per side, made square
    about its centre, then enlarged by `enlarge`. Returns (x0, y0, size)."""
    pts = np.asarray(points2d, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] == 0:
        raise ValueError(f"points2d must have shape (N, 2) with N >= 1, got {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("points2d must be finite")
    if not (math.isfinite(pad_px) and pad_px >= 0 and math.isfinite(enlarge) and enlarge > 0):
        raise ValueError(f"need pad_px >= 0 and enlarge > 0, got {pad_px!r}, {enlarge!r}")
    lo, hi = pts.min(axis=0) - pad_px, pts.max(axis=0) + pad_px
    centre = (lo + hi) / 2.0
    side = float(max(hi - lo)) * enlarge
    if side <= 0:
        raise ValueError("the box around the points is empty; use pad_px > 0 for a single point")
    return (float(centre[0] - side / 2.0), float(centre[1] - side / 2.0), side)


HAND_CROP_ENLARGE = 1.5
"""Side of a hand crop over the longer side of its joints' 2D box (the joints lie inside the flesh)."""
HAND_MIN_EXTENT_M = 0.12
"""A hand crop covers at least this many metres at the hand's mean depth (a fist seen end-on)."""


def hand_crop_box(intrinsics: Intrinsics, joints: np.ndarray, enlarge: float = HAND_CROP_ENLARGE,
                  min_extent_m: float = HAND_MIN_EXTENT_M) -> Box:
    """The square box of a hand crop around 3D joints (N, 3) in the camera frame: their projections'
    box made square and enlarged by ``enlarge``, at least ``min_extent_m`` metres wide at their depth."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 2 or joints.shape[1] != 3 or not np.all(np.isfinite(joints)):
        raise ValueError(f"joints must be finite (N, 3), got shape {joints.shape}")
    depth = float(joints[:, 2].mean())
    if not depth > 0:
        raise ValueError(f"the joints lie behind the camera (mean depth {depth:.3f} m)")
    x0, y0, side = square_box_around(intrinsics.project(joints), pad_px=0.5, enlarge=enlarge)
    least = min_extent_m * max(intrinsics.fx, intrinsics.fy) / depth
    if side >= least:
        return (x0, y0, side)
    return (x0 + (side - least) / 2.0, y0 + (side - least) / 2.0, least)


def scale_box(box: Box, factor: float) -> Box:
    """A square box scaled about its centre."""
    x0, y0, side = box
    if not factor > 0:
        raise ValueError(f"scale factor must be positive, got {factor}")
    return (x0 + side * (1.0 - factor) / 2.0, y0 + side * (1.0 - factor) / 2.0, side * factor)
