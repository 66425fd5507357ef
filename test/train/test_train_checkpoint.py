"""Checkpoints: save -> load gives identical outputs; broken files give one CheckpointError naming the file."""

import warnings

import pytest
import torch

from gsdf_ros.checkpoint import CheckpointError, load_checkpoint, load_checkpoint_model, save_checkpoint


def _outputs(model, sample):
    batch = {k: sample[k][None] for k in ("image", "K", "wrist", "points")}
    with torch.no_grad():
        return model.eval()(batch)


def test_save_load_gives_identical_outputs(sdf_run, analytic_data, tmp_path):
    model, checkpoint = load_checkpoint_model(sdf_run.last_checkpoint)
    assert checkpoint.stage == "sdf" and checkpoint.epoch == 20 and checkpoint.step == 20
    assert checkpoint.seed == 0 and checkpoint.version and checkpoint.optimizer_state is not None
    copy = save_checkpoint(tmp_path / "copy.pt", checkpoint)
    again, _ = load_checkpoint_model(copy)
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


def test_a_damaged_file_raises_one_error_and_no_warning(tmp_path):
    """Bytes that open like a pickle of an odd protocol make torch warn before it fails; the warning is
    dropped with the error (the node's one fatal line stays the only one)."""
    path = tmp_path / "damaged.pt"
    path.write_bytes(b"\x80\x69" + bytes(range(256)) * 4)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError, match="damaged.pt"):
            load_checkpoint(path)
    assert not said, [str(w.message) for w in said]


def test_config_weights_mismatch(sdf_run, tmp_path):
    checkpoint = load_checkpoint(sdf_run.last_checkpoint)
    checkpoint.model_config["decoder"]["hand_point_latent"] = 6
    path = save_checkpoint(tmp_path / "mismatch.pt", checkpoint)
    with pytest.raises(CheckpointError, match=r"mismatch.pt: weights do not match the model config: shape mismatch"):
        load_checkpoint(path)


def test_wrong_stage(pose_run):
    with pytest.raises(CheckpointError, match="'pose'-stage model, expected 'sdf'"):
        load_checkpoint_model(pose_run.last_checkpoint, stage="sdf")


def test_export_keeps_weights_and_record_but_drops_optimiser_state(tmp_path):
    """The shipped checkpoint: same model outputs, no optimiser state, smaller file."""
    import torch

    from gsdf_ros.checkpoint import (
        Checkpoint,
        export_for_inference,
        load_checkpoint,
        load_checkpoint_model,
        save_checkpoint,
    )
    from gsdf_ros.model import build_model, get_config

    cfg = get_config("tiny")
    model = build_model(cfg, kind="pose")
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    model(torch.zeros(1, 3, cfg.image_size, cfg.image_size), torch.eye(3)[None] * 100).joints.sum().backward()
    optimizer.step()
    checkpoint = Checkpoint(cfg.to_dict(), "pose", model.state_dict(), epoch=3, seed=7,
                            data_fingerprint="abc", optimizer_state=optimizer.state_dict())
    src = save_checkpoint(tmp_path / "train.pt", checkpoint)
    dst = export_for_inference(src, tmp_path / "ship.pt")
    shipped = load_checkpoint(dst)
    assert shipped.optimizer_state is None and (shipped.epoch, shipped.seed, shipped.data_fingerprint) == (3, 7, "abc")
    assert dst.stat().st_size < 0.5 * src.stat().st_size
    image = torch.rand(1, 3, cfg.image_size, cfg.image_size)
    k = torch.tensor([[[150.0, 0, 64], [0, 150.0, 64], [0, 0, 1]]])
    with torch.no_grad():
        a = load_checkpoint_model(src)[0](image, k).joints
        b = load_checkpoint_model(dst)[0](image, k).joints
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_pose_net_attaches_from_a_pose_or_an_sdf_checkpoint(pose_run, sdf_run):
    from gsdf_ros.model import build_model
    from gsdf_ros.train import attach_pose_net

    _, checkpoint = load_checkpoint_model(sdf_run.last_checkpoint, stage="sdf")
    expected = load_checkpoint_model(pose_run.last_checkpoint, stage="pose")[0].state_dict()
    for source in (pose_run.last_checkpoint, sdf_run.last_checkpoint):
        model = build_model(checkpoint.config, "gsdf")
        before = {k: v.clone() for k, v in model.pose_net.state_dict().items()}
        attach_pose_net(model, str(source), checkpoint.config)
        got = model.pose_net.state_dict()
        assert any(not torch.equal(before[k], got[k]) for k in got)
        assert all(torch.equal(expected[k], got[k]) for k in expected)


def _pose_checkpoint(tmp_path, name, seed, cfg=None, **fields):
    """A saved tiny pose-stage checkpoint with weights drawn from ``seed``."""
    from gsdf_ros.checkpoint import Checkpoint
    from gsdf_ros.model import build_model, get_config

    cfg = cfg or get_config("tiny")
    torch.manual_seed(seed)
    model = build_model(cfg, kind="pose")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.num_batches_tracked.fill_(seed)
    return save_checkpoint(tmp_path / name, Checkpoint(cfg.to_dict(), "pose", model.state_dict(), seed=0, **fields))


def test_average_is_the_mean_of_the_weights_and_records_its_sources(tmp_path):
    from gsdf_ros.checkpoint import average_checkpoints

    paths = [_pose_checkpoint(tmp_path, f"epoch_{i}.pt", seed=i, epoch=i, step=10 * i) for i in (1, 2, 3)]
    states = [load_checkpoint(p).model_state for p in paths]
    mean = average_checkpoints(paths)
    dst = save_checkpoint(tmp_path / "average.pt", mean)
    averaged = load_checkpoint(dst)
    assert averaged.averaged_from == [str(p) for p in paths] and (averaged.epoch, averaged.step) == (3, 30)
    assert averaged.optimizer_state is None
    for key, value in averaged.model_state.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, sum(s[key] for s in states) / 3)
        else:
            assert torch.equal(value, states[-1][key])
    assert load_checkpoint_model(dst, stage="pose")[0] is not None


def test_average_of_one_is_the_checkpoint_and_of_other_models_an_error(tmp_path):
    from gsdf_ros.checkpoint import average_checkpoints
    from gsdf_ros.model import get_config

    one = _pose_checkpoint(tmp_path, "one.pt", seed=1)
    alone = average_checkpoints([one])
    assert all(torch.equal(v, load_checkpoint(one).model_state[k]) for k, v in alone.model_state.items())
    other_cfg = get_config("tiny")
    other_cfg.pose.root_depth.hidden = 32
    other = _pose_checkpoint(tmp_path, "other.pt", seed=2, cfg=other_cfg)
    with pytest.raises(CheckpointError, match="another model"):
        average_checkpoints([one, other])
    with pytest.raises(ValueError, match="no checkpoint"):
        average_checkpoints([])


def test_export_cli_averages_several_checkpoints(tmp_path, capsys):
    from gsdf_ros.cli.export import main

    paths = [str(_pose_checkpoint(tmp_path, f"e{i}.pt", seed=i)) for i in (1, 2)]
    assert main([*paths, str(tmp_path / "avg.pt")]) == 0
    assert load_checkpoint(tmp_path / "avg.pt").averaged_from == paths
    assert main([*paths, str(tmp_path / "missing.pt"), str(tmp_path / "bad.pt")]) == 2
    assert "missing.pt" in capsys.readouterr().err
