"""Pair images with camera infos by stamp: a small tested equivalent of message_filters' exact sync.

Each stream is checked for repeated, out-of-order and backwards-jumping stamps before it is queued;
a backwards jump (a bag restarting, a simulator reset) is reported and the caller clears state.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from gsdf_ros.nodes.validation import RejectReason

ImageT = TypeVar("ImageT")
InfoT = TypeVar("InfoT")


@dataclass(frozen=True)
class PairResult(Generic[ImageT, InfoT]):
    """What one added message produced: a matched pair, a reject reason, or neither (queued)."""

    pair: tuple[ImageT, InfoT] | None = None
    reject: RejectReason | None = None
    unpaired: int = 0  # queued messages given up on by this call (evicted or skipped over)


def stamp_order_reason(previous_ns: int | None, stamp_ns: int, jump_back_ns: int) -> RejectReason | None:
    """Why `stamp_ns` cannot follow `previous_ns` in one stream, or None when it may."""
    if previous_ns is None or stamp_ns > previous_ns:
        return None
    if stamp_ns == previous_ns:
        return RejectReason.REPEATED_STAMP
    if previous_ns - stamp_ns >= jump_back_ns:
        return RejectReason.TIME_JUMP_BACK
    return RejectReason.OUT_OF_ORDER


class StampPairer(Generic[ImageT, InfoT]):
    """Matches images and infos whose stamps differ by at most `tolerance_ns` (0 = exact)."""

    def __init__(self, queue_size: int = 10, tolerance_ns: int = 0, jump_back_ns: int = 1_000_000_000) -> None:
        if queue_size < 1 or tolerance_ns < 0 or jump_back_ns <= 0:
            raise ValueError("need queue_size >= 1, tolerance_ns >= 0, jump_back_ns > 0; "
                             f"got {queue_size}, {tolerance_ns}, {jump_back_ns}")
        self.queue_size = queue_size
        self.tolerance_ns = tolerance_ns
        self.jump_back_ns = jump_back_ns
        self.reset()

    def reset(self) -> None:
        """Forget every queued message and the last stamps seen."""
        self._images: deque[tuple[int, ImageT]] = deque()
        self._infos: deque[tuple[int, InfoT]] = deque()
        self._last_image_ns: int | None = None
        self._last_info_ns: int | None = None

    def add_image(self, stamp_ns: int, image: ImageT) -> PairResult[ImageT, InfoT]:
        reason = stamp_order_reason(self._last_image_ns, stamp_ns, self.jump_back_ns)
        if reason is not None:
            return PairResult(reject=reason)
        self._last_image_ns = stamp_ns
        return self._add(stamp_ns, image, self._images, self._infos, image_first=True)

    def add_info(self, stamp_ns: int, info: InfoT) -> PairResult[ImageT, InfoT]:
        reason = stamp_order_reason(self._last_info_ns, stamp_ns, self.jump_back_ns)
        if reason is not None:
            return PairResult(reject=reason)
        self._last_info_ns = stamp_ns
        return self._add(stamp_ns, info, self._infos, self._images, image_first=False)

    def _add(self, stamp_ns: int, item: object, own: deque, other: deque, image_first: bool) -> PairResult:
        match = _advance_to_closest(other, stamp_ns, self.tolerance_ns)
        if match is None:
            own.append((stamp_ns, item))
            evicted = 0
            while len(own) > self.queue_size:
                own.popleft()
                evicted += 1
            return PairResult(unpaired=evicted)
        skipped = _drop_older(own, stamp_ns) + match  # messages older than the pair will never match
        partner = other.popleft()[1]
        return PairResult(pair=(item, partner) if image_first else (partner, item), unpaired=skipped)


def _advance_to_closest(queue: deque, stamp_ns: int, tolerance_ns: int) -> int | None:
    """Bring the entry nearest to `stamp_ns` (within tolerance) to the front, dropping those before it.

    Returns how many were dropped, or None (queue untouched) when no entry is within tolerance.
    """
    best, best_gap = None, tolerance_ns + 1
    for index, (queued_ns, _) in enumerate(queue):
        gap = abs(queued_ns - stamp_ns)
        if gap < best_gap:
            best, best_gap = index, gap
    if best is None:
        return None
    for _ in range(best):
        queue.popleft()
    return best


def _drop_older(queue: deque, stamp_ns: int) -> int:
    """Remove queued entries stamped before `stamp_ns`; how many were removed."""
    removed = 0
    while queue and queue[0][0] < stamp_ns:
        queue.popleft()
        removed += 1
    return removed
