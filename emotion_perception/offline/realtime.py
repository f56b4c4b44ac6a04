"""Which frames a live node would have processed: an emulation of its newest-frame-wins worker on a recording.

Offline processing handles every frame, while the node (ros/node.py) drops frames under load by the policy of
:class:`~emotion_perception.runtime.handoff.FrameHandoff`: a frame that arrives while the worker is busy waits in
a single slot, a newer arrival supersedes it (counted as ``superseded``), and the worker takes the waiting frame
as soon as it is free. Here the same hand-off runs on an emulated clock, with per-frame processing costs measured
as the replay goes (or a fixed cost): that tells what the node's output would have looked like on a machine of a
given speed. Time is an integer count of nanoseconds, so the result depends only on the stamps, the costs and
the speed.

Frames arrive at their stamps' offsets from the first one (a stamp that goes backwards arrives together
with its predecessor; recordings whose clock jumps back arrive no later than the frame before). The
decision for a waiting frame falls only when the next frame arrives (it is superseded, or the worker took
it first) or when the recording ends, so frames come out of :meth:`RealtimeReplay.arrive` as an iterator.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from ..runtime.handoff import FrameHandoff, TakenFrame

Item = TypeVar("Item")


@dataclass(frozen=True)
class Handoff(TakenFrame[Item]):
    """A frame the worker takes: process ``item`` now (its ``input_gap_s`` set as the frame's), then report its
    cost with ``processed``."""

    waited_s: float
    """Emulated time the frame waited for the worker [s]."""


class RealtimeReplay(Generic[Item]):
    """The node's worker emulated frame by frame::

        replay = RealtimeReplay(speed=0.5)                # a machine half as fast as this one
        for stamp, frame in recording:
            for handoff in replay.arrive(stamp, frame):   # consume fully: the frames to process now, in order
                start = time.perf_counter()
                process(handoff.item)
                replay.processed(time.perf_counter() - start)
        for handoff in replay.finish(): ...               # the frame still waiting when the recording ends

    ``speed``: how fast the emulated machine is relative to the one measuring costs (each cost counts as
    cost / speed; 0.5 also stands for playing the recording at twice its rate). ``cost_s``: a fixed
    emulated cost per frame [s] at speed 1, instead of the measured ones (``processed`` may then be skipped).
    """

    def __init__(self, speed: float = 1.0, cost_s: float | None = None) -> None:
        if not (speed > 0 and np.isfinite(speed)):
            raise ValueError(f"speed must be a positive number, got {speed}")
        if cost_s is not None and not (cost_s >= 0 and np.isfinite(cost_s)):
            raise ValueError(f"cost_s must be a non-negative number of seconds, got {cost_s}")
        self.speed = float(speed)
        self.cost_s = cost_s
        self.frames_arrived = 0
        self.processed_stamps_ns: list[int] = []
        self._waits_ns: list[int] = []
        self._costs_ns: list[int] = []
        self._latencies_ns: list[int] = []
        self._clock_ns = 0
        """Arrival time of the latest frame on the emulated clock."""
        self._last_stamp_ns: int | None = None
        self._free_ns = 0
        """When the worker finishes its current frame."""
        self._slot: FrameHandoff[tuple[Item, int], None] = FrameHandoff(overlap=False)
        """The node's hand-off; a frame waits in it with its arrival on the emulated clock."""
        self._reported: float | None = None
        self._open = False
        """An iterator of hand-offs is not yet consumed: the emulated clock cannot move on."""
        self._finished = False

    @property
    def frames_processed(self) -> int:
        return len(self.processed_stamps_ns)

    @property
    def frames_dropped(self) -> int:
        """Frames superseded while waiting (the node's ``superseded`` drop counter)."""
        return self._slot.superseded

    def processed(self, cost_s: float) -> None:
        """The measured cost of the frame just handed off [s] (ignored when a fixed ``cost_s`` was given)."""
        if not (cost_s >= 0 and np.isfinite(cost_s)):
            raise ValueError(f"a processing cost must be a non-negative number of seconds, got {cost_s}")
        self._reported = float(cost_s)

    def arrive(self, stamp_ns: int, item: Item) -> Iterator[Handoff[Item]]:
        """A frame arrives: the frames the worker takes until then, possibly this one (consume them all)."""
        self._check_idle()
        self._open = True
        return self._arrive(int(stamp_ns), item)

    def finish(self) -> Iterator[Handoff[Item]]:
        """The recording ended: the frame still waiting, which the worker takes when it is free."""
        self._check_idle()
        self._open, self._finished = True, True
        return self._finish()

    def _check_idle(self) -> None:
        if self._open:
            raise RuntimeError("the frames handed off by the previous arrive() were not all taken; iterate over them")
        if self._finished:
            raise RuntimeError("the replay has finished; make a new RealtimeReplay for another recording")

    def _arrive(self, stamp_ns: int, item: Item) -> Iterator[Handoff[Item]]:
        step_ns = None if self._last_stamp_ns is None else stamp_ns - self._last_stamp_ns
        self._last_stamp_ns = stamp_ns
        self._clock_ns += max(0, step_ns or 0)
        self.frames_arrived += 1
        now = self._clock_ns
        if self._free_ns <= now:  # the worker took the frame waiting (if any) before this one came
            yield from self._take(start_ns=self._free_ns)
        self._slot.offer(stamp_ns, (item, now))  # supersedes the frame still waiting, if any
        if self._free_ns <= now:
            yield from self._take(start_ns=now)
        self._open = False

    def _finish(self) -> Iterator[Handoff[Item]]:
        yield from self._take(start_ns=self._free_ns)
        self._open = False

    def _take(self, start_ns: int) -> Iterator[Handoff[Item]]:
        """The worker, free at ``start_ns``, takes the waiting frame (if any) and processes it."""
        taken: TakenFrame[tuple[Item, int]] | None = self._slot.take(block=False)
        if taken is None:
            return
        (item, arrival_ns), stamp_ns = taken.item, taken.stamp_ns
        self._reported = None
        yield Handoff(item=item, stamp_ns=stamp_ns, input_gap_s=taken.input_gap_s,
                      waited_s=(start_ns - arrival_ns) * 1e-9)
        cost_s = self.cost_s if self.cost_s is not None else self._reported
        if cost_s is None:
            raise RuntimeError("call processed(cost_s) after each hand-off, or give RealtimeReplay a fixed cost_s")
        cost_ns = int(round(cost_s / self.speed * 1e9))
        self._free_ns = start_ns + cost_ns
        self.processed_stamps_ns.append(stamp_ns)
        self._waits_ns.append(start_ns - arrival_ns)
        self._costs_ns.append(cost_ns)
        self._latencies_ns.append(self._free_ns - arrival_ns)

    def summary(self) -> dict[str, Any]:
        """Frames arrived, processed and dropped, and the emulated wait, cost and arrival-to-result latency [ms]."""

        def percentiles(values_ns: list[int]) -> dict[str, float] | None:
            if not values_ns:
                return None
            values = np.asarray(values_ns, dtype=np.float64) * 1e-6
            return {"p50": round(float(np.percentile(values, 50)), 3),
                    "p95": round(float(np.percentile(values, 95)), 3), "max": round(float(values.max()), 3)}

        return {"speed": self.speed, "frame_cost_s": "measured" if self.cost_s is None else self.cost_s,
                "frames_arrived": self.frames_arrived, "frames_processed": self.frames_processed,
                "frames_dropped": self.frames_dropped,
                "processed_share": (round(self.frames_processed / self.frames_arrived, 4)
                                    if self.frames_arrived else None),
                "wait_ms": percentiles(self._waits_ns), "cost_ms": percentiles(self._costs_ns),
                "latency_ms": percentiles(self._latencies_ns)}


def replay_schedule(stamps_ns: Sequence[int], cost_s: float | Sequence[float], speed: float = 1.0) -> list[int]:
    """Indices of the frames a live node would process, in order, for frames arriving at ``stamps_ns``.

    ``cost_s``: one cost for every frame [s], or each frame's own (used when that frame is processed).
    """
    costs = None if np.isscalar(cost_s) else list(cost_s)
    if costs is not None and len(costs) != len(stamps_ns):
        raise ValueError(f"{len(costs)} costs for {len(stamps_ns)} frames")
    replay: RealtimeReplay[int] = RealtimeReplay(speed, float(cost_s) if costs is None else None)
    chosen: list[int] = []

    def take(handoffs: Iterator[Handoff[int]]) -> None:
        for handoff in handoffs:
            chosen.append(handoff.item)
            if costs is not None:
                replay.processed(costs[handoff.item])

    for index, stamp in enumerate(stamps_ns):
        take(replay.arrive(stamp, index))
    take(replay.finish())
    return chosen
