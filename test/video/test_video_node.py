"""The inference node as a ROS 2 process with a random-weights video checkpoint: its window is the
checkpoint's clip length, and results say how many crops they saw (T once T crops arrived)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("rclpy", reason="rclpy is not installed: source env.sh (tools/setup.sh builds it)")
pytest.importorskip("gsdf.msg", reason="gsdf interfaces are not built: run tools/setup.sh")

from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from gsdf.msg import CropFrame, HandObjectReconstruction  # noqa: E402
from gsdf_ros.geometry import Intrinsics, virtual_crop  # noqa: E402
from gsdf_ros.nodes import conversions as conv  # noqa: E402

pytestmark = pytest.mark.ros

random_checkpoint = runpy.run_path(str(Path(__file__).with_name("conftest.py")))["random_checkpoint"]

_NODE_FIXTURES = runpy.run_path(str(Path(__file__).resolve().parents[1] / "nodes" / "conftest.py"))
node_process = _NODE_FIXTURES["node_process"]
probe = _NODE_FIXTURES["probe"]

RELIABLE = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
SEC = 1_000_000_000


def _crop(stamp_ns: int, seed: int) -> CropFrame:
    crop = virtual_crop(Intrinsics(500.0, 500.0, 319.5, 239.5, 640, 480), (200.0, 100.0, 200.0), 64)
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    header = Header(stamp=conv.ns_to_stamp(stamp_ns), frame_id="camera")
    return conv.make_crop_frame(header, pixels, crop, (640, 480), 0)


def _no_surface(net: torch.nn.Module) -> None:
    """Both decoders answer a constant positive SDF: no surface, so meshing stops at the coarse lattice."""
    with torch.no_grad():
        for decoder in (net.hand_decoder, net.object_decoder):
            for name, param in decoder.layers[-1].named_parameters():
                if "bias" in name:
                    param.fill_(1.0)
                elif name in ("weight", "weight_g") or name.endswith("original0"):
                    param.zero_()


@pytest.fixture
def video_node_checkpoint(tmp_path, clip_root) -> Path:
    return random_checkpoint(tmp_path / "video_node.pt", "tiny_video", seed=3, data_root=clip_root, edit=_no_surface)


def test_node_windows_crops_with_the_checkpoints_clip_length(node_process, probe, video_node_checkpoint) -> None:
    node_process("inference_node", "-p", f"checkpoint:={video_node_checkpoint}", "-p", "diagnostics_period_s:=0.5")
    pub = probe.create_publisher(CropFrame, "crop", RELIABLE)
    results: list[HandObjectReconstruction] = []
    probe.create_subscription(HandObjectReconstruction, "reconstruction", results.append, RELIABLE)
    assert probe.spin_until(lambda: pub.get_subscription_count() and probe.count_publishers("reconstruction"), 60)

    for i in range(5):  # one crop at a time, each result awaited: no window is dropped as busy
        stamp = (10 + i) * SEC
        pub.publish(_crop(stamp, i))
        assert probe.spin_until(lambda: results and conv.stamp_to_ns(results[-1].header.stamp) == stamp, 30), i
    assert [r.window_length for r in results] == [1, 2, 3, 3, 3]
