"""Inverse kinematics: 21 joints -> 16 bone frames (gSDF, Part B §1.4).

1. Wrist-relative targets J* = J − J_0.
2. Global rotation: Kabsch fit of the template's wrist→base vectors onto the target's (SVD of
   H = Σ t_i p_iᵀ = U S Vᵀ, R = V Uᵀ, no centroid subtraction). A fit whose best orthogonal matrix is
   a reflection (det = −1, e.g. a mirrored or degenerate hand) is flagged invalid; such samples get
   the reflection-corrected rotation so their outputs stay finite rotations.
3. Per finger and level, the target bone is brought into the parent frame, v_t = R_paᵀ(J*_child − Ĵ_parent),
   with Ĵ_parent the IK-posed parent, and the local rotation is the minimal rotation from the
   template bone to v_t. Twist about a bone is not recovered.
"""

from __future__ import annotations

import torch

from gsdf_ros.geometry.transforms import rotation_between
from gsdf_ros.hand.joints import MCP_JOINTS, NUM_JOINTS
from gsdf_ros.hand.kinematics import LEVEL_JOINTS, bone_frames, check_template, pose_chain


def _check_joints(joints: torch.Tensor) -> None:
    if not isinstance(joints, torch.Tensor) or not joints.is_floating_point():
        raise ValueError("joints must be a floating-point torch tensor")
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must have shape (B, {NUM_JOINTS}, 3), got {tuple(joints.shape)}")


def kabsch_rotation(template_vectors: torch.Tensor, target_vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation R (B, 3, 3) minimising Σ|R t_i − p_i|² for t (N, 3) and p (B, N, 3), and whether the
    unconstrained orthogonal fit was a proper rotation (B,) (False: reflection, R is its proper fix)."""
    h = template_vectors.transpose(-1, -2) @ target_vectors  # Σ t_i p_iᵀ, (B, 3, 3)
    u, _, vh = torch.linalg.svd(h)
    v = vh.transpose(-1, -2)
    det = torch.linalg.det(v @ u.transpose(-1, -2))
    proper = det > 0
    fix = torch.ones(*det.shape, 3, dtype=h.dtype, device=h.device)
    fix[..., 2] = torch.where(proper, 1.0, -1.0)
    return (v * fix[..., None, :]) @ u.transpose(-1, -2), proper


def _solve(
    joints: torch.Tensor, template: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """IK-posed wrist-centred joints, global and local rotations, and `valid`."""
    _check_joints(joints)
    rest = check_template(template, joints)
    finite = torch.isfinite(joints).flatten(1).all(dim=1)
    target = joints - joints[:, :1]
    target = torch.where(finite[:, None, None], target, rest.expand_as(target))
    wrist_rotation, proper = kabsch_rotation(rest[list(MCP_JOINTS)], target[:, list(MCP_JOINTS)])

    def aim(level: int, parent_rot: torch.Tensor, parent_pos: torch.Tensor) -> torch.Tensor:
        """Minimal rotations taking each template bone of `level` onto the target bone."""
        child = list(LEVEL_JOINTS[level + 1])
        wanted = (parent_rot.transpose(-1, -2) @ (target[:, child] - parent_pos)[..., None])[..., 0]
        return rotation_between(rest[child] - rest[list(LEVEL_JOINTS[level])], wanted)

    posed, global_rot, local_rot = pose_chain(wrist_rotation, rest, target.new_zeros(target.shape[0], 3), aim)
    return posed, global_rot, local_rot, finite & proper


def ik_local_rotations(joints: torch.Tensor, template: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Local rotations (B, 16, 3, 3) in frame order, as :func:`forward_kinematics` takes them, and `valid` (B,)."""
    _, _, local_rot, valid = _solve(joints, template)
    return local_rot, valid


def joints_to_bone_frames(
    joints: torch.Tensor, template: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bone frames from 21 joints.

    `joints` (B, 21, 3) in metres, any frame; `template` (21, 3) rest joints. Returns
    frames (B, 16, 4, 4) = [R_k | J_k − J_0] of the IK-posed skeleton, refit_joints (B, 21, 3) = the
    IK-posed skeleton placed at the input wrist, and valid (B,) bool (False for a reflected fit or
    non-finite input; those samples still get finite frames).
    """
    posed, global_rot, _, valid = _solve(joints, template)
    wrist = torch.nan_to_num(joints[:, 0], nan=0.0, posinf=0.0, neginf=0.0)
    return bone_frames(global_rot, posed), posed + wrist[:, None], valid
