"""Hand crops in the dataset: the tight pose crop beside a wider shape crop, both exact virtual cameras."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gsdf_ros.data import AugmentConfig, FrameDataset
from gsdf_ros.model import build_model, get_config
from gsdf_ros.synth.generate import SynthConfig, write_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp("crops")
    write_dataset(out, 2, 11, SynthConfig(size=128, pose_only=True, views=2, val_frac=0.0, test_frac=0.0))
    return out


def _pixels(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:]


@pytest.mark.parametrize("augment", [None, AugmentConfig(box_shift=0.1, box_scale=(0.9, 1.2))])
def test_pose_crop_is_tighter_and_maps_to_the_shape_crop(root, augment):
    data = FrameDataset(root, "train", 7.0, 64, num_points=0, crop="hand", hand_enlarge=2.2, pose_crop=True,
                        augment=augment)
    for index in range(len(data)):
        sample = data[index]
        joints = sample["joints"].double().numpy()
        rotation = sample["pose_R"].double().numpy()
        assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-5)
        in_pose = joints @ rotation  # P_pose = R^T P_shape, as rows
        uv_pose = _pixels(in_pose, sample["pose_K"].double().numpy())
        uv_shape = _pixels(joints, sample["K"].double().numpy())
        spread = lambda uv: np.ptp(uv, axis=0).max()  # noqa: E731
        assert spread(uv_pose) > 1.3 * spread(uv_shape)
        assert np.all(uv_pose > -16) and np.all(uv_pose < 80)


def test_shape_net_reads_the_pose_crop_when_given(root):
    data = FrameDataset(root, "train", 7.0, 64, num_points=0, crop="hand", hand_enlarge=2.2, pose_crop=True)
    cfg = get_config("tiny")
    cfg.image_size, cfg.heatmap_size, cfg.depth_bins = 64, 16, 16
    torch.manual_seed(0)
    net = build_model(cfg).eval()
    batch = {k: torch.stack([data[i][k] for i in range(2)]) for k in ("image", "K", "wrist", "pose_image", "pose_K",
                                                                     "pose_R")}
    view = (batch["pose_image"], batch["pose_K"], batch["pose_R"])
    state = net.encode(batch["image"], batch["K"], batch["wrist"], view)
    pose = net.pose_net(batch["pose_image"], batch["pose_K"], torch.einsum("bji,bj->bi", batch["pose_R"],
                                                                           batch["wrist"])[:, 2])
    expected = torch.einsum("bij,bkj->bki", batch["pose_R"], pose.joints)
    assert torch.allclose(state.joints, expected, atol=1e-5)
    assert torch.allclose(state.root_depth, batch["wrist"][:, 2])
