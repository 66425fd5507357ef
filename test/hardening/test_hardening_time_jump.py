"""A jump back in time (a bag replayed in a loop, a simulator reset) restarts the crop window: no
reconstruction mixes frames from before and after the jump."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gsdf_ros.nodes.flow import StampWindow
from gsdf_ros.nodes.validation import RejectReason

SEC = 1_000_000_000
JUMP_NS = SEC


@dataclass(frozen=True)
class Sample:
    stamp_ns: int
    frame_id: str
    segment: int  # how many jumps back came before it


steps_ns = st.one_of(st.integers(1, SEC // 10), st.integers(-SEC // 2, 0), st.integers(-100 * SEC, -JUMP_NS))


@settings(max_examples=500, deadline=None)
@given(length=st.integers(1, 8), steps=st.lists(steps_ns, max_size=60))
def test_window_never_holds_frames_from_both_sides_of_a_jump(length: int, steps: list[int]) -> None:
    window: StampWindow[Sample] = StampWindow(length, JUMP_NS)
    stamp, segment, newest = 1000 * SEC, 0, None
    for step in steps:
        stamp += step
        is_jump = newest is not None and newest - stamp >= JUMP_NS
        segment += is_jump
        accepted, reason = window.add(Sample(stamp, "cam", segment))
        assert (reason is RejectReason.TIME_JUMP_BACK) == is_jump
        if accepted:
            newest = stamp
        held = window.snapshot()
        assert len(held) <= length and {s.segment for s in held} == {held[-1].segment}
        assert all(a.stamp_ns < b.stamp_ns for a, b in zip(held, held[1:]))
        if is_jump:
            assert held == [Sample(stamp, "cam", segment)]


@pytest.mark.ros
def test_inference_process_restarts_its_window_when_time_jumps_back(node_process, probe) -> None:
    pytest.importorskip("gsdf.msg", reason="gsdf interfaces are not built: run tools/setup.sh")
    import hardening_messages as hm
    from hardening_predictors import window_offsets_s

    node = hm.start_inference(node_process, probe, "hardening_predictors:window_echo")
    proc, pub, results, diag = node.process, node.crops, node.results, node.diagnostics

    first = [100 * SEC + i * hm.PERIOD_NS for i in range(8)]
    replay = [10 * SEC + i * hm.PERIOD_NS for i in range(8)]  # the same clip again, from an earlier time
    for stamp in first + replay:
        pub.publish(hm.crop_frame(stamp))
        probe.spin_until(lambda: False, 0.06)
    assert probe.spin_until(lambda: results and hm.conv.stamp_to_ns(results[-1].header.stamp) == replay[-1], 10)
    assert probe.spin_until(lambda: diag.rejects("gsdf_inference").get("time_jump_back") == 1, 5), diag.latest
    assert proc.poll() is None

    segments = [set(first), set(replay)]
    after_jump = 0
    for result in results:
        newest = hm.conv.stamp_to_ns(result.header.stamp)
        window = {newest + round(dx * 1e9) for dx in window_offsets_s([p.x for p in result.hand_joints])}
        assert len(window) == result.window_length
        assert any(window <= segment for segment in segments), f"result {newest} mixes frames: {sorted(window)}"
        if newest in replay:
            assert max(window) == newest and len(window) <= replay.index(newest) + 1
            after_jump += 1
    assert after_jump >= 4, "results resume after the jump"
