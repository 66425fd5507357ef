"""Training checkpoints: what they hold, atomic saving, and loading with one clear error.

A checkpoint is a plain dict (tensors, numbers, strings, lists, dicts) so that it loads with
``torch.load(weights_only=True)``. Stage ``pose`` holds a :class:`~gsdf_ros.model.PoseNet`, stage
``sdf`` a whole :class:`~gsdf_ros.model.GSDFNet` (frozen pose net included).
"""

from __future__ import annotations

import os
import subprocess
import warnings
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

import gsdf_ros
from gsdf_ros.errors import CheckpointError
from gsdf_ros.model import GSDFConfig, build_model
from gsdf_ros.reconstruction import trained_window_length

FORMAT_VERSION = 1
TRAINING_STAGES: tuple[str, ...] = ("pose", "sdf")
MODEL_KIND = {"pose": "pose", "sdf": "gsdf"}
"""The registered model (see :func:`gsdf_ros.model.build_model`) each stage trains."""


@dataclass
class Checkpoint:
    """Everything needed to rebuild a model and continue its training exactly."""

    model_config: dict[str, Any]
    stage: str
    model_state: dict[str, torch.Tensor]
    train_config: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0
    """Epochs completed."""
    step: int = 0
    """Optimiser steps completed."""
    optimizer_state: dict[str, Any] | None = None
    scheduler_state: dict[str, Any] | None = None
    scaler_state: dict[str, Any] | None = None
    git_commit: str | None = None
    data_fingerprint: str | None = None
    seed: int | None = None
    version: str = gsdf_ros.__version__
    format_version: int = FORMAT_VERSION
    averaged_from: list[str] | None = None
    """The checkpoints whose weights this one averages (:func:`average_checkpoints`); None for a trained one."""
    root_head_from: dict[str, Any] | None = None
    """Where its pose net's root-depth head was trained, when :func:`with_root_head` put it in: that pose
    checkpoint's path, training config, git commit, seed and data fingerprint."""

    @property
    def config(self) -> GSDFConfig:
        return GSDFConfig.from_dict(self.model_config)

    @property
    def window_length(self) -> int:
        """Frames per input window: the temporal transformer's clip length, else 1."""
        return trained_window_length(self.config)


_REQUIRED = ("model_config", "stage", "model_state")


def git_commit(cwd: str | os.PathLike | None = None) -> str | None:
    """``git rev-parse HEAD`` of the package checkout, or None outside a git checkout."""
    where = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` atomically (temporary file, then rename); returns the path."""
    if checkpoint.stage not in TRAINING_STAGES:
        raise ValueError(f"stage must be one of {TRAINING_STAGES}, got {checkpoint.stage!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(asdict(checkpoint), tmp)
    os.replace(tmp, path)
    return path


def _read(path: Path, map_location: str | torch.device) -> dict[str, Any]:
    """The raw checkpoint dict, or a CheckpointError for missing and unreadable files."""
    if not path.exists():
        raise CheckpointError(path, "file does not exist")
    if not path.is_file():
        raise CheckpointError(path, "not a regular file")
    try:
        with warnings.catch_warnings(record=True) as said:  # a damaged file's warnings die with its error
            warnings.simplefilter("always")
            data = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(path, f"cannot be read, the file is truncated or corrupt ({first})") from None
    except Exception as error:  # the unpickler raises many types for foreign or damaged files
        raise CheckpointError(path, f"cannot be read ({type(error).__name__}: {error})") from None
    for warning in said:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if not isinstance(data, dict):
        raise CheckpointError(path, f"holds a {type(data).__name__}, not a gsdf checkpoint dict")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise CheckpointError(path, f"not a gsdf checkpoint (missing {', '.join(missing)})")
    return data


def _from_dict(path: Path, data: dict[str, Any]) -> Checkpoint:
    known = {f.name for f in fields(Checkpoint)}
    checkpoint = Checkpoint(**{k: v for k, v in data.items() if k in known})
    if checkpoint.stage not in TRAINING_STAGES:
        raise CheckpointError(path, f"unknown stage {checkpoint.stage!r} (expected one of {TRAINING_STAGES})")
    if checkpoint.format_version > FORMAT_VERSION:
        raise CheckpointError(path, f"format {checkpoint.format_version} is newer than this package reads")
    return checkpoint


def state_mismatch(model: nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """What differs between a model's state-dict keys/shapes and ``state``; None when they agree."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state.items()}
    problems = []
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    shapes = [f"{k} {given[k]} vs {expected[k]}" for k in sorted(set(expected) & set(given)) if given[k] != expected[k]]
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatch", shapes)):
        if items:
            more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
            problems.append(f"{label}: {', '.join(items[:3])}{more}")
    return "; ".join(problems) or None


def _build(path: Path, checkpoint: Checkpoint) -> nn.Module:
    """The stage's model from the stored config, with the stored weights, or a CheckpointError."""
    try:
        model = build_model(checkpoint.config, MODEL_KIND[checkpoint.stage])
    except (ValueError, TypeError) as error:
        raise CheckpointError(path, f"invalid model config ({error})") from None
    problem = state_mismatch(model, checkpoint.model_state)
    if problem:
        raise CheckpointError(path, f"weights do not match the model config: {problem}")
    model.load_state_dict(checkpoint.model_state)
    return model


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read and validate a checkpoint (config against weights); any problem is one CheckpointError."""
    path = Path(path)
    checkpoint = _from_dict(path, _read(path, map_location))
    _build(path, checkpoint)
    return checkpoint


def load_checkpoint_model(
    path: str | os.PathLike, device: str | torch.device = "cpu", stage: str | None = None
) -> tuple[nn.Module, Checkpoint]:
    """The checkpoint's model (eval mode, on ``device``) and the checkpoint; ``stage`` checks its kind."""
    path = Path(path)
    checkpoint = _from_dict(path, _read(path, "cpu"))
    if stage is not None and checkpoint.stage != stage:
        raise CheckpointError(path, f"holds a {checkpoint.stage!r}-stage model, expected {stage!r}")
    model = _build(path, checkpoint)
    return model.to(device).eval(), checkpoint


def export_for_inference(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """A copy of a checkpoint without optimiser, scheduler and scaler state (what a robot needs)."""
    checkpoint = load_checkpoint(src)
    checkpoint.optimizer_state = checkpoint.scheduler_state = checkpoint.scaler_state = None
    return save_checkpoint(dst, checkpoint)


def average_checkpoints(paths: Sequence[str | os.PathLike]) -> Checkpoint:
    """The weight average of checkpoints of one model (e.g. a run's last epochs): floating-point weights and
    buffers averaged, everything else (counters, configs, epoch) from the last; no optimiser state.
    CheckpointError when they hold different stages, configs or weight shapes."""
    if not paths:
        raise ValueError("no checkpoint to average")
    checkpoints = [load_checkpoint(path) for path in paths]
    last = checkpoints[-1]
    for path, checkpoint in zip(paths, checkpoints):
        if checkpoint.stage != last.stage or checkpoint.model_config != last.model_config:
            raise CheckpointError(Path(path), f"holds another model than {paths[-1]} (stage or config differ)")
    state = {}
    for key, value in last.model_state.items():
        state[key] = (torch.stack([c.model_state[key].double() for c in checkpoints]).mean(dim=0).to(value.dtype)
                      if value.is_floating_point() else value)
    return Checkpoint(last.model_config, last.stage, state, last.train_config, last.epoch, last.step,
                      git_commit=last.git_commit, data_fingerprint=last.data_fingerprint, seed=last.seed,
                      averaged_from=[str(path) for path in paths])


POSE_GEOMETRY_FIELDS = ("image_size", "heatmap_size", "depth_bins", "depth_dim")
"""Model-config fields a pose net's volume decoding depends on: a pose net moved into another model must
share them."""
ROOT_HEAD_PREFIX = "root_head."
"""State-dict prefix of the pose net's root-depth head."""


def with_root_head(gsdf: Checkpoint, pose: Checkpoint, pose_path: str) -> Checkpoint:
    """``gsdf`` (an sdf-stage checkpoint; the result holds no optimiser state) with the root-depth head of ``pose`` (a
    pose-stage checkpoint) in its frozen pose net. Every other pose-net tensor of the two must be equal (a
    root head retrained with the rest frozen, ``train_only``): the shape net trained on the very joints the
    pose net still gives, and the root head is not read in the sdf stage, which places the hand at the true
    wrist. CheckpointError otherwise."""
    if gsdf.stage != "sdf" or pose.stage != "pose":
        raise CheckpointError(Path(pose_path), "needs an sdf-stage model and a pose-stage checkpoint")
    ours, theirs = gsdf.config, pose.config
    if any(getattr(ours, n) != getattr(theirs, n) for n in POSE_GEOMETRY_FIELDS):
        raise CheckpointError(Path(pose_path), "its volume geometry differs from the model's")
    rest = dict(theirs.pose.__dict__)
    rest.pop("root_depth")
    if any(getattr(ours.pose, k) != v for k, v in rest.items()):
        raise CheckpointError(Path(pose_path), "its pose net differs from the model's outside the root-depth head")
    prefix = "pose_net."
    state = {k: v for k, v in gsdf.model_state.items() if not k.startswith(prefix + ROOT_HEAD_PREFIX)}
    for key, value in pose.model_state.items():
        if key.startswith(ROOT_HEAD_PREFIX):
            state[prefix + key] = value
        elif prefix + key not in state or not torch.equal(state[prefix + key], value):
            raise CheckpointError(Path(pose_path), f"pose-net tensor {key} differs from the model's: only a root "
                                                   "head trained with the rest frozen can be swapped in")
    config = ours.to_dict()
    config["pose"]["root_depth"] = theirs.to_dict()["pose"]["root_depth"]
    source = {"path": str(pose_path), "train_config": pose.train_config, "git_commit": pose.git_commit,
              "seed": pose.seed, "data_fingerprint": pose.data_fingerprint, "epoch": pose.epoch, "step": pose.step}
    return Checkpoint(config, gsdf.stage, state, gsdf.train_config, gsdf.epoch, gsdf.step, git_commit=gsdf.git_commit,
                      data_fingerprint=gsdf.data_fingerprint, seed=gsdf.seed, averaged_from=gsdf.averaged_from,
                      root_head_from=source)
