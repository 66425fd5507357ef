"""The live path stands on its own: it imports nothing from training, evaluation or the datasets."""

from __future__ import annotations

import subprocess
import sys

import pytest

OFFLINE = ("gsdf_ros.train", "gsdf_ros.evaluate", "gsdf_ros.data.dataset")
LIVE = ["gsdf_ros.inference", "gsdf_ros.reconstruction", "gsdf_ros.predictor", "gsdf_ros.frames"]
NODES = [
    "gsdf_ros.nodes.inference_node", "gsdf_ros.nodes.preprocess_node", "gsdf_ros.nodes.outputs_node",
    "gsdf_ros.nodes.bringup",
]


def _imported_offline_modules(modules: list[str]) -> list[str]:
    code = (
        f"import sys\nfor m in {modules!r}: __import__(m)\n"
        f"print(','.join(m for m in {OFFLINE!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    return [m for m in out.stdout.strip().split(",") if m]


def test_live_modules_import_no_training_evaluation_or_dataset_code() -> None:
    assert _imported_offline_modules(LIVE) == []


@pytest.mark.ros
def test_node_modules_import_no_training_evaluation_or_dataset_code() -> None:
    assert _imported_offline_modules(NODES) == []
