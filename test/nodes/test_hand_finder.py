"""The hand finder of crop_mode detect, without ROS: detector runs only when the tracker asks, "no
hand" below the threshold, the model's whole-image look as a pseudo-detector, detector loading."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from gsdf_ros.detect.tracker import TrackerConfig
from gsdf_ros.geometry import Intrinsics
from gsdf_ros.geometry.pose_looks import PoseLooks
from gsdf_ros.hand_finder import Found, HandFinder, finder_looks, load_detect_fn, look_detector
from gsdf_ros.result import CropSample

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nodes_fake_predictor import crop_joints, red_patch, save_untrained_detector  # noqa: E402

K = np.array([[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0.0, 0.0, 1.0]])
INTRINSICS = Intrinsics.from_matrix(K, 640, 480)


def whole_frame(stamp_ns: int, patch_x: int | None) -> CropSample:
    """A 640x480 noise frame with a 60 px pure-red square at (patch_x, 200) (none when None)."""
    image = np.random.default_rng(stamp_ns).integers(0, 120, (480, 640, 3), dtype=np.uint8)
    if patch_x is not None:
        image[200:260, patch_x:patch_x + 60] = (255, 0, 0)
    return CropSample(stamp_ns, "cam", image, K, np.eye(3), (-0.5, -80.5, 640.0), whole_frame=True)


class CountingDetector:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: np.ndarray, intrinsics: Intrinsics) -> Found:
        self.calls += 1
        return red_patch(image)


def test_the_detector_runs_only_when_the_tracker_asks_and_crops_follow_the_hand() -> None:
    detector = CountingDetector()
    finder = HandFinder(detector, 64, TrackerConfig(redetect_every=5))
    for i in range(20):
        frame = whole_frame(i + 1, 100 + 5 * i)
        found = finder.find(frame)
        assert found.sample is not None and found.score == pytest.approx(0.9)
        x0, y0, side = found.sample.box
        centre = (x0 + side / 2, y0 + side / 2)
        assert abs(centre[0] - (130 + 5 * i)) < 0.3 * side and abs(centre[1] - 230) < 0.3 * side, (i, found.sample.box)
        assert found.sample.image.shape == (64, 64, 3) and not found.sample.whole_frame
        finder.follow(crop_joints(found.sample))
    assert detector.calls == 4, "a detection every 5 frames; the tracker crops the frames in between"
    assert (finder.detections, finder.tracked) == (4, 16)


def test_a_low_score_is_no_hand_and_asks_for_a_detection_next_frame() -> None:
    detector = CountingDetector()
    finder = HandFinder(detector, 64)
    assert finder.find(whole_frame(1, 300)).sample is not None
    finder.follow(np.full((21, 3), np.nan))  # joints that cannot be trusted: detect again
    found = finder.find(whole_frame(2, None))
    assert found.sample is None and found.detected and found.score == pytest.approx(0.05)
    assert finder.find(whole_frame(3, None)).detected and detector.calls == 3
    finder.set_threshold(0.01)
    assert finder.find(whole_frame(4, None)).sample is not None, "the threshold is read at each detection"


def test_the_pose_check_refuses_a_crop_the_model_cannot_read_and_drops_the_track() -> None:
    detector = CountingDetector()
    finder = HandFinder(detector, 64, TrackerConfig(redetect_every=1000), min_confidence=0.15)
    found = finder.find(whole_frame(1, 300))
    assert finder.follow(crop_joints(found.sample), np.full(21, 0.4)), "a readable hand stands"
    assert not finder.find(whole_frame(2, 300)).detected, "and the next frame is tracked"
    assert not finder.follow(crop_joints(found.sample), np.full(21, 0.1)), "noise in the crop: refused"
    assert finder.refused == 1 and not finder.tracker.tracking
    assert finder.find(whole_frame(3, 300)).detected and detector.calls == 2, "a refused crop asks for a detection"
    assert not finder.follow(crop_joints(found.sample), np.full(21, np.nan)), "non-finite confidence is refused"
    finder.find(whole_frame(4, 300))
    finder.set_min_confidence(0.0)
    assert finder.follow(crop_joints(found.sample), np.full(21, 0.01)), "0 turns the check off"
    with pytest.raises(ValueError, match="min_confidence"):
        finder.set_min_confidence(1.5)


def test_a_wider_shape_crop_carries_the_hand_crop_as_the_pose_view() -> None:
    finder = HandFinder(CountingDetector(), 64, shape_scale=1.5)
    found = finder.find(whole_frame(1, 300)).sample
    hand = found.pose_view
    assert hand is not None and hand.image.shape == found.image.shape == (64, 64, 3)
    (x0, y0, side), (h0, g0, hside) = found.box, hand.box
    assert side == pytest.approx(1.5 * hside)
    assert (x0 + side / 2, y0 + side / 2) == pytest.approx((h0 + hside / 2, g0 + hside / 2))
    assert HandFinder(CountingDetector(), 64).find(whole_frame(1, 300)).sample.pose_view is None
    with pytest.raises(ValueError, match="shape_scale"):
        HandFinder(CountingDetector(), 64, shape_scale=0.5)


def test_the_finder_takes_the_first_pose_looks_count_of_the_predictors_looks() -> None:
    predictor = types.SimpleNamespace(pose_looks=PoseLooks())
    assert finder_looks(predictor, 3) == PoseLooks(limit=3)
    assert finder_looks(predictor, 1) is None, "one look: the hand crop alone"
    assert finder_looks(types.SimpleNamespace(), 9) is None, "a predictor without looks reads one crop"


def test_the_finder_cuts_the_pose_looks_around_the_hand_crop() -> None:
    looks = PoseLooks()
    found = HandFinder(CountingDetector(), 64, shape_scale=1.5, looks=looks).find(whole_frame(1, 300)).sample
    assert len(found.pose_looks) == looks.count == 9
    squares = [box for box, _ in looks.looks(found.pose_view.box)]
    np.testing.assert_allclose([look.box for look in found.pose_looks], squares)
    turned = found.pose_looks[3]
    assert not np.allclose(turned.rotation, found.pose_view.rotation), "the fourth look is the hand crop turned"
    np.testing.assert_allclose(turned.k, found.pose_view.k)
    assert found.pose_looks[0].box == pytest.approx(found.pose_view.box), "the first look is the hand crop"
    assert all(look.image.shape == (64, 64, 3) for look in found.pose_looks)
    assert HandFinder(CountingDetector(), 64).find(whole_frame(1, 300)).sample.pose_looks == ()


def test_the_whole_image_look_scores_with_the_mean_joint_confidence() -> None:
    joints = np.column_stack([np.linspace(-0.05, 0.05, 21), np.linspace(0.0, 0.04, 21), np.full(21, 0.5)])
    detect = look_detector(lambda image, intrinsics: (joints, np.full(21, 0.3)))
    found = detect(np.zeros((480, 640, 3), np.uint8), INTRINSICS)
    uv = INTRINSICS.project(joints)
    assert found.score == pytest.approx(0.3)
    np.testing.assert_allclose(found.box, (*uv.min(axis=0), *uv.max(axis=0)))
    behind = look_detector(lambda image, intrinsics: (-joints, np.ones(21)))
    assert behind(np.zeros((480, 640, 3), np.uint8), INTRINSICS).score == 0.0, "joints behind the camera: no hand"


def test_detector_specs(tmp_path: Path) -> None:
    assert load_detect_fn("none", tmp_path / "absent.pt") is None
    assert load_detect_fn("", tmp_path / "absent.pt") is None, "no shipped checkpoint: the caller falls back"
    with pytest.raises(FileNotFoundError):
        load_detect_fn(str(tmp_path / "absent.pt"), tmp_path / "absent.pt")
    detect = load_detect_fn("nodes_fake_predictor:red_patch_detector", tmp_path / "absent.pt")
    assert detect(whole_frame(1, 10).image, INTRINSICS).score == pytest.approx(0.9)


def test_an_untrained_detector_checkpoint_loads_and_says_no_hand(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    detect = load_detect_fn(str(save_untrained_detector(tmp_path / "detector.pt")), tmp_path / "absent.pt")
    finder = HandFinder(detect, 64)
    found = finder.find(whole_frame(1, 200))
    assert found.sample is None and found.score < 0.5


class PoseLookPredictor:
    """A stand-in predictor with a pose net that reads a hand (confidence 0.6) at the red patch's box."""

    def pose_look(self, image, intrinsics, square):
        x0, y0, x1, y1 = red_patch(image).box
        uv = np.array([[x0 + (x1 - x0) * (i % 5) / 4, y0 + (y1 - y0) * (i // 5) / 4] for i in range(21)])
        return uv, np.full(21, 0.6)


def test_the_inference_node_checks_verified_candidates_when_asked(tmp_path: Path) -> None:
    """hand_check: a factory or checkpoint judges the verified candidates; none leaves them unchecked; a
    named checkpoint that is not there stops the node at start-up with one clear error."""
    pytest.importorskip("rclpy")
    from gsdf_ros.detect.verify import checked_score
    from gsdf_ros.nodes import runtime
    from gsdf_ros.nodes.inference_node import make_finder

    fake = "nodes_fake_predictor:red_patch_detector"
    checked, kind = make_finder(PoseLookPredictor(), fake, 64, 0.3, 5, 2, 1, "nodes_fake_predictor:red_patch_check")
    assert kind == "detector, 2 candidates verified by the pose net and checked"
    unchecked, kind = make_finder(PoseLookPredictor(), fake, 64, 0.3, 5, 2, 1, "none")
    assert kind == "detector, 2 candidates verified by the pose net"
    frame = whole_frame(3, 300)
    with_check, without = checked.find(frame), unchecked.find(frame)
    assert with_check.sample is not None and without.sample is not None
    assert with_check.score == pytest.approx(checked_score(without.score, 0.95))
    with pytest.raises(runtime.StartupError, match="cannot load the hand check"):
        make_finder(PoseLookPredictor(), fake, 64, 0.3, 5, 2, 1, str(tmp_path / "absent.pt"))
