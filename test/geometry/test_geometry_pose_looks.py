"""The crops of the final pose reading: sizes, centres and turns around the hand crop."""

import numpy as np
import pytest

from gsdf_ros.geometry import Intrinsics
from gsdf_ros.geometry.pose_looks import MAX_LOOKS, MAX_OUTSIDE, SINGLE_LOOK, PoseLooks, outside_share, pose_looks
from gsdf_ros.geometry.virtual_camera import hand_crop_box


def test_every_turn_of_every_size_at_every_centre_unturned_first():
    looks = PoseLooks(enlarges=(1.5, 3.0), shifts=((0.0, 0.0), (0.1, -0.2)), turns=(0.0, 45.0))
    views = looks.looks((10.0, 20.0, 100.0))
    squares = [(10.0, 20.0, 100.0),     # the hand crop
               (20.0, 0.0, 100.0),      # moved by 0.1 and -0.2 of its side
               (-40.0, -30.0, 200.0),   # twice the side about the same centre
               (-20.0, -70.0, 200.0)]
    assert looks.count == len(views) == 8
    np.testing.assert_allclose([box for box, _ in views], squares + squares)
    assert [turn for _, turn in views] == [0.0] * 4 + [45.0] * 4
    first_two = PoseLooks(enlarges=(1.5, 3.0), shifts=looks.shifts, turns=looks.turns, limit=2)
    assert first_two.looks((10.0, 20.0, 100.0)) == views[:2]
    assert SINGLE_LOOK.looks((1.0, 2.0, 3.0)) == [((1.0, 2.0, 3.0), 0.0)]
    assert [pose_looks(n).count for n in (1, 3, 9)] == [1, 3, 9] and PoseLooks().count == MAX_LOOKS == 9
    assert [turn for _, turn in pose_looks(9).looks((0.0, 0.0, 10.0))] == [0.0] * 3 + [45.0] * 3 + [-45.0] * 3


def test_the_crops_surround_the_joints_and_turned_ones_see_them_where_they_are():
    intrinsics = Intrinsics(500.0, 500.0, 319.5, 239.5, 640, 480)
    joints = np.column_stack([np.linspace(-0.04, 0.05, 21), np.linspace(-0.02, 0.03, 21), np.full(21, 0.5)])
    looks = PoseLooks()
    crops = looks.crops(intrinsics, joints, 128)
    assert len(crops) == 9 and all(c.size == 128 for c in crops)
    assert crops[0].box == pytest.approx(hand_crop_box(intrinsics, joints))
    uv = intrinsics.project(joints)
    for crop in crops:
        x0, y0, side = crop.box
        assert np.all((uv >= (x0, y0)) & (uv <= (x0 + side, y0 + side))), "every look's square holds every joint"
        in_crop = crop.to_virtual(joints) @ crop.intrinsics.matrix().T
        np.testing.assert_allclose(in_crop[:, :2] / in_crop[:, 2:], crop.source_to_crop_pixels(uv), atol=1e-6)
    turned = crops[3]
    angle = np.degrees(np.arctan2(*(crops[0].rotation.T @ turned.rotation)[[1, 0], 0]))
    assert abs(angle) == pytest.approx(45.0), "the fourth look is the hand crop turned by 45 degrees"


@pytest.mark.parametrize("kw", [dict(enlarges=()), dict(shifts=()), dict(enlarges=(1.5, -1.0)),
                                dict(shifts=((0.0, float("nan")),)), dict(limit=0), dict(limit=10),
                                dict(turns=(0.0, float("inf"))), dict(turns=(45.0,)), dict(turns=())])
def test_bad_looks_are_refused(kw):
    with pytest.raises(ValueError):
        PoseLooks(**kw)


def test_looks_reaching_out_of_the_frame_are_left_out_but_never_the_hand_crop():
    assert outside_share((-0.5, -0.5, 100.0), (640, 480)) == pytest.approx(0.0)
    assert outside_share((-50.5, -0.5, 100.0), (640, 480)) == pytest.approx(0.5)
    assert outside_share((700.0, 0.0, 10.0), (640, 480)) == pytest.approx(1.0)
    looks = PoseLooks()
    inside = looks.looks((250.0, 150.0, 100.0), (640, 480))
    assert len(inside) == 9, "a hand in the middle of the frame: every look"
    corner = looks.looks((-30.0, -30.0, 100.0), (640, 480))
    assert corner[0] == ((-30.0, -30.0, 100.0), 0.0) and 1 <= len(corner) < 9
    assert all(outside_share(box, (640, 480)) <= MAX_OUTSIDE for box, _ in corner[1:])
