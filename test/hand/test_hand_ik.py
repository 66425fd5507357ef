"""Inverse kinematics: joints -> bone frames (Part B §1.4)."""

import numpy as np
import pytest
import torch

from gsdf_ros.geometry.transforms import axis_angle_to_matrix, matrix_to_axis_angle, rotation_angle, rotation_between
from gsdf_ros.hand.ik import ik_local_rotations, joints_to_bone_frames, kabsch_rotation
from gsdf_ros.hand.joints import BONE_FRAME_JOINTS, MCP_JOINTS
from gsdf_ros.hand.kinematics import forward_kinematics
from gsdf_ros.hand.limits import articulation_to_local_rotations, sample_articulation
from gsdf_ros.hand.skeleton import default_template, sample_template

TEMPLATE = default_template()
REST = TEMPLATE.tensor(torch.float64)
BATCH = 64


def random_global(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    aa = torch.randn(batch, 3, generator=gen, dtype=torch.float64)
    aa = aa / aa.norm(dim=-1, keepdim=True) * torch.rand(batch, 1, generator=gen, dtype=torch.float64) * 3.1
    translation = torch.randn(batch, 3, generator=gen, dtype=torch.float64) * 0.3 + torch.tensor([0.0, 0.0, 0.6])
    return axis_angle_to_matrix(aa), translation.double()


def limit_poses(batch: int, seed: int, swing_only: bool) -> torch.Tensor:
    """Local rotations from random angles within the limits, twist removed if `swing_only`."""
    angles = sample_articulation(np.random.default_rng(seed), batch)
    local = torch.as_tensor(articulation_to_local_rotations(angles, TEMPLATE))
    if swing_only:
        for k, j in enumerate(BONE_FRAME_JOINTS[1:], start=1):
            rest = REST[j + 1] - REST[j]
            local[:, k] = rotation_between(rest.expand(batch, 3), local[:, k] @ rest)
    local[:, 0] = random_global(batch, seed + 100)[0]
    return local


def angle_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return rotation_angle(a.transpose(-1, -2) @ b)


def test_ik_recovers_swing_rotations_with_global_motion():
    local = limit_poses(BATCH, seed=0, swing_only=True)
    _, translation = random_global(BATCH, seed=1)
    joints, frames = forward_kinematics(local, REST, root=translation)
    solved, valid = ik_local_rotations(joints, REST)
    assert bool(valid.all())
    assert angle_error(solved, local).max() < 1e-4
    ik_frames, refit, valid = joints_to_bone_frames(joints, REST)
    assert bool(valid.all())
    assert angle_error(ik_frames[..., :3, :3], frames[..., :3, :3]).max() < 1e-4
    torch.testing.assert_close(ik_frames[..., :3, 3], frames[..., :3, 3], atol=1e-9, rtol=0)
    torch.testing.assert_close(refit, joints, atol=1e-9, rtol=0)


def test_ik_loses_only_twist():
    local = limit_poses(BATCH, seed=2, swing_only=False)
    joints, _ = forward_kinematics(local, REST)
    solved, _ = ik_local_rotations(joints, REST)
    assert angle_error(solved[:, 1:], local[:, 1:]).max() > 1e-3  # the input did carry twist
    # Every solved local rotation is a pure swing: its axis is perpendicular to its rest bone.
    for k, j in enumerate(BONE_FRAME_JOINTS[1:], start=1):
        rest = REST[j + 1] - REST[j]
        axis = matrix_to_axis_angle(solved[:, k])
        assert (axis @ rest).abs().max() < 1e-10


def test_fk_ik_fk_reproduces_joints():
    local = limit_poses(BATCH, seed=3, swing_only=False)
    rot, translation = random_global(BATCH, seed=4)
    local[:, 0] = rot
    joints, _ = forward_kinematics(local, REST, root=translation)
    _, refit, valid = joints_to_bone_frames(joints, REST)
    assert bool(valid.all())
    assert (refit - joints).norm(dim=-1).max() < 1e-6
    solved, _ = ik_local_rotations(joints, REST)
    again, _ = forward_kinematics(solved, REST, root=translation)
    assert (again - joints).norm(dim=-1).max() < 1e-6


def test_other_hand_size_is_refit_with_template_bones_at_input_wrist():
    other = sample_template(np.random.default_rng(5)).tensor(torch.float64)
    local = limit_poses(8, seed=6, swing_only=True)
    joints, _ = forward_kinematics(local, other, root=torch.tensor([0.05, 0.02, 0.7], dtype=torch.float64))
    frames, refit, valid = joints_to_bone_frames(joints, REST)
    assert bool(valid.all())
    torch.testing.assert_close(refit[:, 0], joints[:, 0])
    lengths = torch.stack([(refit[:, c] - refit[:, c - 1]).norm(dim=-1) for c in (6, 7, 8)], 1)
    np.testing.assert_allclose(lengths.numpy(), np.broadcast_to(TEMPLATE.bone_lengths()[5:8], (8, 3)), atol=1e-12)
    assert (refit - joints).norm(dim=-1).mean() < 0.02  # same pose, different bones: close, not equal
    det = torch.linalg.det(frames[..., :3, :3])
    torch.testing.assert_close(det, torch.ones_like(det))


def test_mirrored_and_non_finite_hands_are_flagged_invalid():
    joints, _ = forward_kinematics(limit_poses(4, seed=7, swing_only=False), REST)
    mirrored = joints * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    broken = joints.clone()
    broken[1, 7, 2] = float("nan")
    frames, refit, valid = joints_to_bone_frames(torch.cat([joints, mirrored, broken]), REST)
    assert valid.tolist() == [True] * 4 + [False] * 4 + [True, False, True, True]
    assert torch.isfinite(frames).all() and torch.isfinite(refit).all()
    det = torch.linalg.det(frames[..., :3, :3])
    torch.testing.assert_close(det, torch.ones_like(det))


def test_kabsch_matches_known_rotation():
    rot, _ = random_global(5, seed=8)
    vectors = REST[list(MCP_JOINTS)]
    fitted, proper = kabsch_rotation(vectors, vectors @ rot.transpose(-1, -2))
    assert bool(proper.all())
    torch.testing.assert_close(fitted, rot)


def test_float32_batch_runs_and_is_close():
    local = limit_poses(BATCH, seed=9, swing_only=True)
    joints, frames = forward_kinematics(local, REST)
    frames32, refit32, valid = joints_to_bone_frames(joints.float(), TEMPLATE.tensor())
    assert frames32.dtype == torch.float32 and bool(valid.all())
    assert (refit32.double() - joints).norm(dim=-1).max() < 1e-5
    assert angle_error(frames32[..., :3, :3].double(), frames[..., :3, :3]).max() < 2e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    joints, _ = forward_kinematics(limit_poses(16, seed=10, swing_only=False), REST)
    cpu = joints_to_bone_frames(joints, REST)
    gpu = joints_to_bone_frames(joints.cuda(), REST.cuda())
    for a, b in zip(cpu, gpu):
        torch.testing.assert_close(b.cpu(), a)


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"\(B, 21, 3\)"):
        joints_to_bone_frames(torch.zeros(2, 20, 3), REST)
    with pytest.raises(ValueError, match="floating-point"):
        joints_to_bone_frames(torch.zeros(2, 21, 3, dtype=torch.int64), REST)
    with pytest.raises(ValueError, match="template"):
        joints_to_bone_frames(torch.zeros(2, 21, 3), REST[:, :2])
