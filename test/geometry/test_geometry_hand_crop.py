"""Hand crops around joints: the rule the training crops, the evaluation and the live path share."""

from __future__ import annotations

import numpy as np
import pytest

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.virtual_camera import HAND_CROP_ENLARGE, hand_crop_box, scale_box

K = Intrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)


def _joints(centre=(0.05, -0.02, 0.5), spread=0.08, count=21, seed=0):
    rng = np.random.default_rng(seed)
    return np.asarray(centre) + rng.uniform(-spread / 2, spread / 2, size=(count, 3)) * [1, 1, 0.2]


def test_box_is_square_contains_the_joints_and_is_enlarged():
    joints = _joints()
    x0, y0, side = hand_crop_box(K, joints)
    uv = K.project(joints)
    assert np.all(uv[:, 0] > x0) and np.all(uv[:, 0] < x0 + side)
    assert np.all(uv[:, 1] > y0) and np.all(uv[:, 1] < y0 + side)
    extent = max(np.ptp(uv[:, 0]), np.ptp(uv[:, 1]))
    assert side == pytest.approx(max((extent + 1.0) * HAND_CROP_ENLARGE, 0.12 * 500 / joints[:, 2].mean()))


def test_a_tight_fist_still_gets_a_hand_sized_box():
    joints = _joints(spread=0.005)
    x0, y0, side = hand_crop_box(K, joints)
    assert side == pytest.approx(0.12 * 500.0 / joints[:, 2].mean())
    centre = K.project(joints).min(axis=0) / 2 + K.project(joints).max(axis=0) / 2
    assert (x0 + side / 2, y0 + side / 2) == pytest.approx(tuple(centre), abs=1e-6)


def test_bad_joints_are_refused():
    with pytest.raises(ValueError, match="finite"):
        hand_crop_box(K, np.full((21, 3), np.nan))
    with pytest.raises(ValueError, match="behind"):
        hand_crop_box(K, _joints(centre=(0, 0, -0.5)))


def test_scale_box_keeps_the_centre():
    x0, y0, side = scale_box((10.0, 20.0, 100.0), 1.5)
    assert (x0 + side / 2, y0 + side / 2, side) == pytest.approx((60.0, 70.0, 150.0))
    with pytest.raises(ValueError):
        scale_box((0.0, 0.0, 1.0), 0.0)
