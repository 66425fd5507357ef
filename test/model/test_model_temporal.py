"""The space-time transformer (§2): shapes, attention across frames, per-frame behaviour at T=1."""

import pytest
import torch

from gsdf_ros.model.temporal import SpaceTimeTransformer


@pytest.fixture(scope="module")
def transformer():
    torch.manual_seed(0)
    return SpaceTimeTransformer(channels=16, map_size=4, depth=2, heads=2, dim_head=8, mlp_dim=32).eval()


@pytest.mark.parametrize("frames", [1, 3])
def test_shapes(transformer, frames):
    x = torch.randn(2, frames, 16, 4, 4)
    assert transformer(x).shape == x.shape


def test_changing_one_frame_changes_the_others(transformer):
    x = torch.randn(1, 3, 16, 4, 4)
    y = x.clone()
    y[0, 2] += torch.randn(16, 4, 4)
    with torch.no_grad():
        out_x, out_y = transformer(x), transformer(y)
    assert (out_x[0, 0] - out_y[0, 0]).abs().max() > 1e-4  # frame 0 attends to frame 2


def test_single_frame_windows_are_per_frame(transformer):
    x = torch.randn(3, 1, 16, 4, 4)
    with torch.no_grad():
        batched = transformer(x)
        alone = transformer(x[1:2])
    torch.testing.assert_close(batched[1:2], alone, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(batched, x)


def test_spatial_tokens_mix_and_embedding_is_shared_across_frames(transformer):
    assert transformer.pos_embed.shape == (1, 1, 16, 16)
    x = torch.randn(1, 1, 16, 4, 4)
    y = x.clone()
    y[0, 0, :, 3, 3] += 1.0
    with torch.no_grad():
        assert (transformer(x)[0, 0, :, 0, 0] - transformer(y)[0, 0, :, 0, 0]).abs().max() > 1e-4


def test_rejects_wrong_map(transformer):
    with pytest.raises(ValueError, match="feature maps"):
        transformer(torch.randn(1, 2, 16, 5, 5))


def test_a_fresh_residual_transformer_is_the_identity_and_learns():
    torch.manual_seed(0)
    net = SpaceTimeTransformer(channels=16, map_size=4, depth=2, heads=2, dim_head=8, mlp_dim=32, residual=True)
    x = torch.randn(2, 3, 16, 4, 4)
    torch.testing.assert_close(net(x), x, rtol=0, atol=0)
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(2):  # the first step opens the zero projection, the second reaches the blocks through it
        optimiser.zero_grad()
        (net(x) - x.roll(1, dims=1)).square().mean().backward()
        optimiser.step()
    assert net.spatial.blocks[0].attn.qkv.weight.grad.abs().max() > 0
    assert (net(x) - x).abs().max() > 1e-4
