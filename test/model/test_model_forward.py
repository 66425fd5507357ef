"""End-to-end forward of the ``tiny`` model (real IK on the package template), gradients and losses."""

import pytest
import torch

from gsdf_ros.model import GSDFNet, build_model, count_parameters, get_config
from gsdf_ros.model.gsdf import _bone_frames
from gsdf_ros.model.losses import gsdf_loss, pose_loss


def make_batch(cfg, batch: int = 2, points: int = 64, frames: int | None = None, wrist: bool = True) -> dict:
    gen = torch.Generator().manual_seed(3)
    lead = (batch,) if frames is None else (batch, frames)
    size = cfg.image_size
    K = torch.tensor([[300.0, 0.0, size / 2], [0.0, 300.0, size / 2], [0.0, 0.0, 1.0]]).expand(*lead, 3, 3)
    out = {
        "image": torch.randn(*lead, 3, size, size, generator=gen),
        "K": K.clone(),
        "points": torch.rand(*lead, points, 3, generator=gen) * 2 - 1,
    }
    if wrist:
        out["wrist"] = torch.tensor([0.02, -0.01, 0.6]) + 0.01 * torch.randn(*lead, 3, generator=gen)
    return out


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_model("tiny")


def test_ik_gives_frames_of_the_expected_shape(tiny):
    joints = tiny.template[None] + torch.tensor([0.0, 0.0, 0.6])
    frames, valid = _bone_frames(joints, tiny.template)
    assert frames.shape == (1, 16, 4, 4) and bool(valid.all())
    torch.testing.assert_close(frames[0, 0], torch.eye(4), atol=1e-4, rtol=0)  # rest pose: wrist frame = I


def test_forward_shapes_finite_and_gradients(tiny):
    model = tiny.train()
    assert not model.pose_net.training and model.hand_decoder.training
    batch = make_batch(get_config("tiny"))
    out = model(batch)
    assert out["hand_sdf"].shape == (2, 64) and out["obj_sdf"].shape == (2, 64)
    assert out["obj_center"].shape == (2, 3) and out["joints"].shape == (2, 21, 3)
    assert all(torch.isfinite(v).all() for k, v in out.items() if k != "valid")
    assert out["hand_sdf"].abs().max() < 1 and out["obj_sdf"].abs().max() < 1
    torch.testing.assert_close(out["wrist"], batch["wrist"])
    torch.testing.assert_close(out["root_depth"], batch["wrist"][:, 2])
    targets = {
        "hand_sdf": torch.zeros(2, 64),
        "obj_sdf": torch.zeros(2, 64),
        "from_hand": torch.arange(64).expand(2, 64) < 32,
        "obj_center": batch["wrist"] + 0.05,
    }
    loss = gsdf_loss(out, targets, epoch=0, cfg=model.cfg.loss)["loss"]
    model.zero_grad()
    loss.backward()
    for name in ("backbone", "object_neck", "sdf_neck", "visual", "hand_decoder", "object_decoder"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads), name
    assert all(p.grad is None and not p.requires_grad for p in model.pose_net.parameters())


def test_encode_decode_split_matches_forward(tiny):
    model = tiny.eval()
    batch = make_batch(get_config("tiny"))
    with torch.no_grad():
        out = model(batch)
        state = model.encode(batch["image"], batch["K"], batch["wrist"])
        hand_a, obj_a = model.decode_sdf(state, batch["points"][:, :40])
        hand_b, obj_b = model.decode_sdf(state, batch["points"][:, 40:])
    torch.testing.assert_close(torch.cat([hand_a, hand_b], 1), out["hand_sdf"])
    torch.testing.assert_close(torch.cat([obj_a, obj_b], 1), out["obj_sdf"])


def test_live_protocol_places_the_hand_without_ground_truth(tiny):
    model = tiny.eval()
    with torch.no_grad():
        out = model(make_batch(get_config("tiny"), wrist=False))
    torch.testing.assert_close(out["wrist"], out["joints"][:, 0])
    assert (out["root_depth"] > 0).all() and torch.isfinite(out["hand_sdf"]).all()


def test_joints_read_beforehand_replace_the_pose_nets(tiny):
    """``pose_joints`` (the mean over several looks) place the hand and drive the kinematic features."""
    model = tiny.eval()
    batch = make_batch(get_config("tiny"), wrist=False)
    joints = torch.tensor([0.01, 0.02, 0.55]) + 0.03 * torch.randn(2, 21, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        own = model.encode(batch["image"], batch["K"])
        given = model.encode(batch["image"], batch["K"], pose_joints=joints)
        sdf_own, _ = model.decode_sdf(own, batch["points"])
        sdf_given, _ = model.decode_sdf(given, batch["points"])
    torch.testing.assert_close(given.joints, joints)
    torch.testing.assert_close(given.wrist, joints[:, 0])
    torch.testing.assert_close(given.root_depth, joints[:, 0, 2])
    assert not torch.allclose(sdf_own, sdf_given), "the decoders read the given joints"
    with pytest.raises(ValueError, match="pose_joints"):
        model.encode(batch["image"], batch["K"], pose_joints=joints[:, :20])


def test_clip_forward_with_temporal_transformer():
    torch.manual_seed(0)
    cfg = get_config("tiny_video")
    model = build_model(cfg).eval()
    torch.nn.init.normal_(model.temporal.skip_proj.weight, std=0.5)  # a fresh residual transformer is the identity
    batch = make_batch(cfg, batch=1, points=16, frames=3)
    with torch.no_grad():
        out = model(batch)
        changed = dict(batch, image=batch["image"].clone())
        changed["image"][0, 2] = torch.randn(3, cfg.image_size, cfg.image_size)
        out_changed = model(changed)
    assert out["hand_sdf"].shape == (1, 3, 16) and out["joints"].shape == (1, 3, 21, 3)
    # Frame 0's SDF depends on frame 2 of its window only through the transformer.
    assert (out["hand_sdf"][0, 0] - out_changed["hand_sdf"][0, 0]).abs().max() > 0
    torch.testing.assert_close(out["joints"][0, 0], out_changed["joints"][0, 0])


def test_pose_net_loss_and_gradients():
    torch.manual_seed(0)
    cfg = get_config("tiny")
    pose = build_model(cfg, kind="pose")
    batch = make_batch(cfg)
    pred = pose(batch["image"], batch["K"])
    assert pred.joints.shape == (2, 21, 3)
    gt = pred.joints.detach() + 0.01
    gt_idx = pred.indices.detach() + 0.5
    losses = pose_loss(pred.joints, gt, cfg.loss, pred.predicted_root_depth, batch["wrist"][:, 2],
                       volume=pred.volume, pred_idx=pred.indices, gt_idx=gt_idx)
    losses["loss"].backward()
    assert set(losses) == {"loss", "heatmap", "joints", "ordinal", "root_depth"}
    assert pose.root_head.mlp[-1].weight.grad.abs().sum() > 0
    assert pose.volume_head.conv.weight.grad.abs().sum() > 0


def test_tiny_sizes():
    model = build_model("tiny")
    assert isinstance(model, GSDFNet)
    assert count_parameters(model) < 5_000_000
    with pytest.raises(ValueError, match="unknown model"):
        build_model("tiny", kind="nope")
    with pytest.raises(ValueError, match="missing"):
        model({"image": torch.zeros(1, 3, 128, 128)})


def test_decode_part_equals_the_matching_output_of_decode_sdf(tiny):
    model = tiny.eval()
    batch = make_batch(get_config("tiny"))
    with torch.no_grad():
        state = model.encode(batch["image"], batch["K"], batch["wrist"])
        hand, obj = model.decode_sdf(state, batch["points"])
        torch.testing.assert_close(model.decode_part(state, batch["points"], "hand"), hand, rtol=0, atol=0)
        torch.testing.assert_close(model.decode_part(state, batch["points"], "object"), obj, rtol=0, atol=0)
    with pytest.raises(ValueError, match="part must be"):
        model.decode_part(state, batch["points"], "arm")
