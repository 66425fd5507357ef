"""Forward kinematics of the 21-joint hand."""

import numpy as np
import pytest
import torch

from gsdf_ros.geometry.transforms import axis_angle_to_matrix
from gsdf_ros.hand.joints import BONE_FRAME_JOINTS, BONES, FINGER_JOINTS, FRAME_OF_JOINT, PARENT_FRAMES, PARENTS
from gsdf_ros.hand.kinematics import forward_kinematics, forward_kinematics_np
from gsdf_ros.hand.skeleton import default_template

TEMPLATE = default_template()
REST = TEMPLATE.tensor(torch.float64)


def random_rotations(batch: int, scale: float = 0.5, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return axis_angle_to_matrix(torch.randn(batch, 16, 3, generator=gen, dtype=torch.float64) * scale)


def test_identity_gives_rest_pose_and_frames():
    joints, frames = forward_kinematics(torch.eye(3, dtype=torch.float64).expand(2, 16, 3, 3), REST)
    np.testing.assert_allclose(joints.numpy(), np.broadcast_to(TEMPLATE.joints, (2, 21, 3)), atol=1e-15)
    np.testing.assert_allclose(frames[0, :, :3, :3].numpy(), np.broadcast_to(np.eye(3), (16, 3, 3)))
    np.testing.assert_allclose(frames[0, :, :3, 3].numpy(), TEMPLATE.joints[list(BONE_FRAME_JOINTS)])
    np.testing.assert_array_equal(frames[0, :, 3].numpy(), np.broadcast_to([0.0, 0.0, 0.0, 1.0], (16, 4)))


def test_bone_lengths_preserved_and_frames_consistent():
    joints, frames = forward_kinematics(random_rotations(8), REST, root=torch.tensor([0.1, -0.2, 0.5]))
    lengths = torch.stack([(joints[:, c] - joints[:, p]).norm(dim=-1) for p, c in BONES], 1)
    np.testing.assert_allclose(lengths.numpy(), np.broadcast_to(TEMPLATE.bone_lengths(), (8, 20)), atol=1e-14)
    np.testing.assert_allclose(joints[:, 0].numpy(), np.broadcast_to([0.1, -0.2, 0.5], (8, 3)))
    offsets = joints[:, list(BONE_FRAME_JOINTS)] - joints[:, :1]
    np.testing.assert_allclose(frames[:, :, :3, 3].numpy(), offsets.numpy(), atol=1e-15)
    # Each frame's rotation carries its rest segment onto the posed segment.
    for k, j in enumerate(BONE_FRAME_JOINTS[1:], start=1):
        posed = joints[:, j + 1] - joints[:, j]
        rest = REST[j + 1] - REST[j]
        np.testing.assert_allclose((frames[:, k, :3, :3] @ rest).numpy(), posed.numpy(), atol=1e-14)


def test_axis_angle_input_equals_matrix_input():
    aa = torch.randn(3, 16, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a, fa = forward_kinematics(aa, REST)
    b, fb = forward_kinematics(axis_angle_to_matrix(aa), REST)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(fa, fb)


def test_wrist_rotation_rotates_the_whole_hand():
    rot = random_rotations(4, seed=2)
    global_rot = axis_angle_to_matrix(torch.tensor([[0.3, -1.2, 0.7]], dtype=torch.float64))
    turned = rot.clone()
    turned[:, 0] = global_rot @ rot[:, 0]
    a, _ = forward_kinematics(rot, REST)
    b, _ = forward_kinematics(turned, REST)
    torch.testing.assert_close(b, a @ global_rot.transpose(-1, -2))


def test_a_frame_moves_only_its_descendants():
    rot = torch.eye(3, dtype=torch.float64).repeat(1, 16, 1, 1)
    rot[0, 4] = axis_angle_to_matrix(torch.tensor([0.0, 0.8, 0.0], dtype=torch.float64))  # index MCP frame
    joints, _ = forward_kinematics(rot, REST)
    moved = (joints[0] - REST).norm(dim=-1) > 1e-9
    assert moved.nonzero().flatten().tolist() == list(FINGER_JOINTS[1][1:])


def test_float32_and_numpy_wrapper():
    rot = random_rotations(2, seed=3)
    j64, _ = forward_kinematics(rot, REST)
    j32, f32 = forward_kinematics(rot.float(), TEMPLATE.tensor())
    assert j32.dtype == torch.float32 and f32.dtype == torch.float32
    np.testing.assert_allclose(j32.numpy(), j64.numpy(), atol=1e-6)
    joints, frames = forward_kinematics_np(rot[0].numpy(), TEMPLATE.joints)
    assert joints.shape == (21, 3) and frames.shape == (16, 4, 4)
    np.testing.assert_allclose(joints, j64[0].numpy(), atol=1e-15)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="local rotations"):
        forward_kinematics(torch.zeros(2, 15, 3), REST)
    with pytest.raises(ValueError, match="template"):
        forward_kinematics(torch.zeros(2, 16, 3), REST[:20])


def test_global_frames_chain_local_rotations_along_parent_frames():
    rot = random_rotations(3, seed=4)
    _, frames = forward_kinematics(rot, REST)
    for k, parent in enumerate(PARENT_FRAMES):
        expected = rot[:, k] if parent < 0 else frames[:, parent, :3, :3] @ rot[:, k]
        torch.testing.assert_close(frames[:, k, :3, :3], expected)
        joint = BONE_FRAME_JOINTS[k]
        assert FRAME_OF_JOINT[joint] == k and (parent < 0 or BONE_FRAME_JOINTS[parent] == PARENTS[joint])
