"""Starting a deeper pose net from a shallower one (``init_identity_blocks``): the blocks the checkpoint
lacks start as identities, so the deeper net computes exactly what the shallower one did; a gSDF
checkpoint's frozen pose net is a valid starting point for the pose stage."""

from __future__ import annotations

import pytest
import torch

from gsdf_ros.checkpoint import Checkpoint, CheckpointError, save_checkpoint
from gsdf_ros.model import build_model
from gsdf_ros.train import TrainConfig, build_stage_model, identity_blocks, init_from_checkpoint, model_config

SMALL = {"image_size": 64, "heatmap_size": 16, "depth_bins": 16}


def _overrides(layers: list[int]) -> dict:
    return {**SMALL, "pose": {"backbone": {"layers": layers}}}


def _pose_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    K = torch.tensor([[[80.0, 0.0, 32.0], [0.0, 80.0, 32.0], [0.0, 0.0, 1.0]]]).repeat(2, 1, 1)
    return torch.randn(2, 3, 64, 64), K


@pytest.fixture(scope="module")
def shallow(tmp_path_factory, randomise_batchnorm):
    """A random-weights pose net with one residual block per stage, saved as a pose-stage checkpoint."""
    cfg = TrainConfig(stage="pose", model="tiny", model_overrides=_overrides([1, 1, 1, 1]), device="cpu")
    mcfg = model_config(cfg)
    net = build_model(mcfg, "pose")
    randomise_batchnorm(net, 1)
    path = tmp_path_factory.mktemp("shallow") / "pose.pt"
    save_checkpoint(path, Checkpoint(model_config=mcfg.to_dict(), stage="pose", model_state=net.state_dict()))
    return net.eval(), path, mcfg


def _deep(path, identity: bool) -> torch.nn.Module:
    cfg = TrainConfig(stage="pose", model="tiny", model_overrides=_overrides([2, 2, 2, 2]), device="cpu",
                      init_checkpoint=str(path), init_identity_blocks=identity)
    return build_stage_model(cfg, model_config(cfg)).eval()


def test_a_deepened_pose_net_starts_with_the_shallow_nets_outputs(shallow):
    net, path, _ = shallow
    image, K = _pose_inputs()
    with torch.no_grad():
        want = net(image, K)
        got = _deep(path, identity=True)(image, K)
    torch.testing.assert_close(got.volume, want.volume, rtol=0, atol=1e-5)
    torch.testing.assert_close(got.joints, want.joints, rtol=0, atol=1e-5)
    torch.testing.assert_close(got.predicted_root_depth, want.predicted_root_depth, rtol=0, atol=1e-6)


def test_without_identity_blocks_the_new_blocks_change_the_outputs(shallow):
    net, path, _ = shallow
    image, K = _pose_inputs()
    with torch.no_grad():
        fresh, want = _deep(path, identity=False).backbone(image), net.backbone(image)
        same = _deep(path, identity=True).backbone(image)
    torch.testing.assert_close(same, want, rtol=0, atol=1e-5)
    assert (fresh - want).abs().max() > 1e-2 * want.abs().max()


def test_only_blocks_with_every_weight_fresh_become_identities(shallow):
    _, path, _ = shallow
    deep = build_model(model_config(TrainConfig(model="tiny", model_overrides=_overrides([2, 2, 2, 2]))), "pose")
    fresh = init_from_checkpoint(deep, str(path), "pose")
    names = identity_blocks(deep, fresh)
    assert len(names) == 4 and all(n.endswith(".1") for n in names), names
    for name, module in deep.named_modules():
        if name in names:
            assert torch.count_nonzero(module.bn2.weight) == 0
        elif name.endswith(".0") and hasattr(module, "bn2"):
            assert torch.count_nonzero(module.bn2.weight) > 0, f"{name} came from the checkpoint"


def test_the_pose_stage_starts_from_a_gsdf_checkpoints_pose_net(shallow, tmp_path):
    net, _, mcfg = shallow
    gsdf = build_model(mcfg, "gsdf")
    gsdf.pose_net.load_state_dict(net.state_dict())
    path = tmp_path / "gsdf.pt"
    save_checkpoint(path, Checkpoint(model_config=mcfg.to_dict(), stage="sdf", model_state=gsdf.state_dict()))
    image, K = _pose_inputs()
    with torch.no_grad():
        torch.testing.assert_close(_deep(path, identity=True)(image, K).volume, net(image, K).volume,
                                   rtol=0, atol=1e-5)


def test_other_stages_are_still_refused(shallow, tmp_path):
    net, _, mcfg = shallow
    path = tmp_path / "pose.pt"
    save_checkpoint(path, Checkpoint(model_config=mcfg.to_dict(), stage="pose", model_state=net.state_dict()))
    with pytest.raises(CheckpointError, match="stage"):
        init_from_checkpoint(build_model(mcfg, "gsdf"), str(path), "sdf")


def test_pose_checkpoint_replaces_the_pose_net_of_init_checkpoint(shallow, tmp_path, randomise_batchnorm):
    """Fine-tuning a shape net on a newer pose net: the shape net comes from ``init_checkpoint``, the
    frozen pose net from ``pose_checkpoint``, whichever order they load in."""
    newer, pose_path, mcfg = shallow
    gsdf = build_model(mcfg, "gsdf")
    randomise_batchnorm(gsdf, 2)
    init_path = tmp_path / "gsdf.pt"
    save_checkpoint(init_path, Checkpoint(model_config=mcfg.to_dict(), stage="sdf", model_state=gsdf.state_dict()))
    cfg = TrainConfig(stage="sdf", model="tiny", model_overrides=_overrides([1, 1, 1, 1]), device="cpu",
                      init_checkpoint=str(init_path), pose_checkpoint=str(pose_path))
    built = build_stage_model(cfg, model_config(cfg)).state_dict()
    old, new = gsdf.state_dict(), newer.state_dict()
    pose_names = [k for k in built if k.startswith("pose_net.")]
    shape_names = [k for k in built if not k.startswith("pose_net.")]
    assert pose_names and shape_names
    assert any(not torch.equal(old[k], new[k[len("pose_net."):]]) for k in pose_names), "the two pose nets differ"
    for name in pose_names:
        assert torch.equal(built[name], new[name[len("pose_net."):]]), name
    for name in shape_names:
        assert torch.equal(built[name], old[name]), name
