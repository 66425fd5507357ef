"""The video model initialised from a single-frame gSDF (§2): every tensor but the transformer's comes
from the checkpoint, and everything outside the transformer computes what the single-frame model does."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gsdf_ros.checkpoint import Checkpoint, CheckpointError, load_checkpoint, load_checkpoint_model, save_checkpoint
from gsdf_ros.cli.train import main as train_main
from gsdf_ros.model import build_model
from gsdf_ros.model.config import LossConfig
from gsdf_ros.train import TEMPORAL_PREFIX, TrainConfig, build_stage_model, model_config, sdf_stage_loss

from .conftest import open_transformer_skip

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny_video_sdf.yaml"
CLIP_LEN = 3
"""Frames per clip of the ``tiny_video`` preset."""


def _video_model(init: Path, small: dict) -> torch.nn.Module:
    cfg = TrainConfig(stage="sdf", model="tiny_video", model_overrides=small, init_checkpoint=str(init), device="cpu")
    return build_stage_model(cfg, model_config(cfg)).eval()


def test_every_tensor_outside_the_transformer_comes_from_the_checkpoint(single_checkpoint, small):
    reference = load_checkpoint(single_checkpoint).model_state
    state = _video_model(single_checkpoint, small).state_dict()
    fresh = sorted(k for k in state if k.startswith(TEMPORAL_PREFIX))
    assert fresh and not any(k in reference for k in fresh), "the single-frame model has no transformer"
    for name in (k for k in state if not k.startswith(TEMPORAL_PREFIX)):
        assert torch.equal(state[name], reference[name]), name
    assert any(k.startswith("pose_net.") for k in state) and any(k.startswith("sdf_neck.") for k in state)


def test_the_video_model_matches_the_single_frame_one_up_to_the_transformer(single_checkpoint, small):
    single, _ = load_checkpoint_model(single_checkpoint)
    video = _video_model(single_checkpoint, small)
    torch.manual_seed(0)
    images = torch.randn(1, CLIP_LEN, 3, 64, 64)
    K = torch.tensor([[80.0, 0, 32], [0, 80.0, 32], [0, 0, 1]]).expand(1, CLIP_LEN, 3, 3).contiguous()
    q = torch.rand(1, CLIP_LEN, 50, 3) - 0.5
    with torch.no_grad():
        alone = single.encode(images[0], K[0])
        clip = video.encode(images, K)
        for name in ("joints", "obj_center", "root_depth", "frames", "wrist"):  # no temporal fusion of poses
            torch.testing.assert_close(getattr(clip, name), getattr(alone, name), rtol=0, atol=1e-6)
        with_transformer = video.decode_sdf(clip, q)
        open_transformer_skip(video)
        trained_like = video.decode_sdf(video.encode(images, K), q)
        video.temporal = None  # the transformer refines the SDF feature maps; without it both models agree
        without = video.decode_sdf(video.encode(images, K), q)
        expected = single.decode_sdf(alone, q[0])
    for got, fresh, want in zip(without, with_transformer, expected):
        torch.testing.assert_close(got[0], want, rtol=0, atol=1e-6)
        torch.testing.assert_close(fresh[0], want, rtol=0, atol=1e-6)  # a fresh residual transformer is the identity
    assert not torch.allclose(trained_like[0][0], expected[0]), "a transformer with weights changes the SDF"


def test_without_the_residual_an_untrained_transformer_changes_the_sdf(single_checkpoint, small):
    """The paper's transformer replaces the maps: initialised from a single-frame model it starts elsewhere."""
    single, _ = load_checkpoint_model(single_checkpoint)
    video = _video_model(single_checkpoint, dict(small, temporal={"residual": False}))
    assert video.temporal.skip_proj is None
    torch.manual_seed(0)
    images = torch.randn(1, CLIP_LEN, 3, 64, 64)
    K = torch.tensor([[80.0, 0, 32], [0, 80.0, 32], [0, 0, 1]]).expand(1, CLIP_LEN, 3, 3).contiguous()
    q = torch.rand(1, CLIP_LEN, 50, 3) - 0.5
    with torch.no_grad():
        got = video.decode_sdf(video.encode(images, K), q)[0][0]
        want = single.decode_sdf(single.encode(images[0], K[0]), q[0])[0]
    assert not torch.allclose(got, want)


def test_a_checkpoint_of_another_size_is_refused(small, tmp_path):
    """The plain ``tiny`` preset (128 px, 32 depth bins): its volume heads do not fit the 64 px video model."""
    mcfg = model_config(TrainConfig(model="tiny"))
    other = Checkpoint(model_config=mcfg.to_dict(), stage="sdf", model_state=build_model(mcfg).state_dict())
    bad = save_checkpoint(tmp_path / "tiny128.pt", other)
    with pytest.raises(CheckpointError, match="outside the transformer"):
        _video_model(bad, small)


def test_clip_loss_is_the_mean_of_the_per_frame_losses(small):
    """Frame 0 supervises 1 hand point with error 0.04, frame 1 three with error 0.01: mean 0.025
    (pooling the points would give 0.0175)."""
    from_hand = torch.tensor([[[True, False, False, False], [True, True, True, False]]])
    target = torch.zeros(1, 2, 4)
    pred = torch.stack([torch.full((4,), 0.04), torch.full((4,), 0.01)])[None]
    outputs = {"hand_sdf": pred, "obj_sdf": target, "obj_center": torch.zeros(1, 2, 3)}
    batch = {"image": torch.zeros(1, 2, 3, 8, 8), "K": torch.zeros(1, 2, 3, 3), "wrist": torch.zeros(1, 2, 3),
             "points": torch.zeros(1, 2, 4, 3), "hand_sdf": target, "obj_sdf": target, "from_hand": from_hand,
             "obj_center": torch.zeros(1, 2, 3)}
    mcfg = model_config(TrainConfig(model="tiny_video", model_overrides=small))
    losses = sdf_stage_loss(lambda b: outputs, batch, mcfg, epoch=0)
    assert losses["hand_sdf"].item() == pytest.approx(0.025)
    assert losses["loss"].item() == pytest.approx(LossConfig().hand_weight * 0.025)


def test_gsdf_train_video_config_starts_from_the_single_frame_model(single_checkpoint, clip_root, tmp_path):
    out = tmp_path / "video"
    code = train_main(["--config", str(CONFIG), "--data", str(clip_root), "--out", str(out),
                       f"init_checkpoint={single_checkpoint}", "pose_checkpoint=null", "epochs=1", "batch_size=2",
                       "workers=0", "num_points=32", "progress=false", "log_every=1",
                       "model_overrides={image_size: 64, heatmap_size: 16, depth_bins: 16}"])
    assert code == 0
    trained = load_checkpoint(out / "last.pt")
    assert trained.window_length == CLIP_LEN and trained.step == 1
    reference = load_checkpoint(single_checkpoint).model_state
    frozen = [k for k in trained.model_state if k.startswith("pose_net.")]
    unchanged = all(torch.equal(trained.model_state[k], reference[k]) for k in frozen)
    assert frozen and unchanged, "the pose net stays frozen"
    moved = [k for k in trained.model_state if k.startswith("hand_decoder.") and k.endswith("bias")]
    assert any(not torch.equal(trained.model_state[k], reference[k]) for k in moved), "one optimiser step was taken"
