"""The crops of the final pose reading: sizes and centres around the hand crop."""

import numpy as np
import pytest

from gsdf_ros.geometry import Intrinsics
from gsdf_ros.geometry.pose_looks import SINGLE_LOOK, PoseLooks
from gsdf_ros.geometry.virtual_camera import hand_crop_box


def test_every_size_at_every_centre_the_first_being_the_hand_crop():
    looks = PoseLooks(enlarges=(1.5, 3.0), shifts=((0.0, 0.0), (0.1, -0.2)))
    squares = looks.squares((10.0, 20.0, 100.0))
    assert looks.count == len(squares) == 4
    assert squares[0] == pytest.approx((10.0, 20.0, 100.0))
    assert squares[1] == pytest.approx((20.0, 0.0, 100.0))  # moved by 0.1 and -0.2 of its side
    assert squares[2] == pytest.approx((-40.0, -30.0, 200.0))  # twice the side about the same centre
    assert squares[3] == pytest.approx((-20.0, -70.0, 200.0))
    assert SINGLE_LOOK.squares((1.0, 2.0, 3.0)) == [pytest.approx((1.0, 2.0, 3.0))]


def test_the_crops_surround_the_joints():
    intrinsics = Intrinsics(500.0, 500.0, 319.5, 239.5, 640, 480)
    joints = np.column_stack([np.linspace(-0.04, 0.05, 21), np.linspace(-0.02, 0.03, 21), np.full(21, 0.5)])
    crops = PoseLooks().crops(intrinsics, joints, 128)
    assert len(crops) == 15 and all(c.size == 128 for c in crops)
    assert crops[0].box == pytest.approx(hand_crop_box(intrinsics, joints))
    for crop in crops:
        x0, y0, side = crop.box
        uv = intrinsics.project(joints)
        assert np.all((uv >= (x0, y0)) & (uv <= (x0 + side, y0 + side))), "every look sees every joint"


@pytest.mark.parametrize("kw", [dict(enlarges=()), dict(shifts=()), dict(enlarges=(1.5, -1.0)),
                                dict(shifts=((0.0, float("nan")),))])
def test_bad_looks_are_refused(kw):
    with pytest.raises(ValueError):
        PoseLooks(**kw)
