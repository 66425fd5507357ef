"""Batch-norm folding for inference: each Conv2d followed by a BatchNorm2d becomes one Conv2d.

In eval mode a BatchNorm2d is a per-channel scale and shift of the convolution before it, so folding
the two computes the same outputs (up to float rounding) in one pass over the feature map, which is
what a CPU spends most of a small network's time on. Only for networks that no longer train: the
folded convolutions carry the running statistics, and the BatchNorm layers become identities.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

PAIRED_NAMES = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))
"""Attribute pairs of one module that hold a convolution and the batch norm applied to its output
(:class:`gsdf_ros.model.resnet.BasicBlock`, the ResNet stem)."""


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats
            and bn.running_mean is not None and conv.out_channels == bn.num_features)


def fold_batchnorm(module: nn.Module) -> int:
    """Fold, in place, every BatchNorm2d that directly follows a Conv2d (consecutive in an
    ``nn.Sequential``, or named as in :data:`PAIRED_NAMES`) into that convolution; returns how many.
    ValueError when ``module`` is in training mode."""
    if module.training:
        raise ValueError("fold_batchnorm needs a module in eval mode (call .eval() first)")
    folded = 0
    for child in module.children():
        folded += fold_batchnorm(child)
    if isinstance(module, nn.Sequential):
        for i in range(len(module) - 1):
            if _foldable(module[i], module[i + 1]):
                module[i] = fuse_conv_bn_eval(module[i], module[i + 1])
                module[i + 1] = nn.Identity()
                folded += 1
    for conv_name, bn_name in PAIRED_NAMES:
        conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
        if conv is not None and bn is not None and _foldable(conv, bn):
            setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
            setattr(module, bn_name, nn.Identity())
            folded += 1
    return folded
