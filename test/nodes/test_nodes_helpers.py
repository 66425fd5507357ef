"""The ROS-free helpers of the nodes: validation, pairing, the crop window, hand-off, rate limit,
crop boxes, diagnostics meters and parameter specs."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pytest

from gsdf_ros.geometry import Intrinsics
from gsdf_ros.nodes import diagnostics
from gsdf_ros.nodes.cropping import TrackedHand, choose_box, full_frame_box
from gsdf_ros.nodes.flow import LatestSlot, RateLimiter, StampWindow
from gsdf_ros.nodes.pairing import StampPairer, stamp_order_reason
from gsdf_ros.nodes.params import ParamSpec
from gsdf_ros.nodes.validation import CameraFacts, RejectCounter, RejectReason, check_frame, check_intrinsics

K = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]
CAMERA = CameraFacts(640, 480, K, 10)


@pytest.mark.parametrize(
    ("encoding", "size", "stamp", "camera", "reason"),
    [
        ("rgb8", (640, 480), 10, CAMERA, None),
        (None, (640, 480), 10, CAMERA, None),
        ("16UC1", (640, 480), 10, CAMERA, RejectReason.UNSUPPORTED_ENCODING),
        ("rgb8", (320, 240), 10, CAMERA, RejectReason.SIZE_MISMATCH),
        ("rgb8", (640, 480), 0, CAMERA, RejectReason.ZERO_STAMP),
        ("rgb8", (640, 480), 10, CameraFacts(640, 480, [0.0] * 9, 10), RejectReason.BAD_INTRINSICS),
        ("rgb8", (640, 480), 10, CameraFacts(640, 480, [float("nan")] + K[1:], 10), RejectReason.BAD_INTRINSICS),
    ],
)
def test_check_frame(encoding, size, stamp, camera, reason) -> None:
    assert check_frame(encoding, size[0], size[1], stamp, camera) is reason


def test_check_intrinsics_needs_zero_skew_and_a_proper_last_row() -> None:
    assert check_intrinsics(K) is None
    assert check_intrinsics(K[:1] + [1.0] + K[2:]) is RejectReason.BAD_INTRINSICS
    assert check_intrinsics(K[:8] + [2.0]) is RejectReason.BAD_INTRINSICS
    assert check_intrinsics(K[:8]) is RejectReason.BAD_INTRINSICS


def test_reject_counter() -> None:
    counter = RejectCounter()
    assert counter.add(RejectReason.ZERO_STAMP) == 1
    assert counter.add(RejectReason.ZERO_STAMP) == 2
    counter.add(RejectReason.BAD_INTRINSICS)
    assert counter.total == 3
    assert counter.as_dict() == {"bad_intrinsics": 1, "zero_stamp": 2}


def test_stamp_order_reasons() -> None:
    assert stamp_order_reason(None, 5, 100) is None
    assert stamp_order_reason(5, 6, 100) is None
    assert stamp_order_reason(5, 5, 100) is RejectReason.REPEATED_STAMP
    assert stamp_order_reason(50, 40, 100) is RejectReason.OUT_OF_ORDER
    assert stamp_order_reason(500, 40, 100) is RejectReason.TIME_JUMP_BACK


def test_pairer_matches_exact_stamps_in_either_order_and_skips_older() -> None:
    pairer: StampPairer[str, str] = StampPairer(queue_size=3)
    assert pairer.add_image(1, "i1").pair is None
    assert pairer.add_image(2, "i2").pair is None
    result = pairer.add_info(2, "c2")
    assert result.pair == ("i2", "c2") and result.unpaired == 1  # i1 can no longer match
    assert pairer.add_info(3, "c3").pair is None
    assert pairer.add_image(3, "i3").pair == ("i3", "c3")


def test_pairer_tolerance_queue_bound_and_order_checks() -> None:
    pairer: StampPairer[str, str] = StampPairer(queue_size=2, tolerance_ns=5, jump_back_ns=100)
    assert pairer.add_info(100, "c").pair is None
    assert pairer.add_image(104, "i").pair == ("i", "c")
    for stamp in (200, 300):
        pairer.add_image(stamp, "x")
    assert pairer.add_image(400, "x").unpaired == 1
    assert pairer.add_image(400, "x").reject is RejectReason.REPEATED_STAMP
    assert pairer.add_image(350, "x").reject is RejectReason.OUT_OF_ORDER
    assert pairer.add_image(1, "x").reject is RejectReason.TIME_JUMP_BACK
    pairer.reset()
    assert pairer.add_image(1, "x").reject is None
    with pytest.raises(ValueError):
        StampPairer(queue_size=0)


@dataclass
class _Sample:
    stamp_ns: int
    frame_id: str = "cam"


def test_stamp_window_keeps_the_newest_in_order() -> None:
    window: StampWindow[_Sample] = StampWindow(3, jump_back_ns=100)
    for stamp in (1, 2, 3, 4):
        assert window.add(_Sample(stamp)) == (True, None)
    assert [s.stamp_ns for s in window.snapshot()] == [2, 3, 4]
    assert window.add(_Sample(4)) == (False, RejectReason.REPEATED_STAMP)
    assert window.add(_Sample(3)) == (False, RejectReason.OUT_OF_ORDER)
    assert window.add(_Sample(5, "other")) == (True, RejectReason.FRAME_MISMATCH)
    assert [s.stamp_ns for s in window.snapshot()] == [5]
    window.add(_Sample(1000, "other"))
    assert window.add(_Sample(2, "other")) == (True, RejectReason.TIME_JUMP_BACK)
    assert [s.stamp_ns for s in window.snapshot()] == [2]


def test_latest_slot_replaces_waiting_items_and_wakes_on_close() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.take(0.1) == 2
    assert slot.take(0.01) is None
    got = []
    taker = threading.Thread(target=lambda: got.append(slot.take(5.0)))
    taker.start()
    slot.close()
    taker.join(2.0)
    assert got == [None]


def test_rate_limiter_with_a_fake_clock() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, clock=lambda: now[0])
    assert limiter.ready() and limiter.ready()
    limiter.done()
    assert not limiter.ready()
    now[0] = 0.6
    assert limiter.ready()
    assert not RateLimiter(0.0).ready()


def test_rate_meter_latency_and_reports() -> None:
    now = [0.0]
    meter = diagnostics.RateMeter(window_s=10.0, clock=lambda: now[0])
    assert diagnostics.input_report(meter, 2.0, "image").level == diagnostics.WARN
    for _ in range(11):
        meter.tick()
        now[0] += 0.1
    assert meter.rate_hz() == pytest.approx(10.0, rel=0.1)
    assert diagnostics.input_report(meter, 2.0, "image").level == diagnostics.OK
    now[0] += 5.0
    assert "no image for" in diagnostics.input_report(meter, 2.0, "image").message
    stats = diagnostics.LatencyStats()
    for ms in (10.0, 30.0):
        stats.add(ms)
    assert diagnostics.latency_values("e2e", stats) == {
        "e2e last (ms)": 30.0, "e2e mean (ms)": 20.0, "e2e max (ms)": 30.0
    }
    report = diagnostics.Report()
    report.worsen(diagnostics.ERROR, "bad")
    report.worsen(diagnostics.WARN, "less bad")
    assert (report.level, report.message) == (diagnostics.ERROR, "bad")


def test_param_spec_checks_choices_and_ranges() -> None:
    assert ParamSpec("m", "a", "", choices=("a", "b")).check("c") == "m must be one of a, b, got 'c'"
    assert ParamSpec("n", 1, "", min_value=1, max_value=3).check(4) == "n must be <= 3, got 4"
    assert ParamSpec("n", 1, "", min_value=1, max_value=3).check(2) is None


INTRINSICS = Intrinsics(500.0, 500.0, 300.0, 200.0, 640, 480)


def test_full_frame_box_covers_the_image_centred_on_the_principal_point() -> None:
    x0, y0, size = full_frame_box(INTRINSICS)
    assert (x0 + size / 2, y0 + size / 2) == (300.0, 200.0)
    assert x0 <= -0.5 and y0 <= -0.5 and x0 + size >= 639.5 and y0 + size >= 479.5


def test_choose_box_modes_and_fallbacks() -> None:
    joints = np.array([[0.0, 0.0, 0.5]] * 20 + [[0.05, 0.05, 0.5]])
    hand = TrackedHand(1_000, "cam", joints)
    common = dict(intrinsics=INTRINSICS, frame_id="cam", timeout_ns=500, pad_px=10.0, enlarge=1.0)
    assert choose_box("roi", roi=[1.0, 2.0, 30.0], hand=None, stamp_ns=1_100, **common) == ((1.0, 2.0, 30.0), "roi")
    assert choose_box("roi", roi=[0.0, 0.0, 0.0], hand=None, stamp_ns=1_100, **common)[1] == "full"
    box, mode = choose_box("tracked", roi=[], hand=hand, stamp_ns=1_100, **common)
    assert mode == "tracked" and box == pytest.approx((290.0, 190.0, 70.0))
    assert choose_box("tracked", roi=[], hand=hand, stamp_ns=2_000, **common)[1] == "full"  # stale
    other_camera = TrackedHand(1_000, "other", joints)
    assert choose_box("tracked", roi=[], hand=other_camera, stamp_ns=1_100, **common)[1] == "full"
    behind = TrackedHand(1_000, "cam", joints * np.array([1.0, 1.0, -1.0]))
    assert choose_box("tracked", roi=[], hand=behind, stamp_ns=1_100, **common)[1] == "full"
    with pytest.raises(ValueError, match="crop_mode"):
        choose_box("zoom", roi=[], hand=None, stamp_ns=0, **common)
