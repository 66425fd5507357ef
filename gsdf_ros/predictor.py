"""What the inference node calls: a window of crops in, one :class:`Reconstruction` out.

ROS-free. The node builds :class:`CropSample` records from its messages, keeps the last
``window_length`` of them in stamp order and calls :meth:`Predictor.predict`, or, for a
:class:`TwoRatePredictor`, :meth:`~TwoRatePredictor.predict_pose` for every window it can and
:meth:`~TwoRatePredictor.predict_meshes` in a worker of its own. ``load_predictor``
turns the node's ``checkpoint`` parameter into a predictor: a checkpoint file, or
``package.module:factory`` naming a callable that returns one (for tests and custom models). The
protocols live here; the checkpoint-backed implementation is
:class:`gsdf_ros.gsdf_predictor.GSDFPredictor`.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from gsdf_ros.result import CropSample, Reconstruction

_FACTORY_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@runtime_checkable
class Predictor(Protocol):
    """A model behind the inference node. The returned result must be in the source optical frame
    of the newest sample (undo the virtual rotation), stamped with that sample's stamp."""

    window_length: int

    def warm_up(self) -> None:
        """Run once before the first frame (allocations, kernel selection)."""

    def predict(self, window: list[CropSample]) -> Reconstruction:
        """Reconstruct from up to `window_length` samples, oldest first."""


@runtime_checkable
class TwoRatePredictor(Predictor, Protocol):
    """A predictor whose poses and meshes can run at their own rates (in two threads of one process)."""

    makes_meshes: bool

    def predict_pose(self, window: list[CropSample]) -> tuple[Reconstruction, Any | None]:
        """The pose result (no meshes) of the newest sample, and a job for :meth:`predict_meshes`
        (None: no meshes)."""

    def predict_meshes(self, job: Any) -> Reconstruction:
        """The job's pose result with the meshes of that same frame; safe to call while
        :meth:`predict_pose` runs."""


def load_predictor(
    spec: str, device: str = "cpu", window_length: int = 0, mesh_options: dict[str, Any] | None = None
) -> Predictor:
    """The predictor named by `spec`: a checkpoint path or ``module:factory``.

    A factory is called as ``factory(device=..., window_length=...)``; `window_length` 0 means
    the predictor's own default. `mesh_options` (``mesh``, ``mesh_resolution``, ``mesh_every``)
    go to a checkpoint's :class:`~gsdf_ros.gsdf_predictor.GSDFPredictor`.
    """
    spec = spec.strip()
    if not spec:
        raise ValueError("no predictor given: set the parameter 'checkpoint' to a checkpoint file")
    path = Path(spec).expanduser()
    if is_factory_spec(spec):
        return _from_factory(spec, device, window_length)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if not path.is_file():
        raise ValueError(f"checkpoint is not a file: {path}")
    return load_checkpoint_predictor(path, device, window_length, mesh_options)


def load_checkpoint_predictor(
    path: Path, device: str, window_length: int, mesh_options: dict[str, Any] | None = None
) -> Predictor:
    """The gSDF model of a checkpoint file as a predictor (torch is imported here, not before)."""
    from gsdf_ros.gsdf_predictor import GSDFPredictor

    return GSDFPredictor.from_checkpoint(
        path, device=device, window_length=window_length or None, **(mesh_options or {})
    )


def is_factory_spec(spec: str) -> bool:
    """True when `spec` names ``package.module:callable`` and is not an existing file."""
    return not Path(spec).expanduser().exists() and bool(_FACTORY_SPEC.match(spec.strip()))


def load_factory(spec: str, what: str) -> Any:
    """The callable named by ``package.module:callable``; ValueError (naming `what`) when it cannot be imported."""
    module_name, attr = spec.strip().split(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load {what} factory {spec!r}: {exc}") from exc


def _from_factory(spec: str, device: str, window_length: int) -> Predictor:
    predictor = load_factory(spec, "predictor")(device=device, window_length=window_length)
    if not isinstance(predictor, Predictor):
        raise ValueError(f"{spec} returned {type(predictor).__name__}, which is not a Predictor")
    if int(predictor.window_length) < 1:
        raise ValueError(f"{spec} returned a predictor with window_length {predictor.window_length} < 1")
    return predictor
