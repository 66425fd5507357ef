"""Flow control for the nodes, free of ROS: the crop window, a latest-wins hand-off, a rate limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Generic, Protocol, TypeVar

from gsdf_ros.nodes.pairing import stamp_order_reason
from gsdf_ros.nodes.validation import RejectReason

T = TypeVar("T")


class Stamped(Protocol):
    stamp_ns: int
    frame_id: str


S = TypeVar("S", bound=Stamped)


class StampWindow(Generic[S]):
    """The last `length` samples of one camera in stamp order.

    A repeated or slightly older stamp is refused; a jump back in time or a new frame_id restarts
    the window with the sample (the reason is still returned, to be counted and logged).
    """

    def __init__(self, length: int, jump_back_ns: int = 1_000_000_000) -> None:
        if length < 1:
            raise ValueError(f"window length must be >= 1, got {length}")
        self.length = length
        self.jump_back_ns = jump_back_ns
        self._samples: deque[S] = deque(maxlen=length)

    def add(self, sample: S) -> tuple[bool, RejectReason | None]:
        """(accepted, reason); reason is None for an ordinary in-order sample."""
        newest = self._samples[-1] if self._samples else None
        if newest is not None and newest.frame_id != sample.frame_id:
            self._samples.clear()
            self._samples.append(sample)
            return True, RejectReason.FRAME_MISMATCH
        reason = stamp_order_reason(newest.stamp_ns if newest else None, sample.stamp_ns, self.jump_back_ns)
        if reason is RejectReason.TIME_JUMP_BACK:
            self._samples.clear()
        elif reason is not None:
            return False, reason
        self._samples.append(sample)
        return True, reason

    def snapshot(self) -> list[S]:
        """The samples, oldest first."""
        return list(self._samples)

    def clear(self) -> None:
        self._samples.clear()


class LatestSlot(Generic[T]):
    """A one-item hand-off between threads where a newer item replaces a waiting one."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: T) -> bool:
        """Offer `item`; True when it replaced (dropped) one still waiting."""
        with self._cond:
            replaced = self._item is not None
            self._item = item
            self._cond.notify()
            return replaced

    def take(self, timeout_s: float | None = None) -> T | None:
        """The waiting item (waiting up to `timeout_s`), or None when none came or the slot closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout_s)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        """Wake every waiter; later `take` calls return at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class RateLimiter:
    """Allows an action at most `rate_hz` times per second (0 or less: never)."""

    def __init__(self, rate_hz: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_hz = rate_hz
        self._clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        """True when enough time passed since the last :meth:`done` (nothing is recorded)."""
        if self.rate_hz <= 0:
            return False
        return self._last is None or self._clock() - self._last >= 1.0 / self.rate_hz

    def done(self) -> None:
        """Record that the action happened now."""
        self._last = self._clock()


class SequenceGaps:
    """Messages lost between a publisher's counter values (``sequence`` fields): a jump from n to
    n + k counts k − 1; a counter that restarts (publisher restarted) counts nothing."""

    def __init__(self) -> None:
        self._last: int | None = None
        self.missed = 0

    def add(self, sequence: int) -> int:
        """Record one received counter value; how many were missed just before it."""
        missed = 0
        if self._last is not None and sequence > self._last + 1:
            missed = sequence - self._last - 1
        self._last = sequence
        self.missed += missed
        return missed


class StampGaps:
    """Frames missing from a regular stream, from its stamps: once the period is known (median of the
    last intervals), an interval of about k periods (k ≥ 2, at least 1.5 periods) counts k − 1 frames.

    Whether the camera skipped them or transport lost them, they never reached the node.
    """

    def __init__(self, history: int = 15, min_intervals: int = 5) -> None:
        self._intervals: deque[int] = deque(maxlen=history)
        self._min = min_intervals
        self._last: int | None = None
        self.missed = 0

    def period_ns(self) -> int | None:
        """The stream's period (median of recent intervals), None until enough were seen."""
        if len(self._intervals) < self._min:
            return None
        return sorted(self._intervals)[len(self._intervals) // 2]

    def add(self, stamp_ns: int) -> int:
        """Record one frame's stamp (in order); how many frames were missed just before it."""
        if self._last is None or stamp_ns <= self._last:
            self._last = stamp_ns if self._last is None or stamp_ns < self._last else self._last
            return 0
        interval = stamp_ns - self._last
        self._last = stamp_ns
        period = self.period_ns()
        missed = 0
        if period and interval >= 1.5 * period:
            missed = int(round(interval / period)) - 1
        elif not period or interval >= 0.5 * period:  # much shorter intervals are jitter, not the period
            self._intervals.append(interval)
        self.missed += missed
        return missed

    def reset(self) -> None:
        """Forget the stream (after a jump back in time)."""
        self._intervals.clear()
        self._last = None
