"""Test-session set-up: every run gets its own ROS domain, DDS stays on loopback."""

from __future__ import annotations

import importlib.util
import os
import signal

import pytest

from gsdf_ros.ros_domain import claim_domain_id, isolated_ros_environment

_CLAIM = None


def pytest_configure(config: pytest.Config) -> None:
    """Claim a ROS domain id for this run before any test imports rclpy."""
    global _CLAIM
    # A shell that runs a job in the background starts it with SIGINT ignored, and that would be
    # inherited by every node process the tests start and stop with SIGINT: restore the default.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _CLAIM = claim_domain_id()
    os.environ.update(isolated_ros_environment(_CLAIM))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CLAIM is not None:
        _CLAIM.release()


def pytest_report_header(config: pytest.Config) -> str:
    return (f"ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID')} "
            f"ROS_AUTOMATIC_DISCOVERY_RANGE={os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE')}")


def ros_missing() -> str | None:
    """Why the ROS tests cannot run here (no rclpy, or the gsdf interfaces not built), or None."""
    for module, why in (("rclpy", "rclpy is not importable: source env.sh"),
                        ("gsdf.msg", "gsdf interfaces are not built: run tools/setup.sh and source env.sh")):
        try:
            if importlib.util.find_spec(module) is None:
                return why
        except (ImportError, ValueError):
            return why
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``ros`` are skipped, not failed, without the ROS environment."""
    why = ros_missing()
    if why is None:
        return
    skip = pytest.mark.skip(reason=why)
    for item in items:
        if item.get_closest_marker("ros") is not None:
            item.add_marker(skip)


def _randomise_batchnorm(model, seed: int, spread: float = 1.0, var_floor: float = 0.5) -> None:
    """Every BatchNorm2d of ``model`` given weights, biases and running means uniform in ±spread/2 and
    running variances in [var_floor, var_floor + 1): far from the identity, so eval-mode outputs depend
    on every batch norm and a wrong fold or load shows."""
    import torch

    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                for t in (m.weight, m.bias, m.running_mean):
                    t.copy_((torch.rand(t.shape, generator=g) - 0.5) * spread)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + var_floor)


@pytest.fixture(scope="session")
def randomise_batchnorm():
    """:func:`_randomise_batchnorm`, for tests and fixtures of any scope."""
    return _randomise_batchnorm
