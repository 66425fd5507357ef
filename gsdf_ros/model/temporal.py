"""Space-time transformer over per-frame SDF feature maps (gSDF §2): spatial then temporal pre-LN blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head self-attention with a bias-free qkv projection and a biased output projection."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.out = nn.Linear(heads * dim_head, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(b, n, -1))


class Block(nn.Module):
    """Pre-LN transformer block: x + Attn(LN x), then x + MLP(LN x) with GELU."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Encoder(nn.Module):
    """``depth`` blocks followed by a LayerNorm."""

    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[Block(dim, heads, dim_head, mlp_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.blocks(x))


class SpaceTimeTransformer(nn.Module):
    """(B,T,C,h,w) -> (B,T,C,h,w): patch size 1, shared learned spatial embedding, no temporal embedding.

    With ``residual`` the output is the input maps plus a zero-initialised projection of the refined
    tokens, so a freshly built transformer is the identity (the paper's model has no such skip)."""

    def __init__(
        self, channels: int, map_size: int, depth: int, heads: int, dim_head: int, mlp_dim: int, residual: bool = False
    ) -> None:
        super().__init__()
        self.channels = channels
        self.map_size = map_size
        self.patch_embed = nn.Linear(channels, channels)
        self.pos_embed = nn.Parameter(torch.randn(1, 1, map_size * map_size, channels) * 0.02)
        self.spatial = Encoder(channels, depth, heads, dim_head, mlp_dim)
        self.temporal = Encoder(channels, depth, heads, dim_head, mlp_dim)
        self.skip_proj: nn.Linear | None = None
        if residual:
            self.skip_proj = nn.Linear(channels, channels)
            nn.init.zeros_(self.skip_proj.weight)
            nn.init.zeros_(self.skip_proj.bias)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        if maps.dim() != 5 or maps.shape[2:] != (self.channels, self.map_size, self.map_size):
            raise ValueError(
                f"expected feature maps (B,T,{self.channels},{self.map_size},{self.map_size}), got {tuple(maps.shape)}"
            )
        b, t, c, h, w = maps.shape
        tokens = self.patch_embed(maps.flatten(3).transpose(2, 3)) + self.pos_embed  # (B,T,hw,C)
        tokens = self.spatial(tokens.reshape(b * t, h * w, c)).view(b, t, h * w, c)
        tokens = tokens.transpose(1, 2).reshape(b * h * w, t, c)
        tokens = self.temporal(tokens).view(b, h * w, t, c)
        if self.skip_proj is not None:
            tokens = self.skip_proj(tokens)
        refined = tokens.permute(0, 2, 3, 1).reshape(b, t, c, h, w)
        return refined if self.skip_proj is None else maps + refined
