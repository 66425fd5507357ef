"""Shared fixtures for the SynthHO tests: a hand-built right hand about 0.5 m from the camera."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

# per finger (index, middle, ring, little): MCP in the hand frame (x towards the thumb,
# y wrist to fingers, z out of the palm) and the three phalanx lengths, metres
_FINGERS = (
    ((0.025, 0.090, 0.0), (0.040, 0.024, 0.020)),
    ((0.003, 0.095, 0.0), (0.045, 0.028, 0.022)),
    ((-0.017, 0.088, 0.0), (0.042, 0.027, 0.021)),
    ((-0.035, 0.078, 0.0), (0.032, 0.020, 0.019)),
)
_THUMB_BASE = (0.026, 0.028, 0.010)
_THUMB_LENGTHS = (0.038, 0.032, 0.026)


def _chain(base: np.ndarray, direction: np.ndarray, lengths, flex: float, bend_axis: np.ndarray):
    """Joint positions along a finger that bends by ``flex`` rad at each joint about ``bend_axis``."""
    pts, d = [np.asarray(base, float)], np.asarray(direction, float) / np.linalg.norm(direction)
    for length in lengths:
        d = Rotation.from_rotvec(flex * bend_axis).apply(d)
        pts.append(pts[-1] + length * d)
    return pts


def hand_joints(flex: float = 0.35, position=(0.0, 0.0, 0.5), rotvec=(0.3, -0.4, 0.2)) -> np.ndarray:
    """21 joints (camera frame) of a right hand with palm towards the camera, fingers half curled."""
    joints = [np.zeros(3)]
    joints += _chain(np.array(_THUMB_BASE), np.array([0.7, 0.6, 0.35]), _THUMB_LENGTHS, 0.5 * flex,
                     np.array([0.0, 0.0, 1.0]))
    for mcp, lengths in _FINGERS:
        spread = np.array([0.15 * mcp[0] / 0.03, 1.0, 0.0])
        joints += _chain(np.array(mcp), spread, lengths, flex, np.array([1.0, 0.0, 0.0]))
    local = np.array(joints)
    # hand frame -> camera: fingers point up the image (-y), palm normal (+z) towards the camera (-z)
    to_camera = Rotation.from_rotvec(rotvec) * Rotation.from_matrix(np.diag([1.0, -1.0, -1.0]))
    return to_camera.apply(local) + np.asarray(position, float)


@pytest.fixture(scope="session")
def joints() -> np.ndarray:
    return hand_joints()


@pytest.fixture(scope="session")
def make_joints():
    """The :func:`hand_joints` factory, for tests that need a variant."""
    return hand_joints


@pytest.fixture(scope="session")
def sign_agreement_of():
    """The :func:`sign_agreement` helper."""
    return sign_agreement


@pytest.fixture(scope="session")
def hand(joints):
    from gsdf_ros.synth.hand_shape import HandShape

    return HandShape.from_joints(joints)


@pytest.fixture(scope="session")
def hand_mesh(hand):
    return hand.mesh(voxel=0.002)


def sign_agreement(sdf, mesh, rng: np.random.Generator, count: int = 1500, away: float = 0.002) -> float:
    """Fraction of random points (at least ``away`` from the zero set) whose SDF sign matches
    mesh containment; half of them are drawn near the surface."""
    lo, hi = mesh.bounds
    span = hi - lo
    box_pts = rng.uniform(lo - 0.1 * span, hi + 0.1 * span, size=(count // 2, 3))
    surface = mesh.sample(count - count // 2, seed=int(rng.integers(2**31)))
    near_pts = surface + rng.normal(scale=0.006, size=surface.shape)
    points = np.vstack([box_pts, near_pts])
    d = sdf(points)
    keep = np.abs(d) > away
    inside = mesh.contains(points[keep])
    return float(np.mean(inside == (d[keep] < 0.0)))
