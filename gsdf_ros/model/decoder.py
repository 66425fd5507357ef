"""The DeepSDF-shaped SDF decoder: weight-normalised MLP with an input skip, ReLU, dropout, tanh."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


class SDFDecoder(nn.Module):
    """dims = [in, width x (num_layers-1), 1]; the layer before a skip outputs width - in so the concat is width."""

    def __init__(
        self,
        in_dim: int,
        width: int = 512,
        num_layers: int = 5,
        skip_layers: tuple[int, ...] = (2,),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if num_layers < 2:
            raise ValueError(f"num_layers must be >= 2, got {num_layers}")
        if any(not 0 < k < num_layers for k in skip_layers):
            raise ValueError(f"skip layers {skip_layers} must lie in 1..{num_layers - 1}")
        if skip_layers and width <= in_dim:
            raise ValueError(f"width {width} must exceed the input size {in_dim} for the skip connection")
        self.in_dim = in_dim
        self.skip_layers = tuple(skip_layers)
        dims = [in_dim] + [width] * (num_layers - 1) + [1]
        layers = []
        for i in range(num_layers):
            out = dims[i + 1] - in_dim if (i + 1) in self.skip_layers else dims[i + 1]
            linear = nn.Linear(dims[i], out)
            layers.append(weight_norm(linear) if i < num_layers - 1 else linear)
        self.layers = nn.ModuleList(layers)
        # Start near SDF 0: outputs beyond the training clamp (|sdf| > 0.05) get no gradient, and a
        # default-initialised narrow decoder puts most points there, so training would never start.
        nn.init.normal_(layers[-1].weight, std=1e-3)
        nn.init.zeros_(layers[-1].bias)
        self.act = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in_dim) -> (...) SDF in (-1, 1)."""
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"expected decoder input (..., {self.in_dim}), got {tuple(x.shape)}")
        h = x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i in self.skip_layers:
                h = torch.cat([h, x], dim=-1)
            h = layer(h)
            if i < last:
                h = self.dropout(self.act(h))
        return torch.tanh(h).squeeze(-1)
