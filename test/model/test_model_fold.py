"""Batch-norm folding for inference: same outputs, no BatchNorm2d left after a convolution, refused in
training mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gsdf_ros.detect.model import DetectorConfig, HandDetector
from gsdf_ros.model import build_model
from gsdf_ros.model.fold import fold_batchnorm
from gsdf_ros.train import TrainConfig, model_config


def _convs_followed_by_bn(model: nn.Module) -> int:
    count = 0
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            count += sum(isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d) for a, b in zip(module, module[1:]))
        for i in (1, 2, 3):
            count += isinstance(getattr(module, f"conv{i}", None), nn.Conv2d) and isinstance(
                getattr(module, f"bn{i}", None), nn.BatchNorm2d)
    return count


def test_the_folded_detector_computes_the_same_outputs(randomise_batchnorm):
    net = HandDetector(DetectorConfig(canvas=(96, 64))).eval()
    randomise_batchnorm(net, 0, spread=2.0, var_floor=0.3)
    image = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        want = net(image)
        pairs = _convs_followed_by_bn(net)
        assert fold_batchnorm(net) == pairs > 0
        got = net(image)
    assert _convs_followed_by_bn(net) == 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-4)


def test_the_folded_pose_net_reads_the_same_joints(randomise_batchnorm):
    cfg = TrainConfig(stage="pose", model="tiny", model_overrides={"image_size": 64, "heatmap_size": 16,
                                                                    "depth_bins": 16}, device="cpu")
    net = build_model(model_config(cfg), "pose").eval()
    randomise_batchnorm(net, 1, spread=2.0, var_floor=0.3)
    image = torch.randn(2, 3, 64, 64)
    K = torch.tensor([[80.0, 0.0, 32.0], [0.0, 80.0, 32.0], [0.0, 0.0, 1.0]]).expand(2, 3, 3)
    with torch.no_grad():
        want = net(image, K)
        assert fold_batchnorm(net) > 0
        got = net(image, K)
    assert _convs_followed_by_bn(net) == 0
    torch.testing.assert_close(got.volume, want.volume, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got.joints, want.joints, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got.predicted_root_depth, want.predicted_root_depth, rtol=1e-5, atol=1e-6)


def test_folding_a_training_network_is_refused():
    net = HandDetector(DetectorConfig(canvas=(96, 64)))
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(net)
