"""One reconstruction, model in: crops in, joints, bone rotations, object centre and meshes out.

The shared core of the live path (``gsdf_ros.gsdf_predictor``), evaluation and the demo; it imports
nothing from training, evaluation or the datasets. Everything it returns for a frame is in that
frame's source optical frame (the crop's virtual rotation undone), metres.

* :func:`prepare_window` turns uint8 crops into the network's normalised input.
* :func:`frame_state` picks one frame of a batch or clip :class:`~gsdf_ros.model.SDFState`.
* :func:`pose_of` is the pose path (joints, IK bone rotations, object centre) of an encoded frame.
* :func:`extract_meshes` / :func:`metric_mesh` / :func:`meshes_of` are the mesh path.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
import trimesh

from gsdf_ros.image_norm import normalise_image
from gsdf_ros.mesh import Extraction, extract_coarse_to_fine, extract_dense, to_metric
from gsdf_ros.model import GSDFConfig, GSDFNet, SDFState
from gsdf_ros.result import CropSample

MESH_METHODS: tuple[str, ...] = ("dense", "c2f")


def trained_window_length(cfg: GSDFConfig) -> int:
    """Frames per input window a model was built for: the temporal clip length, else 1."""
    return int(cfg.temporal.num_frames) if cfg.temporal.enabled else 1


def resolve_window_length(trained: int, requested: int | None) -> int:
    """The window a model runs with: its trained clip length, or a shorter ``requested`` one."""
    if not requested:
        return int(trained)
    if requested > trained:
        raise ValueError(f"window_length {requested} exceeds the checkpoint's {trained} frames")
    return int(requested)


def prepare_window(
    window: Sequence[CropSample], length: int, image_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The newest ``length`` crops (the oldest repeated when fewer) as normalised images (T,3,S,S) and
    intrinsics (T,3,3), resized to the model's input size with K scaled alike."""
    if not window:
        raise ValueError("empty window: predict needs at least one crop")
    frames = list(window[-length:])
    frames = [frames[0]] * (length - len(frames)) + frames
    images, intrinsics = [], []
    for crop in frames:
        image = torch.from_numpy(normalise_image(crop.image))
        K = torch.as_tensor(np.asarray(crop.k, dtype=np.float32))
        h, w = image.shape[1:]
        if (h, w) != (image_size, image_size):
            size = (image_size, image_size)
            image = F.interpolate(image[None], size=size, mode="bilinear", antialias=True)[0]
            K = torch.diag(torch.tensor([image_size / w, image_size / h, 1.0])) @ K
        images.append(image)
        intrinsics.append(K)
    return torch.stack(images), torch.stack(intrinsics)


def frame_state(state: SDFState, index: int) -> SDFState:
    """The single-frame state of item ``index`` of a (flattened) batch or clip state."""
    pick = lambda x: x[index : index + 1]  # noqa: E731
    tensors = {f.name: pick(getattr(state, f.name)) for f in dataclasses.fields(state) if f.name != "clip"}
    return SDFState(**tensors, clip=None)


@dataclass(frozen=True)
class FramePose:
    """The pose path's outputs for one frame, source optical frame, metres.

    joints (21, 3); bone_rotations (16, 3, 3): the IK global rotation of each bone frame (order of
    ``gsdf_ros.hand.joints.BONE_FRAME_JOINTS``), mapping the template hand frame to the camera;
    object_center (3,); ik_valid: False when IK flagged the fit (reflection, non-finite input).
    """

    joints: np.ndarray
    bone_rotations: np.ndarray
    object_center: np.ndarray
    ik_valid: bool


def pose_of(state: SDFState, rotation: np.ndarray) -> FramePose:
    """The pose outputs of a single-frame state, rotated from its virtual camera by ``rotation`` (3, 3)."""
    rotation = np.asarray(rotation, dtype=np.float64)
    bones = state.frames[0, :, :3, :3].double().cpu().numpy()
    return FramePose(
        joints=state.joints[0].double().cpu().numpy() @ rotation.T,
        bone_rotations=rotation @ bones,
        object_center=state.obj_center[0].double().cpu().numpy() @ rotation.T,
        ik_valid=bool(state.valid.reshape(-1)[0]),
    )


def extract_meshes(
    model: GSDFNet, state: SDFState, method: str = "c2f", resolution: int = 128, coarse: int = 32
) -> tuple[Extraction, Extraction, float]:
    """Hand and object extractions in normalised space from a single-frame state, and the seconds
    spent evaluating the decoders (the rest of each extraction is marching cubes and clean-up)."""
    device = state.K.device
    spent = [0.0]

    def sdf_of(part: str):
        def sdf_fn(q: torch.Tensor) -> torch.Tensor:
            start = time.perf_counter()
            values = model.decode_part(state, q[None], part)[0]
            spent[0] += time.perf_counter() - start
            return values

        return sdf_fn

    if method == "dense":
        run = lambda fn: extract_dense(fn, resolution, device=device)  # noqa: E731
    elif method == "c2f":
        run = lambda fn: extract_coarse_to_fine(fn, resolution, min(coarse, resolution), device=device)  # noqa: E731
    else:
        raise ValueError(f"mesh must be one of {MESH_METHODS}, got {method!r}")
    with torch.no_grad():
        hand, obj = run(sdf_of("hand")), run(sdf_of("object"))
    return hand, obj, spent[0]


def metric_mesh(
    extraction: Extraction, scale: float, wrist: np.ndarray, rotation: np.ndarray
) -> trimesh.Trimesh | None:
    """A normalised-space extraction in source-camera metres, or None when there is no mesh."""
    return None if extraction.mesh is None else to_metric(extraction.mesh, scale, wrist, rotation)


@dataclass(frozen=True)
class FrameMeshes:
    """The mesh path's outputs for one frame: meshes in source-camera metres (None when empty), the
    seconds spent in the decoders (``sdf_s``) and in the rest of the extraction (``mc_s``), and why
    a mesh is missing (the extraction's reason, None when there is a mesh)."""

    hand: trimesh.Trimesh | None
    object: trimesh.Trimesh | None
    sdf_s: float
    mc_s: float
    hand_reason: str | None = None
    object_reason: str | None = None


def meshes_of(
    model: GSDFNet, state: SDFState, rotation: np.ndarray, method: str, resolution: int, coarse: int
) -> FrameMeshes:
    """Hand and object meshes of a single-frame state in the source camera (placed at its wrist)."""
    hand, obj, sdf_s = extract_meshes(model, state, method, resolution, coarse)
    wrist = state.wrist[0].double().cpu().numpy()
    scale = model.cfg.recon_scale
    rotation = np.asarray(rotation, dtype=np.float64)
    total = float(hand.seconds + obj.seconds)
    return FrameMeshes(
        hand=metric_mesh(hand, scale, wrist, rotation),
        object=metric_mesh(obj, scale, wrist, rotation),
        sdf_s=sdf_s,
        mc_s=max(0.0, total - sdf_s),
        hand_reason=hand.reason,
        object_reason=obj.reason,
    )
