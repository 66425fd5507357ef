"""The torch-side instruments of live inference: per-stage wall time from forward hooks
(:class:`StageClock`, stages named in :data:`TIMED_STAGES`), the last output of a volume head
(:class:`VolumeTap`) and its peak-sharpness confidence, and the causal window a live predictor sees
(:func:`causal_windows`). :class:`gsdf_ros.gsdf_predictor.GSDFPredictor` is built on them.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gsdf_ros.result import CropSample

TIMED_STAGES: tuple[str, ...] = ("backbone", "pose_ik", "object_center", "sdf_grid", "marching_cubes")


def peak_sharpness(volume: torch.Tensor) -> torch.Tensor:
    """Confidence (B,J) in [0,1]: the softmax mass of the densest 3x3x3 voxel window of each joint volume."""
    if volume.dim() != 5:
        raise ValueError(f"expected volume (B,J,D,H,W), got {tuple(volume.shape)}")
    b, j = volume.shape[:2]
    prob = volume.float().reshape(b, j, -1).softmax(-1).view_as(volume).flatten(0, 1)[:, None]
    window = F.avg_pool3d(prob, kernel_size=3, stride=1, padding=1, count_include_pad=True) * 27.0
    return window.flatten(1).amax(dim=1).view(b, j).clamp(0.0, 1.0)


class StageClock:
    """Wall time of module groups, from forward hooks (CUDA is synchronised around each module)."""

    def __init__(self, groups: dict[str, Sequence[nn.Module | None]], device: torch.device) -> None:
        self.sync = device.type == "cuda"
        self.seconds: dict[str, float] = defaultdict(float)
        self._starts: dict[int, float] = {}
        self.handles = []
        for group, modules in groups.items():
            for module in modules:
                if module is not None:
                    self.handles.append(module.register_forward_pre_hook(self._start))
                    self.handles.append(module.register_forward_hook(self._stop(group)))

    def _now(self) -> float:
        if self.sync:
            torch.cuda.synchronize()
        return time.perf_counter()

    def _start(self, module: nn.Module, args) -> None:
        self._starts[id(module)] = self._now()

    def _stop(self, group: str):
        def hook(module: nn.Module, args, output) -> None:
            self.seconds[group] += self._now() - self._starts.pop(id(module))

        return hook

    def reset(self) -> None:
        self.seconds.clear()


class VolumeTap:
    """Keeps the last output of a volume head (for peak-sharpness confidences)."""

    def __init__(self, module: nn.Module) -> None:
        self.volume: torch.Tensor | None = None
        self.handle = module.register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, args, output: torch.Tensor) -> None:
        self.volume = output.detach()


def causal_windows(crops: Iterable[CropSample], length: int) -> Iterator[list[CropSample]]:
    """For each crop of a stream, the window a live predictor gets: it and up to ``length`` − 1
    crops before it, oldest first (a ring buffer of the last ``length`` crops)."""
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    ring: deque[CropSample] = deque(maxlen=length)
    for crop in crops:
        ring.append(crop)
        yield list(ring)
