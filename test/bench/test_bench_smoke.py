"""Each bench script runs in its --quick mode and prints JSON with the expected keys and positive figures.

No timing is asserted: only that the scripts work and report what their README says.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
TIMEOUT_S = 240


def run_quick(script: str) -> dict[str, Any]:
    """Run ``bench/<script> --quick`` and decode the JSON object it prints before its table."""
    done = subprocess.run([sys.executable, str(BENCH / script), "--quick"], capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]
    report, end = json.JSONDecoder().raw_decode(done.stdout)
    assert "| " in done.stdout[end:], "a table follows the JSON"
    return report


def positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_bench_stages_quick():
    report = run_quick("bench_stages.py")
    assert report["bench"] == "stages" and report["environment"]["date"]
    (case,) = report["cases"]
    assert case["config"] == "tiny" and case["device"] == "cpu" and "skipped" not in case
    assert "random" in case["weights"]
    for stage in ("preprocess", "backbone", "pose_ik", "object_center", "end_to_end"):
        assert positive(case["stages_ms"][stage]["median"]), stage
    assert positive(case["peak_rss_mb"])


def test_bench_pose_looks_quick():
    report = run_quick("bench_pose_looks.py")
    assert report["bench"] == "pose_looks" and report["environment"]["date"]
    assert set(report["pose_path_ms"]) == {"1", "3"}
    for figures in report["pose_path_ms"].values():
        assert positive(figures["median"]) and figures["n"] == 2


def test_bench_mesh_model_quick():
    report = run_quick("bench_mesh_model.py")
    assert report["bench"] == "mesh_model" and report["model"]
    for method in ("dense", "c2f"):
        assert positive(report[method]["queries"]) and positive(report[method]["seconds"])
        assert report[method]["hand_reason"] is None and report[method]["object_reason"] is None
    assert positive(report["query_ratio"]) and positive(report["speedup"])
    for shape in ("hand", "object"):
        gap = report["cd"][shape]
        assert math.isfinite(gap["cd_rel"]) and gap["cd_rel"] >= 0
        assert positive(gap["faces_dense"]) and positive(gap["faces_c2f"])
    assert set(report["meets_targets"]) == {"queries", "speed", "cd"}


def test_bench_ros_overhead_quick():
    pytest.importorskip("rclpy")
    report = run_quick("bench_ros_overhead.py")
    assert report["bench"] == "ros_overhead" and report["process_errors"] == {}
    latency = report["latency_ms"]
    for path in ("image: graph (preprocess node)", "image: bare relay",
                 "result: graph (outputs node)", "result: bare relay"):
        assert latency[path]["n"] > 0 and positive(latency[path]["median"]), path
        assert positive(latency[path]["p90"]), path
    assert len(report["ratio_of_medians"]) == 4
    assert all(positive(v) for v in report["ratio_of_medians"].values())
