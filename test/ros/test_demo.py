"""The README's first command's job: `emotion-perception demo` plays the sample into the real node over DDS and
ends with a table that scores what the node said against the sample's ground truth."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from emotion_perception.offline.box_truth import VTEST_VIDEO
from emotion_perception.detection.movenet_weights import movenet_weights_dir

DEMO = [f"{sys.prefix}/bin/emotion-perception", "demo"]


def test_the_demo_scores_the_node_against_the_ground_truth(tmp_path: Path, ros_env):
    result = subprocess.run([*DEMO, "--out", str(tmp_path / "demo"), "--rate", "0.5"], env=ros_env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    truth = output[output.index("against the ground truth"):output.index("demo: real footage")]
    rows = {int(m[1]): (m[2], m[3], m[4]) for m in re.finditer(r"^\s+(\d+)\s+(\w+)\s+(\d+|-) %?\s.*?(\w+)\s*$", truth,
                                                                 re.MULTILINE)}
    assert sorted(rows) == [1, 2, 3, 4, 5], truth[:2000]
    assert [rows[p][0] for p in (1, 2, 3, 4, 5)] == ["happy", "sad", "angry", "angry", "happy"], rows
    assert rows[5] == ("happy", "100", "happy"), "the real photograph is happy from the face cue"
    assert rows[2][1:] == ("100", "sad") and rows[4][1:] == ("100", "angry"), rows
    overall = re.search(r"overall: (\d+) % agreement over (\d+) valid person-frames", truth)
    assert overall and int(overall[2]) > 50, truth[:2000]
    assert "diagnostics [ok]" in output, "every configured cue runs on the sample"
    assert (tmp_path / "demo" / "debug_sheet.png").stat().st_size > 10_000
    real = output[output.index("demo: real footage"):]
    if not (VTEST_VIDEO.is_file() and (movenet_weights_dir() / "movenet-multipose.json").is_file()):
        assert "real footage skipped" in real, real[:2000]
        return
    scores = re.search(r"MOTA (-?[\d.]+)  IDF1 ([\d.]+)  ID switches (\d+)", real)
    assert scores, real[:3000]
    assert float(scores[2]) > 0.3, "the node's tracks follow the real pedestrians of the hand-checked clip"
    assert (tmp_path / "demo" / "vtest_sheet.png").stat().st_size > 10_000
