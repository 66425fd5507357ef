"""Every shipped config parses into its training config, and the model configs build from them."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TRAIN_CONFIGS = sorted(p.name for p in CONFIGS.glob("*.yaml") if not p.name.startswith(("detector", "hand_check")))
DETECTOR_CONFIGS = sorted(p.name for p in CONFIGS.glob("detector*.yaml"))
CHECK_CONFIGS = sorted(p.name for p in CONFIGS.glob("hand_check*.yaml"))


def test_there_are_configs_of_both_kinds() -> None:
    assert "tiny_pose.yaml" in TRAIN_CONFIGS and "detector.yaml" in DETECTOR_CONFIGS
    assert "hand_check.yaml" in CHECK_CONFIGS


@pytest.mark.parametrize("name", TRAIN_CONFIGS)
def test_a_training_config_loads_and_builds_its_model_config(name: str) -> None:
    from gsdf_ros.train import load_train_config, model_config

    cfg = load_train_config(CONFIGS / name)
    model = model_config(cfg)  # unknown override keys or bad values fail here
    assert cfg.epochs >= 1 and cfg.out_dir.startswith("runs/")
    layers = cfg.model_overrides.get("pose", {}).get("backbone", {}).get("layers")
    if layers is not None:
        assert list(model.pose.backbone.layers) == list(layers)


@pytest.mark.parametrize("name", DETECTOR_CONFIGS)
def test_a_detector_config_loads(name: str) -> None:
    from gsdf_ros.detect.model import DetectorConfig
    from gsdf_ros.detect.train import DetectorTrainConfig

    cfg = DetectorTrainConfig.from_yaml(CONFIGS / name)
    DetectorConfig(**cfg.model)
    assert cfg.epochs >= 1


@pytest.mark.parametrize("name", CHECK_CONFIGS)
def test_a_hand_check_config_loads(name: str) -> None:
    from gsdf_ros.detect.check import CheckConfig
    from gsdf_ros.detect.check_train import CheckTrainConfig

    cfg = CheckTrainConfig.from_yaml(CONFIGS / name)
    CheckConfig(**cfg.model)
    assert cfg.epochs >= 1 and cfg.out_dir.startswith("runs/")
