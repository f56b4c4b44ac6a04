"""bench/timing.py, the benches' one timing helper: what it counts and how it reports (never how fast)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _timing_module():
    """bench/timing.py as the benches import it (they run as scripts, so it is no package module)."""
    spec = importlib.util.spec_from_file_location("timing", BENCH / "timing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


timing = _timing_module()


def test_percentiles_mean_and_cells_come_from_the_recorded_calls():
    result = timing.Timing.from_seconds([0.001 * n for n in range(1, 101)], [0.002] * 100)
    assert result.percentiles() == pytest.approx(np.percentile(np.arange(1, 101), [50, 95, 99]).tolist())
    assert (result.p50, result.mean, result.cpu_p50) == pytest.approx((50.5, 50.5, 2.0))
    assert result.cells((50, 99)) == "50.5 / 99.0"
    assert result.cells(fmt="6.2f", sep=" ") == " 50.50  95.05  99.01"
    assert result.per(10).p50 == pytest.approx(5.05) and result.per(10).cpu_p50 == pytest.approx(0.2)


def test_warm_up_calls_are_run_but_not_timed():
    calls = {"a": [], "b": []}
    order = []

    def call(name):
        return lambda: (calls[name].append(1), order.append(name))

    timed = timing.time_interleaved({"a": call("a"), "b": call("b")}, repeats=5, warmup=2)
    assert [len(calls["a"]), len(calls["b"])] == [7, 7]
    assert order[:4] == ["a", "b", "a", "b"]  # interleaved call by call
    assert [len(t.ms) for t in timed.values()] == [5, 5] and all(len(t.cpu_ms) == 5 for t in timed.values())


def test_a_block_that_raises_is_not_timed_and_nothing_timed_is_an_error():
    timer = timing.Timer("cpu")
    with pytest.raises(RuntimeError):
        with timer:
            raise RuntimeError("broken call")
    with pytest.raises(ValueError, match="nothing was timed"):
        timer.timing()
    with timer:
        pass
    assert len(timer.timing().ms) == 1
    without_cpu = timing.Timing(np.ones(3))
    with pytest.raises(ValueError, match="no CPU time"):
        without_cpu.cpu_p50
