"""Kinematic point features (§1.7) and pixel-aligned visual features (§1.6)."""

import pytest
import torch

from gsdf_ros.model.kinematic import HAND_LATENT_FRAMES, hand_features, object_features
from gsdf_ros.model.pixel_align import GlobalFeatures, PixelAlignedFeatures, project_points, sample_features

S = 7.0


def frames_with_translations(trans: torch.Tensor) -> torch.Tensor:
    """Identity-rotation bone frames (B,16,4,4) with the given translations (B,16,3)."""
    frames = torch.eye(4).repeat(trans.shape[0], 16, 1, 1)
    frames[:, :, :3, 3] = trans
    return frames


def rot_z(angle: float) -> torch.Tensor:
    c, s = torch.cos(torch.tensor(angle)), torch.sin(torch.tensor(angle))
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@pytest.fixture
def case():
    gen = torch.Generator().manual_seed(1)
    q = torch.rand(2, 7, 3, generator=gen) * 2 - 1
    trans = torch.rand(2, 16, 3, generator=gen) * 0.1
    return q, trans


def test_hand_feature_shapes_for_every_latent(case):
    q, trans = case
    frames = frames_with_translations(trans)
    for latent in (3, 6, 21, 36, 51):
        assert hand_features(q, frames, S, latent).shape == (2, 7, latent)
    with pytest.raises(ValueError):
        hand_features(q, frames, S, 12)


def test_hand_features_identity_frames_are_offsets(case):
    q, trans = case
    e = hand_features(q, frames_with_translations(trans), S, 51)
    torch.testing.assert_close(e[..., :3], q)
    torch.testing.assert_close(e[..., 3:6], q - S / 2 * trans[:, None, 0])
    # Level 1 comes before levels 2 and 3: dims 6-8 are the thumb MCP frame (index 1), 9-11 index MCP (index 4).
    torch.testing.assert_close(e[..., 6:9], q - S / 2 * trans[:, None, 1])
    torch.testing.assert_close(e[..., 9:12], q - S / 2 * trans[:, None, 4])
    # Last block: the little finger's level-3 frame (index 15).
    torch.testing.assert_close(e[..., 48:51], q - S / 2 * trans[:, None, 15])
    assert HAND_LATENT_FRAMES[51] == [0, 1, 4, 7, 10, 13, 2, 5, 8, 11, 14, 3, 6, 9, 12, 15]


def test_hand_features_rotate_into_bone_frame(case):
    q, trans = case
    frames = frames_with_translations(trans)
    rot = rot_z(0.7)
    frames[:, 0, :3, :3] = rot
    e = hand_features(q, frames, S, 6)
    p = q * 2 / S
    expected = S / 2 * (p - trans[:, None, 0]) @ rot  # R^T (p - t) as a row vector
    torch.testing.assert_close(e[..., 3:6], expected)


def test_object_features_by_hand(case):
    q, trans = case
    trans[:, 0] = 0.0
    frames = frames_with_translations(trans)
    rot = rot_z(-0.4)
    frames[:, 0, :3, :3] = rot
    joints_rel = torch.randn(2, 21, 3) * 0.05
    t_o = torch.tensor([[0.02, -0.01, 0.05], [0.0, 0.03, -0.02]])
    e = object_features(q, frames, joints_rel, t_o, S, 72)
    assert e.shape == (2, 7, 72)
    p = q * 2 / S
    torch.testing.assert_close(e[..., :3], q)
    torch.testing.assert_close(e[..., 3:6], q - S / 2 * t_o[:, None])
    torch.testing.assert_close(e[..., 6:9], S / 2 * torch.einsum("ij,bni->bnj", rot, p))
    for j in (0, 7, 20):
        torch.testing.assert_close(e[..., 9 + 3 * j : 12 + 3 * j], q - S / 2 * joints_rel[:, None, j])
    sizes = {latent: object_features(q, frames, joints_rel, t_o, S, latent) for latent in (3, 6, 9, 69)}
    assert {k: v.shape[-1] for k, v in sizes.items()} == {3: 3, 6: 6, 9: 9, 69: 69}
    torch.testing.assert_close(sizes[9], e[..., :9])
    torch.testing.assert_close(sizes[69], torch.cat([e[..., :6], e[..., 9:]], dim=-1))


def test_features_reject_bad_shapes(case):
    q, trans = case
    with pytest.raises(ValueError, match="bone frames"):
        hand_features(q, torch.eye(4).repeat(2, 15, 1, 1), S)
    with pytest.raises(ValueError, match="joints_rel"):
        object_features(q, frames_with_translations(trans), torch.zeros(2, 20, 3), torch.zeros(2, 3), S)


def test_projection_and_sampling_hit_the_right_pixel():
    K = torch.tensor([[[100.0, 0.0, 32.0], [0.0, 100.0, 32.0], [0.0, 0.0, 1.0]]])
    # A point projecting to crop pixel (48, 16) on a 64-px crop with an 8x8 map: align_corners=True
    # maps g = uv/64*2-1 = (0.5, -0.5) to map coordinates ((g+1)/2*7) = (5.25, 1.75).
    z = 0.5
    point = torch.tensor([[[(48 - 32) / 100 * z, (16 - 32) / 100 * z, z]]])
    torch.testing.assert_close(project_points(point, K), torch.tensor([[[48.0, 16.0]]]))
    ramp = torch.arange(8.0)
    fmap = torch.stack([ramp.expand(8, 8), ramp[:, None].expand(8, 8)])[None]  # channel 0 = x, 1 = y
    sampled = sample_features(fmap, project_points(point, K), image_size=64)
    torch.testing.assert_close(sampled, torch.tensor([[[5.25, 1.75]]]))
    outside = sample_features(fmap, torch.tensor([[[500.0, 500.0]]]), image_size=64)
    torch.testing.assert_close(outside, torch.zeros(1, 1, 2))


def test_pixel_aligned_features_append_depth_and_view_direction():
    module = PixelAlignedFeatures(channels=2, image_size=64)
    with torch.no_grad():
        module.encoder.weight.zero_()
        module.encoder.weight[0, 2] = 1.0  # depth
        module.encoder.weight[1, 5] = 1.0  # z of the unit view direction
        module.encoder.bias.zero_()
    K = torch.tensor([[[100.0, 0.0, 32.0], [0.0, 100.0, 32.0], [0.0, 0.0, 1.0]]])
    points = torch.tensor([[[0.0, 0.0, 0.5], [0.3, 0.0, 0.4]]])
    out = module(torch.randn(1, 2, 8, 8), points, K)
    torch.testing.assert_close(out, torch.tensor([[[0.5, 1.0], [0.4, 0.8]]]))


def test_global_features_are_copied_to_every_point():
    module = GlobalFeatures(in_channels=16, channels=8).eval()
    feature = module.pool(torch.randn(2, 16, 4, 4))
    out = module(feature, torch.randn(2, 5, 3), torch.eye(3).expand(2, 3, 3))
    assert out.shape == (2, 5, 8)
    torch.testing.assert_close(out[:, 0], out[:, 4])
