"""The hand check: squares cut from the frame as the network reads them, boxes that go there and back,
labels by the share of the hand a square holds, and a training run that resumes, exports and loads for
inference as the node loads it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gsdf_ros.cli.export import main as export_main
from gsdf_ros.detect.check import CheckConfig, HandCheck, box_from_square, box_in_square, check_boxes, cut_square
from gsdf_ros.detect.check_train import (
    CheckTrainConfig,
    held_share,
    jittered_box,
    load_check,
    square_label,
    train_check,
)
from gsdf_ros.detect.train import DetectorTrainConfig, train_detector
from gsdf_ros.hand_finder import load_check_fn
from gsdf_ros.synth.scenes import SceneConfig, write_scenes


def test_cut_square_copies_the_frame_and_pads_with_zeros():
    image = np.arange(40 * 60 * 3, dtype=np.uint32).reshape(40, 60, 3).astype(np.uint8)
    assert np.array_equal(cut_square(image, (10.0, 5.0, 16.0), 16), image[5:21, 10:26])
    half_out = cut_square(np.full((40, 60, 3), 200, np.uint8), (-8.0, -8.0, 16.0), 16)
    assert np.all(half_out[:8] == 0) and np.all(half_out[:, :8] == 0) and np.all(half_out[8:, 8:] == 200)
    assert cut_square(image, (100.0, 100.0, 10.0), 16).shape == (16, 16, 3)
    assert not cut_square(image, (100.0, 100.0, 10.0), 16).any()
    with pytest.raises(ValueError, match="finite"):
        cut_square(image, (math.nan, 0.0, 10.0), 16)


def test_boxes_go_into_the_square_and_back():
    square = (30.0, -10.0, 80.0)
    box = (40.0, 0.0, 90.0, 50.0)
    inside = box_in_square(box, square)
    assert inside == pytest.approx((0.125, 0.125, 0.75, 0.75))
    assert box_from_square(inside, square) == pytest.approx(box)


def test_a_square_is_a_hand_when_it_holds_the_hand_and_none_when_it_misses_it():
    hand = (100.0, 100.0, 140.0, 160.0)
    assert square_label(None, (0.0, 0.0, 50.0)) == 0.0
    assert square_label(hand, (80.0, 80.0, 100.0)) == 1.0
    assert square_label(hand, (300.0, 300.0, 100.0)) == 0.0
    assert square_label(hand, (120.0, 80.0, 100.0)) == -1.0  # half the hand
    assert square_label(hand, (0.0, 0.0, 1000.0)) == -1.0  # a speck in a huge square
    assert held_share(hand, (120.0, 0.0, 500.0)) == pytest.approx(0.5)


def test_jittered_boxes_stay_near_the_hand():
    rng = np.random.default_rng(0)
    hand = (100.0, 100.0, 140.0, 160.0)
    boxes = np.array([jittered_box(hand, rng) for _ in range(200)])
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    assert np.all(boxes[:, 2:] > boxes[:, :2])
    assert np.abs(np.median(centres, axis=0) - (120.0, 130.0)).max() < 5.0
    assert 5.0 < np.std(centres[:, 0]) < 15.0


def test_the_check_answers_each_candidate_and_refuses_bad_input():
    torch.manual_seed(0)
    model = HandCheck(CheckConfig(size=32)).eval()
    out = model(torch.zeros(2, 3, 32, 32))
    assert out["logit"].shape == (2,) and out["box"].shape == (2, 4)
    with pytest.raises(ValueError, match="expected squares"):
        model(torch.zeros(1, 3, 48, 48))
    with pytest.raises(ValueError, match="multiple of 16"):
        CheckConfig(size=40)
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    answers = check_boxes(model, image, [(10.0, 10.0, 50.0, 60.0), (math.nan, 0.0, 1.0, 1.0)])
    assert len(answers) == 2 and 0.0 < answers[0].probability < 1.0
    assert all(isinstance(v, float) and math.isfinite(v) for v in answers[0].box)
    assert answers[1].probability == 0.0
    assert check_boxes(model, image, []) == []


def test_the_check_trains_on_the_detectors_candidates_resumes_and_loads(tmp_path):
    write_scenes(tmp_path / "scenes", 6, 1, SceneConfig(long_side=96, val_frac=0.0))
    detector = train_detector(DetectorTrainConfig(data_root=str(tmp_path / "scenes"), epochs=1, batch_size=3,
                                                  out_dir=str(tmp_path / "det"), model={"canvas": [96, 96]}))
    cfg = CheckTrainConfig(data_root=str(tmp_path / "scenes"), detector=str(detector), model={"size": 32},
                           proposals=2, jitter=2, epochs=1, batch_size=4, out_dir=str(tmp_path / "check"))
    last = train_check(cfg)
    cached = np.load(tmp_path / "check" / "squares_train.npz")
    assert cached["squares"].shape[1:] == (32, 32, 3) and set(np.unique(cached["label"])) <= {-1.0, 0.0, 1.0}
    assert (cached["label"] == 1).any() and (cached["label"] == 0).any()
    _, state = load_check(last)
    steps = state["step"]
    assert state["epoch"] == 1 and steps > 0 and state["data_fingerprint"]
    cfg.epochs = 2
    _, state = load_check(train_check(cfg, resume=last))
    assert state["epoch"] == 2 and state["step"] == 2 * steps
    trained, _ = load_check(last)
    folded, _ = load_check(last, inference=True)
    squares = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(trained(squares)["logit"], folded(squares)["logit"], atol=1e-4)
    with pytest.raises(ValueError, match="not a hand-check"):
        load_check(detector)
    exported = tmp_path / "models" / "hand_check.pt"
    assert export_main([str(last), str(exported)]) == 0
    assert torch.load(exported, weights_only=False)["optimizer_state"] is None
    check = load_check_fn("", exported)  # empty: the package's default file
    image = np.random.default_rng(1).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    answers = check(image, [(10.0, 20.0, 40.0, 60.0), (50.0, 5.0, 90.0, 45.0)])
    expected = check_boxes(folded, image, [(10.0, 20.0, 40.0, 60.0), (50.0, 5.0, 90.0, 45.0)])
    assert [a[0] for a in answers] == pytest.approx([e.probability for e in expected], abs=1e-5)
    assert answers[1][1] == pytest.approx(expected[1].box, abs=1e-3)
