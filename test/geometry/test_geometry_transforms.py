"""Rotations and rigid transforms."""

import numpy as np
import pytest
import torch

from gsdf_ros.geometry.transforms import (
    apply_transform,
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    rotation_angle,
    rotation_between,
)


def random_axis_angles(rng: np.random.Generator, n: int) -> np.ndarray:
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = rng.uniform(0.0, np.pi - 1e-6, size=n)
    angles[:5] = [0.0, 1e-12, 1e-8, 1e-5, 3e-4]  # around the Taylor switch
    angles[5:8] = np.pi - np.array([1e-9, 1e-6, 1e-3])
    return axes * angles[:, None]


def test_axis_angle_round_trip_including_zero_and_pi():
    aa = random_axis_angles(np.random.default_rng(0), 500)
    rot = axis_angle_to_matrix(aa)
    np.testing.assert_allclose(rot @ rot.swapaxes(-1, -2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
    np.testing.assert_allclose(matrix_to_axis_angle(rot), aa, atol=1e-7)
    np.testing.assert_allclose(rotation_angle(rot), np.linalg.norm(aa, axis=1), atol=1e-7)


def test_axis_angle_matches_known_rotation_and_torch_batch():
    rot = axis_angle_to_matrix(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(rot @ np.array([1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-15)
    aa = torch.tensor(random_axis_angles(np.random.default_rng(1), 24)).reshape(2, 3, 4, 3)
    batched = axis_angle_to_matrix(aa)
    assert batched.shape == (2, 3, 4, 3, 3) and isinstance(batched, torch.Tensor)
    np.testing.assert_allclose(batched.numpy(), axis_angle_to_matrix(aa.numpy()), atol=1e-15)
    small = axis_angle_to_matrix(torch.full((3,), 1e-7, dtype=torch.float32))
    assert torch.isfinite(small).all()


def test_rotation_between_is_minimal_and_handles_degenerate_cases():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) * 3.0
    rot = rotation_between(a, b)
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose((rot @ unit(a)[..., None])[..., 0], unit(b), atol=1e-12)
    angle = np.arccos(np.clip((unit(a) * unit(b)).sum(1), -1, 1))
    np.testing.assert_allclose(rotation_angle(rot), angle, atol=1e-7)  # minimal: angle between them
    axis = matrix_to_axis_angle(rot)
    np.testing.assert_allclose((axis * a).sum(1), 0.0, atol=1e-9)  # axis perpendicular to a
    flipped = rotation_between(a[:5], -a[:5])
    np.testing.assert_allclose((flipped @ unit(a[:5])[..., None])[..., 0], -unit(a[:5]), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(flipped), 1.0, atol=1e-12)
    np.testing.assert_allclose(rotation_between(np.zeros(3), a[0]), np.eye(3))
    np.testing.assert_allclose(rotation_between(a[0], 2 * a[0]), np.eye(3), atol=1e-15)


def test_apply_transform_on_batches_of_numpy_and_torch():
    rng = np.random.default_rng(4)
    rot = axis_angle_to_matrix(random_axis_angles(rng, 20)[10:13])
    t = np.zeros((3, 4, 4))
    t[:, :3, :3], t[:, :3, 3], t[:, 3, 3] = rot, rng.normal(size=(3, 3)), 1.0
    points = rng.normal(size=(3, 10, 3))
    moved = apply_transform(t, points)
    np.testing.assert_allclose(moved, np.einsum("bij,bnj->bni", rot, points) + t[:, None, :3, 3], atol=1e-12)
    np.testing.assert_allclose(apply_transform(t[0], points[0]), moved[0], atol=1e-12)
    np.testing.assert_allclose(apply_transform(torch.as_tensor(t), torch.as_tensor(points)).numpy(), moved, atol=1e-12)
    with pytest.raises(ValueError):
        apply_transform(t, np.zeros((3, 10, 2)))
