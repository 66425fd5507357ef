"""Articulation limits of a right hand and named angles -> local bone rotations.

Twenty named angles drive the 15 finger frames (the wrist frame, i.e. the global rotation, is left
to the caller). Each angle turns its bone about an axis perpendicular to the bone's rest direction
d, chosen so that a positive angle moves d toward a direction of the hand frame (x along the
fingers, y toward the thumb, z dorsal; see :mod:`gsdf_ros.hand.skeleton`):

- finger MCP abduction: toward +y (radial deviation, toward the thumb; negative is ulnar);
- finger MCP / PIP / DIP flexion: toward −z (into the palm);
- thumb CMC abduction: toward −z (palmar abduction, out of the palm plane);
- thumb CMC flexion: toward −y (across the palm, toward the little finger);
- thumb MCP / IP flexion: toward (−y − z)/√2 (curling over the palm).

A frame with two angles gets R = R_abduction · R_flexion: the flexion hinge follows the abduction.
Ranges are typical active ranges of motion (degrees), with small hyperextension allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gsdf_ros.geometry.transforms import axis_angle_to_matrix
from gsdf_ros.hand.joints import BONE_FRAME_JOINTS, FINGER_FRAMES, FINGER_NAMES, NUM_BONE_FRAMES
from gsdf_ros.hand.skeleton import HandTemplate, hand_axes

_S = 1.0 / math.sqrt(2.0)


@dataclass(frozen=True)
class Articulation:
    """One named degree of freedom: its frame, the (y, z) hand direction a positive angle moves
    the bone toward, and its range in radians."""

    name: str
    frame: int
    toward: tuple[float, float]
    lower: float
    upper: float


def _articulation(name: str, frame: int, toward: tuple[float, float], lo_deg: float, hi_deg: float) -> Articulation:
    return Articulation(name, frame, toward, math.radians(lo_deg), math.radians(hi_deg))


_RADIAL, _PALMAR, _ULNAR, _CURL = (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0), (-_S, -_S)

_FINGER_RANGES_DEG: dict[str, tuple[tuple[float, float], ...]] = {
    # (MCP abduction, MCP flexion, PIP flexion, DIP flexion)
    "index": ((-10.0, 25.0), (-20.0, 90.0), (-5.0, 110.0), (-10.0, 80.0)),
    "middle": ((-15.0, 15.0), (-20.0, 90.0), (-5.0, 110.0), (-10.0, 80.0)),
    "ring": ((-20.0, 10.0), (-20.0, 90.0), (-5.0, 110.0), (-10.0, 80.0)),
    "little": ((-30.0, 10.0), (-20.0, 95.0), (-5.0, 110.0), (-10.0, 80.0)),
}


def _build_articulations() -> tuple[Articulation, ...]:
    cmc, mcp, ip = FINGER_FRAMES[0]
    thumb = (
        _articulation("thumb_cmc_abduction", cmc, _PALMAR, -10.0, 50.0),
        _articulation("thumb_cmc_flexion", cmc, _ULNAR, -15.0, 45.0),
        _articulation("thumb_mcp_flexion", mcp, _CURL, -10.0, 60.0),
        _articulation("thumb_ip_flexion", ip, _CURL, -15.0, 80.0),
    )
    fingers = []
    for f, finger in enumerate(FINGER_NAMES[1:], start=1):
        (abd, flex_mcp, flex_pip, flex_dip), frames = _FINGER_RANGES_DEG[finger], FINGER_FRAMES[f]
        fingers += [
            _articulation(f"{finger}_mcp_abduction", frames[0], _RADIAL, *abd),
            _articulation(f"{finger}_mcp_flexion", frames[0], _PALMAR, *flex_mcp),
            _articulation(f"{finger}_pip_flexion", frames[1], _PALMAR, *flex_pip),
            _articulation(f"{finger}_dip_flexion", frames[2], _PALMAR, *flex_dip),
        ]
    return thumb + tuple(fingers)


ARTICULATIONS: tuple[Articulation, ...] = _build_articulations()
ARTICULATION_NAMES: tuple[str, ...] = tuple(a.name for a in ARTICULATIONS)
NUM_ARTICULATIONS = len(ARTICULATIONS)
LOWER = np.array([a.lower for a in ARTICULATIONS])
"""Lower limits (rad), in the order of ``ARTICULATION_NAMES``."""
UPPER = np.array([a.upper for a in ARTICULATIONS])
"""Upper limits (rad)."""


def articulation_index(name: str) -> int:
    """Index of a named angle, e.g. ``"index_pip_flexion"``."""
    try:
        return ARTICULATION_NAMES.index(name)
    except ValueError:
        raise KeyError(f"unknown articulation {name!r}; known: {', '.join(ARTICULATION_NAMES)}") from None


def _check_angles(angles: np.ndarray) -> np.ndarray:
    a = np.asarray(angles, dtype=np.float64)
    if a.ndim == 0 or a.shape[-1] != NUM_ARTICULATIONS:
        raise ValueError(f"angles must have shape (..., {NUM_ARTICULATIONS}), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("angles must be finite")
    return a


def clamp_articulation(angles: np.ndarray) -> np.ndarray:
    """Angles (..., 20) clipped to the limits."""
    return np.clip(_check_angles(angles), LOWER, UPPER)


def within_limits(angles: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """Whether each angle vector (..., 20) lies inside the limits."""
    a = _check_angles(angles)
    return np.all((a >= LOWER - tolerance) & (a <= UPPER + tolerance), axis=-1)


def sample_articulation(rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """Angles uniform within the limits, shape (20,) or (size, 20)."""
    shape = (NUM_ARTICULATIONS,) if size is None else (size, NUM_ARTICULATIONS)
    return rng.uniform(LOWER, UPPER, size=shape)


def articulation_axes(template: HandTemplate | np.ndarray) -> np.ndarray:
    """Unit rotation axes (20, 3) of the named angles, in the template frame."""
    joints = template.joints if isinstance(template, HandTemplate) else np.asarray(template, dtype=np.float64)
    axes = hand_axes(joints)
    out = np.empty((NUM_ARTICULATIONS, 3))
    for i, art in enumerate(ARTICULATIONS):
        joint = BONE_FRAME_JOINTS[art.frame]
        bone = joints[joint + 1] - joints[joint]  # within a finger the child is the next joint
        toward = art.toward[0] * axes[1] + art.toward[1] * axes[2]
        axis = np.cross(bone, toward)
        out[i] = axis / np.linalg.norm(axis)
    return out


def articulation_to_local_rotations(angles: np.ndarray, template: HandTemplate | np.ndarray) -> np.ndarray:
    """Local rotations (..., 16, 3, 3) for forward kinematics from named angles (..., 20).

    The wrist frame gets the identity; angles are used as given (clamp them first if needed).
    """
    a = _check_angles(angles)
    rotations = axis_angle_to_matrix(a[..., None] * articulation_axes(template))  # (..., 20, 3, 3)
    local = np.broadcast_to(np.eye(3), (*a.shape[:-1], NUM_BONE_FRAMES, 3, 3)).copy()
    for i, art in enumerate(ARTICULATIONS):
        local[..., art.frame, :, :] = local[..., art.frame, :, :] @ rotations[..., i, :, :]
    return local
