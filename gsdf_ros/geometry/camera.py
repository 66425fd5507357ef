"""Pinhole camera intrinsics in the OpenCV optical convention (x right, y down, z forward).

Pixel coordinates follow OpenCV and ROS ``CameraInfo``: the centre of pixel (i, j) is at (u, v) = (i, j),
so an image of width W spans u in [-0.5, W - 0.5].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _require_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


@dataclass(frozen=True)
class Intrinsics:
    """Focal lengths and principal point in pixels, and the image size they belong to."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            _require_finite(name, float(getattr(self, name)))
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"focal lengths must be positive, got fx={self.fx!r}, fy={self.fy!r}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if int(value) != value or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @classmethod
    def from_matrix(cls, k: np.ndarray, width: int, height: int) -> Intrinsics:
        """Intrinsics from a 3x3 K (zero skew) and the image size."""
        k = np.asarray(k, dtype=np.float64)
        if k.shape != (3, 3):
            raise ValueError(f"K must be 3x3, got shape {k.shape}")
        if not np.allclose(k[2], (0.0, 0.0, 1.0)) or k[0, 1] != 0 or k[1, 0] != 0:
            raise ValueError(f"K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], got {k.tolist()}")
        return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), int(width), int(height))

    def matrix(self) -> np.ndarray:
        """The 3x3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates (N, 2) of camera-frame points (N, 3); points with z <= 0 give NaN."""
        p = _as_points(points, 3, "points")
        z = p[:, 2]
        safe_z = np.where(z > 0, z, np.nan)
        return np.stack([self.fx * p[:, 0] / safe_z + self.cx, self.fy * p[:, 1] / safe_z + self.cy], axis=1)

    def unproject(self, uv: np.ndarray, depth: np.ndarray | float) -> np.ndarray:
        """Camera-frame points (N, 3) at the given depths (z, metres) behind pixels (N, 2)."""
        pix = _as_points(uv, 2, "uv")
        z = np.broadcast_to(np.asarray(depth, dtype=np.float64), (pix.shape[0],))
        x = (pix[:, 0] - self.cx) / self.fx * z
        y = (pix[:, 1] - self.cy) / self.fy * z
        return np.stack([x, y, z], axis=1)

    def scaled(self, sx: float, sy: float | None = None) -> Intrinsics:
        """Intrinsics of the image resized by (sx, sy) (pixel-centre convention, size rounded)."""
        sy = sx if sy is None else sy
        if not (math.isfinite(sx) and math.isfinite(sy) and sx > 0 and sy > 0):
            raise ValueError(f"scale factors must be finite and positive, got sx={sx!r}, sy={sy!r}")
        return Intrinsics(
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
            width=max(1, round(self.width * sx)),
            height=max(1, round(self.height * sy)),
        )


def _as_points(x: np.ndarray, dim: int, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != dim:
        raise ValueError(f"{name} must have shape (N, {dim}), got {a.shape}")
    return a
