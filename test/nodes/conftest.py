"""Fixtures for the node tests: node processes and an in-process rclpy probe node."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def node_process() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``python -m gsdf_ros.nodes.<module> --ros-args ...``; stopped with SIGINT afterwards,
    and it must then exit cleanly (code 0)."""
    started: list[subprocess.Popen] = []

    def start(module: str, *ros_args: str) -> subprocess.Popen:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
        cmd = [sys.executable, "-m", f"gsdf_ros.nodes.{module}", "--ros-args", *ros_args]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        assert proc.returncode == 0, out


@pytest.fixture
def probe() -> Iterator[Any]:
    """An rclpy node in this process, with helpers to spin until a condition holds and to send until
    messages flow."""
    rclpy = pytest.importorskip("rclpy")
    rclpy.init()
    node = rclpy.create_node("gsdf_test_probe")

    def spin_until(condition: Callable[[], bool], timeout_s: float, step: Callable[[], None] | None = None) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if step is not None:
                step()
            rclpy.spin_once(node, timeout_sec=0.05)
            if condition():
                return True
        return False

    def warm_up(send: Callable[[int], None], flowing: Callable[[], bool], tries: int = 60) -> bool:
        """Call ``send(i)`` for i = 0, 1, ... until ``flowing()``: a publisher can see a subscription
        before the subscriber has matched it, and what is sent in that window is lost."""
        for i in range(tries):
            send(i)
            if flowing():
                return True
        return False

    node.spin_until = spin_until
    node.warm_up = warm_up
    yield node
    node.destroy_node()
    rclpy.try_shutdown()
