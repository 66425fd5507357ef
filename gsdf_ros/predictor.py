"""What the inference node calls: a window of crops in, one :class:`Reconstruction` out.

ROS-free. The node builds :class:`CropSample` records from its messages, keeps the last
``window_length`` of them in stamp order and calls :meth:`Predictor.predict`. ``load_predictor``
turns the node's ``checkpoint`` parameter into a predictor: a checkpoint file, or
``package.module:factory`` naming a callable that returns one (for tests and custom models).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gsdf_ros.result import Reconstruction

Box = tuple[float, float, float]

_FACTORY_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class CropSample:
    """One cropped camera frame with the intrinsics of its virtual camera.

    image: (N, N, 3) uint8 RGB; k: 3x3 intrinsics of the crop; rotation: 3x3, maps virtual-frame
    vectors to the source optical frame; box: (x0, y0, size) in source pixels.
    """

    stamp_ns: int
    frame_id: str
    image: np.ndarray
    k: np.ndarray
    rotation: np.ndarray
    box: Box

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {self.image.shape} {self.image.dtype}")
        if self.k.shape != (3, 3) or self.rotation.shape != (3, 3):
            raise ValueError(f"k and rotation must be 3x3, got {self.k.shape} and {self.rotation.shape}")


@runtime_checkable
class Predictor(Protocol):
    """A model behind the inference node. The returned result must be in the source optical frame
    of the newest sample (undo the virtual rotation), stamped with that sample's stamp."""

    window_length: int

    def warm_up(self) -> None:
        """Run once before the first frame (allocations, kernel selection)."""

    def predict(self, window: list[CropSample]) -> Reconstruction:
        """Reconstruct from up to `window_length` samples, oldest first."""


def load_predictor(spec: str, device: str = "cpu", window_length: int = 0, mesh_options: dict[str, Any] | None = None) -> Predictor:
    """The predictor named by `spec`: a checkpoint path or ``module:factory``.

    A factory is called as ``factory(device=..., window_length=...)``; `window_length` 0 means
    the predictor's own default. `mesh_options` (``mesh``, ``mesh_resolution``, ``mesh_every``)
    go to a checkpoint's :class:`~gsdf_ros.inference.GSDFPredictor`.
    """
    spec = spec.strip()
    if not spec:
        raise ValueError("no predictor given: set the parameter 'checkpoint' to a checkpoint file")
    path = Path(spec).expanduser()
    if not path.exists() and _FACTORY_SPEC.match(spec):
        return _from_factory(spec, device, window_length)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if not path.is_file():
        raise ValueError(f"checkpoint is not a file: {path}")
    return load_checkpoint_predictor(path, device, window_length, mesh_options)


def load_checkpoint_predictor(path: Path, device: str, window_length: int, mesh_options: dict[str, Any] | None = None) -> Predictor:
    """The gSDF model of a checkpoint file as a predictor (torch is imported here, not before)."""
    from gsdf_ros.inference import GSDFPredictor

    return GSDFPredictor.from_checkpoint(path, device=device, window_length=window_length or None, **(mesh_options or {}))


def _from_factory(spec: str, device: str, window_length: int) -> Predictor:
    module_name, attr = spec.split(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load predictor factory {spec!r}: {exc}") from exc
    predictor = factory(device=device, window_length=window_length)
    if not isinstance(predictor, Predictor):
        raise ValueError(f"{spec} returned {type(predictor).__name__}, which is not a Predictor")
    if int(predictor.window_length) < 1:
        raise ValueError(f"{spec} returned a predictor with window_length {predictor.window_length} < 1")
    return predictor
