"""Forward kinematics of the 21-joint hand, batched in torch.

Every bone frame k (in the order of ``BONE_FRAME_JOINTS``) sits at its joint and rotates the
segments below it: the wrist frame turns the five wrist→base segments, a finger's level-l frame
turns the segment from its level-l joint to the next one. Rest frames are aligned with the template
frame, so a local rotation is expressed in its parent frame and the identity gives the rest pose.
The global frame is G_k = [R_k | J_k − J_0], R_k the product of the local rotations from the wrist.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from gsdf_ros.geometry.transforms import axis_angle_to_matrix
from gsdf_ros.hand.joints import (
    BONE_FRAME_JOINTS,
    FINGER_FRAMES,
    FINGER_JOINTS,
    MCP_JOINTS,
    NUM_BONE_FRAMES,
    NUM_JOINTS,
)

LEVEL_FRAMES: tuple[tuple[int, ...], ...] = tuple(tuple(FINGER_FRAMES[f][lv] for f in range(5)) for lv in range(3))
"""Per level (1-3), the five fingers' frame indices."""

LEVEL_JOINTS: tuple[tuple[int, ...], ...] = tuple(tuple(FINGER_JOINTS[f][lv] for f in range(5)) for lv in range(4))
"""Per level (base, 2, 3, tip), the five fingers' joint indices."""


def as_rotation_matrices(local_rotations: torch.Tensor) -> torch.Tensor:
    """(B, 16, 3, 3) rotation matrices from matrices or axis-angle vectors (B, 16, 3)."""
    r = local_rotations
    if r.ndim == 3 and r.shape[1:] == (NUM_BONE_FRAMES, 3):
        return axis_angle_to_matrix(r)
    if r.ndim == 4 and r.shape[1:] == (NUM_BONE_FRAMES, 3, 3):
        return r
    raise ValueError(f"local rotations must be (B, 16, 3, 3) matrices or (B, 16, 3) axis-angles, got {tuple(r.shape)}")


def check_template(template: torch.Tensor | np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """The template (21, 3) as a wrist-centred tensor with `like`'s dtype and device."""
    if not isinstance(template, torch.Tensor):
        template = torch.tensor(np.asarray(template, dtype=np.float64))  # a copy: templates are read-only
    t = template.to(dtype=like.dtype, device=like.device)
    if t.shape != (NUM_JOINTS, 3):
        raise ValueError(f"template must have shape ({NUM_JOINTS}, 3), got {tuple(t.shape)}")
    return t - t[0]


def bone_frames(rotations: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
    """G_k = [R_k | J_k − J_0] (B, 16, 4, 4) from global rotations (B, 16, 3, 3) and joints (B, 21, 3)."""
    frames = torch.zeros(*rotations.shape[:2], 4, 4, dtype=rotations.dtype, device=rotations.device)
    frames[..., :3, :3] = rotations
    frames[..., :3, 3] = joints[:, list(BONE_FRAME_JOINTS)] - joints[:, :1]
    frames[..., 3, 3] = 1.0
    return frames


def assemble_joints(base: torch.Tensor, levels: list[torch.Tensor], wrist: torch.Tensor) -> torch.Tensor:
    """Joints (B, 21, 3) from the wrist (B, 3), the five bases (B, 5, 3) and the later levels."""
    joints = torch.empty(base.shape[0], NUM_JOINTS, 3, dtype=base.dtype, device=base.device)
    joints[:, 0] = wrist
    for lv, positions in enumerate([base, *levels]):
        joints[:, list(LEVEL_JOINTS[lv])] = positions
    return joints


LevelRotations = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]
"""(level, parent global rotations (B, 5, 3, 3), parent positions (B, 5, 3)) -> local rotations (B, 5, 3, 3)."""


def pose_chain(
    wrist_rotation: torch.Tensor,
    rest: torch.Tensor,
    wrist: torch.Tensor,
    level_rotations: LevelRotations,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Walk the five fingers level by level from the wrist.

    `wrist_rotation` (B, 3, 3) is the wrist frame, `rest` the wrist-centred template (21, 3),
    `wrist` (B, 3) the wrist position; `level_rotations` gives the five local rotations of each
    level. Returns joints (B, 21, 3), global rotations (B, 16, 3, 3), local rotations (B, 16, 3, 3).
    """
    batch = wrist_rotation.shape[0]
    local_rot = wrist_rotation.new_empty(batch, NUM_BONE_FRAMES, 3, 3)
    global_rot = torch.empty_like(local_rot)
    local_rot[:, 0] = global_rot[:, 0] = wrist_rotation
    parent_rot = wrist_rotation[:, None].expand(batch, 5, 3, 3)
    parent_pos = wrist[:, None] + (parent_rot @ rest[list(MCP_JOINTS), :, None])[..., 0]
    bases, levels = parent_pos, []
    for lv in range(3):
        frames = list(LEVEL_FRAMES[lv])
        local = level_rotations(lv, parent_rot, parent_pos)
        parent_rot = parent_rot @ local
        local_rot[:, frames], global_rot[:, frames] = local, parent_rot
        segment = rest[list(LEVEL_JOINTS[lv + 1])] - rest[list(LEVEL_JOINTS[lv])]
        parent_pos = parent_pos + (parent_rot @ segment[:, :, None])[..., 0]
        levels.append(parent_pos)
    return assemble_joints(bases, levels, wrist), global_rot, local_rot


def forward_kinematics(
    local_rotations: torch.Tensor,
    template: torch.Tensor,
    root: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Posed joints (B, 21, 3) and global bone frames G (B, 16, 4, 4).

    `local_rotations` are (B, 16, 3, 3) or axis-angle (B, 16, 3) in frame order; `template` are the
    rest joints (21, 3). The wrist is placed at `root` (B, 3), at the origin if None.
    """
    rot = as_rotation_matrices(local_rotations)
    rest = check_template(template, rot)
    batch = rot.shape[0]
    wrist = rot.new_zeros(batch, 3) if root is None else root.to(rot).expand(batch, 3)
    joints, global_rot, _ = pose_chain(rot[:, 0], rest, wrist, lambda lv, _r, _p: rot[:, list(LEVEL_FRAMES[lv])])
    return joints, bone_frames(global_rot, joints)


def forward_kinematics_np(
    local_rotations: np.ndarray, template: np.ndarray, root: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`forward_kinematics` for numpy arrays (float64); unbatched input gives unbatched output."""
    rot = torch.as_tensor(np.asarray(local_rotations, dtype=np.float64))
    single = tuple(rot.shape) in ((NUM_BONE_FRAMES, 3), (NUM_BONE_FRAMES, 3, 3))
    rot = rot[None] if single else rot
    root_t = None if root is None else torch.as_tensor(np.asarray(root, dtype=np.float64)).reshape(-1, 3)
    joints, frames = forward_kinematics(rot, template, root_t)
    if single:
        return joints[0].numpy(), frames[0].numpy()
    return joints.numpy(), frames.numpy()
