"""Volumetric heads, soft-argmax, the 2.5D volume decode and the RootNet-style root-depth head."""

from __future__ import annotations

import math

import torch
from torch import nn


class VolumeHead(nn.Module):
    """1x1 conv to J*D channels, reshaped to a (B, J, D, H, W) volume (channel = joint*D + depth)."""

    def __init__(self, in_channels: int, num_joints: int, depth_bins: int) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.depth_bins = depth_bins
        self.conv = nn.Conv2d(in_channels, num_joints * depth_bins, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        b, _, h, w = y.shape
        return y.view(b, self.num_joints, self.depth_bins, h, w)


LOGIT_FLOOR = -60.0
"""Logits are kept within this of their maximum before a softmax: e^-60 is still a normal float32, so
sharp volumes never produce denormal probabilities (CPU arithmetic on those is ~10x slower)."""


def floored_logits(logits: torch.Tensor) -> torch.Tensor:
    """``logits`` (..., N) shifted so their maximum is 0 and floored at :data:`LOGIT_FLOOR`: the same
    softmax up to e^-60 per entry."""
    shifted = logits - logits.detach().amax(dim=-1, keepdim=True)
    return shifted.clamp_min(LOGIT_FLOOR)


def soft_argmax_3d(volume: torch.Tensor) -> torch.Tensor:
    """Expected (x, y, z) voxel indices (B, J, 3) under a softmax over all D*H*W voxels of each joint."""
    if volume.dim() != 5:
        raise ValueError(f"expected volume (B,J,D,H,W), got {tuple(volume.shape)}")
    b, j, d, h, w = volume.shape
    prob = floored_logits(volume.reshape(b, j, -1)).softmax(dim=-1).view(b, j, d, h, w)
    grid = lambda n: torch.arange(n, dtype=prob.dtype, device=prob.device)  # noqa: E731
    x = (prob.sum(dim=(2, 3)) * grid(w)).sum(-1)
    y = (prob.sum(dim=(2, 4)) * grid(h)).sum(-1)
    z = (prob.sum(dim=(3, 4)) * grid(d)).sum(-1)
    return torch.stack([x, y, z], dim=-1)


def _volume_geometry(
    points: torch.Tensor,
    intrinsics: torch.Tensor,
    root_depth: torch.Tensor,
    heatmap_size: int,
    image_size: int,
    depth_bins: int | None,
) -> tuple[torch.Tensor, int, float]:
    """Validated root depth (B,1), number of depth bins and pixel stride of the volume."""
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(f"expected points/indices (B,J,3), got {tuple(points.shape)}")
    if intrinsics.shape != (points.shape[0], 3, 3):
        raise ValueError(f"expected intrinsics (B,3,3), got {tuple(intrinsics.shape)}")
    root_depth = root_depth.reshape(-1)
    if root_depth.shape[0] != points.shape[0]:
        raise ValueError(f"expected root_depth (B,), got {tuple(root_depth.shape)}")
    return root_depth[:, None], depth_bins or heatmap_size, image_size / heatmap_size


def decode_volume(
    idx: torch.Tensor,
    intrinsics: torch.Tensor,
    root_depth: torch.Tensor,
    depth_dim: float,
    heatmap_size: int,
    image_size: int,
    depth_bins: int | None = None,
) -> torch.Tensor:
    """Volume indices (B,J,3) to camera-frame points in metres: u = x*stride, z = (z/D*2-1)*depth_dim + root."""
    root, depth_bins, stride = _volume_geometry(idx, intrinsics, root_depth, heatmap_size, image_size, depth_bins)
    u, v = idx[..., 0] * stride, idx[..., 1] * stride
    z = (idx[..., 2] / depth_bins * 2.0 - 1.0) * depth_dim + root
    fx, fy = intrinsics[:, None, 0, 0], intrinsics[:, None, 1, 1]
    cx, cy = intrinsics[:, None, 0, 2], intrinsics[:, None, 1, 2]
    return torch.stack([(u - cx) / fx * z, (v - cy) / fy * z, z], dim=-1)


def encode_points(
    points: torch.Tensor,
    intrinsics: torch.Tensor,
    root_depth: torch.Tensor,
    depth_dim: float,
    heatmap_size: int,
    image_size: int,
    depth_bins: int | None = None,
) -> torch.Tensor:
    """Inverse of :func:`decode_volume`: camera points (B,J,3) to volume indices (x, y, z)."""
    root, depth_bins, stride = _volume_geometry(points, intrinsics, root_depth, heatmap_size, image_size, depth_bins)
    z = points[..., 2]
    u = intrinsics[:, None, 0, 0] * points[..., 0] / z + intrinsics[:, None, 0, 2]
    v = intrinsics[:, None, 1, 1] * points[..., 1] / z + intrinsics[:, None, 1, 2]
    zi = ((z - root) / depth_dim + 1.0) / 2.0 * depth_bins
    return torch.stack([u / stride, v / stride, zi], dim=-1)


def depth_normaliser(intrinsics: torch.Tensor, real_area: float, image_size: int) -> torch.Tensor:
    """RootNet's k = sqrt(fx*fy*A_real/A_img) for crop intrinsics, where A_img is the crop area in pixels."""
    if intrinsics.dim() != 3 or intrinsics.shape[1:] != (3, 3):
        raise ValueError(f"expected intrinsics (B,3,3), got {tuple(intrinsics.shape)}")
    return torch.sqrt(intrinsics[:, 0, 0] * intrinsics[:, 1, 1] * real_area / float(image_size * image_size))


def scale_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` in the forward pass; its gradient multiplied by ``scale`` in the backward pass."""
    if scale == 1.0:
        return x
    return x * scale + x.detach() * (1.0 - scale)


def skeleton_inputs(idx: torch.Tensor, heatmap_size: int, depth_bins: int) -> torch.Tensor:
    """The 2.5D skeleton (B,J,3) volume indices as a root-depth head's inputs (B, 3J+3): joints' image
    positions about their centre and their depths, in [-1, 1] units of the crop and the depth range, the
    centre, and the log of their RMS distance from it (the hand's size in the crop)."""
    if idx.dim() != 3 or idx.shape[-1] != 3:
        raise ValueError(f"expected indices (B,J,3), got {tuple(idx.shape)}")
    uv = idx[..., :2] / float(heatmap_size) * 2.0 - 1.0
    z = idx[..., 2] / float(depth_bins) * 2.0 - 1.0
    centre = uv.mean(dim=1, keepdim=True)
    offsets = uv - centre
    spread = offsets.pow(2).sum(dim=-1).mean(dim=1, keepdim=True).clamp_min(1e-6).sqrt()
    return torch.cat([offsets.flatten(1), z, centre.squeeze(1), torch.log(spread)], dim=1)


class RootDepthHead(nn.Module):
    """Absolute wrist depth z = gamma*k from pooled features; gamma = exp(MLP), starting at 1.

    ``grad_scale`` is the share of its gradient passed on to the features (the shared backbone). With
    ``skeleton_hidden`` > 0 a second MLP reads the pooled features and the 2.5D skeleton's geometry
    (:func:`skeleton_inputs`: the hand's size and foreshortening in the crop) and adds to log gamma; it
    starts at 0, so a head fine-tuned from one without it starts where that one was."""

    def __init__(
        self, in_channels: int, hidden: int, real_area: float, image_size: int, grad_scale: float = 1.0,
        skeleton_hidden: int = 0, num_joints: int = 21,
    ) -> None:
        super().__init__()
        if not 0.0 <= grad_scale <= 1.0:
            raise ValueError(f"grad_scale must lie in [0, 1], got {grad_scale}")
        if skeleton_hidden < 0:
            raise ValueError(f"skeleton_hidden must be >= 0, got {skeleton_hidden}")
        self.real_area = real_area
        self.image_size = image_size
        self.grad_scale = float(grad_scale)
        self.mlp = nn.Sequential(nn.Linear(in_channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)
        self.skeleton_mlp: nn.Sequential | None = None
        if skeleton_hidden:
            self.skeleton_mlp = nn.Sequential(
                nn.Linear(in_channels + 3 * num_joints + 3, skeleton_hidden), nn.ReLU(inplace=True),
                nn.Linear(skeleton_hidden, skeleton_hidden), nn.ReLU(inplace=True), nn.Linear(skeleton_hidden, 1),
            )
            nn.init.zeros_(self.skeleton_mlp[-1].weight)
            nn.init.zeros_(self.skeleton_mlp[-1].bias)

    def forward(self, features: torch.Tensor, intrinsics: torch.Tensor, skeleton: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Depth (B,) from features (B,C,h,w), crop intrinsics (B,3,3) and, for a head with a skeleton
        branch, :func:`skeleton_inputs` (B, 3J+3) (no gradient flows back into it)."""
        pooled = scale_gradient(features, self.grad_scale).mean(dim=(2, 3))
        log_gamma = self.mlp(pooled).squeeze(-1)
        if self.skeleton_mlp is not None:
            if skeleton is None:
                raise ValueError("this root-depth head reads the 2.5D skeleton: pass skeleton inputs")
            log_gamma = log_gamma + self.skeleton_mlp(torch.cat([pooled, skeleton.detach()], dim=1)).squeeze(-1)
        k = depth_normaliser(intrinsics, self.real_area, self.image_size)
        return k * torch.exp(log_gamma.clamp(-math.log(20.0), math.log(20.0)))
