"""The dataset a run reads: its augmentation settings and the frame or clip dataset of a split.

Training passes its :class:`~gsdf_ros.train.TrainConfig`, evaluation a :class:`DataSettings` made
from the checkpoint's stored training config; both carry the fields of :class:`RunData`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from torch.utils.data import Dataset

from gsdf_ros.data.augment import AugmentConfig
from gsdf_ros.data.dataset import ClipDataset, FrameDataset
from gsdf_ros.model import GSDFConfig
from gsdf_ros.reconstruction import trained_window_length


class RunData(Protocol):
    """The fields of a run's configuration that opening its dataset reads."""

    data_root: str
    crop: str
    seed: int
    stage: str
    num_points: int
    augment: bool
    box_shift: float
    augmentation: Mapping[str, Any]
    subset: str | None
    hand_enlarge: float
    pose_crop: bool


@dataclass
class DataSettings:
    """:class:`RunData` on its own, with the training config's defaults (for evaluation)."""

    data_root: str
    crop: str = "full"
    seed: int = 0
    stage: str = "sdf"
    num_points: int = 2000
    augment: bool = False
    box_shift: float = 0.0
    augmentation: Mapping[str, Any] = field(default_factory=dict)
    subset: str | None = None
    hand_enlarge: float = 1.5
    pose_crop: bool = False

    @classmethod
    def of(cls, config: Mapping[str, Any], **overrides: Any) -> DataSettings:
        """The settings in a stored training config (other keys ignored), ``overrides`` on top."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in config.items() if k in known}, **overrides})


def augment_config(cfg: RunData) -> AugmentConfig:
    """The run's :class:`~gsdf_ros.data.AugmentConfig` (``box_shift`` plus the ``augmentation`` mapping)."""
    known = {f.name for f in dataclasses.fields(AugmentConfig)}
    unknown = set(cfg.augmentation) - known
    if unknown:
        raise ValueError(f"unknown augmentation keys: {sorted(unknown)}; known: {sorted(known)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.augmentation.items()}
    return AugmentConfig(**{"box_shift": cfg.box_shift, **values})


def open_dataset(
    cfg: RunData, mcfg: GSDFConfig, split: str, *, train: bool = True, clip_len: int | None = None
) -> Dataset:
    """The ``FrameDataset`` (``ClipDataset`` for video models) of ``split`` under ``data_root``.

    ``clip_len`` given: clips of that many frames whatever the model (one-frame clips included),
    so that windows of different lengths cover the same sequences.
    """
    augment = augment_config(cfg) if cfg.augment and train else None
    kwargs = dict(
        recon_scale=mcfg.recon_scale,
        input_size=mcfg.image_size,
        num_points=cfg.num_points if train and cfg.stage == "sdf" else 0,  # the pose stage reads no SDF files
        crop=cfg.crop,
        hand_enlarge=cfg.hand_enlarge,
        pose_crop=cfg.pose_crop,
        augment=augment,
        seed=cfg.seed,
        subset=cfg.subset if train else None,
    )
    frames = trained_window_length(mcfg) if clip_len is None else int(clip_len)
    if frames > 1 or clip_len is not None:
        return ClipDataset(cfg.data_root, split, frames, "train" if train else "test", **kwargs)
    return FrameDataset(cfg.data_root, split, **kwargs)
