"""Pinhole intrinsics: projection, unprojection, scaling and validation."""

import math

import numpy as np
import pytest

from gsdf_ros.geometry.camera import Intrinsics

K = Intrinsics(fx=615.0, fy=612.0, cx=321.5, cy=239.0, width=640, height=480)


def test_matrix_and_from_matrix_round_trip():
    m = K.matrix()
    np.testing.assert_array_equal(m, [[615.0, 0, 321.5], [0, 612.0, 239.0], [0, 0, 1]])
    assert Intrinsics.from_matrix(m, 640, 480) == K
    with pytest.raises(ValueError, match="fx, 0, cx"):
        Intrinsics.from_matrix(np.array([[1.0, 0.1, 0], [0, 1, 0], [0, 0, 1]]), 10, 10)


def test_project_unproject_round_trip():
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(-0.3, 0.3, 50), rng.uniform(-0.2, 0.2, 50), rng.uniform(0.3, 1.5, 50)])
    uv = K.project(points)
    np.testing.assert_allclose(uv[:, 0], 615.0 * points[:, 0] / points[:, 2] + 321.5)
    np.testing.assert_allclose(K.unproject(uv, points[:, 2]), points, atol=1e-12)
    assert np.all(np.isnan(K.project(np.array([[0.1, 0.1, -1.0], [0.0, 0.0, 0.0]]))))


def test_scaled_keeps_pixel_centres_consistent():
    half = K.scaled(0.5)
    assert (half.width, half.height) == (320, 240) and half.fx == pytest.approx(307.5)
    point = np.array([[0.05, -0.02, 0.6]])
    # A point seen at source pixel u lies at (u + 0.5) * s - 0.5 in the resized image.
    np.testing.assert_allclose(half.project(point), (K.project(point) + 0.5) * 0.5 - 0.5, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fx": math.nan},
        {"fy": math.inf},
        {"fx": 0.0},
        {"fy": -600.0},
        {"cx": math.nan},
        {"width": 0},
        {"height": 10.5},
    ],
)
def test_bad_intrinsics_raise(kwargs):
    values = {"fx": 600.0, "fy": 600.0, "cx": 320.0, "cy": 240.0, "width": 640, "height": 480, **kwargs}
    with pytest.raises(ValueError):
        Intrinsics(**values)


def test_bad_shapes_and_scales_raise():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        K.project(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="positive"):
        K.scaled(0.0)
