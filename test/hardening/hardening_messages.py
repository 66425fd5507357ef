"""Message builders, hypothesis strategies of bad inputs and a /diagnostics watcher.

A :class:`FrameCase` is one image + camera_info pair with the reject reasons the preprocessing
node must count for it; :func:`frame_cases` turns drawn case kinds into a batch with consistent
stamps (:class:`StampTrack` is the oracle of the per-stream stamp checks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from hypothesis import strategies as st
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from gsdf_ros.geometry import Intrinsics, virtual_crop
from gsdf_ros.nodes import conversions as conv
from gsdf_ros.nodes.image_conversion import COLOUR_ENCODINGS, ENCODINGS, numpy_to_image

SEC = 1_000_000_000
FRAME = "camera_color_optical_frame"
PERIOD_NS = 50_000_000
START_NS = 1000 * SEC
JUMP_BACK_NS = 5 * SEC
SMALL_STEP_BACK_NS = 10_000_000
NON_FINITE = (math.nan, math.inf, -math.inf)

FUZZ_TALLY: dict[str, dict[str, int]] = {}
"""Per node run in process by the fuzz tests: messages fed, outputs published, rejects by reason."""


def tally(node_name: str, fed: int, published: int | None, rejects: dict[str, int]) -> None:
    """Add one node's fuzz figures to :data:`FUZZ_TALLY` (printed at the end of the test run)."""
    entry = FUZZ_TALLY.setdefault(node_name, {"fed": 0})
    entry["fed"] += fed
    if published is not None:
        entry["published"] = entry.get("published", 0) + published
    for reason, count in rejects.items():
        entry[f"reject:{reason}"] = entry.get(f"reject:{reason}", 0) + count


# --- builders ------------------------------------------------------------------------------

def header(stamp_ns: int, frame_id: str = FRAME) -> Header:
    return Header(stamp=conv.ns_to_stamp(stamp_ns), frame_id=frame_id)


def good_k(width: int, height: int, focal: float = 300.0) -> list[float]:
    return [focal, 0.0, width / 2 - 0.5, 0.0, focal, height / 2 - 0.5, 0.0, 0.0, 1.0]


def camera_info(stamp_ns: int, size: tuple[int, int], k: list[float] | None = None) -> CameraInfo:
    return CameraInfo(header=header(stamp_ns), width=size[0], height=size[1], k=good_k(*size) if k is None else k)


def rgb_image(stamp_ns: int, size: tuple[int, int], seed: int = 0) -> Image:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return numpy_to_image(pixels, "rgb8", header=header(stamp_ns))


def crop_frame(stamp_ns: int, frame_id: str = FRAME, size: int = 16) -> Any:
    crop = virtual_crop(Intrinsics(300.0, 300.0, 31.5, 23.5, 64, 48), (0.0, 0.0, 64.0), size)
    return conv.make_crop_frame(header(stamp_ns, frame_id), np.zeros((size, size, 3), np.uint8), crop, (64, 48), 0)


# --- strategies of bad content -------------------------------------------------------------

sizes = st.tuples(st.integers(4, 40), st.integers(4, 40))
unsupported_encodings = st.one_of(
    st.sampled_from(sorted(set(ENCODINGS) - COLOUR_ENCODINGS) + ["yuv422", "RGB8", "rgb16", ""]), st.text(max_size=12)
).filter(lambda e: e not in COLOUR_ENCODINGS)


@st.composite
def bad_intrinsics(draw: st.DrawFn, size: tuple[int, int] = (32, 24)) -> list[float]:
    """A K that must be refused: zeros, a non-finite entry, a non-positive focal length, skew or a bad last row."""
    k = good_k(*size)
    kind = draw(st.sampled_from(["zeros", "non_finite", "focal", "skew", "last_row"]))
    if kind == "zeros":
        return [0.0] * 9
    if kind == "non_finite":
        k[draw(st.integers(0, 8))] = draw(st.sampled_from(NON_FINITE))
    elif kind == "focal":
        k[draw(st.sampled_from([0, 4]))] = draw(st.floats(max_value=0.0, allow_nan=False))
    elif kind == "skew":
        nonzero = st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v != 0)
        k[draw(st.sampled_from([1, 3]))] = draw(nonzero)
    else:
        k[draw(st.integers(6, 8))] = draw(st.floats(min_value=2.0, max_value=1e6))
    return k


@st.composite
def malformed_image(draw: st.DrawFn, stamp_ns: int, size: tuple[int, int]) -> Image:
    """A colour image of `size` whose step or data length does not fit: decoding must fail."""
    encoding = draw(st.sampled_from(sorted(COLOUR_ENCODINGS)))
    row = size[0] * ENCODINGS[encoding].channels
    step = draw(st.one_of(st.integers(0, row - 1), st.integers(row, row + 16)))
    needed = step * size[1]
    length = draw(st.integers(0, needed + 64).filter(lambda n: n != needed or step < row))
    image = Image(header=header(stamp_ns), width=size[0], height=size[1], encoding=encoding, step=step)
    image.data = bytes(draw(st.binary(min_size=length, max_size=length))) if length < 256 else bytes(length)
    return image


# --- cases for the preprocessing node ------------------------------------------------------

CONTENT_KINDS = ("good", "unsupported_encoding", "size_mismatch", "bad_intrinsics", "malformed_image", "zero_stamp")
ORDER_KINDS = ("repeated_stamp", "out_of_order", "time_jump_back")
case_kinds = st.sampled_from(CONTENT_KINDS + ORDER_KINDS)


@dataclass(frozen=True)
class FrameCase:
    kind: str
    image: Image
    info: CameraInfo
    rejects: tuple[str, ...]  # reasons counted for this pair, in any order
    crop: bool  # whether a crop is published for it


@dataclass
class StampTrack:
    """The last stamp each stream accepted (both streams carry the same stamps here)."""

    last_ns: int | None = None
    clock_ns: int = START_NS

    def fresh(self) -> int:
        self.clock_ns += PERIOD_NS
        return self.clock_ns

    def order_reason(self, stamp_ns: int) -> str | None:
        if self.last_ns is None or stamp_ns > self.last_ns:
            return None
        if stamp_ns == self.last_ns:
            return "repeated_stamp"
        return "time_jump_back" if self.last_ns - stamp_ns >= SEC else "out_of_order"


def _stamp_for(kind: str, track: StampTrack) -> int:
    last = track.last_ns if track.last_ns is not None else track.fresh()
    return {
        "zero_stamp": 0,
        "repeated_stamp": last,
        "out_of_order": last - SMALL_STEP_BACK_NS,
        "time_jump_back": last - JUMP_BACK_NS,
    }.get(kind, track.fresh())


@st.composite
def frame_case(draw: st.DrawFn, kind: str, track: StampTrack) -> FrameCase:
    size = draw(sizes)
    stamp = _stamp_for(kind, track)
    image, info = rgb_image(stamp, size, seed=draw(st.integers(0, 100))), camera_info(stamp, size)
    if kind == "unsupported_encoding":
        image.encoding = draw(unsupported_encodings)
    elif kind == "size_mismatch":
        info.width, info.height = draw(sizes.filter(lambda s: s != size) | st.just((0, 0)))
        if (info.width, info.height) == (0, 0):
            image = Image(header=image.header, encoding="rgb8")
    elif kind == "bad_intrinsics":
        info.k = draw(bad_intrinsics(size))
    elif kind == "malformed_image":
        image = draw(malformed_image(stamp, size))
    order = track.order_reason(stamp)
    if order in ("repeated_stamp", "out_of_order"):  # both streams refuse it before pairing
        return FrameCase(kind, image, info, (order, order), crop=False)
    track.last_ns = stamp
    content = None if kind in ORDER_KINDS + ("good",) else kind
    if content is None and stamp <= 0:
        content = "zero_stamp"
    rejects = tuple(r for r in (order, content) if r)
    return FrameCase(kind, image, info, rejects, crop=content is None)


@st.composite
def frame_batches(draw: st.DrawFn, size: int, every_kind: bool = False) -> list[FrameCase]:
    """`size` cases of drawn kinds; with `every_kind`, a drawn order of every kind, repeated."""
    if every_kind:
        all_kinds = CONTENT_KINDS + ORDER_KINDS
        kinds = draw(st.permutations(list(all_kinds) * -(-size // len(all_kinds))))[:size]
    else:
        kinds = draw(st.lists(case_kinds, min_size=size, max_size=size))
    track = StampTrack()
    return [draw(frame_case(kind, track)) for kind in kinds]


def good_cases(count: int, after_ns: int, size: tuple[int, int] = (32, 24)) -> list[FrameCase]:
    stamps = [after_ns + SEC + i * PERIOD_NS for i in range(count)]
    return [FrameCase("good", rgb_image(s, size), camera_info(s, size), (), crop=True) for s in stamps]


def reject_totals(cases: list[FrameCase]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for case in cases:
        for reason in case.rejects:
            totals[reason] = totals.get(reason, 0) + 1
    return totals


# --- /diagnostics --------------------------------------------------------------------------

@dataclass
class DiagnosticsWatch:
    """The latest key/values each gsdf node published on /diagnostics (filled while spinning)."""

    latest: dict[str, dict[str, str]] = field(default_factory=dict)

    def attach(self, node: Any) -> DiagnosticsWatch:
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_array, 50)
        return self

    def _on_array(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.latest[status.name.split("/")[-1]] = {kv.key: kv.value for kv in status.values}

    def rejects(self, node_name: str) -> dict[str, int]:
        """'rejected: <reason>' counts of one node, keyed by reason."""
        values = self.latest.get(node_name, {})
        return {k.split(": ", 1)[1]: int(v) for k, v in values.items() if k.startswith("rejected: ")}

    def value(self, node_name: str, key: str) -> str | None:
        return self.latest.get(node_name, {}).get(key)


@dataclass
class InferenceUnderTest:
    """An inference node process with a crop publisher, its results and its diagnostics."""

    process: Any
    crops: Any
    results: list[Any]
    diagnostics: DiagnosticsWatch


def start_inference(node_process: Any, probe: Any, factory: str, *params: str) -> InferenceUnderTest:
    """Start the inference node with the test-double `factory` and wait until it is connected."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from gsdf.msg import CropFrame, HandObjectReconstruction

    reliable = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
    process = node_process("inference_node", "-p", f"checkpoint:={factory}", "-p", "diagnostics_period_s:=0.3", *params)
    crops = probe.create_publisher(CropFrame, "crop", reliable)
    results: list[Any] = []
    probe.create_subscription(HandObjectReconstruction, "reconstruction", results.append, reliable)
    diagnostics = DiagnosticsWatch().attach(probe)
    assert probe.spin_until(lambda: crops.get_subscription_count() and probe.count_publishers("reconstruction"), 20)
    return InferenceUnderTest(process, crops, results, diagnostics)
