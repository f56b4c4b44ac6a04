"""A cue from outside the package, installed as another distribution (entry points), reaches the command's help,
its own command, the settings, the released weights, the ONNX export and the CSV of a run, in fresh processes
as a user would see them; broken plug-ins beside it are named and skipped, and nothing else breaks.
(test/ros/test_node_plugin_cue.py follows it through the node: message and diagnostics.)"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from emotion_perception.offline.synthetic_scene import SceneConfig, render_scene

from support.plugin_cue import install_plugins, plugin_env

COMMAND = [sys.executable, "-m", "emotion_perception.cli"]


@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> Path:
    return install_plugins(tmp_path_factory.mktemp("site"))


def commands(plugins: Path, *argument_lists: tuple[str, ...], cwd: Path) -> list[subprocess.CompletedProcess]:
    """`emotion-perception ARGUMENTS`, for each of ``argument_lists``, in fresh interpreters with the plug-ins'
    folder on their path, run side by side (each spends seconds importing); their results in that order."""
    started = [subprocess.Popen([*COMMAND, *arguments], env=plugin_env(plugins, {"OMP_NUM_THREADS": "1", "PATH": ""}),
                                cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for arguments in argument_lists]
    outputs = [process.communicate(timeout=300) for process in started]
    return [subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
            for process, (stdout, stderr) in zip(started, outputs)]


def command(plugins: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    """`emotion-perception ARGUMENTS` in a fresh interpreter with the plug-ins' folder on its path."""
    return commands(plugins, arguments, cwd=cwd)[0]


def skipped_plugins_named(stderr: str) -> bool:
    return ("plug-in 'broken' (posture_broken:BrokenCue, from posture_broken)" in stderr
            and "plug-in 'second_gait' (posture_cue:SecondGait, from posture_cue) of emotion_perception.cues skipped: "
                "a cue named 'gait' is already registered" in stderr
            and "detector backend 'broken_detector'" in stderr and "Traceback" not in stderr)


def test_a_plugin_cue_is_in_the_help_the_settings_and_the_weights_and_runs_its_own_command(plugins, tmp_path):
    help_text, upright, slumped, params, weights = commands(
        plugins, ("--help",), ("posture-check", "2.5"), ("posture-check", "0.5"), ("config",), ("weights", "list"),
        cwd=tmp_path)
    assert help_text.returncode == 0, help_text.stderr
    assert "posture-check" in help_text.stdout and "posture plug-in" in help_text.stdout
    assert skipped_plugins_named(help_text.stderr), help_text.stderr
    assert upright.stdout.strip() == "upright"
    assert slumped.stdout.strip() == "slumped"
    assert params.returncode == 0, params.stderr
    group = params.stdout[params.stdout.index("    posture:\n"):].split("    # ---")[0]
    assert "weights: posture_rule" in group and "min_height_px: 4.0" in group and "fusion_weight: 1.0" in group
    assert "'broken_detector' a plug-in of posture_broken" in params.stdout, "the detector choices name it"
    assert "    broken:" not in params.stdout
    assert any(line.split()[:3] == ["posture_rule", "posture_net", "missing"] for line in weights.stdout.splitlines())


@pytest.mark.slow
def test_a_plugin_cues_network_is_exported_and_checked(plugins, tmp_path):
    pytest.importorskip("onnxruntime")
    exported = command(plugins, "export", "posture_net", "-o", "posture.onnx", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "posture.onnx").stat().st_size > 0
    checks = [line for line in exported.stdout.splitlines() if "logits" in line]
    assert len(checks) == 2 and all(line.endswith(" ok") for line in checks), exported.stdout


@pytest.mark.slow
def test_a_plugin_cue_writes_its_columns_in_a_runs_csv(plugins, tmp_path, small_detector_overrides, scene_images):
    overrides = [*small_detector_overrides, "gait.weights=''", "face.expression_weights=''"]
    run = command(plugins, "run", scene_images.name, "-o", "out", "--set", *overrides, "--no-video", "--no-progress",
                  cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    with open(tmp_path / "out" / "people.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert {"posture_valid", "posture_label", "posture_p_slumped", "posture_p_upright"} <= set(reader.fieldnames)
    assert not any(name.startswith(("gait_", "face_", "broken")) for name in reader.fieldnames)
    assert rows and all(row["posture_label"] in ("slumped", "upright") for row in rows if row["posture_valid"] == "1")
    assert any(row["posture_valid"] == "1" for row in rows), "the detector calls every box a person"


def test_choosing_a_detector_plugin_that_cannot_load_is_refused_naming_it(plugins, tmp_path):
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), render_scene(SceneConfig(people=1, seconds=0.1))[1][0].image)
    run = command(plugins, "run", "images", "-o", "out", "--set", "detector.model=broken_detector", "--no-progress",
                  cwd=tmp_path)
    assert run.returncode == 2 and not (tmp_path / "out").exists()
    error = run.stderr.strip().splitlines()[-1]
    assert error.startswith("emotion-perception run: error: ") and "broken_detector" in error, run.stderr
    assert "posture_broken needs a package that is not installed" in error and "Traceback" not in run.stderr
