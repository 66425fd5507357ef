"""Published module sizes of the ``paper`` preset (§1.9), config registry and dict/YAML round trip."""

import pytest
import torch

from gsdf_ros.model import GSDFConfig, build_model, count_parameters, get_config, list_configs, register_config
from gsdf_ros.model.backbone import create_backbone
from gsdf_ros.model.config import BackboneConfig

TEMPLATE = torch.zeros(21, 3)


@pytest.fixture(scope="module")
def paper_video():
    return build_model("paper_video", template=TEMPLATE)


def test_paper_module_sizes_match_published_counts(paper_video):
    m = paper_video
    counts = {
        "resnet18_trunk": count_parameters(m.backbone),
        "pose_resnet18_trunk": count_parameters(m.pose_net.backbone),
        "unet_512_256_3": count_parameters(m.object_neck),
        "pose_unet_512_256_3": count_parameters(m.pose_net.neck),
        "unet_512_256_1": count_parameters(m.sdf_neck),
        "sdf_encoder": count_parameters(m.visual),
        "hand_volume_head": count_parameters(m.pose_net.volume_head),
        "object_volume_head": count_parameters(m.object_head),
        "hand_sdf_head": count_parameters(m.hand_decoder),
        "object_sdf_head": count_parameters(m.object_decoder),
        "video_transformer": count_parameters(m.temporal),
    }
    assert counts == {
        "resnet18_trunk": 11_176_512,
        "pose_resnet18_trunk": 11_176_512,
        "unet_512_256_3": 4_195_840,
        "pose_unet_512_256_3": 4_195_840,
        "unet_512_256_1": 2_097_664,
        "sdf_encoder": 66_816,
        "hand_volume_head": 345_408,
        "object_volume_head": 16_448,
        "hand_sdf_head": 790_427,
        "object_sdf_head": 790_385,
        "video_transformer": 25_339_136,
    }
    # The published totals plus this package's root-depth head (the pose net's only addition).
    root_head = count_parameters(m.pose_net.root_head)
    assert count_parameters(m.pose_net) - root_head == 15_717_760
    assert count_parameters(m) - root_head == sum(counts.values())  # 60,190,988: the doc's 60.19M
    assert count_parameters(m, trainable_only=True) == count_parameters(m) - count_parameters(m.pose_net)


def test_paper_decoder_layer_shapes(paper_video):
    shapes = [tuple(layer.weight.shape) for layer in paper_video.hand_decoder.layers]
    assert shapes == [(512, 307), (205, 512), (512, 512), (512, 512), (1, 512)]


def test_presets_and_round_trips():
    assert {"paper", "paper_video", "tiny", "tiny_video"} <= set(list_configs())
    for name in list_configs():
        cfg = get_config(name)
        assert GSDFConfig.from_dict(cfg.to_dict()) == cfg
        assert GSDFConfig.from_yaml(cfg.to_yaml()) == cfg
    paper = get_config("paper")
    assert (paper.image_size, paper.heatmap_size, paper.depth_bins, paper.sdf_map_size) == (256, 64, 64, 16)
    get_config("paper").decoder.width = 7  # a fresh copy each time
    assert get_config("paper").decoder.width == 512


def test_config_errors():
    with pytest.raises(ValueError, match="unknown config"):
        get_config("nope")
    with pytest.raises(ValueError, match="unknown keys"):
        GSDFConfig.from_dict({"decoder": {"widht": 3}})
    with pytest.raises(ValueError, match="hand_point_latent"):
        GSDFConfig.from_dict({"decoder": {"hand_point_latent": 50}})
    with pytest.raises(ValueError, match="already registered"):
        register_config("paper")(lambda: GSDFConfig())


def test_backbone_pretrained_path_errors(tmp_path):
    cfg = BackboneConfig(layers=(1, 1, 1, 1), channels=(8, 8, 8, 8), stem_width=8)
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        create_backbone(BackboneConfig(**{**cfg.__dict__, "pretrained_path": str(tmp_path / "missing.pt")}))
    good = create_backbone(cfg)
    path = tmp_path / "w.pt"
    torch.save({**good.trunk.state_dict(), "fc.weight": torch.zeros(1)}, path)
    loaded = create_backbone(BackboneConfig(**{**cfg.__dict__, "pretrained_path": str(path)}))
    torch.testing.assert_close(loaded.trunk.conv1.weight, good.trunk.conv1.weight)
    wide = BackboneConfig(**{**cfg.__dict__, "channels": (16, 16, 16, 16), "pretrained_path": str(path)})
    with pytest.raises(ValueError, match="do not fit"):
        create_backbone(wide)
