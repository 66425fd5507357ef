"""A small centre-heatmap hand detector on a downscaled whole frame.

The frame is resized (aspect kept) into a ``canvas`` (width, height) with its top-left corner at
the origin and zero padding. A ResNet-style trunk (strides 4..32) with a top-down path back to
stride 4 feeds three heads per cell: a hand-centre logit, the log box size (in cells) and the
sub-cell centre offset. The hand score of a frame is the sigmoid of its highest centre logit; the
box is read at that cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gsdf_ros.model.resnet import BasicBlock

STRIDE = 4


@dataclass
class DetectorConfig:
    canvas: tuple[int, int] = (384, 288)
    """(width, height) of the network input; multiples of 32."""
    channels: tuple[int, ...] = (16, 24, 32, 64, 96)
    """Stem, stride 4, 8, 16 and 32 widths."""
    head_channels: int = 32

    def __post_init__(self) -> None:
        self.canvas = tuple(int(v) for v in self.canvas)
        self.channels = tuple(int(v) for v in self.channels)
        if len(self.canvas) != 2 or any(v <= 0 or v % 32 for v in self.canvas):
            raise ValueError(f"canvas must be (width, height), multiples of 32, got {self.canvas}")
        if len(self.channels) != 5 or min(self.channels) < 1 or self.head_channels < 1:
            raise ValueError(f"channels must be 5 positive widths, got {self.channels}")

    @property
    def grid(self) -> tuple[int, int]:
        """(width, height) of the output cells."""
        return self.canvas[0] // STRIDE, self.canvas[1] // STRIDE


def _conv_bn_relu(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(True))


class HandDetector(nn.Module):
    """Image (B,3,H,W) ImageNet-normalised, H,W = canvas -> ``heat`` (B,1,h,w) logits, ``size`` (B,2,h,w)
    log (width, height) in cells, ``offset`` (B,2,h,w) sub-cell centre (x, y)."""

    def __init__(self, cfg: DetectorConfig = DetectorConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        c0, c4, c8, c16, c32 = cfg.channels
        h = cfg.head_channels
        self.stem = nn.Sequential(_conv_bn_relu(3, c0, 2), _conv_bn_relu(c0, c4, 2))
        self.down8, self.down16, self.down32 = BasicBlock(c4, c8, 2), BasicBlock(c8, c16, 2), BasicBlock(c16, c32, 2)
        self.lateral = nn.ModuleList(nn.Conv2d(c, h, 1) for c in (c4, c8, c16, c32))
        self.smooth = _conv_bn_relu(h, h, 1)
        self.heat = nn.Conv2d(h, 1, 1)
        self.size = nn.Conv2d(h, 2, 1)
        self.offset = nn.Conv2d(h, 2, 1)
        nn.init.constant_(self.heat.bias, -4.6)  # sigmoid ~ 0.01: few cells hold a hand

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.dim() != 4 or image.shape[1] != 3 or image.shape[2] % 32 or image.shape[3] % 32:
            raise ValueError(f"expected images (B,3,H,W) with H, W multiples of 32, got {tuple(image.shape)}")
        f4 = self.stem(image)
        f8 = self.down8(f4)
        f16 = self.down16(f8)
        f32 = self.down32(f16)
        top = self.lateral[3](f32)
        for feats, lateral in zip((f16, f8, f4), (self.lateral[2], self.lateral[1], self.lateral[0])):
            top = F.interpolate(top, size=feats.shape[-2:], mode="nearest") + lateral(feats)
        top = self.smooth(top)
        return {"heat": self.heat(top), "size": self.size(top), "offset": self.offset(top)}


@dataclass
class Detection:
    """The best hand of one frame, in the frame's pixels."""

    score: float
    box: tuple[float, float, float, float]
    """(x0, y0, x1, y1)."""
    extra: dict = field(default_factory=dict)


def decode_proposals(out: dict[str, torch.Tensor], index: int = 0, scale: float = 1.0, count: int = 1
                     ) -> list[Detection]:
    """The ``count`` highest local maxima (3x3 cells) of item ``index``'s centre heatmap, best first:
    score and box, divided by ``scale`` (canvas px per frame px) so boxes are in the original frame's
    pixels. Fewer when the heatmap has fewer cells."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    heat = out["heat"][index, 0]
    width = heat.shape[1]
    peaks = heat == F.max_pool2d(heat[None, None], 3, stride=1, padding=1)[0, 0]
    masked = torch.where(peaks, heat, torch.full_like(heat, -torch.inf)).flatten()
    top = torch.topk(masked, min(count, masked.numel()))
    found = []
    for best in top.indices.tolist():
        if not torch.isfinite(masked[best]) and found:
            break
        cy, cx = divmod(int(best), width)
        score = float(torch.sigmoid(heat[cy, cx]))
        dx, dy = (float(v) for v in out["offset"][index, :, cy, cx])
        w, h = (float(np.exp(np.clip(float(v), -3.0, 6.0))) for v in out["size"][index, :, cy, cx])
        x, y = (cx + dx) * STRIDE, (cy + dy) * STRIDE
        w, h = w * STRIDE, h * STRIDE
        box = ((x - w / 2) / scale, (y - h / 2) / scale, (x + w / 2) / scale, (y + h / 2) / scale)
        found.append(Detection(score, box))
    return found


def decode_detection(out: dict[str, torch.Tensor], index: int = 0, scale: float = 1.0) -> Detection:
    """The highest-scoring cell of item ``index`` (:func:`decode_proposals` with one)."""
    return decode_proposals(out, index, scale, 1)[0]
