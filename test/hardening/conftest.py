"""Fixtures for the hardening tests: the node-process and probe fixtures of test/nodes, and this
folder on the PYTHONPATH of every child process (its test-double predictors load as module:factory)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the hardening_* helper modules


def _nodes_fixtures():
    spec = importlib.util.spec_from_file_location("gsdf_test_nodes_fixtures", HERE.parent / "nodes" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_shared = _nodes_fixtures()
node_process = _shared.node_process
probe = _shared.probe


@pytest.fixture(autouse=True)
def doubles_on_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per node the in-process fuzz tests drove: messages fed, published, rejects by reason."""
    messages = sys.modules.get("hardening_messages")  # absent when the fuzz tests were skipped (no ROS)
    if messages is None:
        return
    for node_name, figures in sorted(messages.FUZZ_TALLY.items()):
        terminalreporter.write_line(f"fuzz {node_name}: " + ", ".join(f"{k} {v}" for k, v in sorted(figures.items())))
