"""The UNet deconvolution neck: n x [ConvTranspose2d(k4, s2, p1, no bias), BN, ReLU]."""

from __future__ import annotations

import torch
from torch import nn


class UNetNeck(nn.Module):
    """Upsamples a stride-32 map by 2^num_layers with out_channels everywhere."""

    def __init__(self, in_channels: int, out_channels: int, num_layers: int) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers += [
                nn.ConvTranspose2d(in_channels if i == 0 else out_channels, out_channels, 4, 2, 1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
        self.layers = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
