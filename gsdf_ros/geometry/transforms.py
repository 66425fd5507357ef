"""Rotations and rigid transforms.

Rotation helpers are written once in torch, batched over any leading dimensions, and also accept
numpy arrays (computed in float64, returned as numpy). Rigid transforms are 4x4 homogeneous
matrices acting on column vectors: p' = R p + t. Quaternions for messages come from transforms3d
(:func:`gsdf_ros.frames.quaternion_xyzw`); the one here is internal to :func:`matrix_to_axis_angle`.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)

_SMALL_ANGLE = 1e-4
"""Below this angle (rad) the Rodrigues coefficients switch to their Taylor series."""


def _numpy_or_torch(fn: Callable[..., torch.Tensor]) -> Callable[..., Any]:
    """Let a torch function take numpy arrays too: they run in float64 and come back as numpy."""

    @functools.wraps(fn)
    def wrapper(*arrays: Any) -> Any:
        if all(isinstance(a, torch.Tensor) for a in arrays):
            return fn(*arrays)
        tensors = [torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in arrays]
        return fn(*tensors).numpy()

    return wrapper


def _check_last_dims(x: torch.Tensor, shape: tuple[int, ...], name: str) -> None:
    if tuple(x.shape[x.ndim - len(shape) :]) != shape or x.ndim < len(shape):
        raise ValueError(f"{name} must have shape (..., {', '.join(map(str, shape))}), got {tuple(x.shape)}")


def safe_normalize(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Unit vectors along the last axis; a zero vector stays zero instead of becoming NaN."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(eps)


def skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrices [v]x, (..., 3) -> (..., 3, 3)."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*v.shape[:-1], 3, 3)


def _identity_like(v: torch.Tensor) -> torch.Tensor:
    return torch.eye(3, dtype=v.dtype, device=v.device).expand(*v.shape[:-1], 3, 3)


@_numpy_or_torch
def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from axis-angle vectors (..., 3) (Rodrigues, exact near zero angle)."""
    _check_last_dims(axis_angle, (3,), "axis_angle")
    theta2 = (axis_angle * axis_angle).sum(-1)
    theta = theta2.sqrt()
    small = theta < _SMALL_ANGLE
    safe_theta = torch.where(small, torch.ones_like(theta), theta)
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(safe_theta) / safe_theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(safe_theta)) / safe_theta**2)
    k = skew(axis_angle)
    return _identity_like(axis_angle) + a[..., None, None] * k + b[..., None, None] * (k @ k)


def _matrix_to_quaternion(rotation: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (x, y, z, w) with w >= 0 from rotation matrices (..., 3, 3), batched in torch."""
    _check_last_dims(rotation, (3, 3), "rotation")
    m = rotation
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Four algebraically equal solutions; use the one with the largest (best conditioned) pivot.
    pivots = torch.stack([m00 + m11 + m22, m00 - m11 - m22, m11 - m00 - m22, m22 - m00 - m11], -1)
    r = (1.0 + pivots).clamp_min(1e-12).sqrt()  # 2|w|, 2|x|, 2|y|, 2|z| for each branch
    d21, d02, d10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    s01, s02, s12 = m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1]
    r_w, r_x, r_y, r_z = r.unbind(-1)
    candidates = torch.stack(
        [
            torch.stack([d21 / (2 * r_w), d02 / (2 * r_w), d10 / (2 * r_w), r_w / 2], -1),
            torch.stack([r_x / 2, s01 / (2 * r_x), s02 / (2 * r_x), d21 / (2 * r_x)], -1),
            torch.stack([s01 / (2 * r_y), r_y / 2, s12 / (2 * r_y), d02 / (2 * r_y)], -1),
            torch.stack([s02 / (2 * r_z), s12 / (2 * r_z), r_z / 2, d10 / (2 * r_z)], -1),
        ],
        dim=-2,
    )
    best = pivots.argmax(-1)[..., None, None].expand(*pivots.shape[:-1], 1, 4)
    q = candidates.gather(-2, best).squeeze(-2)
    q = torch.where(q[..., 3:] < 0, -q, q)
    return safe_normalize(q)


@_numpy_or_torch
def matrix_to_axis_angle(rotation: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors (..., 3) with angle in [0, pi] from rotation matrices (..., 3, 3)."""
    q = _matrix_to_quaternion(rotation)
    v, w = q[..., :3], q[..., 3]
    s = v.norm(dim=-1)
    angle = 2.0 * torch.atan2(s, w)
    small = s < _SMALL_ANGLE
    factor = torch.where(small, 2.0 / w.clamp_min(0.5), angle / torch.where(small, torch.ones_like(s), s))
    return v * factor[..., None]


@_numpy_or_torch
def rotation_between(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The minimal rotation (axis perpendicular to both) turning direction `source` onto `target`.

    Both are (..., 3), any length; a zero vector gives the identity, and opposite directions give
    a half-turn about an axis perpendicular to `source`.
    """
    _check_last_dims(source, (3,), "source")
    _check_last_dims(target, (3,), "target")
    a, b = torch.broadcast_tensors(safe_normalize(source), safe_normalize(target))
    v = torch.linalg.cross(a, b)
    c = (a * b).sum(-1)
    eps = 1e-12 if a.dtype == torch.float64 else 1e-6
    opposite = (1.0 + c) < eps
    k = skew(v)
    rodrigues = _identity_like(a) + k + (k @ k) / (1.0 + c).clamp_min(eps)[..., None, None]
    # Half-turn about an axis perpendicular to `a`, built from the coordinate axis least aligned with it.
    basis = torch.eye(3, dtype=a.dtype, device=a.device)[a.abs().argmin(-1)]
    n = safe_normalize(torch.linalg.cross(a, basis))
    half_turn = 2.0 * n[..., :, None] * n[..., None, :] - _identity_like(a)
    return torch.where(opposite[..., None, None], half_turn, rodrigues)


def rotation_angle(rotation: Array) -> Array:
    """Rotation angle in [0, pi] of rotation matrices (..., 3, 3), robust near 0 and pi."""
    aa = matrix_to_axis_angle(rotation)
    return aa.norm(dim=-1) if isinstance(aa, torch.Tensor) else np.linalg.norm(aa, axis=-1)


def _transpose(x: Array) -> Array:
    return x.swapaxes(-1, -2)


def apply_transform(transform: Array, points: Array) -> Array:
    """Apply rigid transforms (..., 4, 4) to points (..., N, 3)."""
    if points.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., N, 3), got {tuple(points.shape)}")
    return points @ _transpose(transform[..., :3, :3]) + transform[..., None, :3, 3]
