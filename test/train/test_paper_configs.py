"""The GPU configs a user trains on ObMan/DexYCB parse and run a few pose-stage steps on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from gsdf_ros.synth.generate import SynthConfig, write_dataset
from gsdf_ros.train import load_train_config, train

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def tiny_layout(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout")
    write_dataset(root, 1, 9, SynthConfig(size=128, pose_only=True, views=2, val_frac=0.0, test_frac=0.0))
    return root


@pytest.mark.parametrize("name", ["paper_obman_pose.yaml", "paper_dexycb_pose.yaml", "tiny_pose.yaml"])
def test_pose_config_runs_two_steps_on_cpu(name, tiny_layout, tmp_path):
    overrides = [f"data_root={tiny_layout}", "train_split=train", "subset=null", "batch_size=1", "epochs=1",
                 "workers=0", "amp=false", "device=cpu", "progress=false", f"out_dir={tmp_path}"]
    cfg = load_train_config(CONFIGS / name, overrides)
    result = train(cfg)
    assert len(result.history) == 2
    assert all(row["heatmap"] > 0 and row["root_depth"] >= 0 for row in result.history)
    assert result.last_checkpoint.is_file()


def test_the_ablation_config_differs_from_gsdf_only_in_the_decoder_latents():
    import yaml

    gsdf = yaml.safe_load((CONFIGS / "tiny_sdf.yaml").read_text())
    nokin = yaml.safe_load((CONFIGS / "tiny_sdf_nokin.yaml").read_text())
    assert nokin.pop("model_overrides") == {"decoder": {"hand_point_latent": 3, "obj_point_latent": 3}}
    assert nokin.pop("out_dir") != gsdf.pop("out_dir")
    assert nokin == gsdf
