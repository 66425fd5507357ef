"""Hand candidates verified by the pose net: the candidate the pose net finds a hand in wins even when
the detector ranked it lower, the box comes from the joints, the second look is cut around the first
look's joints and its confidence counts, unreadable looks score 0, and the detector proposes distinct
local maxima, best first."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gsdf_ros.detect.model import Detection, decode_detection, decode_proposals
from gsdf_ros.detect.tracker import square_around
from gsdf_ros.detect.verify import (
    CHECK_BOX_SHARE,
    CHECK_WEIGHT,
    DETECTOR_WEIGHT,
    FIRST_LOOK_ENLARGE,
    FLESH_MARGIN,
    LOOK_ENLARGE,
    Found,
    VerifiedHand,
    blend_boxes,
    checked_hands,
    checked_score,
    cut_to_frame,
    flesh_box,
    joints_box,
    verified_detector,
    verified_score,
    verify,
)
from gsdf_ros.geometry import Intrinsics
from gsdf_ros.hand_finder import load_check_fn, load_detect_fn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nodes"))
from nodes_fake_predictor import red_patch  # noqa: E402

INTRINSICS = Intrinsics(500.0, 500.0, 319.5, 239.5, 640, 480)
FRAME = np.zeros((480, 640, 3), np.uint8)
HAND_UV = np.array([[300.0 + 4 * i, 200.0 + 3 * (i % 5)] for i in range(21)])  # a 80 x 12 px joint box


class FakeLook:
    """A pose net that sees a hand (confidence 0.6, joints HAND_UV) only in crops holding HAND_UV's
    centre, and barely anything (confidence 0.05, HAND_UV's shape at the crop centre) elsewhere."""

    def __init__(self) -> None:
        self.squares: list[tuple[float, float, float]] = []

    def __call__(self, image, intrinsics, square):
        self.squares.append(square)
        x0, y0, side = square
        cx, cy = HAND_UV.mean(axis=0)
        if x0 <= cx <= x0 + side and y0 <= cy <= y0 + side:
            return HAND_UV, np.full(21, 0.6)
        return HAND_UV - (cx, cy) + (x0 + side / 2, y0 + side / 2), np.full(21, 0.05)


def test_flesh_box_pushes_the_joints_box_out_by_the_margin():
    assert joints_box(HAND_UV) == (300.0, 200.0, 380.0, 212.0)
    x0, y0, x1, y1 = flesh_box(HAND_UV)
    pad = FLESH_MARGIN * 80.0
    assert (x0, y0, x1, y1) == pytest.approx((300.0 - pad, 200.0 - pad, 380.0 + pad, 212.0 + pad))
    with_nan = HAND_UV.copy()
    with_nan[3] = np.nan
    assert flesh_box(with_nan, 0.0) == joints_box(HAND_UV)
    with pytest.raises(ValueError, match="no finite"):
        flesh_box(np.full((21, 2), np.nan))


def hand_score(detector_score: float, joint_confidence: float) -> float:
    return detector_score ** DETECTOR_WEIGHT * joint_confidence ** (1.0 - DETECTOR_WEIGHT)


def test_verified_score_is_the_clipped_weighted_geometric_mean():
    assert verified_score(0.81, 0.25, detector_weight=0.5) == pytest.approx(0.45)
    assert verified_score(0.3, 0.7) == pytest.approx(hand_score(0.3, 0.7))
    assert verified_score(1.0, 0.25, detector_weight=0.2) == pytest.approx(0.25 ** 0.8)
    assert verified_score(1.5, 0.25, detector_weight=0.5) == pytest.approx(0.5)
    assert verified_score(-0.1, 0.9) == 0.0
    assert verified_score(math.nan, 0.9) == 0.0 and verified_score(0.9, math.inf) == 0.0


def test_the_candidate_the_pose_net_reads_wins_with_the_joints_box():
    decoy = Found(0.9, (20.0, 20.0, 120.0, 120.0))  # the detector's favourite: no hand there
    hand = Found(0.4, (290.0, 170.0, 390.0, 250.0))
    look = FakeLook()
    found = verified_detector(lambda image: [decoy, hand], look, count=2)(FRAME, INTRINSICS)
    assert isinstance(found, VerifiedHand)
    assert found.box == pytest.approx(flesh_box(HAND_UV))
    assert found.score == pytest.approx(hand_score(0.4, 0.6))
    assert found.detector_score == 0.4 and found.joint_confidence == pytest.approx(0.6)
    assert look.squares[0] == square_around(decoy.box, FIRST_LOOK_ENLARGE)
    assert look.squares[2] == square_around(hand.box, FIRST_LOOK_ENLARGE)
    second = square_around(flesh_box(HAND_UV), LOOK_ENLARGE)
    assert look.squares[3] == pytest.approx(second), "second look: around the joints"
    only_best = verified_detector(lambda image: [decoy, hand], FakeLook(), count=1)(FRAME, INTRINSICS)
    assert only_best.score == pytest.approx(hand_score(0.9, 0.05)), "count limits the candidates looked at"


def test_the_last_look_around_the_joints_decides():
    """A pose net that is surer when the hand sits in the middle of its crop, as in its training."""

    def centred_look(image, intrinsics, square):
        x0, y0, side = square
        off = np.hypot(*(HAND_UV.mean(axis=0) - (x0 + side / 2, y0 + side / 2))) / side
        return HAND_UV, np.full(21, 0.6 if off < 0.05 else 0.2)

    off_centre = Found(0.5, (330.0, 180.0, 430.0, 260.0))
    one = verify(FRAME, INTRINSICS, off_centre, centred_look, looks=1)
    two = verify(FRAME, INTRINSICS, off_centre, centred_look)
    assert one.joint_confidence == pytest.approx(0.2) and two.joint_confidence == pytest.approx(0.6)
    assert two.score == pytest.approx(hand_score(0.5, 0.6)) and two.box == pytest.approx(flesh_box(HAND_UV))
    with pytest.raises(ValueError, match="looks"):
        verify(FRAME, INTRINSICS, off_centre, centred_look, looks=0)


def test_the_first_look_is_cut_wider_than_the_next():
    """The detector's box may miss part of the hand: the first crop around it is the wider one."""
    assert FIRST_LOOK_ENLARGE > LOOK_ENLARGE
    look = FakeLook()
    candidate = Found(0.7, (300.0, 180.0, 380.0, 240.0))
    verify(FRAME, INTRINSICS, candidate, look)
    assert len(look.squares) == 2
    assert look.squares[0] == pytest.approx(square_around(candidate.box, FIRST_LOOK_ENLARGE))
    assert look.squares[1] == pytest.approx(square_around(flesh_box(HAND_UV), LOOK_ENLARGE))
    narrow = FakeLook()
    verify(FRAME, INTRINSICS, candidate, narrow, first_enlarge=LOOK_ENLARGE)
    assert narrow.squares[0] == pytest.approx(square_around(candidate.box, LOOK_ENLARGE))


def test_the_box_is_cut_to_the_frame():
    at_edge = HAND_UV + np.array([300.0, 0.0])  # x 600..680 in a 640 px wide frame
    found = verify(FRAME, INTRINSICS, Found(0.8, (590.0, 170.0, 640.0, 250.0)), lambda *a: (at_edge, np.full(21, 0.5)))
    x0, y0, x1, y1 = flesh_box(at_edge)
    assert found.box == pytest.approx((x0, y0, 640.0, y1))
    assert found.score == pytest.approx(hand_score(0.8, 0.5))


def test_unreadable_looks_and_no_candidates_score_zero():
    candidate = Found(0.9, (290.0, 170.0, 390.0, 250.0))
    nan_joints = verify(FRAME, INTRINSICS, candidate, lambda *a: (np.full((21, 2), np.nan), np.full(21, 0.7)))
    nan_confidence = verify(FRAME, INTRINSICS, candidate, lambda *a: (HAND_UV, np.full(21, np.nan)))
    for checked in (nan_joints, nan_confidence):
        assert checked.score == 0.0 and checked.box == candidate.box
    bad_box = verify(FRAME, INTRINSICS, Found(0.9, (np.nan, 0.0, 1.0, 1.0)), FakeLook())
    assert bad_box.score == 0.0
    outside = verify(FRAME, INTRINSICS, candidate, lambda *a: (HAND_UV + 1000.0, np.full(21, 0.7)))
    assert outside.score == 0.0 and outside.box == candidate.box, "joints all outside the frame: no visible hand"
    assert verified_detector(lambda image: [], FakeLook())(FRAME, INTRINSICS).score == 0.0
    with pytest.raises(ValueError, match="count"):
        verified_detector(lambda image: [], FakeLook(), count=0)


def _heat_with_peaks(peaks: dict[tuple[int, int], float], shape=(12, 16)) -> dict[str, torch.Tensor]:
    heat = torch.full((1, 1, *shape), -8.0)
    for (y, x), logit in peaks.items():
        heat[0, 0, y, x] = logit
    return {"heat": heat, "size": torch.zeros(1, 2, *shape), "offset": torch.zeros(1, 2, *shape)}


def test_proposals_are_distinct_local_maxima_best_first():
    out = _heat_with_peaks({(2, 3): 1.0, (2, 4): 0.5, (8, 12): 2.0, (10, 1): -1.0})
    found = decode_proposals(out, count=3)
    assert [d.score for d in found] == pytest.approx([torch.sigmoid(torch.tensor(v)).item() for v in (2.0, 1.0, -1.0)])
    assert all(isinstance(d, Detection) for d in found)
    centres = [((d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2) for d in found]
    assert centres == [(48.0, 32.0), (12.0, 8.0), (4.0, 40.0)], "(2, 4) sits beside the higher (2, 3): no proposal"
    assert decode_detection(out).box == found[0].box
    assert len(decode_proposals(_heat_with_peaks({(0, 0): 1.0}, shape=(1, 2)), count=5)) == 1
    with pytest.raises(ValueError, match="count"):
        decode_proposals(out, count=0)


def test_the_node_loader_verifies_when_given_a_look(tmp_path):
    image = np.zeros((480, 640, 3), np.uint8)
    image[190:230, 310:350] = (255, 0, 0)  # the red patch sits on HAND_UV's centre
    plain = load_detect_fn("nodes_fake_predictor:red_patch_detector", tmp_path / "absent.pt")
    verified = load_detect_fn("nodes_fake_predictor:red_patch_detector", tmp_path / "absent.pt", FakeLook(), 2)
    assert plain(image, INTRINSICS).box == red_patch(image).box
    found = verified(image, INTRINSICS)
    assert found.box == pytest.approx(flesh_box(HAND_UV))
    assert found.score == pytest.approx(hand_score(red_patch(image).score, 0.6))
    with pytest.raises(ValueError, match="proposals"):
        load_detect_fn("nodes_fake_predictor:red_patch_detector", tmp_path / "absent.pt", FakeLook(), -1)


def test_cut_to_frame_keeps_a_box_inside_the_frame():
    assert cut_to_frame((-5.0, 10.0, 50.0, 700.0), 640, 480) == (0.0, 10.0, 50.0, 480.0)
    assert cut_to_frame((700.0, -9.0, 800.0, -1.0), 640, 480) == (640.0, 0.0, 640.0, 0.0)


class FakeCheck:
    """A hand check that believes in a hand only around (60, 60) (probability 0.99, box CHECK_BOX) and
    elsewhere gives 0.001 and the box it was shown moved by 4 px."""

    CHECK_BOX = (40.0, 40.0, 90.0, 90.0)

    def __init__(self) -> None:
        self.boxes: list[list[tuple[float, ...]]] = []

    def __call__(self, image, boxes):
        self.boxes.append([tuple(b) for b in boxes])
        answers = []
        for x0, y0, x1, y1 in boxes:
            if x0 <= 60.0 <= x1 and y0 <= 60.0 <= y1:
                answers.append((0.99, self.CHECK_BOX))
            else:
                answers.append((0.001, (x0 + 4.0, y0 + 4.0, x1 + 4.0, y1 + 4.0)))
        return answers


def test_checked_score_and_blended_box():
    assert checked_score(0.5, 0.8, check_weight=0.5) == pytest.approx(math.sqrt(0.4))
    assert checked_score(0.5, 0.8) == pytest.approx(0.5 ** (1 - CHECK_WEIGHT) * 0.8 ** CHECK_WEIGHT)
    assert checked_score(0.5, math.nan) == 0.0 and checked_score(0.5, 1.7) == pytest.approx(0.5 ** (1 - CHECK_WEIGHT))
    assert blend_boxes((0.0, 0.0, 10.0, 20.0), (10.0, 10.0, 20.0, 40.0), 0.25) == (2.5, 2.5, 12.5, 25.0)


def test_the_hand_check_can_overturn_the_pose_net_and_moves_the_box():
    decoy = Found(0.9, (20.0, 20.0, 120.0, 120.0))  # the check's hand; the pose net barely reads it
    hand = Found(0.4, (290.0, 170.0, 390.0, 250.0))  # the pose net's hand; the check says no
    check = FakeCheck()
    found = verified_detector(lambda image: [decoy, hand], FakeLook(), count=2, check=check)(FRAME, INTRINSICS)
    assert found.detector_score == 0.9 and found.check_probability == 0.99
    assert found.score == pytest.approx(checked_score(hand_score(0.9, 0.05), 0.99))
    unchecked = verified_detector(lambda image: [decoy, hand], FakeLook(), count=2)(FRAME, INTRINSICS)
    assert unchecked.detector_score == 0.4 and unchecked.check_probability is None, "without it the pose net wins"
    pose_box = check.boxes[0][0]
    assert found.box == pytest.approx(blend_boxes(pose_box, FakeCheck.CHECK_BOX, CHECK_BOX_SHARE))
    assert len(check.boxes) == 1 and len(check.boxes[0]) == 2, "one call judges every verified candidate"


def test_checked_hands_keep_turned_down_candidates_at_zero_and_refuse_short_answers():
    refused = VerifiedHand(0.0, (50.0, 50.0, 70.0, 70.0), 0.9, 0.0)
    read = VerifiedHand(0.5, (300.0, 300.0, 340.0, 340.0), 0.6, 0.4)
    out = checked_hands(FRAME, [refused, read], FakeCheck())
    assert out[0].score == 0.0 and out[0].box == refused.box and out[0].check_probability == 0.99
    assert out[1].score == pytest.approx(checked_score(0.5, 0.001))
    nan_check = checked_hands(FRAME, [read], lambda image, boxes: [(math.nan, boxes[0])])
    assert nan_check[0].score == 0.0
    edge = checked_hands(FRAME, [read], lambda image, boxes: [(0.9, (600.0, 440.0, 700.0, 520.0))], box_share=1.0)
    assert edge[0].box == (600.0, 440.0, 640.0, 480.0), "the blended box is cut to the frame"
    assert checked_hands(FRAME, [], FakeCheck()) == []
    with pytest.raises(ValueError, match="answered 1 boxes for 2"):
        checked_hands(FRAME, [refused, read], lambda image, boxes: [(0.5, boxes[0])])


def test_the_node_loader_checks_when_given_a_check(tmp_path):
    assert load_check_fn("none", tmp_path / "absent.pt") is None
    assert load_check_fn("", tmp_path / "absent.pt") is None, "no shipped check: none"
    with pytest.raises(FileNotFoundError, match="hand check checkpoint not found"):
        load_check_fn(str(tmp_path / "absent.pt"), tmp_path / "absent.pt")
    check = load_check_fn("nodes_fake_predictor:red_patch_check", tmp_path / "absent.pt")
    image = np.zeros((480, 640, 3), np.uint8)
    image[190:230, 310:350] = (255, 0, 0)
    verified = load_detect_fn("nodes_fake_predictor:red_patch_detector", tmp_path / "absent.pt", FakeLook(), 2, check)
    found = verified(image, INTRINSICS)
    assert found.check_probability == 0.95
    assert found.score == pytest.approx(checked_score(hand_score(red_patch(image).score, 0.6), 0.95))
    assert found.box == pytest.approx(flesh_box(HAND_UV)), "the stand-in check's box is the one it was shown"
