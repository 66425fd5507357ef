"""The hand check: a second, close look at each of the detector's candidates.

The detector reads the whole frame downscaled, so a small or half-hidden hand is a few cells of its
heatmap and a skin-coloured blob looks much like one. The check cuts each candidate's square
(:data:`CheckConfig.enlarge` times the candidate box's longer side, centred on it) from the frame at
full resolution, resizes it to ``size`` pixels and returns two things from a small ResNet:

- ``logit``: whether the square holds a hand (its sigmoid is the check's hand probability);
- ``box``: the hand's box inside the square, (x0, y0, x1, y1) as fractions of the square's side.

It is trained on the detector's own candidates in whole-frame scenes, hand-free frames included
(:mod:`gsdf_ros.detect.check_train`), so it learns what the detector mistakes for a hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np
import torch
from torch import nn

from gsdf_ros.detect.tracker import Square, square_around
from gsdf_ros.image_norm import normalise_image
from gsdf_ros.model.resnet import BasicBlock

Box = tuple[float, float, float, float]
KIND = "hand_check"


@dataclass
class CheckConfig:
    size: int = 96
    """Side of the network's square input, pixels; a multiple of 16."""
    channels: tuple[int, ...] = (16, 32, 64, 128)
    """Stem (stride 2) and stride 4, 8 and 16 widths."""
    enlarge: float = 1.6
    """The square's side over the candidate box's longer side."""

    def __post_init__(self) -> None:
        self.size = int(self.size)
        self.channels = tuple(int(v) for v in self.channels)
        self.enlarge = float(self.enlarge)
        if self.size < 16 or self.size % 16:
            raise ValueError(f"size must be a positive multiple of 16, got {self.size}")
        if len(self.channels) != 4 or min(self.channels) < 1:
            raise ValueError(f"channels must be 4 positive widths, got {self.channels}")
        if not self.enlarge >= 1.0:
            raise ValueError(f"enlarge must be >= 1, got {self.enlarge}")


class HandCheck(nn.Module):
    """Squares (B,3,S,S) ImageNet-normalised -> ``logit`` (B,) hand or not, ``box`` (B,4) the hand's box
    in the square (fractions of its side)."""

    def __init__(self, cfg: CheckConfig = CheckConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        c0, c1, c2, c3 = cfg.channels
        self.stem = nn.Sequential(nn.Conv2d(3, c0, 3, 2, 1, bias=False), nn.BatchNorm2d(c0), nn.ReLU(True))
        self.stages = nn.Sequential(BasicBlock(c0, c1, 2), BasicBlock(c1, c2, 2), BasicBlock(c2, c3, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c3, 5)

    def forward(self, squares: torch.Tensor) -> dict[str, torch.Tensor]:
        size = self.cfg.size
        if squares.dim() != 4 or tuple(squares.shape[1:]) != (3, size, size):
            raise ValueError(f"expected squares (B,3,{size},{size}), got {tuple(squares.shape)}")
        out = self.head(self.pool(self.stages(self.stem(squares))).flatten(1))
        return {"logit": out[:, 0], "box": out[:, 1:]}


def candidate_square(box: Box, enlarge: float) -> Square:
    """The square (x0, y0, side) the check reads for a candidate box."""
    return square_around(box, enlarge)


def cut_square(image: np.ndarray, square: Square, size: int) -> np.ndarray:
    """The (size, size, 3) uint8 picture of an (H, W, 3) frame inside ``square``; zeros where the square
    leaves the frame. Area-averaged when it shrinks, bilinear when it grows."""
    x0, y0, side = square
    if not (math.isfinite(x0) and math.isfinite(y0) and math.isfinite(side)) or side <= 0:
        raise ValueError(f"square must be finite with a positive side, got {square}")
    height, width = image.shape[:2]
    left, top = int(math.floor(x0)), int(math.floor(y0))
    n = max(1, int(round(side)))
    patch = np.zeros((n, n, 3), np.uint8)
    fx0, fy0 = max(left, 0), max(top, 0)
    fx1, fy1 = min(left + n, width), min(top + n, height)
    if fx1 > fx0 and fy1 > fy0:
        patch[fy0 - top:fy1 - top, fx0 - left:fx1 - left] = image[fy0:fy1, fx0:fx1]
    interpolation = cv2.INTER_AREA if n > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interpolation)


def box_in_square(box: Box, square: Square) -> Box:
    """A frame box as fractions of ``square``'s side, from its corner."""
    x0, y0, side = square
    return ((box[0] - x0) / side, (box[1] - y0) / side, (box[2] - x0) / side, (box[3] - y0) / side)


def box_from_square(box: Sequence[float], square: Square) -> Box:
    """The inverse of :func:`box_in_square`: fractions of the square back to frame pixels."""
    x0, y0, side = square
    b0, b1, b2, b3 = (float(v) for v in box)
    return (x0 + b0 * side, y0 + b1 * side, x0 + b2 * side, y0 + b3 * side)


@dataclass(frozen=True)
class Checked:
    """The check's answer for one candidate: its hand probability and the hand's box in frame pixels."""

    probability: float
    box: Box


def check_boxes(model: HandCheck, image: np.ndarray, boxes: Sequence[Box]) -> list[Checked]:
    """The check's answers for candidate ``boxes`` (frame pixels) of one (H, W, 3) uint8 RGB frame, in
    their order; a box that is not finite gets probability 0 and stays as it is."""
    squares, keep = [], []
    for index, box in enumerate(boxes):
        if all(math.isfinite(float(v)) for v in box):
            squares.append(candidate_square(tuple(float(v) for v in box), model.cfg.enlarge))
            keep.append(index)
    answers = [Checked(0.0, tuple(float(v) for v in box)) for box in boxes]
    if not squares:
        return answers
    batch = np.stack([normalise_image(cut_square(image, sq, model.cfg.size)) for sq in squares])
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model(torch.from_numpy(batch).to(device))
    probability = torch.sigmoid(out["logit"]).cpu().numpy()
    rel = out["box"].cpu().numpy()
    for row, (index, sq) in enumerate(zip(keep, squares)):
        answers[index] = Checked(float(probability[row]), box_from_square(rel[row], sq))
    return answers


def check_fn(model: HandCheck) -> Callable[[np.ndarray, Sequence[Box]], list[tuple[float, Box]]]:
    """The check (eval mode) as a :data:`gsdf_ros.detect.verify.CheckFn`: (frame, boxes) -> for each box its
    hand probability and the hand's box."""
    model.eval()
    return lambda image, boxes: [(c.probability, c.box) for c in check_boxes(model, image, boxes)]
