"""Ctrl+C (SIGINT) and SIGTERM stop the node's spinning first; only then are the node and the context shut down.

rclpy's own handler shuts the context down from a thread of its own, at whatever moment the signal lands. Its
executor looks at the context only right after each wait, so a signal that lands while the executor works
between two waits fails the next wait set ("RCLError: ... the given context is not valid", exit status 1: 17 of
30 Ctrl+C to a node started with SIGINT ignored while /clock flowed). That thread also wakes the executor before it shuts the context down, so a wait
begun in between would never end. Python's KeyboardInterrupt mostly came first and hid this, but a process
started with SIGINT ignored (``cmd &`` in a script, as CI runs) gets none.

Here rclpy installs no handler: a signal only completes a future that the main thread spins on. Python's C-level
handler writes the signal to a wake-up pipe from whichever thread the signal lands in, and a watcher thread
completes the future, which wakes the executor; it leaves the executor between callbacks, never inside a wait.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

from rclpy.task import Future

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """While entered (in the main thread), SIGINT and SIGTERM complete ``stop`` with the signal's number,
    whether the process inherited them ignored or not; leaving restores the previous handlers."""

    def __init__(self) -> None:
        self.stop: Future[int] = Future()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)  # what signal.set_wakeup_fd requires
        self._watcher = threading.Thread(target=self._watch, name="emotion_perception_signals", daemon=True)
        self._previous_handlers: dict[int, object] = {}
        self._previous_wakeup_fd = -1

    def __enter__(self) -> StopSignals:
        self._watcher.start()
        self._previous_wakeup_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for number in STOP_SIGNALS:  # a Python handler makes the C-level one write to the wake-up pipe
            self._previous_handlers[number] = signal.signal(number, _noted_by_the_watcher)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_wakeup_fd)
        os.close(self._write_fd)  # the watcher reads the end of the pipe and ends
        self._watcher.join()
        os.close(self._read_fd)

    def _watch(self) -> None:
        while data := os.read(self._read_fd, 64):
            number = next((n for n in data if n in STOP_SIGNALS), None)
            if number is not None and not self.stop.done():
                self.stop.set_result(number)  # its done callback wakes the executor spinning on it


def _noted_by_the_watcher(number: int, frame: FrameType | None) -> None:
    """The Python-level handler: nothing to do in the main thread (no KeyboardInterrupt), the watcher acts."""
