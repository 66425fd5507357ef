"""``GSDFPredictor``: a window of uint8 crops in, a finite Reconstruction in the source camera frame out."""

import dataclasses

import numpy as np
import pytest
import torch

from gsdf_ros.eval_report import input_rgb
from gsdf_ros.geometry.pose_looks import PoseLooks
from gsdf_ros.gsdf_predictor import GSDFPredictor, pose_looks_of, pose_views, shape_scale_of
from gsdf_ros.hand_finder import crop_of, frame_intrinsics
from gsdf_ros.inference import TIMED_STAGES, peak_sharpness
from gsdf_ros.predictor import Predictor
from gsdf_ros.result import CropSample


def _crop(sample, stamp: int) -> CropSample:
    image = (input_rgb(sample["image"].numpy()) * 255).round().astype(np.uint8)
    return CropSample(stamp_ns=stamp, frame_id="camera_optical", image=image, k=sample["K"].numpy(),
                      rotation=sample["cam_rot"].numpy(), box=(0.0, 0.0, 64.0))


def test_predict_returns_a_finite_reconstruction(sdf_run, analytic_data):
    predictor = GSDFPredictor.from_checkpoint(sdf_run.last_checkpoint, mesh_resolution=20, mesh_every=2)
    assert isinstance(predictor, Predictor) and predictor.window_length == 1
    predictor.warm_up()
    window = [_crop(analytic_data[0], 10), _crop(analytic_data[1], 20)]
    result = predictor.predict(window)
    assert result.stamp_ns == 20 and result.frame_id == "camera_optical" and result.is_finite()
    confidence = result.joint_confidence
    assert result.hand_joints.shape == (21, 3) and np.all((confidence >= 0) & (confidence <= 1))
    assert set(result.stage_ms) == set(TIMED_STAGES) and all(v >= 0 for v in result.stage_ms.values())
    assert result.hand_mesh is not None and result.mesh_stamp_ns == 20
    assert 0.2 < result.hand_mesh.vertices[:, 2].mean() < 1.5  # in front of the camera, metres
    second = predictor.predict([_crop(analytic_data[2], 30)])
    assert second.mesh_stamp_ns == 20  # meshes every second call: the previous ones are kept


def test_the_pose_net_reads_its_own_crop_when_the_sample_carries_one(sdf_run, analytic_data):
    predictor = GSDFPredictor.from_checkpoint(sdf_run.last_checkpoint, mesh="none")
    plain = _crop(analytic_data[0], 10)
    assert pose_views([plain], 1, 64) is None
    with_view = dataclasses.replace(plain, pose_view=_crop(analytic_data[0], 10))
    images, intrinsics, rotations = pose_views([with_view], 1, predictor.model.cfg.image_size)
    assert images.shape[0] == 1 and torch.allclose(rotations[0], torch.eye(3), atol=1e-6)
    same, _ = predictor.predict_pose([with_view])
    np.testing.assert_allclose(same.hand_joints, predictor.predict_pose([plain])[0].hand_joints, atol=1e-5)
    other = dataclasses.replace(plain, pose_view=_crop(analytic_data[1], 10))
    moved, _ = predictor.predict_pose([other])
    assert moved.is_finite() and not np.allclose(moved.hand_joints, same.hand_joints, atol=1e-4), \
        "the joints come from the pose view, not from the shape crop"


def test_pose_look_sees_what_the_pose_path_sees_in_the_same_crop(sdf_run, analytic_data):
    """The detector's verifier: the pose net alone on a square of a whole frame gives the joints that
    predict_pose gives on the same crop, projected into the frame, with confidences in [0, 1]."""
    predictor = GSDFPredictor.from_checkpoint(sdf_run.last_checkpoint, mesh="none")
    size = predictor.model.cfg.image_size
    frame = dataclasses.replace(_crop(analytic_data[0], 10), rotation=np.eye(3), whole_frame=True)
    intrinsics = frame_intrinsics(frame)
    square = (6.0, 4.0, 40.0)
    uv, confidence = predictor.pose_look(frame.image, intrinsics, square)
    assert uv.shape == (21, 2) and confidence.shape == (21,)
    assert np.all(np.isfinite(uv)) and np.all((confidence >= 0) & (confidence <= 1))
    result, _ = predictor.predict_pose([crop_of(frame, square, size)])
    np.testing.assert_allclose(uv, intrinsics.project(result.hand_joints), atol=1e-3)
    np.testing.assert_allclose(confidence, result.joint_confidence, atol=1e-5)


def test_shape_scale_and_pose_looks_follow_the_training_crops():
    assert pose_looks_of({"crop": "hand"}) == PoseLooks()
    assert pose_looks_of({"crop": "full"}) is None and pose_looks_of({}) is None
    assert shape_scale_of({"crop": "hand", "pose_crop": True, "hand_enlarge": 2.2}) == pytest.approx(2.2 / 1.5)
    assert shape_scale_of({"crop": "hand", "pose_crop": False, "hand_enlarge": 2.2}) is None
    assert shape_scale_of({"crop": "full"}) is None


def test_window_length_can_only_be_lowered(sdf_run):
    with pytest.raises(ValueError, match="exceeds"):
        GSDFPredictor.from_checkpoint(sdf_run.last_checkpoint, window_length=3)


def test_peak_sharpness_is_high_for_a_peak_and_low_for_a_flat_volume():
    import torch

    flat = torch.zeros(1, 2, 8, 8, 8)
    peaked = flat.clone()
    peaked[0, 1, 4, 4, 4] = 50.0
    conf = peak_sharpness(peaked)
    assert conf[0, 1] > 0.99 and conf[0, 0] == pytest.approx(27 / 512)


def test_the_joints_are_the_mean_over_the_crops_pose_looks(sdf_run, analytic_data):
    """With ``pose_looks`` the pose path publishes the joints averaged over those crops (each mapped into
    the crop's frame), and the confidences of the first look; without them, the pose net's one crop."""
    predictor = GSDFPredictor.from_checkpoint(sdf_run.last_checkpoint, mesh="none")
    size = predictor.model.cfg.image_size
    frame = dataclasses.replace(_crop(analytic_data[0], 10), rotation=np.eye(3), whole_frame=True)
    squares = [(6.0, 4.0, 40.0), (2.0, 0.0, 52.0), (10.0, 8.0, 36.0)]
    looks = tuple(crop_of(frame, square, size) for square in squares)
    plain = crop_of(frame, squares[0], size)
    singles = [predictor.predict_pose([look])[0] for look in looks]
    mean = np.mean([plain.rotation.T @ r.hand_joints.T for r in singles], axis=0).T  # in the crop's frame
    result, _ = predictor.predict_pose([dataclasses.replace(plain, pose_looks=looks)])
    np.testing.assert_allclose(result.hand_joints, (plain.rotation @ mean.T).T, atol=1e-4)
    np.testing.assert_allclose(result.joint_confidence, singles[0].joint_confidence, atol=1e-5)
    assert not np.allclose(result.hand_joints, singles[0].hand_joints, atol=1e-4)



def test_read_hand_averages_the_looks_around_the_located_hand(pose_run, analytic_data):
    """One look: :func:`locate_hand` itself. Several: the mean of the pose net's joints on each crop,
    in the source frame, the tracker's crop and input kept."""
    from gsdf_ros.checkpoint import load_checkpoint_model
    from gsdf_ros.geometry import Intrinsics
    from gsdf_ros.geometry.pose_looks import SINGLE_LOOK
    from gsdf_ros.live_crop import locate_hand, look_at, read_hand

    pose_net, _ = load_checkpoint_model(pose_run.last_checkpoint, "cpu")
    pose_net.eval()
    sample = analytic_data[0]
    image = (input_rgb(sample["image"].numpy()) * 255).round().astype(np.uint8)
    intrinsics = Intrinsics.from_matrix(sample["K"].numpy().astype(np.float64), image.shape[1], image.shape[0])
    size = pose_net.cfg.image_size
    located = locate_hand(pose_net, image, intrinsics, size, 1)
    single = read_hand(pose_net, image, intrinsics, size, 1, SINGLE_LOOK)
    np.testing.assert_allclose(single.joints_source, located.joints_source)
    looks = PoseLooks(enlarges=(1.5, 2.0), shifts=((0.0, 0.0), (0.1, 0.0)))
    read = read_hand(pose_net, image, intrinsics, size, 1, looks)
    crops = looks.crops(intrinsics, located.joints_source, size)
    each = [look_at(pose_net, image, crop).joints_source for crop in crops]
    np.testing.assert_allclose(read.joints_source, np.mean(each, axis=0), atol=1e-5)
    assert read.crop.box == located.crop.box and torch.equal(read.image, located.image)
    assert read.root_depth == pytest.approx((read.joints_source @ read.crop.rotation)[0, 2])
