"""The offline tools stopped by a signal, as real processes: SIGTERM (a supervisor, `timeout`) and SIGINT
(Ctrl+C) end `run`, `bag process` and `bag from-video` with one line and the shell's exit status (143, 130),
and the hidden staging folder of their unfinished output is removed.

A command is started as a terminal's foreground job is, with SIGINT at its default: one started from a test run
that was itself started with ``pytest ... &`` in a script inherits SIGINT ignored, and rightly goes on through a
Ctrl+C then, as a background job of a shell does (SIGTERM, which shells leave alone, needs no such care)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from emotion_perception.runtime.paths import sample_bag_path
from support.installed import PROCESSES

COMMAND = ["-m", "emotion_perception.cli"]
"""The installed command (started in the test's folder, so that the source tree is not imported instead)."""


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """2,000 frames of noise (320x240): long enough that a command is still at work when the signal comes."""
    path = tmp_path_factory.mktemp("video") / "long.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(2000):
        writer.write(rng.integers(0, 256, (240, 320, 3), np.uint8))
    writer.release()
    return path


def stop_once_at_work(process, out: Path, signal_number: int) -> tuple[int, str]:
    """Send ``signal_number`` as soon as the command's staging folder for ``out`` exists; its status and output."""
    deadline = time.monotonic() + 180
    while not list(out.parent.glob(f".{out.name}.partial-*")):
        assert process.poll() is None, process.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the command never began its output"
        time.sleep(0.02)
    process.send_signal(signal_number)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def check_stopped(code: int, output: str, signal_number: int, out: Path) -> None:
    name = signal.Signals(signal_number).name
    assert code == 128 + signal_number and f"stopped by {name}" in output, (code, output[-3000:])
    assert "Traceback" not in output
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}") or p == out] == []


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_bag_process_stopped_by_a_signal_leaves_nothing(processes, ros_env, tmp_path, signal_number):
    out = tmp_path / "out"
    process = processes([str(PROCESSES / "with_sigint.py"), "default", sys.executable, *COMMAND, "bag", "process",
                         str(sample_bag_path()), "-o", str(out), "--no-progress", "--set", "detector.weights=''"],
                        ros_env, cwd=tmp_path)
    check_stopped(*stop_once_at_work(process, out, signal_number), signal_number, out)


@pytest.mark.slow
def test_bag_from_video_stopped_by_sigterm_leaves_nothing(processes, ros_env, tmp_path, long_video):
    out = tmp_path / "bag"
    process = processes([*COMMAND, "bag", "from-video", str(long_video), "-o", str(out), "--no-progress"], ros_env,
                        cwd=tmp_path)
    check_stopped(*stop_once_at_work(process, out, signal.SIGTERM), signal.SIGTERM, out)


@pytest.mark.slow
def test_run_stopped_by_sigterm_leaves_nothing(processes, ros_env, tmp_path, long_video, small_detector_overrides):
    out = tmp_path / "out"
    process = processes([*COMMAND, "run", str(long_video), "-o", str(out), "--no-progress",
                         "--set", *small_detector_overrides], ros_env, cwd=tmp_path)
    check_stopped(*stop_once_at_work(process, out, signal.SIGTERM), signal.SIGTERM, out)
