"""The hand detector: targets that decode to their box, scenes with and without a hand, a resumable
training run, and a tracker that cannot shrink onto or drift away from a static hand."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from gsdf_ros.cli.export import main as export_main
from gsdf_ros.detect.data import SceneDataset, box_iou, centre_targets, fit_to_canvas
from gsdf_ros.detect.model import DetectorConfig, HandDetector, decode_detection
from gsdf_ros.detect.tracker import HandTracker, TrackerConfig, inside_fraction, square_around
from gsdf_ros.detect.train import (
    DetectorTrainConfig,
    detect,
    load_detector,
    model_detect_fn,
    score_detector,
    threshold_for_false_rate,
    train_detector,
    true_joints_iou,
)
from gsdf_ros.synth.scenes import SceneConfig, generate_scene, write_scenes

CFG = DetectorConfig(canvas=(128, 96))


def _perfect_output(targets: dict) -> dict:
    """Network outputs that say exactly what the targets say."""
    heat = torch.logit(targets["heat"].clamp(1e-4, 1 - 1e-4))[None]
    gh, gw = heat.shape[-2:]
    size = targets["size"][:, None, None].expand(2, gh, gw)[None]
    offset = targets["offset"][:, None, None].expand(2, gh, gw)[None]
    return {"heat": heat, "size": size, "offset": offset}


@pytest.mark.parametrize("box", [(10.0, 20.0, 40.0, 44.0), (100.5, 3.0, 127.0, 90.0), (60.0, 40.0, 64.0, 45.0)])
def test_targets_decode_to_their_box(box):
    targets = centre_targets(box, CFG)
    assert targets["heat"].max() == 1.0 and bool(targets["has_hand"])
    found = decode_detection(_perfect_output(targets))
    assert found.score > 0.99
    assert found.box == pytest.approx(box, abs=1e-3)
    empty = centre_targets(None, CFG)
    assert empty["heat"].max() == 0.0 and not bool(empty["has_hand"])


def test_fit_to_canvas_keeps_the_aspect_at_the_top_left():
    image = np.full((480, 640, 3), 200, np.uint8)
    canvas, scale = fit_to_canvas(image, (128, 128))
    assert scale == pytest.approx(0.2)
    assert canvas.shape == (128, 128, 3) and canvas[:96].min() == 200 and canvas[96:].max() == 0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


def test_scenes_are_deterministic_and_label_the_visible_hand():
    config = SceneConfig(long_side=96, no_hand_prob=0.5)
    scenes = [generate_scene(i, 2, config) for i in range(6)]
    again = generate_scene(3, 2, config)
    assert np.array_equal(again.image, scenes[3].image) and again.box == scenes[3].box
    assert max(s.image.shape[1] for s in scenes) == 96
    for scene in scenes:
        if scene.box is not None:
            x0, y0, x1, y1 = scene.box
            assert 0 <= x0 < x1 <= scene.image.shape[1] and 0 <= y0 < y1 <= scene.image.shape[0]
            assert scene.to_json()["hand"]["side"] == "right"
    assert any(s.box is None for s in scenes) and any(s.box is not None for s in scenes)


def test_scenes_render_at_their_nominal_size_with_the_same_draws():
    sizes = ((320, 240),)
    half = [generate_scene(i, 4, SceneConfig(long_side=160, frame_sizes=sizes, no_hand_prob=0.0)) for i in range(3)]
    full = [generate_scene(i, 4, SceneConfig(long_side=0, frame_sizes=sizes, no_hand_prob=0.0)) for i in range(3)]
    assert all(scene.image.shape == (240, 320, 3) for scene in full)
    assert all(scene.image.shape == (120, 160, 3) for scene in half)
    both = [(h, f) for h, f in zip(half, full) if h.joints_2d is not None and f.joints_2d is not None]
    assert both
    for h, f in both:
        # the same hand in the same place (the placement is drawn in each render's pixels: within 1 px)
        np.testing.assert_allclose(f.joints_2d, 2.0 * h.joints_2d + 0.5, atol=1.0)
    with pytest.raises(ValueError, match="long_side"):
        SceneConfig(long_side=16)


def test_detector_trains_resumes_and_scores(tmp_path):
    write_scenes(tmp_path / "scenes", 6, 1, SceneConfig(long_side=96, val_frac=0.0))
    cfg = DetectorTrainConfig(data_root=str(tmp_path / "scenes"), epochs=1, batch_size=3, out_dir=str(tmp_path / "run"),
                              model={"canvas": [96, 96]})
    last = train_detector(cfg)
    model, state = load_detector(last)
    assert state["epoch"] == 1 and state["step"] == 2 and state["data_fingerprint"]
    cfg.epochs = 2
    _, state = load_detector(train_detector(cfg, resume=last))
    assert state["epoch"] == 2 and state["step"] == 4
    report = score_detector(model_detect_fn(model), SceneDataset(cfg.data_root, "train", model.cfg), threshold=0.5)
    assert report["hand_frames"] + report["empty_frames"] == 6
    with_joints = [r for r in report["rows"] if r["has_hand"]]
    assert all(0.0 < r["true_joints_iou"] <= 1.0 for r in with_joints)
    if with_joints:
        assert report["recall_with_true_joints"] == np.mean([r["true_joints_iou"] >= 0.5 for r in with_joints])
    assert 0.0 <= report["ms_per_frame"]
    found = detect(model, np.zeros((480, 640, 3), np.uint8))
    assert 0.0 <= found.score <= 1.0
    assert export_main([str(last), str(tmp_path / "shipped.pt")]) == 0
    shipped, shipped_state = load_detector(tmp_path / "shipped.pt")
    assert shipped_state["optimizer_state"] is None and state["optimizer_state"] is not None
    trained, _ = load_detector(last)
    assert all(torch.equal(a, b) for a, b in zip(shipped.state_dict().values(), trained.state_dict().values()))
    with pytest.raises(ValueError, match="not a hand-detector"):
        torch.save({"kind": "other"}, tmp_path / "x.pt")
        load_detector(tmp_path / "x.pt")


def test_detect_returns_plain_floats():
    found = detect(HandDetector(CFG).eval(), np.zeros((240, 320, 3), np.uint8))
    assert type(found.score) is float and all(type(v) is float for v in found.box)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_detect_runs_on_the_model_device():
    model = HandDetector(CFG).eval()
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    on_cpu = detect(model, image)
    on_gpu = detect(model.to("cuda"), image)
    assert on_gpu.score == pytest.approx(on_cpu.score, abs=1e-3)
    assert on_gpu.box == pytest.approx(on_cpu.box, abs=0.5)


def test_the_package_and_the_tracker_do_not_import_torch():
    code = "import sys\nimport gsdf_ros.detect.tracker\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_the_package_still_names_the_detector_lazily():
    import gsdf_ros.detect as package
    from gsdf_ros.detect import model

    assert package.HandDetector is model.HandDetector and package.Detection is model.Detection
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018


def test_forward_shapes():
    out = HandDetector(CFG)(torch.zeros(2, 3, 96, 128))
    assert out["heat"].shape == (2, 1, 24, 32) and out["size"].shape == (2, 2, 24, 32)
    with pytest.raises(ValueError):
        HandDetector(CFG)(torch.zeros(1, 3, 100, 128))


# ---------------------------------------------------------------- tracking

HAND = (300.0, 200.0, 380.0, 300.0)


def _joints_in(box, scale=1.0, shift=(0.0, 0.0)):
    """21 joints spread over ``box`` shrunk by ``scale`` about its centre and moved by ``shift``."""
    rng = np.random.default_rng(0)
    cx, cy = (box[0] + box[2]) / 2 + shift[0], (box[1] + box[3]) / 2 + shift[1]
    half = np.array([box[2] - box[0], box[3] - box[1]]) / 2 * scale * 0.8
    return np.array([cx, cy]) + rng.uniform(-1, 1, size=(21, 2)) * half


def test_static_hand_keeps_a_steady_crop():
    tracker = HandTracker(TrackerConfig(redetect_every=1000))
    start = tracker.on_detection(0.9, HAND)
    crops = [tracker.on_joints(_joints_in(HAND)) for _ in range(300)]
    sides = np.array([c[2] for c in crops])
    centres = np.array([(c[0] + c[2] / 2, c[1] + c[2] / 2) for c in crops])
    assert sides.min() >= start[2] - 1e-9
    assert np.ptp(sides[50:]) < 1e-6 and np.ptp(centres[50:], axis=0).max() < 1e-6
    assert np.linalg.norm(centres[-1] - [340.0, 250.0]) < 5.0


def test_a_shrinking_model_cannot_shrink_the_crop():
    tracker = HandTracker(TrackerConfig(redetect_every=1000))
    start = tracker.on_detection(0.9, HAND)
    for step in range(300):
        crop = tracker.on_joints(_joints_in(HAND, scale=0.97**step))  # the runaway seen before: joints collapse
        assert crop[2] >= start[2] - 1e-9
    assert tracker.needs_detection()


def test_a_drifting_model_cannot_drag_the_crop_off_a_static_hand():
    tracker = HandTracker()
    tracker.on_detection(0.9, HAND)
    truth = _joints_in(HAND)
    centre = np.array(square_around(HAND, tracker.cfg.detection_enlarge)[:2]) + 65.0
    for step in range(300):
        if tracker.needs_detection():
            tracker.on_detection(0.9, HAND)  # the detector still sees the static hand
        crop = tracker.on_joints(_joints_in(HAND, shift=(3.0 * step, 0.0)))
        crop_centre = np.array([crop[0] + crop[2] / 2, crop[1] + crop[2] / 2])
        assert inside_fraction(truth, crop) >= 0.95
        assert np.linalg.norm(crop_centre - centre) <= tracker.cfg.max_drift * crop[2] + 1e-9


def test_no_hand_ends_the_track():
    tracker = HandTracker()
    assert tracker.needs_detection() and tracker.on_joints(np.zeros((21, 2))) is None
    tracker.on_detection(0.9, HAND)
    assert tracker.on_detection(0.1, HAND) is None and not tracker.tracking
    assert square_around((0, 0, 10, 20), 1.5) == pytest.approx((-10.0, -5.0, 30.0))


def test_inside_fraction_counts_the_share_inside_the_square():
    points = np.array([[0.0, 0.0], [5.0, 5.0], [11.0, 5.0], [5.0, -1.0]])
    assert inside_fraction(points, (0.0, 0.0, 10.0)) == pytest.approx(0.5)


def test_threshold_for_a_false_rate_is_the_lowest_that_keeps_it():
    empty = [{"has_hand": False, "score": s, "iou": 0.0} for s in (0.9, 0.5, 0.3, 0.1)]
    hands = [{"has_hand": True, "score": s, "iou": iou} for s, iou in ((0.6, 0.7), (0.4, 0.8), (0.95, 0.2))]
    quarter = threshold_for_false_rate(empty + hands, 0.25)
    assert 0.5 < quarter["threshold"] < 0.5001
    assert quarter["false_hand_rate"] == 0.25 and quarter["recall@0.5"] == pytest.approx(1 / 3)
    assert threshold_for_false_rate(empty + hands, 0.0)["recall@0.5"] == 0.0
    everything = threshold_for_false_rate(empty + hands, 1.0)
    assert everything["threshold"] == 0.0 and everything["recall@0.5"] == pytest.approx(2 / 3)
    assert threshold_for_false_rate(hands, 0.1) is None


def test_detector_configs_load_and_the_long_one_changes_only_its_schedule():
    from pathlib import Path

    configs = Path(__file__).resolve().parents[2] / "configs"
    shipped = DetectorTrainConfig.from_yaml(configs / "detector.yaml")
    longer = DetectorTrainConfig.from_yaml(configs / "detector_long.yaml")
    changed = {name for name, value in vars(shipped).items() if getattr(longer, name) != value}
    assert changed == {"epochs", "milestones", "size_weight", "out_dir"}
    assert longer.epochs > shipped.epochs and DetectorConfig(**longer.model) == DetectorConfig(**shipped.model)


def test_true_joints_iou_is_the_flesh_box_of_the_true_joints_cut_to_the_frame():
    joints = np.array([[10.0, 10.0], [110.0, 60.0], [60.0, 30.0]])
    pad = 0.08 * 100.0
    assert true_joints_iou(joints, (10 - pad, 10 - pad, 110 + pad, 60 + pad), 640, 480) == pytest.approx(1.0)
    cut = (10 - pad, 10 - pad, 100.0, 60 + pad)
    assert true_joints_iou(joints, cut, 100, 480) == pytest.approx(1.0)
    assert true_joints_iou(joints, cut, 640, 480) < 0.95
    assert true_joints_iou(joints, (300.0, 300.0, 400.0, 400.0), 640, 480) == 0.0
