"""The node's /diagnostics status, built from what it counts as it runs and from the state of its people
source and cues: ERROR when nobody can be seen, WARN when a configured cue is off, no frame flows or a note
says how the node runs differently than asked, else OK."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from ..pipeline import Pipeline
from .sync import ApproximateTimeSync

RATE_WINDOW_S = 5.0


class RateMeter:
    """Events per second over the last RATE_WINDOW_S seconds of wall time."""

    def __init__(self):
        self._times: collections.deque[float] = collections.deque()

    def tick(self) -> None:
        self._times.append(time.monotonic())

    def rate(self) -> float:
        now = time.monotonic()
        while self._times and self._times[0] < now - RATE_WINDOW_S:
            self._times.popleft()
        return len(self._times) / RATE_WINDOW_S


@dataclass
class NodeCounters:
    """What the node counts while it runs (the workers add to it while the diagnostics read it)."""

    drops: collections.Counter[str] = field(default_factory=collections.Counter)
    """Frames lost, by reason; inputs set aside are counted under ignored_*."""
    time_jumps: int = 0
    input_rate: RateMeter = field(default_factory=RateMeter)
    output_rate: RateMeter = field(default_factory=RateMeter)


def diagnostic_status(name: str, state: str, counters: NodeCounters, pipeline: Pipeline | None, *,
                      sync: ApproximateTimeSync | None, notes: list[str], configure_problem: str,
                      input_problem: str) -> DiagnosticStatus:
    """The status of the node whose fully qualified name is ``name``, in lifecycle ``state``.

    ``pipeline``: None while unconfigured (``configure_problem`` says why a configure failed, "" if none did);
    ``notes``: how the node runs differently than asked; ``input_problem``: why no frame flows while active
    ("" when they flow)."""
    drops = dict(counters.drops)  # one copy: the workers add reasons while this runs
    values = {"lifecycle_state": state, "input_rate_hz": f"{counters.input_rate.rate():.2f}",
              "output_rate_hz": f"{counters.output_rate.rate():.2f}", "time_jumps": str(counters.time_jumps),
              "frames_dropped": str(sum(n for reason, n in drops.items() if not reason.startswith("ignored_")))}
    values.update({(k if k.startswith("ignored_") else f"dropped_{k}"): str(n) for k, n in sorted(drops.items())})
    if sync is not None:
        for index, topic in enumerate(sync.names):
            values[f"received {topic}"] = str(sync.received[index])
        for reason, count in sorted(sync.unmatched.items()):
            values[f"unpaired_by {reason}"] = str(count)
    level, message = DiagnosticStatus.OK, "ok"
    if pipeline is None:
        level = DiagnosticStatus.ERROR if configure_problem else DiagnosticStatus.WARN
        message = f"not configured: {configure_problem}" if configure_problem else f"{state}"
    else:
        for stage, (p50, p95, p99) in pipeline.timings.percentiles_ms().items():
            values[f"latency_{stage}_ms"] = f"p50 {p50:.1f} p95 {p95:.1f} p99 {p99:.1f}"
        people = pipeline.people_status()
        values["people"] = f"{'active' if people.available else 'OFF'}: {people.status}"
        cues = pipeline.cue_status()
        for cue_name, cue in cues.items():
            values[f"cue_{cue_name}"] = (f"active: {cue.status}" if cue.available else
                                         f"{'OFF (configured)' if cue.configured else 'off'}: {cue.status}")
        for cue in pipeline.running_cues():
            values.update({f"cue_{cue.name}_{counter}": str(n) for counter, n in cue.counters().items()})
        values.update({f"accelerate_{stage}": note for stage, note in pipeline.acceleration.items()})
        for index, note in enumerate(notes):
            values[f"note_{index}"] = note
        off = [cue_name for cue_name, cue in cues.items() if cue.configured and not cue.available]
        if not people.available:
            level, message = DiagnosticStatus.ERROR, f"nobody can be seen: {people.status}"
        elif off:
            level, message = DiagnosticStatus.WARN, "configured cues off: " + ", ".join(off)
        elif input_problem:
            level, message = DiagnosticStatus.WARN, input_problem
        elif notes:
            level, message = DiagnosticStatus.WARN, notes[0]
        elif state != "active":
            message = state
    return DiagnosticStatus(level=level, name=f"{name}: emotion perception", message=message, hardware_id=name,
                            values=[KeyValue(key=k, value=v) for k, v in values.items()])
