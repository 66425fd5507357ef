"""Hand detector and hand check checkpoints for inference: which kind a file is, and a copy without the
optimiser state (``gsdf-export``)."""

from __future__ import annotations

from pathlib import Path

import torch

from gsdf_ros.detect.check import KIND as CHECK_KIND
from gsdf_ros.detect.check_train import load_check
from gsdf_ros.detect.train import KIND, load_detector
from gsdf_ros.detect.trained import write_atomically


def export_detector(src: str | Path, dst: str | Path) -> Path:
    """A copy of a hand detector or hand check checkpoint without optimiser state (what the inference node
    loads); ValueError for any other file."""
    kind = detect_checkpoint_kind(src)
    if kind is None:
        raise ValueError(f"{src} is neither a hand-detector nor a hand-check checkpoint")
    _, state = (load_detector if kind == KIND else load_check)(src)
    state["optimizer_state"] = None
    return write_atomically(state, dst)


def detect_checkpoint_kind(path: str | Path) -> str | None:
    """``hand_detector`` or ``hand_check`` for those checkpoints, None for any other (a gSDF model)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    kind = state.get("kind") if isinstance(state, dict) else None
    return kind if kind in (KIND, CHECK_KIND) else None


def is_detector_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` holds a hand-detector or hand-check checkpoint (not a gSDF model one)."""
    return detect_checkpoint_kind(path) is not None
