"""Only the inference node's process imports torch; the others stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("rclpy", reason="needs the ROS environment (source env.sh)")


@pytest.mark.parametrize("module", ["gsdf_ros.nodes.preprocess_node", "gsdf_ros.nodes.outputs_node", "gsdf_ros.nodes.bringup"])
def test_node_module_does_not_import_torch(module: str) -> None:
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", f"{module} imports torch"


def test_inference_node_process_can_import_torch() -> None:
    """The check above can fail: the inference node's module graph does pull torch in when predicting."""
    code = "import sys, gsdf_ros.nodes.preprocess_node, torch; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr
