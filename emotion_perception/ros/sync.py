"""Pairing messages of several topics by header stamp (approximate time), robust to lost messages and time jumps.

The node and offline bag processing both use :class:`ApproximateTimeSync` (also where ROS's message_filters is
installed: its approximate policy neither recovers from stamps jumping back nor lets images go on without a
silent depth camera, and one implementation means the node and the offline tools pair alike).

Rules: the first stream (images) drives. Pairs are mutual nearest neighbours: an image takes, from every other
stream, the message closest to it within ``slop`` that is not closer to another image, whether that image came
or was lost. Lost images are known from the image stream's nominal period (the lower quartile of its recent
stamp gaps): a partner nearer to the slot one period before or after the image than to the image belongs there.
So one lost image or partner costs one pair, never a cascade of pairs off by one frame. An image waits while a
nearer partner may still come: for a partner older than the image, until the stream has passed the image's
stamp, unless the partner is nearer than half that stream's period; for a newer one, until the next image
arrives, unless the period tells already. An image no partner can ever reach is dropped and counted per
stream. An *optional* stream (depth) that has been silent for ``timeout_s`` of image time lets images through
with None in its place.
A stamp going back by more than ``jump_tolerance_s`` on any stream is a time jump: everything queued from
before it is discarded and counted, and pairing goes on from the new time.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .conversions import stamp_to_ns

if TYPE_CHECKING:
    from ..settings import Settings

PERIOD_GAPS = 16
"""Recent stamp gaps a stream's nominal period is taken from."""


class StreamPeriod:
    """A stream's nominal period from its recent stamp gaps: their lower quartile, which lost messages (gaps
    of two or more periods) do not move as long as most messages arrive. 0 until there are gaps."""

    def __init__(self) -> None:
        self._gaps: collections.deque[int] = collections.deque(maxlen=PERIOD_GAPS)

    def add(self, gap_ns: int) -> None:
        if gap_ns > 0:
            self._gaps.append(gap_ns)

    @property
    def ns(self) -> int:
        return sorted(self._gaps)[len(self._gaps) // 4] if self._gaps else 0

    def clear(self) -> None:
        self._gaps.clear()


class ApproximateTimeSync:
    """Matches messages of several streams whose stamps lie within ``slop_s`` of the first stream's."""

    def __init__(self, names: Sequence[str], queue_size: int, slop_s: float, callback: Callable[..., None],
                 optional: Sequence[bool] = (), timeout_s: float = 1.0, jump_tolerance_s: float = 0.5):
        if not names or queue_size < 1 or slop_s < 0:
            raise ValueError("need at least one stream, a queue of at least one message and a slop >= 0")
        self.names = tuple(names)
        self._queues = [collections.deque(maxlen=queue_size) for _ in names]
        self._slop_ns = int(slop_s * 1e9)
        self._timeout_ns = int(timeout_s * 1e9)
        self._jump_ns = int(jump_tolerance_s * 1e9)
        self._optional = tuple(optional) + (False,) * (len(names) - len(optional))
        self._callback = callback
        self._lock = threading.Lock()
        self._last_ns: list[int | None] = [None] * len(names)
        self._first_pivot_ns: int | None = None
        self._blocked_by = ""
        """The stream the oldest waiting image waits for."""
        self._periods = [StreamPeriod() for _ in names]
        self._previous_pivot_ns: int | None = None
        """Stamp of the last image that left the queue (paired or dropped)."""
        self.received = [0] * len(names)
        self.unmatched: collections.Counter[str] = collections.Counter()
        """Images dropped because no message of the named stream could pair with them ("time_jump": images
        queued from a time that a jump back left behind)."""
        self.time_jumps = 0

    @classmethod
    def from_settings(cls, names: Sequence[str], optional: Sequence[bool], settings: Settings,
                      callback: Callable[..., None]) -> ApproximateTimeSync:
        """The synchroniser of the node and of bag process: queue, slop, partner timeout and jump tolerance as set."""
        inputs = settings.input
        return cls(names, inputs.queue_depth * 2, inputs.sync_slop_s, callback, optional=optional,
                   timeout_s=inputs.depth_timeout_s, jump_tolerance_s=settings.pipeline.reorder_tolerance_s)

    def add(self, stream: int, msg: Any) -> None:
        stamp = stamp_to_ns(msg.header.stamp)
        with self._lock:
            self.received[stream] += 1
            last = self._last_ns[stream]
            if last is not None and stamp < last - self._jump_ns:
                self._discard_after(stamp)
                last = self._last_ns[stream]
            if last is not None:
                self._periods[stream].add(stamp - last)
            self._last_ns[stream] = stamp
            queue = self._queues[stream]
            if stream == 0:
                if len(queue) == queue.maxlen:  # the oldest image waited in vain for the stream that held it up
                    self.unmatched[self._blocked_by or "queue_full"] += 1
                    self._previous_pivot_ns = queue[0][0]
                if self._first_pivot_ns is None:
                    self._first_pivot_ns = stamp
            queue.append((stamp, msg))
            matched = self._match()
        for group in matched:
            self._callback(*group)

    def finish(self) -> None:
        """The input ended (a bag): the images still waiting can never pair; they are counted as "end_of_input"."""
        with self._lock:
            if self._queues[0]:
                self.unmatched["end_of_input"] += len(self._queues[0])
            for queue in self._queues:
                queue.clear()

    def silent(self, stream: int) -> bool:
        """Whether a stream has said nothing for ``timeout_s`` of image time (or never, that long)."""
        pivots = self._queues[0]
        newest = self._last_ns[0]
        if newest is None or not pivots:
            return False
        since = self._last_ns[stream] if self._last_ns[stream] is not None else self._first_pivot_ns
        return since is not None and newest - since > self._timeout_ns

    def _discard_after(self, stamp: int) -> None:
        """Time jumped back to ``stamp``: drop what was queued from the old, later time."""
        self.time_jumps += 1
        for index, queue in enumerate(self._queues):
            kept = [item for item in queue if item[0] <= stamp + self._jump_ns]
            if index == 0 and len(kept) < len(queue):
                self.unmatched["time_jump"] += len(queue) - len(kept)
            queue.clear()
            queue.extend(kept)
        self._last_ns = [None if last is not None and last > stamp + self._jump_ns else last for last in self._last_ns]
        self._first_pivot_ns = self._previous_pivot_ns = None
        for period in self._periods:
            period.clear()

    def _neighbour_images(self, pivot_ns: int, next_pivot_ns: int | None) -> tuple[int | None, int | None]:
        """Stamps of the images next to this one, before and after, received or lost (None: not known yet)."""
        period = self._periods[0].ns
        before = [t for t in (self._previous_pivot_ns, pivot_ns - period if period else None) if t is not None]
        after = [t for t in (next_pivot_ns, pivot_ns + period if period else None) if t is not None]
        return max(before, default=None), min(after, default=None)

    def _partner(self, stream: int, pivot_ns: int, next_pivot_ns: int | None) -> tuple[str, Any]:
        """("match", msg), ("none", None) for a silent optional stream, ("wait", None) or ("never", None)."""
        queue = self._queues[stream]
        last = self._last_ns[stream]
        from_the_future = last is not None and pivot_ns - last > self._jump_ns  # a time the stream has not reached
        while queue and queue[0][0] < pivot_ns - self._slop_ns and not from_the_future:
            queue.popleft()  # too old for this image, so for every later one too
        near = sorted(((abs(stamp - pivot_ns), stamp, msg) for stamp, msg in queue if abs(stamp - pivot_ns) <= self._slop_ns),
                      key=lambda candidate: candidate[:2])  # messages themselves do not compare: equal stamps keep arrival order
        before, after = self._neighbour_images(pivot_ns, next_pivot_ns)
        passed = last is not None and pivot_ns <= last <= pivot_ns + self._jump_ns  # (far beyond: from the future)
        for distance, stamp, msg in near:
            if stamp < pivot_ns:
                if before is not None and stamp - before <= distance:
                    continue  # nearer to the image before (paired, dropped or lost): never this one's
                if passed or 2 * distance < self._periods[stream].ns:
                    return "match", msg  # no message of the stream still to come can be nearer
                return "wait", None
            if stamp > pivot_ns and after is None:
                return "wait", None  # it may belong to an image not yet arrived
            if stamp == pivot_ns or distance <= after - stamp:
                return "match", msg
        if passed:
            return "never", None  # the stream has moved past this image: no later message can be closer
        if self._optional[stream] and self.silent(stream):
            return "none", None
        return "wait", None

    def _match(self) -> list[tuple[Any, ...]]:
        """Every complete set now possible, oldest first; drops images that can no longer pair."""
        matched = []
        pivots = self._queues[0]
        while pivots:
            pivot_ns, pivot = pivots[0]
            next_ns = pivots[1][0] if len(pivots) > 1 else None
            chosen, verdict = [pivot], "match"
            for stream in range(1, len(self._queues)):
                verdict, msg = self._partner(stream, pivot_ns, next_ns)
                if verdict == "never":
                    self.unmatched[self.names[stream]] += 1
                    break
                if verdict == "wait":
                    self._blocked_by = self.names[stream]
                    break
                chosen.append(msg)
            if verdict == "wait":
                break
            pivots.popleft()
            self._previous_pivot_ns = pivot_ns
            if verdict == "never":
                continue
            for stream, msg in enumerate(chosen[1:], start=1):
                if msg is not None:  # partners are used once; older ones can pair with nothing later
                    queue = self._queues[stream]
                    while queue and queue[0][1] is not msg:
                        queue.popleft()
                    queue.popleft()
            matched.append(tuple(chosen))
        return matched
