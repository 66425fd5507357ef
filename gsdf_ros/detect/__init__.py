"""The hand detector: finds the hand in a whole camera frame (box and hand score), and the tracker
that turns detections and the model's own joints into stable hand crops.

Importing the package imports nothing heavy: :mod:`gsdf_ros.detect.tracker` is plain numpy and
stays free of torch. The detector names below are loaded from :mod:`gsdf_ros.detect.model` (torch)
on first use; import them from there directly.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Detection": "gsdf_ros.detect.model",
    "DetectorConfig": "gsdf_ros.detect.model",
    "HandDetector": "gsdf_ros.detect.model",
    "decode_detection": "gsdf_ros.detect.model",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
