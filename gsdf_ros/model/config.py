"""Typed configuration of the gSDF networks, with a registry of named presets.

``paper`` holds the published sizes (two ResNet-18 on 256x256 crops, 64^3 volumes, 512-wide
decoders, an 8+8-layer space-time transformer); ``tiny`` trains on two CPU cores.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

HAND_POINT_LATENTS: tuple[int, ...] = (51, 36, 21, 6, 3)
"""Hand kinematic feature sizes: 3 = xyz only, 6 = + wrist frame, 21/36/51 = + finger levels 1/2/3."""

OBJECT_POINT_LATENTS: tuple[int, ...] = (72, 69, 9, 6, 3)
"""Object feature sizes: 3 = xyz, 6 = + object offset, 9 = + wrist frame, 69 = 6 + joints, 72 = all."""


@dataclass
class BackboneConfig:
    """A ResNet trunk; ``layers``/``channels``/``stem_width`` narrow it below the named default."""

    name: str = "resnet18"
    layers: tuple[int, ...] | None = None
    channels: tuple[int, ...] = (64, 128, 256, 512)
    stem_width: int = 64
    pretrained_path: str | None = None


@dataclass
class RootDepthConfig:
    """RootNet-style absolute wrist depth head for the ``live`` protocol."""

    hidden: int = 256
    real_area: float = 0.09
    """Assumed real extent of the hand crop in m^2 ((0.3 m)^2)."""
    backbone_grad_scale: float = 0.1
    """Share of the root-depth gradient that reaches the shared backbone (1 = all, 0 = none): the depth
    term must not pull the features away from what the joint volume needs."""
    skeleton_hidden: int = 0
    """Width of the head's second MLP, which also reads the 2.5D skeleton's geometry (0: none)."""


@dataclass
class PoseNetConfig:
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    neck_channels: int = 256
    neck_layers: int = 3
    root_depth: RootDepthConfig = field(default_factory=RootDepthConfig)


@dataclass
class ShapeNetConfig:
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    neck_channels: int = 256
    neck_layers: int = 3
    """Deconvolutions of the object-centre neck (stride 32 -> 4)."""
    sdf_channels: int = 256
    sdf_neck_layers: int = 1
    """Deconvolutions of the SDF feature encoder (stride 32 -> 16)."""
    pixel_align: bool = True


@dataclass
class DecoderConfig:
    width: int = 512
    num_layers: int = 5
    skip_layers: tuple[int, ...] = (2,)
    dropout: float = 0.2
    hand_point_latent: int = 51
    obj_point_latent: int = 72


@dataclass
class TemporalConfig:
    enabled: bool = False
    depth: int = 8
    heads: int = 4
    dim_head: int = 256
    mlp_dim: int = 1024
    num_frames: int = 3
    residual: bool = False
    """Add the transformer's output to the maps through a zero-initialised projection, so a video model
    initialised from a single-frame checkpoint starts out computing exactly what that model does (a
    departure from the paper, for short fine-tuning budgets; ``paper_video`` keeps it off)."""


@dataclass
class LossConfig:
    hand_weight: float = 0.5
    obj_weight: float = 0.5
    center_weight: float = 0.5
    clamp: float = 0.05
    sdf_add_epoch: int = 1201
    heatmap_weight: float = 1.0
    """Cross-entropy of each joint's volume softmax against a trilinear one-hot of the true joint."""
    joint_weight: float = 0.1
    """L1 of the soft-argmax joints in volume index units (voxels)."""
    ordinal_weight: float = 1.0
    root_depth_weight: float = 1.0
    """L1 of the log root depth (a relative error: a scale-free term next to the index-space ones)."""

    @classmethod
    def legacy_keys(cls) -> frozenset[str]:
        """Keys of older checkpoints that are read and dropped (``volume_weight``: joint MSE in m^2)."""
        return frozenset({"volume_weight"})


@dataclass
class GSDFConfig:
    """The whole model: pose net, shape net, decoders, temporal transformer and losses."""

    name: str = "paper"
    image_size: int = 256
    heatmap_size: int = 64
    depth_bins: int = 64
    depth_dim: float = 0.28
    """Half-range in metres of the depth axis of every volume (one value for pose and SDF nets)."""
    recon_scale: float = 7.0
    pose: PoseNetConfig = field(default_factory=PoseNetConfig)
    shape: ShapeNetConfig = field(default_factory=ShapeNetConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError when sizes are inconsistent."""
        if self.decoder.hand_point_latent not in HAND_POINT_LATENTS:
            raise ValueError(
                f"hand_point_latent must be one of {HAND_POINT_LATENTS}, got {self.decoder.hand_point_latent}"
            )
        if self.decoder.obj_point_latent not in OBJECT_POINT_LATENTS:
            raise ValueError(
                f"obj_point_latent must be one of {OBJECT_POINT_LATENTS}, got {self.decoder.obj_point_latent}"
            )
        if self.image_size % 32 != 0:
            raise ValueError(f"image_size must be a multiple of 32, got {self.image_size}")
        if self.image_size // 32 * 2**self.pose.neck_layers != self.heatmap_size:
            raise ValueError(
                f"pose neck ({self.pose.neck_layers} deconvolutions from stride 32) does not give "
                f"heatmap_size {self.heatmap_size} at image_size {self.image_size}"
            )
        if self.image_size // 32 * 2**self.shape.neck_layers != self.heatmap_size:
            raise ValueError("object neck output size must equal heatmap_size")
        if self.temporal.enabled and not self.shape.pixel_align:
            raise ValueError("the temporal transformer needs pixel-aligned feature maps (shape.pixel_align)")

    @property
    def sdf_map_size(self) -> int:
        """Side of the SDF feature map (16 for the paper)."""
        return self.image_size // 32 * 2**self.shape.sdf_neck_layers

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GSDFConfig:
        return _from_plain(cls, data)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> GSDFConfig:
        import yaml

        return cls.from_dict(yaml.safe_load(text))


def _to_plain(value: Any) -> Any:
    """Tuples to lists, recursively, so the dict is YAML/JSON friendly."""
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _from_plain(cls: type, data: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from nested plain data; unknown keys raise ValueError."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a mapping for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    legacy = getattr(cls, "legacy_keys", None)
    if legacy is not None:
        data = {k: v for k, v in data.items() if k not in legacy()}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown keys for {cls.__name__}: {sorted(unknown)}")
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _from_plain(hint, value)
        elif isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


_CONFIGS: dict[str, Callable[[], GSDFConfig]] = {}


def register_config(name: str) -> Callable[[Callable[[], GSDFConfig]], Callable[[], GSDFConfig]]:
    """Decorator registering a zero-argument factory of a named preset."""

    def wrap(factory: Callable[[], GSDFConfig]) -> Callable[[], GSDFConfig]:
        if name in _CONFIGS:
            raise ValueError(f"config {name!r} is already registered")
        _CONFIGS[name] = factory
        return factory

    return wrap


def list_configs() -> list[str]:
    return sorted(_CONFIGS)


def get_config(name: str) -> GSDFConfig:
    """A fresh copy of the named preset."""
    try:
        factory = _CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown config {name!r}; known: {', '.join(list_configs())}") from None
    return copy.deepcopy(factory())


@register_config("paper")
def _paper() -> GSDFConfig:
    return GSDFConfig(name="paper")


@register_config("paper_video")
def _paper_video() -> GSDFConfig:
    return GSDFConfig(name="paper_video", temporal=TemporalConfig(enabled=True, num_frames=3))


def _tiny_backbone() -> BackboneConfig:
    return BackboneConfig(name="resnet18", layers=(1, 1, 1, 1), channels=(32, 64, 128, 256), stem_width=32)


@register_config("tiny")
def _tiny() -> GSDFConfig:
    return GSDFConfig(
        name="tiny",
        image_size=128,
        heatmap_size=32,
        depth_bins=32,
        # joints lie within +-0.16 m of the wrist in depth: 32 bins over +-0.18 m are 11 mm each (0.28: 17.5 mm)
        depth_dim=0.18,
        pose=PoseNetConfig(
            backbone=_tiny_backbone(),
            neck_channels=64,
            neck_layers=3,
            # trained on hand-centred crops: about (0.22 m)^2 of the scene at the hand's depth
            root_depth=RootDepthConfig(hidden=64, real_area=0.05),
        ),
        # narrow shape net and decoders: the SDF stage must train on 2 CPU cores in well under an hour
        shape=ShapeNetConfig(backbone=_tiny_backbone(), neck_channels=32, neck_layers=3, sdf_channels=32),
        decoder=DecoderConfig(width=128),
        temporal=TemporalConfig(enabled=False, depth=2, heads=2, dim_head=32, mlp_dim=128, num_frames=3, residual=True),
    )


@register_config("tiny_video")
def _tiny_video() -> GSDFConfig:
    cfg = _tiny()
    cfg.name = "tiny_video"
    cfg.temporal.enabled = True
    return cfg
