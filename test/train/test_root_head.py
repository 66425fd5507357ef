"""The root-depth head's skeleton branch, retraining the head alone (``train_only``), and putting the
retrained head into a whole model (``gsdf-export --root-head``)."""

from __future__ import annotations

import math

import pytest
import torch

from gsdf_ros.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_checkpoint_model,
    save_checkpoint,
    with_root_head,
)
from gsdf_ros.cli.export import main as export_main
from gsdf_ros.model.heads import RootDepthHead, skeleton_inputs
from gsdf_ros.train import freeze_except, train

from .conftest import TINY_64, train_config

SKELETON = {**TINY_64, "pose": {"root_depth": {"skeleton_hidden": 16}}}
K = torch.tensor([[[110.0, 0.0, 32.0], [0.0, 110.0, 32.0], [0.0, 0.0, 1.0]]])


def _skeleton(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 21, 3, generator=g) * torch.tensor([6.0, 6.0, 8.0]) + torch.tensor([5.0, 5.0, 4.0])


def test_skeleton_inputs_read_the_hands_size_not_its_place():
    idx = _skeleton()
    base = skeleton_inputs(idx, 16, 16)
    assert base.shape == (2, 66)
    moved = skeleton_inputs(idx + torch.tensor([3.0, -2.0, 0.0]), 16, 16)
    torch.testing.assert_close(moved[:, :42], base[:, :42])
    torch.testing.assert_close(moved[:, -1], base[:, -1])
    torch.testing.assert_close(moved[:, 63:65] - base[:, 63:65], torch.tensor([[0.375, -0.25]] * 2))
    centre = idx[..., :2].mean(dim=1, keepdim=True)
    doubled = torch.cat([centre + 2.0 * (idx[..., :2] - centre), idx[..., 2:]], dim=-1)
    grown = skeleton_inputs(doubled, 16, 16)
    torch.testing.assert_close(grown[:, -1] - base[:, -1], torch.full((2,), math.log(2.0)))
    torch.testing.assert_close(grown[:, 42:63], base[:, 42:63])


def test_a_skeleton_branch_starts_at_the_plain_heads_depth_and_needs_the_skeleton():
    torch.manual_seed(0)
    plain = RootDepthHead(8, 16, 0.05, 64)
    with torch.no_grad():
        plain.mlp[-1].weight.normal_()
    branched = RootDepthHead(8, 16, 0.05, 64, skeleton_hidden=12)
    branched.load_state_dict(plain.state_dict(), strict=False)
    features = torch.randn(2, 8, 4, 4)
    skeleton = skeleton_inputs(_skeleton(), 16, 16)
    torch.testing.assert_close(branched(features, K.repeat(2, 1, 1), skeleton), plain(features, K.repeat(2, 1, 1)))
    with pytest.raises(ValueError, match="skeleton"):
        branched(features, K.repeat(2, 1, 1))


@pytest.fixture(scope="module")
def root_run(tmp_path_factory, analytic_data, pose_run):
    """The pose run's net with a skeleton branch, its root head alone trained for three epochs."""
    cfg = train_config(tmp_path_factory.mktemp("root"), "pose", model_overrides=SKELETON, epochs=3,
                       init_checkpoint=str(pose_run.last_checkpoint), train_only=("root_head",))
    return train(cfg, dataset=analytic_data)


def test_training_the_root_head_alone_moves_nothing_else(root_run, pose_run):
    before = load_checkpoint(pose_run.last_checkpoint).model_state
    after = load_checkpoint(root_run.last_checkpoint).model_state
    outside = [k for k in after if not k.startswith("root_head.")]
    assert any("running_mean" in k for k in outside) and len(outside) == len(before) - 4
    changed = [k for k in outside if not torch.equal(after[k], before[k])]
    assert not changed, changed[:5]
    assert torch.count_nonzero(after["root_head.skeleton_mlp.4.weight"]) > 0
    assert not torch.equal(after["root_head.mlp.0.weight"], before["root_head.mlp.0.weight"])


def test_train_only_must_name_a_part_of_the_model(pose_run):
    model = load_checkpoint_model(pose_run.last_checkpoint)[0]
    with pytest.raises(ValueError, match="names no parameter"):
        freeze_except(model, ("root_haed",))


def test_export_puts_the_retrained_root_head_into_the_whole_model(root_run, sdf_run, tmp_path):
    out = tmp_path / "model.pt"
    assert export_main([str(sdf_run.last_checkpoint), str(out), "--root-head", str(root_run.last_checkpoint)]) == 0
    model, checkpoint = load_checkpoint_model(out)
    assert checkpoint.root_head_from["path"] == str(root_run.last_checkpoint)
    assert checkpoint.root_head_from["train_config"]["train_only"] == ["root_head"]
    assert checkpoint.optimizer_state is None
    pose = load_checkpoint_model(root_run.last_checkpoint)[0]
    old = load_checkpoint_model(sdf_run.last_checkpoint)[0]
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        got = model.pose_net(image, K)
        want, before = pose(image, K), old.pose_net(image, K)
    torch.testing.assert_close(got.predicted_root_depth, want.predicted_root_depth, rtol=0, atol=0)
    assert not torch.equal(got.predicted_root_depth, before.predicted_root_depth)
    wrist = torch.tensor([0.5])
    with torch.no_grad():
        torch.testing.assert_close(model.pose_net(image, K, wrist).joints, old.pose_net(image, K, wrist).joints,
                                   rtol=0, atol=0)
    shape = {k: v for k, v in checkpoint.model_state.items() if not k.startswith("pose_net.")}
    original = load_checkpoint(sdf_run.last_checkpoint).model_state
    assert all(torch.equal(v, original[k]) for k, v in shape.items())


def test_a_root_head_from_a_changed_pose_net_is_refused(root_run, sdf_run, tmp_path):
    pose = load_checkpoint(root_run.last_checkpoint)
    key = next(k for k in pose.model_state if k.startswith("backbone.") and k.endswith("weight"))
    pose.model_state[key] = pose.model_state[key] + 1e-3
    path = save_checkpoint(tmp_path / "changed.pt", pose)
    with pytest.raises(CheckpointError, match="differs"):
        with_root_head(load_checkpoint(sdf_run.last_checkpoint), load_checkpoint(path), str(path))
    assert export_main([str(sdf_run.last_checkpoint), str(tmp_path / "m.pt"), "--root-head", str(path)]) == 2
    assert not (tmp_path / "m.pt").exists()
