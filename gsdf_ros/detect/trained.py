"""Checkpoints and configs shared by the hand detector's and the hand check's training: what a checkpoint
holds, writing it atomically, loading it by kind, and a training config from YAML."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import torch
import yaml
from torch import nn

from gsdf_ros.checkpoint import git_commit
from gsdf_ros.model.fold import fold_batchnorm


def config_from_yaml(cls: type, path: str | Path, overrides: dict[str, Any] | None, what: str) -> Any:
    """A training config dataclass from a YAML file with top-level ``overrides``; ValueError (naming
    ``what``) for keys it does not have."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    data.update(overrides or {})
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")
    return cls(**data)


def training_state(kind: str, config_key: str, model: nn.Module, cfg: Any, optimiser=None, epoch: int = 0,
                   step: int = 0, fingerprint: str | None = None) -> dict[str, Any]:
    """What a hand-detector or hand-check checkpoint holds: ``kind``, the network's config under
    ``config_key``, its weights, the training config, progress, seed, commit, data fingerprint and optimiser."""
    return {
        "kind": kind, config_key: dataclasses.asdict(model.cfg), "model_state": model.state_dict(),
        "train_config": dataclasses.asdict(cfg), "epoch": epoch, "step": step, "seed": cfg.seed,
        "git_commit": git_commit(), "data_fingerprint": fingerprint,
        "optimizer_state": None if optimiser is None else optimiser.state_dict(),
    }


def write_atomically(state: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` through a temporary file beside ``path``, so no reader sees half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def load_trained(path: str | Path, kind: str, what: str, build: Callable[[dict], nn.Module],
                 device: str | torch.device = "cpu", inference: bool = False) -> tuple[nn.Module, dict]:
    """The model (eval mode) of a checkpoint of ``kind`` (``build`` makes the network from the stored dict)
    and the dict; FileNotFoundError or ValueError (naming ``what``) when it is missing or another kind.
    ``inference``: batch norms folded into the convolutions before them (same outputs, faster; the model
    can no longer train)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} checkpoint not found: {path}")
    state = torch.load(path, map_location=device, weights_only=False)
    if not isinstance(state, dict) or state.get("kind") != kind:
        raise ValueError(f"{path} is not a {what} checkpoint")
    model = build(state)
    model.load_state_dict(state["model_state"])
    model = model.to(device).eval()
    if inference:
        fold_batchnorm(model)
    return model, state
