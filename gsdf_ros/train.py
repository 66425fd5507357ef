"""Config-driven training of the two gSDF stages (Part B §3): ``pose`` then ``sdf``.

Stage ``pose`` trains the :class:`~gsdf_ros.model.PoseNet` (joint MSE + ordinal loss + root depth);
stage ``sdf`` freezes a trained pose net and trains the shape net with :func:`gsdf_loss`. Both use
Adam with step decay at epoch milestones. Every epoch starts from RNG states derived from
(seed, epoch), so a run resumed from an epoch checkpoint continues exactly as an uninterrupted one.
CUDA, AMP (``torch.autocast`` + GradScaler) and ``torchrun`` DDP are used when configured/available.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from gsdf_ros.checkpoint import (
    MODEL_KIND,
    POSE_GEOMETRY_FIELDS,
    TRAINING_STAGES,
    Checkpoint,
    CheckpointError,
    git_commit,
    load_checkpoint,
    load_checkpoint_model,
    save_checkpoint,
)
from gsdf_ros.data.loading import open_dataset
from gsdf_ros.model import GSDFConfig, build_model, get_config
from gsdf_ros.model.heads import encode_points
from gsdf_ros.model.losses import gsdf_loss, pose_loss

log = logging.getLogger("gsdf_ros.train")

LAST_CHECKPOINT = "last.pt"
LOG_CSV = "train_log.csv"
LOSS_TERMS = {"pose": ("heatmap", "joints", "ordinal", "root_depth"), "sdf": ("hand_sdf", "obj_sdf", "obj_center")}


@dataclass
class TrainConfig:
    """One training run: data, model preset + overrides, stage, schedule, device and logging."""

    stage: str = "sdf"
    model: str = "tiny"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    """Nested overrides of the model preset, e.g. ``{decoder: {hand_point_latent: 6}}``."""
    data_root: str = "data/synth"
    train_split: str = "train"
    subset: str | None = None
    """A list in ``splits/`` selecting part of ``train_split`` (e.g. ``train_87k``)."""
    crop: str = "full"
    """``full`` image, ``box`` around hand and object (DexYCB), or ``hand``: around the hand joints (the
    pose net's hand-centred crops; at run time the crop comes from the net's own estimate)."""
    hand_enlarge: float = 1.5
    """``hand`` crops: side over the longer side of the joints' box (wider for the shape net, so the
    object fits)."""
    pose_crop: bool = False
    """Stage ``sdf``: the frozen pose net reads its own tight hand crop, not the shape net's crop."""
    num_points: int = 2000
    augment: bool = True
    box_shift: float = 0.0
    """Augmentation: box-centre shift as a fraction of the box size (0.1 for DexYCB)."""
    augmentation: dict[str, Any] = field(default_factory=dict)
    """Further :class:`~gsdf_ros.data.AugmentConfig` fields, e.g. ``{box_scale: [0.8, 1.25], wide_prob: 0.2}``."""
    pose_checkpoint: str | None = None
    """Stage ``sdf``: the trained pose net to freeze (None leaves it untrained, for tests only, or as
    ``init_checkpoint`` holds it). It replaces the pose net inside ``init_checkpoint``, so a shape net can
    be fine-tuned on a newer pose net."""
    init_checkpoint: str | None = None
    """Optional weights to start from (e.g. a single-frame gSDF for the video model); matching keys only.
    Stage ``pose`` may start from a gSDF checkpoint's frozen pose net (e.g. the shipped model)."""
    init_identity_blocks: bool = False
    """With ``init_checkpoint`` from a net with fewer residual blocks per stage: the blocks it lacks
    start as identities (their last BatchNorm scale at zero), so the deeper net starts out computing
    exactly what the shallower one did (Net2Net-style deepening)."""
    train_only: tuple[str, ...] = ()
    """Stage ``pose``: state-dict prefixes (e.g. ``root_head``) of the only parts that train; the rest
    stays as ``init_checkpoint`` left it, BatchNorm statistics included (empty: everything trains)."""
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-4
    lr_gamma: float = 0.5
    milestones: tuple[int, ...] = ()
    sdf_add_epoch: int | None = None
    """Epoch from which every point supervises both decoders; None keeps the model config's value."""
    workers: int = 0
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    drop_last: bool = True
    log_every: int = 10
    """Optimiser steps between log rows."""
    ckpt_every: int = 10
    """Epochs between numbered checkpoints (``last.pt`` is written every epoch)."""
    out_dir: str = "runs/default"
    progress: bool = True

    def __post_init__(self) -> None:
        self.milestones = tuple(int(m) for m in self.milestones)
        self.train_only = tuple(str(p) for p in self.train_only)
        if self.train_only and self.stage != "pose":
            raise ValueError("train_only applies to stage pose (stage sdf freezes the pose net already)")
        if self.stage not in TRAINING_STAGES:
            raise ValueError(f"stage must be one of {TRAINING_STAGES}, got {self.stage!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        for name in ("epochs", "batch_size", "num_points", "log_every", "ckpt_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.lr > 0 or not 0 < self.lr_gamma <= 1:
            raise ValueError(f"need lr > 0 and 0 < lr_gamma <= 1, got {self.lr} and {self.lr_gamma}")
        if self.workers < 0:
            raise ValueError(f"workers must be non-negative, got {self.workers}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["milestones"] = list(self.milestones)
        data["train_only"] = list(self.train_only)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        if not isinstance(data, dict):
            raise ValueError(f"a training config must be a mapping, got {type(data).__name__}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown training config keys: {sorted(unknown)}")
        return cls(**data)


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``key=value`` strings (dotted keys nest, values parsed as YAML) to a nested dict."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r} is not of the form key=value")
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)
    return out


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``update`` merged in, recursively for nested mappings."""
    out = dict(base)
    for key, value in update.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_train_config(path: str | os.PathLike | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """The YAML training config at ``path`` (or the defaults) with ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        text = Path(path).read_text()
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a training config must be a mapping")
    return TrainConfig.from_dict(deep_merge(data, parse_overrides(overrides)))


def model_config(cfg: TrainConfig) -> GSDFConfig:
    """The model preset with the run's overrides (and ``sdf_add_epoch``) applied."""
    data = deep_merge(get_config(cfg.model).to_dict(), cfg.model_overrides)
    if cfg.sdf_add_epoch is not None:
        data = deep_merge(data, {"loss": {"sdf_add_epoch": int(cfg.sdf_add_epoch)}})
    return GSDFConfig.from_dict(data)


# ----------------------------------------------------------------------------- devices and processes


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device_name: str) -> DistInfo:
    """Join the ``torchrun`` process group when WORLD_SIZE > 1 (NCCL on CUDA, else Gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist

    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(info.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return info


def resolve_device(name: str, dist_info: DistInfo = DistInfo()) -> torch.device:
    """``auto`` picks CUDA when available; under DDP each process takes its LOCAL_RANK GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but CUDA is not available")
        return torch.device(f"cuda:{dist_info.local_rank}") if name == "cuda" else torch.device(name)
    return torch.device("cpu")


def seed_epoch(seed: int, epoch: int) -> int:
    """Seed every RNG from (seed, epoch); returns the derived seed."""
    derived = (int(seed) * 1_000_003 + int(epoch)) % (2**31)
    random.seed(derived)
    np.random.seed(derived)
    torch.manual_seed(derived)
    return derived


# ----------------------------------------------------------------------------- data


def dataset_fingerprint(root: str, split: str) -> str | None:
    """``gsdf_ros.data.data_fingerprint`` when the data module and the files are there."""
    try:
        from gsdf_ros.data import data_fingerprint
    except ImportError:
        return None
    try:
        return str(data_fingerprint(root, split))
    except (OSError, ValueError):
        return None


def make_loader(
    dataset: Dataset, cfg: TrainConfig, dist_info: DistInfo, generator: torch.Generator
) -> tuple[DataLoader, DistributedSampler | None]:
    """Shuffled loader; under DDP a DistributedSampler splits the data between processes."""
    if len(dataset) < cfg.batch_size * dist_info.world_size and cfg.drop_last:
        raise ValueError(
            f"dataset has {len(dataset)} samples, fewer than one batch of {cfg.batch_size} per process; "
            "lower batch_size or set drop_last=false"
        )
    sampler: Any
    dist_sampler = None
    if dist_info.distributed:
        dist_sampler = DistributedSampler(
            dataset, dist_info.world_size, dist_info.rank, shuffle=True, seed=cfg.seed, drop_last=cfg.drop_last
        )
        sampler = dist_sampler
    else:
        sampler = RandomSampler(dataset, generator=generator)
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.workers,
        drop_last=cfg.drop_last,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
        generator=generator,
    )
    return loader, dist_sampler


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


# ----------------------------------------------------------------------------- models and losses


def load_matching(model: nn.Module, state: dict[str, torch.Tensor]) -> tuple[int, int]:
    """Load the entries of ``state`` whose key and shape match ``model``; returns (loaded, skipped)."""
    own = model.state_dict()
    matching = {k: v for k, v in state.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    model.load_state_dict(matching, strict=False)
    return len(matching), len(state) - len(matching)


def attach_pose_net(model: nn.Module, path: str, mcfg: GSDFConfig) -> None:
    """Load a pose net into ``model.pose_net``: a pose-stage checkpoint, or the frozen pose net of an
    sdf-stage one (e.g. a shipped gSDF model); its geometry must match ``mcfg``."""
    loaded, checkpoint = load_checkpoint_model(path, "cpu")
    pose = loaded if checkpoint.stage == "pose" else loaded.pose_net
    pcfg = checkpoint.config
    differ = [n for n in POSE_GEOMETRY_FIELDS if getattr(pcfg, n) != getattr(mcfg, n)]
    if pcfg.pose != mcfg.pose:
        differ.append("pose")
    if differ:
        raise CheckpointError(path, f"pose net config differs from the model config in {', '.join(differ)}")
    model.pose_net.load_state_dict(pose.state_dict())


def build_stage_model(cfg: TrainConfig, mcfg: GSDFConfig) -> nn.Module:
    """PoseNet for stage ``pose``; GSDFNet with its frozen pose net for stage ``sdf``."""
    model = build_model(mcfg, MODEL_KIND[cfg.stage])
    if cfg.init_checkpoint:
        fresh = init_from_checkpoint(model, cfg.init_checkpoint, cfg.stage)
        if cfg.init_identity_blocks:
            log.info("%d new residual blocks start as identities", len(identity_blocks(model, fresh)))
    if cfg.stage == "sdf":
        # after init_checkpoint: the named pose net wins over the one inside the weights started from
        if cfg.pose_checkpoint:
            attach_pose_net(model, cfg.pose_checkpoint, mcfg)
        elif not cfg.init_checkpoint:
            log.warning("no pose_checkpoint: the frozen pose net keeps its random initial weights")
    if cfg.train_only:
        log.info("training %d parameter tensors under %s; the rest is frozen",
                 len(freeze_except(model, cfg.train_only)), ", ".join(cfg.train_only))
    return model


def freeze_except(model: nn.Module, prefixes: Sequence[str]) -> list[str]:
    """Stop the gradient of every parameter whose name starts with none of ``prefixes``; returns the
    names that still train. ValueError when none does (a misspelt prefix must not train nothing)."""
    trained = []
    for name, param in model.named_parameters():
        keep = any(name == p or name.startswith(p.rstrip(".") + ".") for p in prefixes)
        param.requires_grad_(keep)
        if keep:
            trained.append(name)
    if not trained:
        raise ValueError(f"train_only {list(prefixes)} names no parameter of the model")
    return trained


def hold_frozen_statistics(model: nn.Module) -> None:
    """Put every BatchNorm layer without a trainable parameter in eval mode, so training does not move
    the running statistics of parts that :func:`freeze_except` froze."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
                p.requires_grad for p in module.parameters()):
            module.eval()


TEMPORAL_PREFIX = "temporal."
"""State-dict prefix of the space-time transformer, the one part a single-frame gSDF lacks."""


POSE_NET_PREFIX = "pose_net."
"""State-dict prefix of the frozen pose net inside a gSDF (sdf-stage) model."""


def identity_blocks(model: nn.Module, fresh: Iterable[str]) -> list[str]:
    """Zero the last BatchNorm scale (and shift) of every residual block whose weights are all in
    ``fresh`` (state-dict names left at their initial values): the block then passes its input
    through unchanged. Returns the blocks' names."""
    fresh = set(fresh)
    done = []
    for name, module in model.named_modules():
        bn = getattr(module, "bn2", None)
        if not isinstance(bn, nn.BatchNorm2d) or not hasattr(module, "conv1"):
            continue
        own = [f"{name}.{k}" for k in module.state_dict()]
        if own and all(k in fresh for k in own):
            with torch.no_grad():
                bn.weight.zero_()
                bn.bias.zero_()
            done.append(name)
    return done


def init_from_checkpoint(model: nn.Module, path: str, stage: str) -> list[str]:
    """Load every tensor of checkpoint ``path`` that matches ``model`` by name and shape (§2: pose net,
    backbone, necks, heads, decoders, SDF encoder); returns the names left at their initial values.

    For the ``sdf`` stage only the transformer may stay uninitialised: any other missing tensor
    means the checkpoint belongs to a different model size, and raises CheckpointError.
    """
    checkpoint = load_checkpoint(path)
    state = checkpoint.model_state
    if stage == "pose" and checkpoint.stage == "sdf":
        state = {k[len(POSE_NET_PREFIX):]: v for k, v in state.items() if k.startswith(POSE_NET_PREFIX)}
    elif checkpoint.stage != stage:
        raise CheckpointError(path, f"holds stage {checkpoint.stage!r}, this run trains {stage!r}")
    loaded, skipped = load_matching(model, state)
    fresh = [k for k, v in model.state_dict().items() if k not in state or tuple(state[k].shape) != tuple(v.shape)]
    foreign = [k for k in fresh if not k.startswith(TEMPORAL_PREFIX)]
    if stage == "sdf" and foreign:
        raise CheckpointError(path, f"{len(foreign)} tensors outside the transformer do not match, e.g. {foreign[:3]}")
    log.info("initialised %d tensors from %s (%d unused); %d start from scratch", loaded, path, skipped, len(fresh))
    return fresh


def _flat(x: torch.Tensor, dims: int) -> torch.Tensor:
    """Merge a clip axis into the batch axis when ``x`` has more than ``dims`` dimensions."""
    return x.flatten(0, 1) if x.dim() > dims else x


def pose_stage_loss(
    model: nn.Module, batch: dict[str, Any], mcfg: GSDFConfig, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Decode joints with the GT root depth; supervise the joint volume (heatmap and soft-argmax indices),
    ordinal relations and the root-depth head."""
    image, K = _flat(batch["image"], 4), _flat(batch["K"], 3)
    wrist, joints = _flat(batch["wrist"], 2), _flat(batch["joints"], 3)
    out = model(image, K, wrist[:, 2])
    gt_idx = encode_points(joints, K, wrist[:, 2], mcfg.depth_dim, mcfg.heatmap_size, mcfg.image_size, mcfg.depth_bins)
    return pose_loss(
        out.joints.float(), joints, mcfg.loss, out.predicted_root_depth.float(), wrist[:, 2], generator,
        volume=out.volume, pred_idx=out.indices.float(), gt_idx=gt_idx,
    )


def sdf_stage_loss(model: nn.Module, batch: dict[str, Any], mcfg: GSDFConfig, epoch: int) -> dict[str, torch.Tensor]:
    """The gSDF loss of the shape net at ``epoch`` (the GT wrist places the hand, as in training);
    for clips (B,T,...) the per-frame losses averaged over T (§2)."""
    keys = ("image", "K", "wrist", "points", "pose_image", "pose_K", "pose_R")
    out = model({k: batch[k] for k in keys if k in batch})
    out = {k: v.float() for k, v in out.items()}
    if batch["image"].dim() == 4:
        return gsdf_loss(out, batch, epoch, mcfg.loss)
    frames = [
        gsdf_loss(frame_of(out, t), frame_of(batch, t), epoch, mcfg.loss) for t in range(batch["image"].shape[1])
    ]
    return {k: torch.stack([f[k] for f in frames]).mean() for k in frames[0]}


def frame_of(clip: dict[str, Any], t: int) -> dict[str, torch.Tensor]:
    """The tensors of frame ``t`` of a clip batch (B,T,...)."""
    return {k: v[:, t] for k, v in clip.items() if isinstance(v, torch.Tensor) and v.dim() >= 2}


def step_decay(milestones: Sequence[int], gamma: float):
    """lr factor gamma^(number of milestones reached) for LambdaLR (stepped once per epoch)."""
    points = sorted(int(m) for m in milestones)

    def factor(epoch: int) -> float:
        return gamma ** sum(epoch >= m for m in points)

    return factor


# ----------------------------------------------------------------------------- logging


class TrainLogger:
    """A CSV log (always) and TensorBoard scalars (when importable); only the main process writes."""

    def __init__(self, out_dir: Path, columns: Sequence[str], enabled: bool = True) -> None:
        self.columns = list(columns)
        self.enabled = enabled
        self.writer = None
        if not enabled:
            return
        self.path = out_dir / LOG_CSV
        new = not self.path.exists()
        self.file = self.path.open("a", newline="")
        self.csv = csv.DictWriter(self.file, fieldnames=self.columns, extrasaction="ignore")
        if new:
            self.csv.writeheader()
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.info("TensorBoard is not installed; logging to %s only", self.path)
        else:
            self.writer = SummaryWriter(str(out_dir / "tensorboard"))

    def write(self, row: dict[str, float]) -> None:
        if not self.enabled:
            return
        self.csv.writerow(row)
        self.file.flush()
        if self.writer is not None:
            for key, value in row.items():
                if key not in ("epoch", "step"):
                    self.writer.add_scalar(f"train/{key}", value, int(row["step"]))

    def close(self) -> None:
        if not self.enabled:
            return
        self.file.close()
        if self.writer is not None:
            self.writer.close()


# ----------------------------------------------------------------------------- the loop


@dataclass
class TrainResult:
    out_dir: Path
    last_checkpoint: Path
    history: list[dict[str, float]]
    """One row per optimiser step of this run: epoch, step, lr, loss and the stage's loss terms."""


@dataclass
class _State:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    epoch: int = 0
    step: int = 0


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _make_checkpoint(state: _State, cfg: TrainConfig, mcfg: GSDFConfig, fingerprint: str | None) -> Checkpoint:
    return Checkpoint(
        model_config=mcfg.to_dict(),
        stage=cfg.stage,
        model_state=_unwrap(state.model).state_dict(),
        train_config=cfg.to_dict(),
        epoch=state.epoch,
        step=state.step,
        optimizer_state=state.optimizer.state_dict(),
        scheduler_state=state.scheduler.state_dict(),
        scaler_state=state.scaler.state_dict(),
        git_commit=git_commit(),
        data_fingerprint=fingerprint,
        seed=cfg.seed,
    )


def _resume(state: _State, path: str, cfg: TrainConfig, mcfg: GSDFConfig) -> None:
    """Restore model, optimiser, scheduler, scaler and counters from a checkpoint of the same run shape."""
    checkpoint = load_checkpoint(path)
    if checkpoint.stage != cfg.stage:
        raise CheckpointError(path, f"holds stage {checkpoint.stage!r}, this run trains {cfg.stage!r}")
    if checkpoint.model_config != mcfg.to_dict():
        raise CheckpointError(path, "its model config differs from this run's model config")
    _unwrap(state.model).load_state_dict(checkpoint.model_state)
    if checkpoint.optimizer_state is not None:
        state.optimizer.load_state_dict(checkpoint.optimizer_state)
    if checkpoint.scheduler_state is not None:
        state.scheduler.load_state_dict(checkpoint.scheduler_state)
    if checkpoint.scaler_state:
        state.scaler.load_state_dict(checkpoint.scaler_state)
    state.epoch, state.step = checkpoint.epoch, checkpoint.step


def _progress(loader: DataLoader, epoch: int, total: int, enabled: bool):
    if not enabled:
        return loader
    from tqdm import tqdm

    return tqdm(loader, desc=f"epoch {epoch + 1}/{total}", leave=False, dynamic_ncols=True)


def _train_epoch(
    state: _State,
    loader: DataLoader,
    cfg: TrainConfig,
    mcfg: GSDFConfig,
    device: torch.device,
    logger: TrainLogger,
    show_progress: bool,
) -> list[dict[str, float]]:
    """One pass over the loader; returns the per-step rows."""
    state.model.train()
    if cfg.train_only:
        hold_frozen_statistics(state.model)
    generator = torch.Generator().manual_seed(seed_epoch(cfg.seed, state.epoch))
    amp = cfg.amp and device.type == "cuda"
    rows = []
    bar = _progress(loader, state.epoch, cfg.epochs, show_progress)
    for batch in bar:
        batch = to_device(batch, device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            if cfg.stage == "pose":
                losses = pose_stage_loss(state.model, batch, mcfg, generator)
            else:
                losses = sdf_stage_loss(state.model, batch, mcfg, state.epoch)
        if not torch.isfinite(losses["loss"]):
            raise FloatingPointError(f"non-finite loss at epoch {state.epoch}, step {state.step}: {losses['loss']}")
        state.optimizer.zero_grad(set_to_none=True)
        state.scaler.scale(losses["loss"]).backward()
        state.scaler.step(state.optimizer)
        state.scaler.update()
        state.step += 1
        row = {"epoch": state.epoch, "step": state.step, "lr": state.optimizer.param_groups[0]["lr"]}
        row.update({k: float(v.detach()) for k, v in losses.items()})
        rows.append(row)
        if state.step % cfg.log_every == 0:
            logger.write(row)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{row['loss']:.4g}")
    return rows


def train(
    cfg: TrainConfig, *, dataset: Dataset | None = None, resume: str | os.PathLike | None = None
) -> TrainResult:
    """Run (or continue) the training ``cfg`` describes; ``dataset`` replaces the one under ``data_root``."""
    dist_info = init_distributed(cfg.device)
    device = resolve_device(cfg.device, dist_info)
    mcfg = model_config(cfg)
    out_dir = Path(cfg.out_dir)
    if dist_info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "train_config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        (out_dir / "model_config.yaml").write_text(mcfg.to_yaml())
    seed_epoch(cfg.seed, 0)
    model = build_stage_model(cfg, mcfg).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, step_decay(cfg.milestones, cfg.lr_gamma))
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp and device.type == "cuda")
    state = _State(model, optimizer, scheduler, scaler)
    if resume is not None:
        _resume(state, str(resume), cfg, mcfg)
    if dist_info.distributed:
        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        state.model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if dataset is None:
        dataset = open_dataset(cfg, mcfg, cfg.train_split)
    fingerprint = dataset_fingerprint(cfg.data_root, cfg.train_split)
    generator = torch.Generator()
    loader, dist_sampler = make_loader(dataset, cfg, dist_info, generator)
    columns = ["epoch", "step", "lr", "loss", *LOSS_TERMS[cfg.stage]]
    logger = TrainLogger(out_dir, columns, enabled=dist_info.is_main)
    history: list[dict[str, float]] = []
    last = out_dir / LAST_CHECKPOINT
    try:
        while state.epoch < cfg.epochs:
            generator.manual_seed(seed_epoch(cfg.seed, state.epoch))
            if dist_sampler is not None:
                dist_sampler.set_epoch(state.epoch)
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(state.epoch)
            show = cfg.progress and dist_info.is_main
            history += _train_epoch(state, loader, cfg, mcfg, device, logger, show)
            state.epoch += 1
            scheduler.step()
            if dist_info.is_main:
                checkpoint = _make_checkpoint(state, cfg, mcfg, fingerprint)
                save_checkpoint(last, checkpoint)
                if state.epoch % cfg.ckpt_every == 0 or state.epoch == cfg.epochs:
                    save_checkpoint(out_dir / f"epoch_{state.epoch:04d}.pt", checkpoint)
                log.info("epoch %d/%d done, step %d, loss %.5g", state.epoch, cfg.epochs, state.step,
                         _mean_loss(history, state.epoch - 1))
    finally:
        logger.close()
    return TrainResult(out_dir, last, history)


def _mean_loss(history: list[dict[str, float]], epoch: int) -> float:
    values = [row["loss"] for row in history if row["epoch"] == epoch]
    return float(np.mean(values)) if values else math.nan


__all__ = [
    "TrainConfig",
    "TrainResult",
    "deep_merge",
    "load_train_config",
    "model_config",
    "parse_overrides",
    "train",
]
