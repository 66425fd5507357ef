"""``GSDFPredictor``: a window of uint8 crops in, a finite Reconstruction in the source camera frame out."""

import numpy as np
import pytest

from gsdf_ros.eval_report import input_rgb
from gsdf_ros.gsdf_predictor import GSDFPredictor
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
