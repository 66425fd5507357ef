"""Training stages on the analytic data: the SDF loss falls on a small overfit, the pose loss falls,
resuming continues exactly, logs and checkpoints are written."""

import csv

import pytest

from gsdf_ros.train import TrainConfig, load_train_config, parse_overrides, train


def _sdf_terms(row: dict) -> float:
    return row["hand_sdf"] + row["obj_sdf"]


def test_twenty_step_overfit_cuts_the_sdf_loss_fourfold_and_still_falls(sdf_run):
    history = sdf_run.history
    assert len(history) == 20
    assert _sdf_terms(history[-1]) * 4 <= _sdf_terms(history[0])
    assert _sdf_terms(history[-1]) < 0.85 * _sdf_terms(history[-5])


def test_pose_stage_loss_decreases(pose_run):
    losses = [row["loss"] for row in pose_run.history]
    assert sum(losses[-3:]) < 0.5 * sum(losses[:3])


def test_logs_and_checkpoints_are_written(sdf_run):
    out = sdf_run.out_dir
    assert sdf_run.last_checkpoint.is_file()
    assert sorted(p.name for p in out.glob("epoch_*.pt")) == [f"epoch_{e:04d}.pt" for e in (5, 10, 15, 20)]
    with (out / "train_log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20 and set(rows[0]) >= {"epoch", "step", "lr", "loss", "hand_sdf", "obj_sdf", "obj_center"}


def test_resume_continues_exactly(tmp_path, analytic_data, make_config):
    model_overrides = {**make_config(tmp_path, "sdf").model_overrides, "decoder": {"dropout": 0.2}}
    overrides = dict(epochs=4, lr=3e-4, milestones=(2,), model_overrides=model_overrides)
    full = train(make_config(tmp_path / "full", "sdf", **overrides), dataset=analytic_data)
    first = train(make_config(tmp_path / "split", "sdf", **{**overrides, "epochs": 2}), dataset=analytic_data)
    rest = train(make_config(tmp_path / "split", "sdf", **overrides), dataset=analytic_data,
                 resume=first.last_checkpoint)
    assert [r["step"] for r in rest.history] == [3, 4]
    assert [r["loss"] for r in first.history + rest.history] == [r["loss"] for r in full.history]
    assert rest.history[-1]["lr"] == pytest.approx(1.5e-4)


def test_config_files_and_overrides(tmp_path):
    cfg = load_train_config("configs/tiny_sdf.yaml", ["epochs=3", "model_overrides.decoder.dropout=0.0"])
    assert cfg.stage == "sdf" and cfg.epochs == 3 and cfg.model_overrides["decoder"]["dropout"] == 0.0
    assert parse_overrides(["a.b=1", "c=[1, 2]"]) == {"a": {"b": 1}, "c": [1, 2]}
    with pytest.raises(ValueError, match="unknown training config keys"):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["epochs"])
