"""The hand-off between a live stream and the workers that process it, its policy stated once.

Policy:

- **The newest frame wins.** One frame waits at a time: a frame offered while another waits replaces it, and
  the older one is dropped and counted as *superseded*. The front worker takes the waiting frame when it is
  free, so it always works on the newest one and never falls behind the stream.
- **Input gaps travel with the frame.** With each frame taken comes the largest stamp gap between frames
  offered since the previous take: joint histories measure the gaps of the input stream, not only those of
  the frames that could be processed.
- **Overlap is a setting.** With ``overlap`` the front worker passes each frame's first-stage result to a
  second (back) worker through one more slot and waits while that slot is full: nothing is dropped there, so
  results come out in the order the frames were taken, which is their stamp order. Without it there is no
  back worker and the front worker finishes each frame itself.
- **Closing unblocks everyone.** ``close`` drops the waiting frame (not counted: nobody would process it) and
  wakes every waiting worker; the back worker still finishes the result already passed to it, and nothing is
  taken or passed after that.

The live node (``ros/node.py``) makes one hand-off per activation, so a worker that outlived its stop holds a
closed one and ends instead of running beside its replacement; the realtime emulation of ``bag process``
(``offline/realtime.py``) replays the same policy on a clock of its own, taking frames without blocking. It
sits in ``runtime/``, below both ``ros/`` and ``offline/``, because it is how frames are run rather than what
is perceived: thread-safe, and free of ROS.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

Frame = TypeVar("Frame")
Passed = TypeVar("Passed")


@dataclass(frozen=True)
class TakenFrame(Generic[Frame]):
    """A frame (``item``: whatever was offered) the front worker takes, with its stamp and the input gap since
    the previous take."""

    item: Frame
    stamp_ns: int
    input_gap_s: float
    """Largest stamp gap between frames offered since the previous take [s] (0 for the very first frame):
    set it as the frame's ``types.Frame.input_gap_s``."""


class FrameHandoff(Generic[Frame, Passed]):
    """Stream -> front worker (newest frame wins) -> back worker (in order, with ``overlap``); see the module.

    ``follows``: the hand-off this one replaces (the previous activation's): input gaps are measured from the
    last frame offered to it, as if the stream had never paused.
    """

    def __init__(self, overlap: bool, follows: FrameHandoff | None = None) -> None:
        self.overlap = overlap
        self.superseded = 0
        """Waiting frames replaced by a newer one."""
        self._condition = threading.Condition()
        self._waiting: tuple[Frame, int] | None = None
        """(frame, stamp) of the frame waiting for the front worker."""
        self._passed: list[Passed] = []
        """The back worker's slot: empty or one result."""
        self._closed = False
        self._last_stamp_ns: int | None = None
        self._gap_ns = 0
        """Largest stamp gap between frames offered since the last take."""
        if follows is not None:
            with follows._condition:
                self._last_stamp_ns, self._gap_ns = follows._last_stamp_ns, follows._gap_ns

    def offer(self, stamp_ns: int, frame: Frame) -> bool:
        """A frame arrives: it waits for the front worker. True when it superseded a waiting one (once closed,
        the frame is ignored and False returned)."""
        with self._condition:
            if self._closed:
                return False
            if self._last_stamp_ns is not None:
                self._gap_ns = max(self._gap_ns, abs(stamp_ns - self._last_stamp_ns))
            self._last_stamp_ns = stamp_ns
            superseding = self._waiting is not None
            if superseding:
                self.superseded += 1
            self._waiting = (frame, stamp_ns)
            self._condition.notify_all()
            return superseding

    def take(self, block: bool = True) -> TakenFrame[Frame] | None:
        """The front worker takes the waiting frame, waiting for one if ``block``; None once closed (or, without
        ``block``, when no frame waits)."""
        with self._condition:
            while block and self._waiting is None and not self._closed:
                self._condition.wait()
            if self._waiting is None:  # closing empties the slot and no frame comes in after
                return None
            (frame, stamp_ns), self._waiting = self._waiting, None
            gap_ns, self._gap_ns = self._gap_ns, 0
            return TakenFrame(item=frame, stamp_ns=stamp_ns, input_gap_s=gap_ns * 1e-9)

    def pass_on(self, result: Passed) -> bool:
        """The front worker passes a frame's result to the back worker, waiting while the back worker's slot is
        full. False once closed (the result is dropped: work is stopping)."""
        self._require_overlap()
        with self._condition:
            while self._passed and not self._closed:
                self._condition.wait()
            if self._closed:
                return False
            self._passed.append(result)
            self._condition.notify_all()
            return True

    def take_passed(self) -> Passed | None:
        """The back worker takes the next result, waiting for one; None once closed and the slot is empty."""
        self._require_overlap()
        with self._condition:
            while not self._passed and not self._closed:
                self._condition.wait()
            if not self._passed:
                return None
            result = self._passed.pop()
            self._condition.notify_all()
            return result

    def close(self) -> None:
        """Stop: drop the waiting frame and wake every worker (see the module for what still runs)."""
        with self._condition:
            self._closed = True
            self._waiting = None
            self._condition.notify_all()

    def _require_overlap(self) -> None:
        if not self.overlap:
            raise RuntimeError("this hand-off has no back worker (overlap is off): finish each frame on the front")
