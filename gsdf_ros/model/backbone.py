"""Image backbones: timm ResNets (never downloaded) with a built-in fallback of identical layout."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gsdf_ros.model.config import BackboneConfig
from gsdf_ros.model.resnet import RESNET_LAYERS, ResNetTrunk


class Backbone(nn.Module):
    """Wraps a trunk so that ``forward`` returns the last feature map (B, C, H/32, W/32)."""

    def __init__(self, trunk: nn.Module, out_channels: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.out_channels = out_channels

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"expected image (B,3,H,W), got {tuple(image.shape)}")
        return self.trunk(image)


def _timm_trunk(cfg: BackboneConfig) -> nn.Module | None:
    """A timm trunk, or None when timm cannot be imported in this environment."""
    try:
        import timm
    except Exception:  # timm pulls torchvision, which may be broken or missing
        return None
    kwargs: dict = {"channels": tuple(cfg.channels), "stem_width": cfg.stem_width}
    if cfg.layers is not None:
        kwargs["layers"] = tuple(cfg.layers)
    return timm.create_model(cfg.name, pretrained=False, num_classes=0, global_pool="", **kwargs)


def _builtin_trunk(cfg: BackboneConfig) -> nn.Module:
    if cfg.layers is None and cfg.name not in RESNET_LAYERS:
        raise ValueError(
            f"backbone {cfg.name!r} needs timm (not importable here); built-in: {sorted(RESNET_LAYERS)}"
        )
    layers = tuple(cfg.layers) if cfg.layers is not None else RESNET_LAYERS[cfg.name]
    return ResNetTrunk(layers, tuple(cfg.channels), cfg.stem_width)


def load_pretrained(trunk: nn.Module, path: str | Path) -> None:
    """Load a local state dict (classifier keys dropped); clear errors for a missing or mismatched file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights not found: {path} (weights are never downloaded)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    try:
        result = trunk.load_state_dict(state, strict=False)
    except RuntimeError as err:
        raise ValueError(f"backbone weights in {path} do not fit the configured trunk: {err}") from None
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"backbone weights in {path} do not fit the configured trunk: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}"
        )


def create_backbone(cfg: BackboneConfig, prefer_timm: bool = True) -> Backbone:
    """Build the configured trunk (timm when importable, else built-in) and load local weights if given."""
    trunk = _timm_trunk(cfg) if prefer_timm else None
    if trunk is None:
        trunk = _builtin_trunk(cfg)
    if cfg.pretrained_path:
        load_pretrained(trunk, cfg.pretrained_path)
    return Backbone(trunk, int(trunk.num_features))
