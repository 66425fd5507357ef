"""Geometry-driven point features (gSDF §1.7): hand bone frames and object/joint offsets, all x s/2."""

from __future__ import annotations

import torch

from gsdf_ros.hand.joints import NUM_BONE_FRAMES, NUM_JOINTS

_FINGERS = 5


def _level_frames(level: int) -> list[int]:
    """Indices (in wrist, thumb1-3, index1-3, ... order) of the five finger frames of one level 1..3."""
    return [1 + 3 * f + (level - 1) for f in range(_FINGERS)]


HAND_LATENT_FRAMES: dict[int, list[int]] = {
    3: [],
    6: [0],
    21: [0] + _level_frames(1),
    36: [0] + _level_frames(1) + _level_frames(2),
    51: [0] + _level_frames(1) + _level_frames(2) + _level_frames(3),
}
"""Bone frames used by each hand feature size, in feature order (wrist, then level by level)."""


def _check(q: torch.Tensor, frames: torch.Tensor) -> None:
    if q.dim() != 3 or q.shape[-1] != 3:
        raise ValueError(f"expected query points (B,N,3), got {tuple(q.shape)}")
    if frames.shape != (q.shape[0], NUM_BONE_FRAMES, 4, 4):
        raise ValueError(f"expected bone frames (B,{NUM_BONE_FRAMES},4,4), got {tuple(frames.shape)}")


def points_in_frames(p: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """l_k = R_k^T (p - t_k) for points p (B,N,3) and frames (B,K,4,4); returns (B,N,K,3)."""
    rot, trans = frames[:, :, :3, :3], frames[:, :, :3, 3]
    diff = p[:, :, None, :] - trans[:, None, :, :]
    return torch.einsum("bkij,bnki->bnkj", rot, diff)


def hand_features(q: torch.Tensor, frames: torch.Tensor, recon_scale: float, latent: int = 51) -> torch.Tensor:
    """e_h (B,N,latent) = (s/2)[p, l_wrist, l_level1..] with p = 2q/s; latent in {3,6,21,36,51}."""
    _check(q, frames)
    if latent not in HAND_LATENT_FRAMES:
        raise ValueError(f"hand latent must be one of {sorted(HAND_LATENT_FRAMES)}, got {latent}")
    half = recon_scale / 2.0
    p = q / half
    local = points_in_frames(p, frames[:, HAND_LATENT_FRAMES[latent]])
    return torch.cat([q, half * local.flatten(2)], dim=-1)


def object_features(
    q: torch.Tensor,
    frames: torch.Tensor,
    joints_rel: torch.Tensor,
    object_rel: torch.Tensor,
    recon_scale: float,
    latent: int = 72,
) -> torch.Tensor:
    """e_o (B,N,latent) = (s/2)[p, p - t_o, R_0^T p, p - (psi_h,j - c) for 21 joints], subsets by latent.

    ``joints_rel`` are the raw pose-net joints minus the wrist c (B,21,3); ``object_rel`` is t_o (B,3).
    """
    _check(q, frames)
    if joints_rel.shape != (q.shape[0], NUM_JOINTS, 3):
        raise ValueError(f"expected joints_rel (B,{NUM_JOINTS},3), got {tuple(joints_rel.shape)}")
    if object_rel.shape != (q.shape[0], 3):
        raise ValueError(f"expected object_rel (B,3), got {tuple(object_rel.shape)}")
    if latent not in (3, 6, 9, 69, 72):
        raise ValueError(f"object latent must be one of (3, 6, 9, 69, 72), got {latent}")
    half = recon_scale / 2.0
    p = q / half
    parts = [p]
    if latent >= 6:
        parts.append(p - object_rel[:, None, :])
    if latent in (9, 72):
        parts.append(p @ frames[:, 0, :3, :3])
    if latent >= 69:
        parts.append((p[:, :, None, :] - joints_rel[:, None, :, :]).flatten(2))
    return half * torch.cat(parts, dim=-1)
