"""Checkpoints: save -> load gives identical outputs; broken files give one CheckpointError naming the file."""

import pytest
import torch

from gsdf_ros.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint


def _outputs(model, sample):
    batch = {k: sample[k][None] for k in ("image", "K", "wrist", "points")}
    with torch.no_grad():
        return model.eval()(batch)


def test_save_load_gives_identical_outputs(sdf_run, analytic_data, tmp_path):
    model, checkpoint = load_model(sdf_run.last_checkpoint)
    assert checkpoint.stage == "sdf" and checkpoint.epoch == 20 and checkpoint.step == 20
    assert checkpoint.seed == 0 and checkpoint.version and checkpoint.optimizer_state is not None
    copy = save_checkpoint(tmp_path / "copy.pt", checkpoint)
    again, _ = load_model(copy)
    a, b = _outputs(model, analytic_data[0]), _outputs(again, analytic_data[0])
    for key in ("hand_sdf", "obj_sdf", "obj_center", "joints"):
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_missing_file(tmp_path):
    path = tmp_path / "absent.pt"
    with pytest.raises(CheckpointError, match="absent.pt: file does not exist"):
        load_checkpoint(path)


def test_truncated_file(sdf_run, tmp_path):
    data = sdf_run.last_checkpoint.read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.pt: cannot be read") as info:
        load_checkpoint(path)
    assert info.value.__cause__ is None and "\n" not in str(info.value)


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_checkpoint(path)


def test_config_weights_mismatch(sdf_run, tmp_path):
    checkpoint = load_checkpoint(sdf_run.last_checkpoint)
    checkpoint.model_config["decoder"]["hand_point_latent"] = 6
    path = save_checkpoint(tmp_path / "mismatch.pt", checkpoint)
    with pytest.raises(CheckpointError, match=r"mismatch.pt: weights do not match the model config: shape mismatch"):
        load_checkpoint(path)


def test_wrong_stage(pose_run):
    with pytest.raises(CheckpointError, match="'pose'-stage model, expected 'sdf'"):
        load_model(pose_run.last_checkpoint, stage="sdf")
