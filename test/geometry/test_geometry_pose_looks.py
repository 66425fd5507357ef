"""The crops of the final pose reading: sizes and centres around the hand crop."""

import numpy as np
import pytest

from gsdf_ros.geometry import Intrinsics
from gsdf_ros.geometry.pose_looks import MAX_LOOKS, MAX_OUTSIDE, SINGLE_LOOK, PoseLooks, outside_share, pose_looks
from gsdf_ros.geometry.virtual_camera import hand_crop_box


def test_every_centre_at_every_size_the_hand_crops_size_first():
    looks = PoseLooks(enlarges=(1.5, 3.0), shifts=((0.0, 0.0), (0.1, -0.2)))
    squares = looks.squares((10.0, 20.0, 100.0))
    assert looks.count == len(squares) == 4
    np.testing.assert_allclose(squares, [(10.0, 20.0, 100.0),     # the hand crop
                                         (20.0, 0.0, 100.0),      # moved by 0.1 and -0.2 of its side
                                         (-40.0, -30.0, 200.0),   # twice the side about the same centre
                                         (-20.0, -70.0, 200.0)])
    first_two = PoseLooks(enlarges=(1.5, 3.0), shifts=looks.shifts, limit=2)
    np.testing.assert_allclose(first_two.squares((10.0, 20.0, 100.0)), squares[:2])
    assert SINGLE_LOOK.squares((1.0, 2.0, 3.0)) == [pytest.approx((1.0, 2.0, 3.0))]
    assert [pose_looks(n).count for n in (1, 5, 15)] == [1, 5, 15] and PoseLooks().count == MAX_LOOKS


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
                                dict(shifts=((0.0, float("nan")),)), dict(limit=0), dict(limit=16)])
def test_bad_looks_are_refused(kw):
    with pytest.raises(ValueError):
        PoseLooks(**kw)


def test_looks_reaching_out_of_the_frame_are_left_out_but_never_the_hand_crop():
    assert outside_share((-0.5, -0.5, 100.0), (640, 480)) == pytest.approx(0.0)
    assert outside_share((-50.5, -0.5, 100.0), (640, 480)) == pytest.approx(0.5)
    assert outside_share((700.0, 0.0, 10.0), (640, 480)) == pytest.approx(1.0)
    looks = PoseLooks()
    inside = looks.squares((250.0, 150.0, 100.0), (640, 480))
    assert len(inside) == 15, "a hand in the middle of the frame: every look"
    corner = looks.squares((-30.0, -30.0, 100.0), (640, 480))
    assert corner[0] == pytest.approx((-30.0, -30.0, 100.0)) and 1 <= len(corner) < 15
    assert all(outside_share(box, (640, 480)) <= MAX_OUTSIDE for box in corner[1:])
