"""The package's own right-hand template skeleton (rest pose, metres).

Hand frame of the template: origin at the wrist joint centre; +x from the wrist toward the middle
MCP (along the fingers); +y toward the thumb (radial side); +z = x × y, out of the back of the
hand (dorsal), so the palm faces −z. The rest pose is a flat, relaxed open hand: fingers straight
and slightly splayed in the palm plane, the thumb 45° away from the index and tilted 20° palmar.

The numbers are the package's own design from adult hand anatomy (joint-centre distances): palm
8.8 cm from the wrist to the middle MCP, metacarpal heads on a shallow transverse arch (the middle
one highest, index and little level with each other, so that :func:`hand_axes` of the template
is exactly its own frame), phalanx lengths from proximal / middle / distal anthropometric averages, the
tip joints at the finger pads. The arch matters: it keeps the wrist→MCP vectors non-coplanar, so
the global rotation solved by IK is unique.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from gsdf_ros.hand.joints import BONES, FINGER_JOINTS, MCP_JOINTS, NUM_JOINTS

_BASES = np.array(
    [
        [0.024, 0.020, -0.012],  # thumb CMC (joint 1)
        [0.083, 0.024, -0.006],  # index MCP
        [0.088, 0.000, 0.000],  # middle MCP
        [0.082, -0.019, -0.004],  # ring MCP
        [0.072, -0.036, -0.006],  # little MCP
    ]
)
"""Finger base joints relative to the wrist (m)."""

_SEGMENTS = np.array(
    [
        [0.044, 0.032, 0.028],  # thumb: metacarpal, proximal, distal to tip
        [0.040, 0.024, 0.021],  # index: proximal, middle, distal to tip
        [0.045, 0.028, 0.022],  # middle
        [0.042, 0.027, 0.022],  # ring
        [0.033, 0.019, 0.020],  # little
    ]
)
"""Per finger, the lengths (m) of its three segments from base to tip."""

_SPLAY_DEG = np.array([45.0, 6.0, 0.0, -5.0, -12.0])
"""In-plane direction of each finger, degrees from +x toward +y (the thumb side)."""

_PALMAR_TILT_DEG = np.array([20.0, 0.0, 0.0, 0.0, 0.0])
"""Tilt of each finger out of the palm plane toward the palm (−z), degrees."""


def _finger_directions() -> np.ndarray:
    splay, tilt = np.radians(_SPLAY_DEG), np.radians(_PALMAR_TILT_DEG)
    return np.stack([np.cos(tilt) * np.cos(splay), np.cos(tilt) * np.sin(splay), -np.sin(tilt)], axis=1)


def build_rest_joints(bases: np.ndarray, segments: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """The 21 rest joints from finger bases (5, 3), segment lengths (5, 3) and unit directions (5, 3)."""
    joints = np.zeros((NUM_JOINTS, 3))
    for f, chain in enumerate(FINGER_JOINTS):
        joints[chain[0]] = bases[f]
        for level in range(3):
            joints[chain[level + 1]] = joints[chain[level]] + segments[f, level] * directions[f]
    return joints


def hand_axes(joints: np.ndarray) -> np.ndarray:
    """Rows x, y, z of a right hand's frame from its joints (21, 3): x wrist→middle MCP, y toward
    the thumb side (index MCP − little MCP made orthogonal to x), z = x × y (dorsal)."""
    j = np.asarray(joints, dtype=np.float64)
    x = j[MCP_JOINTS[2]] - j[0]
    x = x / np.linalg.norm(x)
    across = j[MCP_JOINTS[1]] - j[MCP_JOINTS[4]]
    y = across - x * (across @ x)
    y = y / np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)])


@dataclass(frozen=True)
class HandTemplate:
    """Rest joints (21, 3) in metres of one hand, wrist at the origin."""

    joints: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        joints = np.array(self.joints, dtype=np.float64)
        if joints.shape != (NUM_JOINTS, 3):
            raise ValueError(f"template joints must have shape ({NUM_JOINTS}, 3), got {joints.shape}")
        if not np.all(np.isfinite(joints)):
            raise ValueError("template joints must be finite")
        joints = joints - joints[0]
        if np.any(np.linalg.norm(self.bone_vectors_of(joints), axis=1) < 1e-6):
            raise ValueError("template has a bone shorter than 1 micrometre")
        joints.setflags(write=False)
        object.__setattr__(self, "joints", joints)

    @staticmethod
    def bone_vectors_of(joints: np.ndarray) -> np.ndarray:
        """Child − parent vectors (20, 3) in the order of ``BONES``."""
        return np.stack([joints[c] - joints[p] for p, c in BONES])

    def bone_lengths(self) -> np.ndarray:
        """Lengths (20,) of the bones in the order of ``BONES``."""
        return np.linalg.norm(self.bone_vectors_of(self.joints), axis=1)

    def palm_length(self) -> float:
        """Wrist to middle MCP distance (m)."""
        return float(np.linalg.norm(self.joints[MCP_JOINTS[2]]))

    def palm_width(self) -> float:
        """Index MCP to little MCP distance (m)."""
        return float(np.linalg.norm(self.joints[MCP_JOINTS[1]] - self.joints[MCP_JOINTS[4]]))

    def axes(self) -> np.ndarray:
        """The hand frame's axes as rows (see :func:`hand_axes`)."""
        return hand_axes(self.joints)

    def tensor(self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
        """Rest joints as a (21, 3) tensor."""
        return torch.tensor(self.joints, dtype=dtype, device=device)


def default_template() -> HandTemplate:
    """The package's mean right hand."""
    return HandTemplate(build_rest_joints(_BASES, _SEGMENTS, _finger_directions()))


def sample_template(
    rng: np.random.Generator,
    bone_scale_range: float = 0.1,
    palm_width_range: float = 0.08,
) -> HandTemplate:
    """A per-sample variation of the default hand.

    The palm length (finger bases along x and z) is scaled by one factor in 1 ± `bone_scale_range`,
    the palm width (their y) by one factor in 1 ± `palm_width_range`, and each of the 15 finger
    segments by its own factor in 1 ± `bone_scale_range` (all uniform).
    """
    for name, value in (("bone_scale_range", bone_scale_range), ("palm_width_range", palm_width_range)):
        if not (math.isfinite(value) and 0.0 <= value < 1.0):
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    palm = rng.uniform(1.0 - bone_scale_range, 1.0 + bone_scale_range)
    width = rng.uniform(1.0 - palm_width_range, 1.0 + palm_width_range)
    bases = _BASES * np.array([palm, width, palm])
    segments = _SEGMENTS * rng.uniform(1.0 - bone_scale_range, 1.0 + bone_scale_range, size=_SEGMENTS.shape)
    return HandTemplate(build_rest_joints(bases, segments, _finger_directions()))
