"""Volume heads, soft-argmax, the 2.5D decode and its inverse, the root-depth head, the UNet neck."""

import math

import pytest
import torch

from gsdf_ros.model.heads import (
    RootDepthHead,
    VolumeHead,
    decode_volume,
    depth_normaliser,
    encode_points,
    soft_argmax_3d,
)
from gsdf_ros.model.necks import UNetNeck

K = torch.tensor([[[480.0, 0.0, 128.0], [0.0, 470.0, 121.0], [0.0, 0.0, 1.0]]])


def gaussian_volume(center_xyz: tuple[float, float, float], size: int, sigma: float = 1.0) -> torch.Tensor:
    """Log-density of a sharp isotropic Gaussian (sigma of one voxel keeps sampling bias < 1e-8) centred
    at (x, y, z) voxel coordinates, shaped (1,1,D,H,W)."""
    r = torch.arange(size, dtype=torch.float64)
    z, y, x = torch.meshgrid(r, r, r, indexing="ij")
    cx, cy, cz = center_xyz
    return (-((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) / (2 * sigma**2))[None, None]


def test_soft_argmax_recovers_subvoxel_peak():
    center = (10.3, 20.7, 5.45)
    idx = soft_argmax_3d(gaussian_volume(center, 32))
    assert idx.shape == (1, 1, 3)
    torch.testing.assert_close(idx[0, 0], torch.tensor(center, dtype=torch.float64), atol=1e-4, rtol=0)


def test_soft_argmax_uniform_volume_is_centre_without_offset():
    idx = soft_argmax_3d(torch.zeros(2, 3, 8, 16, 4))
    torch.testing.assert_close(idx, torch.tensor([1.5, 7.5, 3.5]).expand(2, 3, 3))


def test_decode_follows_formula_and_round_trips():
    center = (40.25, 17.5, 33.0)  # x, y, z indices on a 64^3 volume of a 256 crop
    idx = soft_argmax_3d(gaussian_volume(center, 64).float())
    root = torch.tensor([0.6])
    point = decode_volume(idx, K, root, depth_dim=0.28, heatmap_size=64, image_size=256)[0, 0]
    z = (33.0 / 64 * 2 - 1) * 0.28 + 0.6
    expected = torch.tensor([(4 * 40.25 - 128) / 480 * z, (4 * 17.5 - 121) / 470 * z, z])
    torch.testing.assert_close(point, expected, atol=1e-5, rtol=0)


def test_decode_of_encode_is_identity_in_metres():
    gen = torch.Generator().manual_seed(0)
    points = torch.rand(3, 50, 3, generator=gen, dtype=torch.float64) * 0.4 - 0.2
    points[..., 2] += 0.7
    intr = K.double().expand(3, 3, 3).clone()
    root = torch.tensor([0.65, 0.7, 0.75], dtype=torch.float64)
    idx = encode_points(points, intr, root, 0.28, 32, 128, depth_bins=40)
    back = decode_volume(idx, intr, root, 0.28, 32, 128, depth_bins=40)
    assert (back - points).abs().max() < 1e-5


def test_decode_rejects_bad_shapes():
    with pytest.raises(ValueError, match="intrinsics"):
        decode_volume(torch.zeros(2, 21, 3), K, torch.ones(2), 0.28, 64, 256)
    with pytest.raises(ValueError, match="root_depth"):
        decode_volume(torch.zeros(1, 21, 3), K, torch.ones(2), 0.28, 64, 256)


def test_volume_head_channel_layout_is_joint_major():
    head = VolumeHead(8, num_joints=3, depth_bins=4)
    assert head(torch.randn(2, 8, 5, 5)).shape == (2, 3, 4, 5, 5)
    # With a zero input only the bias remains: joint 2, depth 1 is channel 2*4+1.
    torch.testing.assert_close(head(torch.zeros(1, 8, 5, 5))[0, 2, 1], head.conv.bias[2 * 4 + 1].expand(5, 5))


def test_root_depth_head_starts_at_rootnet_normaliser():
    head = RootDepthHead(16, 8, real_area=0.09, image_size=256)
    z = head(torch.randn(2, 16, 8, 8), K.expand(2, 3, 3))
    k = math.sqrt(480 * 470 * 0.09 / 256**2)
    torch.testing.assert_close(z, torch.full((2,), k))
    # Same box seen with half the crop resolution: focal lengths halve, the normaliser is unchanged per pixel area.
    half = K.clone()
    half[0, :2] /= 2
    torch.testing.assert_close(depth_normaliser(half, 0.09, 128), depth_normaliser(K, 0.09, 256))


def test_unet_neck_upsamples_by_two_per_layer():
    neck = UNetNeck(32, 16, 3)
    assert neck(torch.randn(1, 32, 4, 4)).shape == (1, 16, 32, 32)
    deconvs = [m for m in neck.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(deconvs) == 3 and all(m.bias is None for m in deconvs)
