"""Frames a grasp planner can use: a rotation per hand joint, the palm frame and the object's axes.

Pure numpy (no torch): every rotation is a 3x3 matrix whose columns are the frame's x, y, z axes
expressed in the camera optical frame; all are right-handed and orthonormal.

Hand joint ``j`` (``gsdf_ros.hand.joints.JOINT_NAMES``):
  x along the bone that leaves the joint towards its child (a fingertip: the bone that ends at
  it), z the bone's back-of-hand (dorsal) side, y = z × x. The dorsal side is the template hand's
  +z carried by the bone's inverse-kinematics rotation, made orthogonal to x, so the twist about
  the bone follows IK (which, like the paper's, does not recover twist beyond the minimal rotation).
  The wrist gets the palm frame's rotation.
Palm (``hand`` frame):
  origin at the palm centre (mean of the wrist and the index, middle, ring and little MCPs);
  x = approach, from the wrist towards the middle MCP (where the fingers point); z = palm normal,
  out of the back of the hand (the palm faces −z); y = z × x, towards the thumb for a right hand.
Object:
  principal axes of the object mesh surface (area-weighted triangle centroids): x the longest
  extent, y the second, z = x × y. Signs: x points away from the wrist (from the wrist towards
  the object centroid), y towards the camera (−viewing direction; +x of the image, then −y, when
  y is nearly perpendicular to the view). None when the mesh is missing, too small, or its extents
  are equal in every direction (sphere-like: no axis is defined).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gsdf_ros.hand.joints import FRAME_OF_JOINT, MCP_JOINTS, NUM_BONE_FRAMES, NUM_JOINTS, PARENTS

EPS = 1e-9
E_X, E_Y, E_Z = np.eye(3)
MIN_OBJECT_TRIANGLES = 8
ISOTROPIC_RATIO = 0.98
"""Object extents whose smallest-to-largest variance ratio is above this have no defined axis."""


@dataclass(frozen=True)
class HandFrames:
    """Rotations (21, 3, 3) of the joint frames, and the palm frame's origin (3,) and rotation (3, 3)."""

    joint_rotations: np.ndarray
    palm_origin: np.ndarray
    palm_rotation: np.ndarray

    def __post_init__(self) -> None:
        if (self.joint_rotations.shape != (NUM_JOINTS, 3, 3) or self.palm_rotation.shape != (3, 3)
                or self.palm_origin.shape != (3,)):
            raise ValueError("HandFrames needs joint_rotations (21, 3, 3), palm_origin (3,), palm_rotation (3, 3)")


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return None if not np.isfinite(n) or n < EPS else v / n


def axes_from(
    x: np.ndarray, z_hint: np.ndarray, fallback_x: np.ndarray = E_X, fallback_z: np.ndarray = E_Z
) -> np.ndarray:
    """The rotation (columns x, y, z) with x along ``x`` and z the part of ``z_hint`` orthogonal to x.

    A degenerate ``x`` is replaced by ``fallback_x``; a ``z_hint`` parallel to x by ``fallback_z``
    (then by whichever camera axis is least parallel to x), so the result is always a rotation.
    """
    ex = _unit(np.asarray(x, dtype=np.float64))
    if ex is None:
        ex = _unit(np.asarray(fallback_x, dtype=np.float64))
    if ex is None:
        ex = E_X
    for hint in (z_hint, fallback_z, np.eye(3)[int(np.argmin(np.abs(ex)))]):
        hint = np.asarray(hint, dtype=np.float64)
        ez = _unit(hint - ex * float(hint @ ex))
        if ez is not None and float(np.linalg.norm(hint)) > EPS and abs(float(_unit(hint) @ ex)) < 0.999:
            break
    ey = np.cross(ez, ex)
    return np.column_stack([ex, ey, ez])


def palm_origin(joints: np.ndarray) -> np.ndarray:
    """The palm centre: mean of the wrist and the index, middle, ring and little MCPs."""
    j = np.asarray(joints, dtype=np.float64)
    return j[[0, *MCP_JOINTS[1:]]].mean(axis=0)


def geometric_bone_rotations(joints: np.ndarray) -> np.ndarray:
    """Bone rotations (16, 3, 3) when no IK is available: every bone gets the palm's orientation from
    the joints alone (x wrist → middle MCP, y towards index MCP − little MCP, z = x × y)."""
    j = np.asarray(joints, dtype=np.float64)
    x = j[MCP_JOINTS[2]] - j[0]
    across = j[MCP_JOINTS[1]] - j[MCP_JOINTS[4]]
    z_hint = np.cross(x, across)
    palm = axes_from(x, z_hint) if _unit(z_hint) is not None else np.eye(3)
    return np.repeat(palm[None], NUM_BONE_FRAMES, axis=0)


def _child_of(joint: int) -> int | None:
    """The joint the bone leaving `joint` ends at (the next one of its finger), None for tips and the wrist."""
    if joint == 0 or joint + 1 >= NUM_JOINTS or PARENTS[joint + 1] != joint:
        return None
    return joint + 1


def hand_frames(joints: np.ndarray, bone_rotations: np.ndarray) -> HandFrames:
    """Joint and palm frames from joints (21, 3) and the IK global bone rotations (16, 3, 3) in the same frame."""
    j = np.asarray(joints, dtype=np.float64)
    bones = np.asarray(bone_rotations, dtype=np.float64)
    if j.shape != (NUM_JOINTS, 3) or bones.shape != (NUM_BONE_FRAMES, 3, 3):
        raise ValueError(f"need joints ({NUM_JOINTS}, 3) and bone rotations ({NUM_BONE_FRAMES}, 3, 3), "
                         f"got {j.shape}, {bones.shape}")
    wrist_rot = bones[0]
    palm = axes_from(j[MCP_JOINTS[2]] - j[0], wrist_rot @ E_Z, wrist_rot @ E_X)
    rotations = np.empty((NUM_JOINTS, 3, 3))
    rotations[0] = palm
    for joint in range(1, NUM_JOINTS):
        child = _child_of(joint)
        start, end = (joint, child) if child is not None else (PARENTS[joint], joint)
        bone = bones[FRAME_OF_JOINT[start]]
        rotations[joint] = axes_from(j[end] - j[start], bone @ E_Z, bone @ E_X)
    return HandFrames(rotations, palm_origin(j), palm)


def object_axes(vertices: np.ndarray, faces: np.ndarray, wrist: np.ndarray) -> np.ndarray | None:
    """The object's principal-axes rotation (columns x, y, z; see the module docstring) or None."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(f) < MIN_OBJECT_TRIANGLES or not np.all(np.isfinite(v)):
        return None
    tri = v[f]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if float(area.sum()) < EPS:
        return None
    centres = tri.mean(axis=1)
    weights = area / area.sum()
    centroid = weights @ centres
    d = centres - centroid
    cov = (d * weights[:, None]).T @ d
    values, vectors = np.linalg.eigh(cov)  # ascending
    values, vectors = values[::-1], vectors[:, ::-1]
    if values[0] < EPS or values[2] / values[0] > ISOTROPIC_RATIO:
        return None
    ex, ey = vectors[:, 0], vectors[:, 1]
    ex = ex * _sign_towards(ex, (centroid - np.asarray(wrist, dtype=np.float64), E_Z))
    ey = ey * _sign_towards(ey, (-centroid, E_X, -E_Y))
    return np.column_stack([ex, ey, np.cross(ex, ey)])


def _sign_towards(axis: np.ndarray, references: tuple[np.ndarray, ...]) -> float:
    """+1 or −1: the sign that makes `axis` point along the first reference it is not nearly perpendicular to."""
    for ref in references:
        unit = _unit(np.asarray(ref, dtype=np.float64))
        if unit is not None and abs(float(axis @ unit)) > 0.1:
            return 1.0 if float(axis @ unit) > 0 else -1.0
    return 1.0


def quaternion_xyzw(rotation: np.ndarray) -> np.ndarray:
    """The unit quaternion (x, y, z, w), w ≥ 0, of a rotation matrix."""
    from transforms3d.quaternions import mat2quat

    w, x, y, z = mat2quat(np.asarray(rotation, dtype=np.float64))
    q = np.array([x, y, z, w])
    return -q if w < 0 else q
