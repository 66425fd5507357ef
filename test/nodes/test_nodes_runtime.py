"""``runtime.run`` tells start-up failures ("cannot start") from errors while the node runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.ros

SCRIPT = """
import sys
from rclpy.node import Node
from gsdf_ros.nodes import runtime

def refuse():
    raise runtime.StartupError("no camera here", 3)

class Breaks(Node):
    def __init__(self):
        super().__init__("gsdf_runtime_probe")
        self.create_timer(0.05, self.tick)

    def tick(self):
        raise RuntimeError("a bug while running")

sys.exit(runtime.run(refuse if sys.argv[1] == "start" else Breaks, []))
"""


def run_node(case: str) -> subprocess.CompletedProcess:
    """The probe script in a fresh process: ``start`` fails to start, ``run`` fails while spinning."""
    return subprocess.run([sys.executable, "-c", SCRIPT, case], capture_output=True, text=True, timeout=60)


def test_a_start_up_failure_is_one_cannot_start_line_with_its_exit_code() -> None:
    out = run_node("start")
    assert out.returncode == 3, out.stderr
    assert "cannot start: no camera here" in out.stderr and "Traceback" not in out.stderr


def test_a_run_time_error_is_logged_as_such_with_its_traceback() -> None:
    out = run_node("run")
    assert out.returncode == 1, out.stderr
    assert "stopped by a run-time error" in out.stderr and "a bug while running" in out.stderr
    assert "cannot start" not in out.stderr
