"""Two real ROS 2 processes: one publishes a reconstruction and /tf, the other checks every field."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("rclpy", reason="rclpy is not installed: source env.sh (tools/setup.sh builds it)")
pytest.importorskip("gsdf.msg", reason="gsdf interfaces are not built: run tools/setup.sh")
pytest.importorskip("tf2_msgs.msg", reason="tf2_msgs is not available: run tools/setup.sh")

from gsdf_ros.nodes import selfcheck  # noqa: E402
from gsdf_ros.ros_domain import claim_domain_id, isolated_ros_environment  # noqa: E402


def test_comparison_reports_each_changed_field() -> None:
    """The comparison the subscriber relies on reports exactly the altered fields."""
    want = selfcheck.expected_reconstruction()
    got = selfcheck.expected_reconstruction()
    assert selfcheck.differences(got, want) == []
    got.hand_joints[7].z += 0.5
    got.stage_names[1] = "other"
    assert selfcheck.differences(got, want) == [
        ".hand_joints[7].z: 1.21875 != 0.71875",
        ".stage_names[1]: 'other' != 'backbone'",
    ]
    tf = selfcheck.expected_tf()
    tf.transforms[2].child_frame_id = "x"
    differences = selfcheck.differences(tf, selfcheck.expected_tf())
    assert differences == [".transforms[2].child_frame_id: 'x' != 'gsdf_hand_index_tip'"]


@pytest.mark.ros
def test_reconstruction_and_tf_round_trip_between_processes() -> None:
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert os.environ.get("ROS_DOMAIN_ID"), "conftest must give this run its own ROS domain"
    code, out = selfcheck.run_pair(timeout_s=30)
    assert code == 0, out
    assert "ROUNDTRIP_OK" in out


@pytest.mark.ros
def test_runs_on_different_domains_do_not_see_each_other() -> None:
    """The per-run domain id isolates concurrent runs: a publisher on another id is not heard."""
    other = claim_domain_id()
    try:
        assert str(other.domain_id) != os.environ["ROS_DOMAIN_ID"]
        code, out = selfcheck.run_pair(timeout_s=4, pub_env=isolated_ros_environment(other))
    finally:
        other.release()
    assert code == 2, out
    assert "TIMEOUT" in out
