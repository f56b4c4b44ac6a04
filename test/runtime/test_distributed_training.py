"""Training under torchrun: two gloo processes on the CPU train as well as one, and only rank 0 writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

GESTURES = ["--synthetic", "30", "--synthetic-frames", "45", "--window-frames", "45", "--epochs", "12"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def _cli(arguments: list[str], cwd: Path, launcher: list[str] = (sys.executable,)) -> subprocess.CompletedProcess:
    """The installed CLI as its own process(es), from a folder without the source tree."""
    done = subprocess.run([*launcher, "-m", "emotion_perception.cli", *arguments], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def _held_out_accuracy(run: Path, tmp_path: Path) -> float:
    _cli(["eval-gesture", "--synthetic", "15", "--synthetic-frames", "45", "--data-seed", "1",
          "--weights", str(run / "gesture_accm.pt"), "--out", str(run / "eval")], tmp_path)
    return json.loads((run / "eval" / "report.json").read_text())["accuracy"]


def test_two_gloo_processes_train_gesture_as_well_as_one(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    _cli(["train-gesture", *GESTURES, "--out", str(one)], tmp_path)
    done = _cli(["train-gesture", *GESTURES, "--out", str(two)], tmp_path, TORCHRUN)
    assert "rank 1 of 2: trained; rank 0 writes the outputs" in done.stdout
    assert done.stdout.count("checkpoint ") == 1  # rank 0 alone wrote and said so
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    assert json.loads((two / "report.json").read_text())["processes"] == 2
    assert json.loads((one / "report.json").read_text())["processes"] == 1
    accuracy_one, accuracy_two = _held_out_accuracy(one, tmp_path), _held_out_accuracy(two, tmp_path)
    assert accuracy_one > 0.85 and accuracy_two > 0.85, (accuracy_one, accuracy_two)  # 60 held-out sequences
    assert abs(accuracy_two - accuracy_one) < 0.1, (accuracy_one, accuracy_two)


def test_gait_trains_under_torchrun_on_the_cpu(tmp_path):
    """ST-GCN's backward under DistributedDataParallel crashed in oneDNN's CPU kernels; distributed CPU runs avoid them."""
    done = _cli(["train-gait", "--synthetic", "4", "--epochs", "1", "--out", str(tmp_path / "gait")], tmp_path, TORCHRUN)
    assert "rank 1 of 2" in done.stdout
    assert (tmp_path / "gait" / "gait_stgcn.pt").is_file()
    assert json.loads((tmp_path / "gait" / "report.json").read_text())["processes"] == 2


def test_the_lifter_trains_under_torchrun_and_rank_0_writes(tmp_path):
    done = _cli(["train-lifter", "--walks", "40", "--epochs", "1", "--width", "64", "--blocks", "1",
                 "--out", str(tmp_path / "lifter")], tmp_path, TORCHRUN)
    assert "rank 1 of 2: trained; rank 0 writes the outputs" in done.stdout and done.stdout.count("wrote ") == 1
    assert sorted(p.name for p in (tmp_path / "lifter").iterdir()) == ["lifter_mlp.json", "lifter_mlp.pt", "metrics.json"]
