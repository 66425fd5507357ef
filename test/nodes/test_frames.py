"""Joint, palm and object frames: right-handed, orthonormal, x along the bone, stable object axes."""

from __future__ import annotations

import numpy as np
import pytest

from gsdf_ros.frames import geometric_bone_rotations, hand_frames, object_axes
from gsdf_ros.hand.joints import MCP_JOINTS, NUM_JOINTS, PARENTS


def _is_rotation(r: np.ndarray) -> bool:
    return np.allclose(r.T @ r, np.eye(3), atol=1e-9) and np.isclose(np.linalg.det(r), 1.0)


def _posed_hand(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Joints of a bent, rotated, translated template hand and their IK bone rotations."""
    torch = pytest.importorskip("torch")
    from gsdf_ros.geometry.transforms import axis_angle_to_matrix
    from gsdf_ros.hand.ik import joints_to_bone_frames
    from gsdf_ros.hand.skeleton import default_template

    rng = np.random.default_rng(seed)
    template = default_template().tensor(torch.float64)
    joints = template.clone()
    for f in range(5):  # bend every finger a little towards the palm (−z) by moving its later joints
        chain = [1 + 4 * f + k for k in range(4)]
        joints[chain[1:], 2] -= torch.tensor([0.01, 0.02, 0.035], dtype=torch.float64) * rng.uniform(0.5, 1.5)
    rotation = axis_angle_to_matrix(torch.tensor(rng.normal(size=(1, 3)), dtype=torch.float64))[0]
    joints = joints @ rotation.T + torch.tensor([0.05, -0.02, 0.45], dtype=torch.float64)
    frames, _, valid = joints_to_bone_frames(joints[None], template)
    assert bool(valid[0])
    return joints.numpy(), frames[0, :, :3, :3].numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_joint_and_palm_frames_are_right_handed_orthonormal_with_x_along_the_bone(seed: int) -> None:
    joints, bones = _posed_hand(seed)
    frames = hand_frames(joints, bones)
    for j in range(NUM_JOINTS):
        r = frames.joint_rotations[j]
        assert _is_rotation(r), j
        if j == 0:
            continue
        child = j + 1 if j + 1 < NUM_JOINTS and PARENTS[j + 1] == j else None
        bone = joints[child] - joints[j] if child is not None else joints[j] - joints[PARENTS[j]]
        np.testing.assert_allclose(r[:, 0], bone / np.linalg.norm(bone), atol=1e-9)
    palm = frames.palm_rotation
    assert _is_rotation(palm) and np.allclose(frames.joint_rotations[0], palm)
    approach = joints[MCP_JOINTS[2]] - joints[0]
    np.testing.assert_allclose(palm[:, 0], approach / np.linalg.norm(approach), atol=1e-9)
    np.testing.assert_allclose(frames.palm_origin, joints[[0, 5, 9, 13, 17]].mean(axis=0))
    thumb_side = joints[MCP_JOINTS[1]] - joints[MCP_JOINTS[4]]
    assert palm[:, 1] @ thumb_side > 0, "y points towards the thumb side of a right hand"
    fingertips_side = joints[[8, 12, 16]].mean(axis=0) - joints[[5, 9, 13]].mean(axis=0)
    assert palm[:, 2] @ fingertips_side < 0, "bent fingers curl to the palm side, −z"


def test_frames_stay_rotations_for_degenerate_joints() -> None:
    joints = np.full((NUM_JOINTS, 3), 0.5)
    frames = hand_frames(joints, geometric_bone_rotations(joints))
    assert all(_is_rotation(r) for r in frames.joint_rotations) and _is_rotation(frames.palm_rotation)


def _box(
    extents: tuple[float, float, float], rotation: np.ndarray, centre: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    trimesh = pytest.importorskip("trimesh")
    box = trimesh.creation.box(extents=extents).subdivide().subdivide()
    return box.vertices @ rotation.T + centre, box.faces


def test_object_axes_follow_the_longest_extent_with_a_stable_sign() -> None:
    from scipy.spatial.transform import Rotation

    rotation = Rotation.from_euler("xyz", [0.3, -0.5, 1.1]).as_matrix()
    centre = np.array([0.02, 0.01, 0.5])
    vertices, faces = _box((0.12, 0.06, 0.03), rotation, centre)
    wrist = centre - 0.1 * rotation[:, 0]
    axes = object_axes(vertices, faces, wrist)
    assert _is_rotation(axes)
    assert axes[:, 0] @ rotation[:, 0] == pytest.approx(1.0, abs=1e-6), "x: the longest extent, away from the wrist"
    assert abs(axes[:, 1] @ rotation[:, 1]) == pytest.approx(1.0, abs=1e-6) and axes[:, 1] @ -centre >= 0
    flipped = object_axes(vertices, faces[:, ::-1], wrist)  # same surface, other winding: same answer
    np.testing.assert_allclose(flipped, axes, atol=1e-9)
    sphere_like, faces = _box((0.05, 0.05, 0.05), np.eye(3), centre)
    assert object_axes(sphere_like, faces, wrist) is None
