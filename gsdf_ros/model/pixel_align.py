"""Visual point features: pixel-aligned sampling of the SDF feature map, or one global feature."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def project_points(points: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Camera points (B,N,3) to crop pixels (B,N,2) with intrinsics (B,3,3)."""
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(f"expected points (B,N,3), got {tuple(points.shape)}")
    if intrinsics.shape != (points.shape[0], 3, 3):
        raise ValueError(f"expected intrinsics (B,3,3), got {tuple(intrinsics.shape)}")
    uvw = points @ intrinsics.transpose(1, 2)
    return uvw[..., :2] / uvw[..., 2:3]


def sample_features(feature_map: torch.Tensor, pixels: torch.Tensor, image_size: int) -> torch.Tensor:
    """Bilinear samples (B,N,C) at crop pixels; g = uv/image_size*2-1, align_corners=True, zeros outside."""
    if feature_map.dim() != 4:
        raise ValueError(f"expected feature map (B,C,h,w), got {tuple(feature_map.shape)}")
    grid = (pixels / image_size * 2.0 - 1.0).unsqueeze(2)
    sampled = F.grid_sample(feature_map, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return sampled.squeeze(-1).transpose(1, 2)


class PixelAlignedFeatures(nn.Module):
    """[sampled feature, depth, unit view direction] (C+4) -> Linear -> C."""

    def __init__(self, channels: int, image_size: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.encoder = nn.Linear(channels + 4, channels)

    def forward(self, feature_map: torch.Tensor, points: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
        sampled = sample_features(feature_map, project_points(points, intrinsics), self.image_size)
        view = points / points.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        return self.encoder(torch.cat([sampled, points[..., 2:3], view], dim=-1))


class GlobalFeatures(nn.Module):
    """The pixel-alignment-off ablation: Conv1x1+BN+ReLU, global average pool, Linear, copied to every point."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 1), nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True)
        )
        self.encoder = nn.Linear(in_channels, channels)

    def pool(self, backbone_map: torch.Tensor) -> torch.Tensor:
        """The per-image feature (B, C)."""
        return self.encoder(self.conv(backbone_map).mean(dim=(2, 3)))

    def forward(self, feature: torch.Tensor, points: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
        """``feature`` is the pooled (B, C) vector; returns (B, N, C)."""
        del intrinsics
        return feature[:, None, :].expand(-1, points.shape[1], -1)
