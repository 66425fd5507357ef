"""Only the inference node's process imports torch; the others stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.ros


def torch_imported_after(code: str) -> bool:
    """Whether a fresh interpreter that runs ``code`` ends with torch in ``sys.modules``."""
    script = f"import sys\n{code}\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize(
    "module", ["gsdf_ros.nodes.preprocess_node", "gsdf_ros.nodes.outputs_node", "gsdf_ros.nodes.bringup"]
)
def test_node_module_does_not_import_torch(module: str) -> None:
    assert not torch_imported_after(f"import {module}"), f"{module} imports torch"


def test_inference_node_process_imports_torch_when_it_loads_the_model() -> None:
    """The check above can fail: the same probe sees torch once the inference node loads its model."""
    code = (
        "from gsdf_ros.nodes import graph, inference_node\n"
        "checkpoint = str(graph.package_file(graph.DEFAULT_CHECKPOINT))\n"
        "inference_node.load_node_predictor(checkpoint, 'cpu', 0, {'mesh': 'none'})"
    )
    assert torch_imported_after(code)
