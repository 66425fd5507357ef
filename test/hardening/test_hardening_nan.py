"""NaN or Inf model outputs are counted, never published: a test-double predictor returns a
non-finite result for every other frame."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("rclpy", reason="rclpy is not installed: source env.sh (tools/setup.sh builds it)")
pytest.importorskip("gsdf.msg", reason="gsdf interfaces are not built: run tools/setup.sh")

import hardening_messages as hm  # noqa: E402
from hardening_predictors import FRAME_PERIOD_NS, is_bad_frame  # noqa: E402

from gsdf.msg import HandObjectReconstruction  # noqa: E402

pytestmark = pytest.mark.ros
FRAMES = 12


def _finite(msg: HandObjectReconstruction) -> bool:
    p = msg.object_pose.position
    numbers = [v for j in msg.hand_joints for v in (j.x, j.y, j.z)]
    numbers += [p.x, p.y, p.z, *msg.hand_joint_confidence, msg.object_confidence]
    return all(math.isfinite(v) for v in numbers)


def test_non_finite_results_are_counted_not_published(node_process, probe) -> None:
    node = hm.start_inference(node_process, probe, "hardening_predictors:nan_every_other")
    proc, pub, results, diag = node.process, node.crops, node.results, node.diagnostics

    stamps = [(1000 + k) * FRAME_PERIOD_NS for k in range(FRAMES)]
    for stamp in stamps:
        pub.publish(hm.crop_frame(stamp))
        probe.spin_until(lambda: False, 0.1)
    bad = [s for s in stamps if is_bad_frame(s)]
    assert len(bad) == FRAMES // 2
    received = lambda: int(diag.value("gsdf_inference", "crop received") or 0)  # noqa: E731
    published = lambda: diag.value("gsdf_inference", "poses published") == str(len(results))  # noqa: E731
    assert probe.spin_until(lambda: received() == FRAMES and published(), 10), diag.latest

    values = diag.latest["gsdf_inference"]
    got = [hm.conv.stamp_to_ns(r.header.stamp) for r in results]
    assert all(_finite(r) for r in results)
    assert not set(got) & set(bad), "a non-finite result was published"
    assert int(values["rejected: non_finite"]) + len(results) + int(values["dropped: busy (pose)"]) == FRAMES
    # every bad frame the node processed (not dropped while busy) was counted, none published
    assert int(values["rejected: non_finite"]) >= len(bad) - int(values["dropped: busy (pose)"]) > 0
    good = [s for s in stamps if s not in bad]
    assert set(got) <= set(good) and got == sorted(got)  # only finite frames, in stamp order
    assert len(got) >= len(good) - int(values["dropped: busy (pose)"])
    assert proc.poll() is None
