"""A corrupt, truncated, foreign or missing checkpoint stops the inference node with one fatal line
that names the file and the problem, exit code 2 and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros
MODEL_LOAD_EXIT_CODE = 2
ROOT = Path(__file__).resolve().parents[2]


def _bad_checkpoints(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, words the error must contain)."""
    torch = pytest.importorskip("torch")
    whole = folder / "whole.pt"
    torch.save({"model_state": {"w": torch.zeros(64, 64)}, "stage": "sdf"}, whole)
    truncated = folder / "truncated.pt"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    garbage = folder / "garbage.pt"
    garbage.write_bytes(os.urandom(4096))
    foreign = folder / "foreign.pt"
    torch.save({"weights": torch.ones(3)}, foreign)
    return {
        "truncated": (truncated, "truncated or corrupt"),
        "garbage": (garbage, "cannot be read"),
        "foreign": (foreign, "not a gsdf checkpoint"),
        "missing": (folder / "missing.pt", "not found"),
    }


def _inference_command() -> list[str]:
    """The node of this source tree (what ``gsdf_inference`` runs once the package is built)."""
    return [sys.executable, "-m", "gsdf_ros.nodes.inference_node"]


def test_bad_checkpoints_end_the_node_with_one_line_naming_the_file(tmp_path: Path) -> None:
    pytest.importorskip("rclpy", reason="rclpy is not installed: source env.sh (tools/setup.sh builds it)")
    cases = _bad_checkpoints(tmp_path)
    procs = {
        name: subprocess.Popen([*_inference_command(), "--ros-args", "-p", f"checkpoint:={path}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        for name, (path, _) in cases.items()
    }
    for name, proc in procs.items():
        path, words = cases[name]
        out, _ = proc.communicate(timeout=60)
        lines = [line for line in out.splitlines() if line.strip()]
        fatal = [line for line in lines if "FATAL" in line]
        assert proc.returncode == MODEL_LOAD_EXIT_CODE, (name, out)
        assert "Traceback" not in out, (name, out)
        assert len(fatal) == 1 and str(path) in fatal[0] and words in fatal[0], (name, out)
        assert lines == fatal, (name, out)
        print(f"\n{name}: {fatal[0]}")
