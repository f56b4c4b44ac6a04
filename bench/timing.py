"""The benches' one way to time code: warm-up calls, CUDA synchronised before each clock read, per-call times.

CUDA runs asynchronously: a clock read without a synchronisation times the kernel launches, not the work, so
:class:`Timer` waits for the device before reading the clock on both sides of a block. The result,
:class:`Timing`, holds every timed call and gives the percentiles, the mean and the process CPU time per call;
``cells`` formats them for the benches' tables. The benches run as scripts (``python bench/bench_x.py``), so
they import this module as ``timing``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

QUANTILES = (50, 95, 99)


def synchronize(device: str | torch.device) -> None:
    """Wait until ``device`` has done the work queued on it (nothing to wait for on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Timing:
    """Per-call times [ms] of one measured call: wall clock and, where measured, this process's CPU time
    (every thread's: what a call costs however busy the machine is)."""

    ms: np.ndarray
    cpu_ms: np.ndarray | None = None

    @classmethod
    def from_seconds(cls, wall: Sequence[float], cpu: Sequence[float] | None = None) -> Timing:
        return cls(np.asarray(wall, dtype=float) * 1e3, None if cpu is None else np.asarray(cpu, dtype=float) * 1e3)

    def percentiles(self, quantiles: Sequence[float] = QUANTILES) -> list[float]:
        return [float(v) for v in np.percentile(self.ms, quantiles)]

    @property
    def p50(self) -> float:
        return float(np.percentile(self.ms, 50))

    @property
    def p95(self) -> float:
        return float(np.percentile(self.ms, 95))

    @property
    def p99(self) -> float:
        return float(np.percentile(self.ms, 99))

    @property
    def mean(self) -> float:
        return float(np.mean(self.ms))

    @property
    def cpu_p50(self) -> float:
        if self.cpu_ms is None:
            raise ValueError("no CPU time was measured")
        return float(np.percentile(self.cpu_ms, 50))

    def per(self, count: int) -> Timing:
        """Each call's times divided by ``count`` (per frame of a batch, per person)."""
        return Timing(self.ms / count, None if self.cpu_ms is None else self.cpu_ms / count)

    def cells(self, quantiles: Sequence[float] = QUANTILES, fmt: str = ".1f", sep: str = " / ") -> str:
        """The percentiles formatted for a table, e.g. ``12.1 / 14.0 / 15.2`` (p50 / p95 / p99)."""
        return sep.join(format(value, fmt) for value in self.percentiles(quantiles))


class Timer:
    """Times each ``with timer:`` block on ``device``; the first ``warmup`` blocks run untimed (first calls
    allocate memory, pick kernels, compile)."""

    def __init__(self, device: str | torch.device = "cpu", warmup: int = 0) -> None:
        self.device = torch.device(device)
        self.warmup = warmup
        self._wall: list[float] = []
        self._cpu: list[float] = []
        self._start = (0.0, 0.0)

    def __enter__(self) -> Timer:
        synchronize(self.device)
        self._start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, kind, error, traceback) -> None:
        synchronize(self.device)
        wall, cpu = time.perf_counter() - self._start[0], time.process_time() - self._start[1]
        if kind is not None:
            return
        if self.warmup > 0:
            self.warmup -= 1
        else:
            self._wall.append(wall)
            self._cpu.append(cpu)

    def timing(self) -> Timing:
        if not self._wall:
            raise ValueError("nothing was timed (only warm-up blocks ran)")
        return Timing.from_seconds(self._wall, self._cpu)


def time_interleaved(calls: dict[str, Callable[[], object]], repeats: int, device: str | torch.device = "cpu",
                     warmup: int = 1) -> dict[str, Timing]:
    """Each call's timing over ``repeats`` rounds of all calls in turn (after ``warmup`` untimed rounds), so
    that load from other processes falls on every call alike."""
    timers = {name: Timer(device, warmup) for name in calls}
    for _ in range(warmup + repeats):
        for name, call in calls.items():
            with timers[name]:
                call()
    return {name: timer.timing() for name, timer in timers.items()}


def time_calls(call: Callable[[], object], repeats: int, device: str | torch.device = "cpu",
               warmup: int = 1) -> Timing:
    """``call``'s timing over ``repeats`` calls after ``warmup`` untimed ones."""
    return time_interleaved({"call": call}, repeats, device, warmup)["call"]
