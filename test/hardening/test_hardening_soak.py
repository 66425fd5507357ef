"""bench/soak.py runs the graph for ~10 s with its test-double predictor and reports rates and
memory per node; a short run must show every rate above zero and no node dying."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]
SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_short_soak_reports_rates_and_memory(tmp_path: Path) -> None:
    pytest.importorskip("rclpy", reason="rclpy is not installed: source env.sh (tools/setup.sh builds it)")
    run = subprocess.run(
        [sys.executable, str(SOAK), "--duration", "10", "--report-every", "3", "--predictor", "fake",
         "--log", str(tmp_path / "graph.log")],
        capture_output=True, text=True, timeout=90,
    )
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0, run.stdout + run.stderr
    progress = [line for line in lines if line.startswith("[soak] t=")]
    summary = json.loads(lines[-1])
    print("\n" + "\n".join(lines))
    assert len(progress) >= 3 and all("rss gsdf_preprocess=" in line for line in progress)
    assert summary["ok"] and summary["died"] == [] and summary["duration_s"] >= 10
    assert all(rate > 0 for rate in summary["rates_hz"].values()), summary["rates_hz"]
    assert set(summary["nodes"]) == {"gsdf_preprocess", "gsdf_inference", "gsdf_outputs"}
    for name, node in summary["nodes"].items():
        assert node["alive"] and node["restarts"] == 0 and node["rss_final_mb"] > 10, (name, node)
        assert isinstance(node["rss_growth_mb"], float)


def test_soak_kill_option_measures_the_inference_restart(tmp_path: Path) -> None:
    pytest.importorskip("rclpy", reason="rclpy is not installed: source env.sh (tools/setup.sh builds it)")
    run = subprocess.run(
        [sys.executable, str(SOAK), "--duration", "10", "--report-every", "5", "--predictor", "fake",
         "--kill-inference-at", "3", "--log", str(tmp_path / "graph.log")],
        capture_output=True, text=True, timeout=90,
    )
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    print("\n" + run.stdout)
    assert run.returncode == 0 and summary["ok"], run.stdout + run.stderr
    assert summary["restart"]["killed_pid"] > 0
    assert 0 < summary["restart"]["resumed_after_s"] < 5.0
    assert summary["died"] == [] and summary["nodes"]["gsdf_inference"]["alive"]
