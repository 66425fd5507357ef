"""The exact virtual-camera crop: points land on their crop pixels for off-centre boxes."""

import numpy as np
import pytest

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.virtual_camera import (
    square_box_around,
    to_source_frame,
    to_virtual_frame,
    virtual_crop,
    virtual_rotation,
    warp_crop,
)

K = Intrinsics(fx=615.0, fy=615.0, cx=320.0, cy=240.0, width=640, height=480)
OFF_CENTRE_BOXES = [(400.0, 20.0, 200.0), (10.0, 300.0, 170.0), (-40.0, -30.0, 150.0), (520.0, 330.0, 110.0)]


def points_in_box(box, n: int, rng: np.random.Generator) -> np.ndarray:
    """3D points (source frame) whose projections fall inside the box."""
    x0, y0, size = box
    uv = np.column_stack([rng.uniform(x0, x0 + size, n), rng.uniform(y0, y0 + size, n)])
    return K.unproject(uv, rng.uniform(0.4, 0.9, n))


def test_rotation_maps_optical_axis_to_box_centre_ray():
    centre = (520.0, 60.0)
    rot = virtual_rotation(K, centre)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-15)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    ray = np.linalg.inv(K.matrix()) @ np.array([*centre, 1.0])
    np.testing.assert_allclose(rot[:, 2], ray / np.linalg.norm(ray), atol=1e-15)
    np.testing.assert_allclose(virtual_rotation(K, (K.cx, K.cy)), np.eye(3), atol=1e-15)


@pytest.mark.parametrize("box", OFF_CENTRE_BOXES)
def test_projected_points_land_on_crop_pixels(box):
    crop = virtual_crop(K, box, 256)
    points = points_in_box(box, 40, np.random.default_rng(0))
    via_virtual = crop.intrinsics.project(crop.to_virtual(points))
    via_homography = crop.source_to_crop_pixels(K.project(points))
    assert np.abs(via_virtual - via_homography).max() < 0.5
    np.testing.assert_allclose(via_virtual, via_homography, atol=1e-9)
    np.testing.assert_allclose(crop.crop_to_source_pixels(via_homography), K.project(points), atol=1e-9)
    np.testing.assert_allclose(crop.to_source(crop.to_virtual(points)), points, atol=1e-15)
    # The box centre goes to the crop centre, and a plain scale-and-shift crop would miss by pixels.
    x0, y0, size = box
    np.testing.assert_allclose(crop.source_to_crop_pixels(np.array([[x0 + size / 2, y0 + size / 2]])), [[127.5, 127.5]])
    affine = (K.project(points) - [x0, y0]) * 256 / size - 0.5
    assert np.abs(affine - via_virtual).max() > 1.0


def test_warped_dot_lands_where_the_point_projects():
    box = (430.0, 30.0, 180.0)
    crop = virtual_crop(K, box, 128)
    point = points_in_box((470.0, 60.0, 100.0), 1, np.random.default_rng(1))
    u, v = K.project(point)[0]
    yy, xx = np.mgrid[0 : K.height, 0 : K.width]
    image = (255.0 * np.exp(-((xx - u) ** 2 + (yy - v) ** 2) / (2 * 3.0**2))).astype(np.float32)
    warped = warp_crop(image, crop)
    assert warped.shape == (128, 128)
    weights = np.where(warped > 0.05 * warped.max(), warped, 0.0)
    cy, cx = (np.mgrid[0:128, 0:128] * weights).reshape(2, -1).sum(1) / weights.sum()
    expected = crop.intrinsics.project(crop.to_virtual(point))[0]
    assert np.hypot(cx - expected[0], cy - expected[1]) < 0.5
    rgb = warp_crop(np.repeat(image[..., None], 3, axis=2), crop)
    assert rgb.shape == (128, 128, 3)


def test_frame_helpers_are_inverse_transposes():
    rot = virtual_rotation(K, (50.0, 400.0))
    p = np.random.default_rng(2).normal(size=(7, 3))
    np.testing.assert_allclose(to_virtual_frame(p, rot), (rot.T @ p.T).T, atol=1e-15)
    np.testing.assert_allclose(to_source_frame(p, rot), (rot @ p.T).T, atol=1e-15)


def test_square_box_rule():
    pts = np.array([[100.0, 50.0], [160.0, 70.0], [120.0, 90.0]])
    x0, y0, size = square_box_around(pts, pad_px=10.0, enlarge=1.25)
    # Tight 60 x 40 -> padded 80 x 60 -> square 80 -> x1.25 = 100, centred on (130, 70).
    assert size == pytest.approx(100.0)
    assert (x0 + size / 2, y0 + size / 2) == pytest.approx((130.0, 70.0))
    with pytest.raises(ValueError):
        square_box_around(np.zeros((0, 2)))
    with pytest.raises(ValueError):
        square_box_around(np.array([[1.0, 2.0]]), pad_px=0.0)


def test_bad_crop_arguments_raise():
    with pytest.raises(ValueError, match="size > 0"):
        virtual_crop(K, (0.0, 0.0, -5.0))
    with pytest.raises(ValueError, match="positive integer"):
        virtual_crop(K, (0.0, 0.0, 50.0), 0)
    with pytest.raises(ValueError, match="image"):
        warp_crop(np.zeros((0, 3)), virtual_crop(K, (0.0, 0.0, 50.0), 16))
