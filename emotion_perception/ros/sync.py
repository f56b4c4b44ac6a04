"""Pairing messages of several topics by header stamp (approximate time).

On robots, message_filters.ApproximateTimeSynchronizer does this; :class:`ApproximateTimeSync` is our small
equivalent for machines without message_filters, with the same contract: ``add(stream, msg)`` and a callback
called with one message per stream whose stamps lie within ``slop`` seconds of each other. Each message is
used at most once, sets come out in stamp order, and queues are bounded.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

from .conversions import stamp_to_ns


class ApproximateTimeSync:
    """Matches messages of ``streams`` streams whose stamps lie within ``slop_s`` of the first stream's."""

    def __init__(self, streams: int, queue_size: int, slop_s: float, callback: Callable[..., None]):
        if streams < 1 or queue_size < 1:
            raise ValueError("need at least one stream and a queue of at least one message")
        self._queues = [collections.deque(maxlen=queue_size) for _ in range(streams)]
        self._slop_ns = int(slop_s * 1e9)
        self._callback = callback
        self._lock = threading.Lock()
        self.unmatched = 0
        """Messages of the first stream discarded without a partner (counted for diagnostics)."""

    def add(self, stream: int, msg: Any) -> None:
        with self._lock:
            queue = self._queues[stream]
            if stream == 0 and len(queue) == queue.maxlen:
                self.unmatched += 1
            queue.append((stamp_to_ns(msg.header.stamp), msg))
            matched = self._match()
        for group in matched:
            self._callback(*group)

    def _match(self) -> list[tuple[Any, ...]]:
        """Every complete set now possible, oldest first; drops pivots that can no longer match."""
        matched = []
        pivots = self._queues[0]
        while pivots:
            pivot_ns, pivot = pivots[0]
            chosen = [pivot]
            waiting = False
            for queue in self._queues[1:]:
                best = min(queue, key=lambda item: abs(item[0] - pivot_ns), default=None)
                if best is not None and abs(best[0] - pivot_ns) <= self._slop_ns:
                    chosen.append(best[1])
                elif queue and queue[-1][0] > pivot_ns + self._slop_ns:
                    chosen = None  # this stream has moved past the pivot: it will never match
                    break
                else:
                    waiting = True
                    break
            if chosen is None:
                pivots.popleft()
                self.unmatched += 1
                continue
            if waiting:
                break
            pivots.popleft()
            for queue, msg in zip(self._queues[1:], chosen[1:]):
                while queue and queue[0][1] is not msg:
                    queue.popleft()
                queue.popleft()
            matched.append(tuple(chosen))
        return matched
