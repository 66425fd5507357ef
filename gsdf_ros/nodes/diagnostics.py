"""A small stand-in for diagnostic_updater: rate and latency meters and one status per node.

Each node publishes its own ``diagnostic_msgs/DiagnosticStatus`` on ``/diagnostics`` about once
a second (``DiagnosticsTask``); the meters are plain Python and unit-tested without ROS.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

OK, WARN, ERROR, STALE = 0, 1, 2, 3
"""Levels of diagnostic_msgs/DiagnosticStatus."""


class RateMeter:
    """Events per second over a sliding window of monotonic arrival times."""

    def __init__(self, window_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._times: deque[float] = deque()
        self.total = 0

    def tick(self) -> None:
        self._times.append(self._clock())
        self.total += 1

    def rate_hz(self) -> float:
        now = self._clock()
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        span = now - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def seconds_since_last(self) -> float | None:
        return self._clock() - self._times[-1] if self._times else None


class LatencyStats:
    """Last, mean and max of the latest `size` latency samples (milliseconds)."""

    def __init__(self, size: int = 100) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, ms: float) -> None:
        self._samples.append(float(ms))

    def summary(self) -> dict[str, float]:
        if not self._samples:
            return {}
        return {"last": self._samples[-1], "mean": sum(self._samples) / len(self._samples), "max": max(self._samples)}


class DropMeter:
    """Frames that arrived at a node and frames dropped at each of its places, in total and over a
    sliding window; the recent ratio dropped / arrived per place is what diagnostics warn on."""

    def __init__(
        self, places: tuple[str, ...], window_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_s = window_s
        self._clock = clock
        self.totals: dict[str, int] = {place: 0 for place in places}
        self._events: dict[str, deque[tuple[float, int]]] = {place: deque() for place in ("arrived", *places)}
        self.arrived = 0

    def arrive(self, count: int = 1) -> None:
        self.arrived += count
        self._events["arrived"].append((self._clock(), count))

    def drop(self, place: str, count: int = 1) -> None:
        """Count `count` frames dropped at `place` (a place not declared is added)."""
        if count <= 0:
            return
        self.totals[place] = self.totals.get(place, 0) + count
        self._events.setdefault(place, deque()).append((self._clock(), count))

    def _recent(self, key: str) -> int:
        now = self._clock()
        events = self._events.get(key, deque())
        while events and now - events[0][0] > self.window_s:
            events.popleft()
        return sum(c for _, c in events)

    def recent_ratio(self, place: str) -> float:
        """Frames dropped at `place` over frames arrived, in the last `window_s` (0 when none arrived)."""
        arrived = self._recent("arrived")
        return self._recent(place) / arrived if arrived else 0.0

    def report(self, report: "Report", thresholds: dict[str, float]) -> None:
        """Add 'dropped: <place>' totals and their recent ratios to `report`; WARN for each place whose
        recent ratio exceeds its threshold (places without a threshold use thresholds['*'])."""
        report.values["dropped"] = sum(self.totals.values())
        for place, total in self.totals.items():
            ratio = self.recent_ratio(place)
            report.values[f"dropped: {place}"] = total
            report.values[f"dropped: {place} (recent ratio)"] = round(ratio, 3)
            limit = thresholds.get(place, thresholds.get("*", 1.0))
            if ratio > limit:
                report.worsen(WARN, f"{ratio:.0%} of frames dropped ({place}) in the last {self.window_s:.0f} s")


@dataclass
class Report:
    """One status: level, one-line message and key/value details."""

    level: int = OK
    message: str = "ok"
    values: dict[str, Any] = field(default_factory=dict)

    def worsen(self, level: int, message: str) -> None:
        """Raise the level to `level` (never lower it) and make `message` the headline."""
        if level > self.level:
            self.level, self.message = level, message


def input_report(rate: RateMeter, stale_after_s: float, what: str) -> Report:
    """OK while `what` arrives; WARN when none came yet or none for `stale_after_s`."""
    report = Report(values={f"{what} rate (Hz)": round(rate.rate_hz(), 2), f"{what} received": rate.total})
    since = rate.seconds_since_last()
    if since is None:
        report.worsen(WARN, f"no {what} received yet")
    elif since > stale_after_s:
        report.worsen(WARN, f"no {what} for {since:.1f} s")
    return report


def latency_values(name: str, stats: LatencyStats) -> dict[str, float]:
    """Key/values '<name> last/mean/max (ms)' rounded to 0.1 ms."""
    return {f"{name} {k} (ms)": round(v, 1) for k, v in stats.summary().items()}


def to_status(report: Report, name: str, hardware_id: str) -> Any:
    """A diagnostic_msgs/DiagnosticStatus for `report`."""
    from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

    return DiagnosticStatus(
        level=bytes([report.level]),
        name=name,
        message=report.message,
        hardware_id=hardware_id,
        values=[KeyValue(key=str(k), value=str(v)) for k, v in report.values.items()],
    )


class DiagnosticsTask:
    """Publishes `make_report()` of a node on /diagnostics every `period_s` seconds."""

    def __init__(
        self, node: Any, make_report: Callable[[], Report], period_s: float = 1.0, hardware_id: str = "gsdf"
    ) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        self._node = node
        self._make_report = make_report
        self._hardware_id = hardware_id
        self._array_type = DiagnosticArray
        self._publisher = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = node.create_timer(period_s, self.publish)

    def publish(self) -> None:
        name = f"{self._node.get_fully_qualified_name().lstrip('/')}"
        try:
            report = self._make_report()
        except Exception as exc:  # a broken report must not stop the node
            report = Report(ERROR, f"diagnostics failed: {exc}")
        array = self._array_type(status=[to_status(report, name, self._hardware_id)])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(array)
