"""Finding the hand crop from the model's own estimate: nothing from ground truth.

The pose net first looks at the whole image (resized to its input), then at a hand crop around the
joints it found (:func:`~gsdf_ros.geometry.virtual_camera.hand_crop_box`), ``steps`` times. Each look
is a virtual camera (:mod:`gsdf_ros.geometry.virtual_camera`); results come back with the crop they
were computed in, so callers map them to the source optical frame with ``crop.rotation``.

The final reading (:func:`read_hand`) may average the joints of several looks around the last
estimate, at three crop sizes and three in-plane turns (:class:`PoseLooks`): each look errs
differently, above all in the wrist's depth, which the root-depth head reads from the crop's scale.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.pose_looks import SINGLE_LOOK, PoseLooks
from gsdf_ros.geometry.virtual_camera import (
    HAND_CROP_ENLARGE,
    VirtualCrop,
    full_image_crop,
    hand_crop_box,
    to_source_frame,
    virtual_crop,
    warp_crop,
)
from gsdf_ros.image_norm import normalise_image

REFINE_STEPS = 1
"""Hand crops after the whole-image look."""


def crop_input(image: np.ndarray, crop: VirtualCrop) -> tuple[torch.Tensor, torch.Tensor]:
    """The network input of one crop of an (H, W, 3) uint8 RGB image: image (1,3,S,S) and K (1,3,3)."""
    pixels = warp_crop(image, crop, interpolation=cv2.INTER_LINEAR)
    return (
        torch.from_numpy(normalise_image(pixels))[None],
        torch.from_numpy(crop.intrinsics.matrix().astype(np.float32))[None],
    )


def crop_around(intrinsics: Intrinsics, joints_source: np.ndarray, size: int,
                enlarge: float = HAND_CROP_ENLARGE) -> VirtualCrop:
    """The hand crop of an image around joints (21, 3) given in its optical frame."""
    return virtual_crop(intrinsics, hand_crop_box(intrinsics, joints_source, enlarge), size)


def mean_joints(pose_net: torch.nn.Module, images: torch.Tensor, K: torch.Tensor,
                rotations: np.ndarray) -> np.ndarray:
    """The pose net's joints (21, 3) averaged over crops read in one batch: images (N,3,S,S), their
    intrinsics (N,3,3) and rotations (N,3,3) into the frame the joints are wanted in. Raises
    ValueError when any look gives non-finite joints."""
    device = next(pose_net.parameters()).device
    with torch.no_grad():
        joints = pose_net(images.to(device), K.to(device)).joints.double().cpu().numpy()
    joints = np.einsum("nij,nkj->nki", np.asarray(rotations, dtype=np.float64), joints)
    if not np.all(np.isfinite(joints)):
        raise ValueError("the pose net gave non-finite joints")
    return joints.mean(axis=0)


@dataclass
class HandLook:
    """The last look of :func:`locate_hand`: its crop and network input, and the pose net's output."""

    crop: VirtualCrop
    image: torch.Tensor
    K: torch.Tensor
    joints_source: np.ndarray
    """(21, 3) joints in the source optical frame, metres (predicted root depth)."""
    root_depth: float
    """The root-depth head's wrist depth in this crop's virtual frame."""


def look_at(pose_net: torch.nn.Module, image: np.ndarray, crop: VirtualCrop) -> HandLook:
    """The pose net's look at one crop of an (H, W, 3) uint8 RGB image (joints not checked for finiteness)."""
    device = next(pose_net.parameters()).device
    image_t, k_t = crop_input(image, crop)
    with torch.no_grad():
        out = pose_net(image_t.to(device), k_t.to(device))
    joints = to_source_frame(out.joints[0].double().cpu().numpy(), crop.rotation)
    return HandLook(crop, image_t, k_t, joints, float(out.root_depth[0]))


def locate_hand(pose_net: torch.nn.Module, image: np.ndarray, intrinsics: Intrinsics, size: int,
                steps: int = REFINE_STEPS) -> HandLook:
    """Whole image first, then ``steps`` hand crops each around the previous look's joints; every
    look uses the pose net's own root depth. Raises ValueError when a look gives non-finite joints."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    crop = full_image_crop(intrinsics, size)
    for step in range(steps + 1):
        look = look_at(pose_net, image, crop)
        if not np.all(np.isfinite(look.joints_source)):
            raise ValueError("the pose net gave non-finite joints")
        if step < steps:
            crop = crop_around(intrinsics, look.joints_source, size)
    return look


def read_hand(pose_net: torch.nn.Module, image: np.ndarray, intrinsics: Intrinsics, size: int,
              steps: int = REFINE_STEPS, looks: PoseLooks = SINGLE_LOOK) -> HandLook:
    """:func:`locate_hand`, then the joints averaged over ``looks`` around its estimate; the returned
    look keeps the tracker's crop and input (the shape net's pose view) with those joints."""
    look = locate_hand(pose_net, image, intrinsics, size, steps)
    if looks.count == 1:
        return look
    crops = looks.crops(intrinsics, look.joints_source, size)
    inputs = [crop_input(image, crop) for crop in crops]
    joints = mean_joints(pose_net, torch.cat([i for i, _ in inputs]), torch.cat([k for _, k in inputs]),
                         np.stack([crop.rotation for crop in crops]))
    return replace(look, joints_source=joints, root_depth=float((joints @ look.crop.rotation)[0, 2]))


@dataclass
class ShapeInputs:
    """What the gSDF net reads for one frame: its crop around the hand and object, and the pose net's
    own tight crop (``pose_view`` for :meth:`~gsdf_ros.model.GSDFNet.encode`)."""

    crop: VirtualCrop
    image: torch.Tensor
    K: torch.Tensor
    pose_view: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None
    joints: torch.Tensor
    """(1, 21, 3) the look's joints in this crop's frame (``pose_joints`` of ``encode``)."""


def shape_inputs(look: HandLook, image: np.ndarray, intrinsics: Intrinsics, size: int,
                 enlarge: float | None) -> ShapeInputs:
    """The shape net's crop around a look's joints (``enlarge`` times their box; None: the look's own
    crop, read by both nets), with the look as the pose net's view and its joints."""
    crop = look.crop if enlarge is None else crop_around(intrinsics, look.joints_source, size, enlarge)
    joints = torch.from_numpy((look.joints_source @ crop.rotation).astype(np.float32))[None]
    if enlarge is None:
        return ShapeInputs(look.crop, look.image, look.K, None, joints)
    image_t, k_t = crop_input(image, crop)
    rotation = torch.from_numpy((crop.rotation.T @ look.crop.rotation).astype(np.float32))[None]
    return ShapeInputs(crop, image_t, k_t, (look.image, look.K, rotation), joints)
