"""Fleet runs: `bag process` over a folder of recordings on local workers and on a local Ray cluster, skipping what
is done, reporting what fails, the aggregate report's numbers, and `compare` gating on an injected regression."""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from emotion_perception.cli import main
from emotion_perception.offline.ground_truth import load_ground_truth
from emotion_perception.labels import EMOTIONS
from emotion_perception.offline.compare import REGRESSION_EXIT
from emotion_perception.offline.fleet import (FleetOptions, find_recordings, process_fleet, settings_fingerprint)
from emotion_perception.offline.report import write_csv, write_summary
from emotion_perception.ros.bags.process import process_bag
from emotion_perception.ros.bags.sample import write_sample_bag
from emotion_perception.offline.scoring import load_rows, write_scoring
from emotion_perception.settings import Settings
from emotion_perception.offline.synthetic_scene import SceneConfig, render_scene

pytestmark = pytest.mark.slow

SKELETONS = ["--set", "pipeline.pose_source=skeletons"]
"""People from the bags' skeletons: the same people on every machine, whatever detector weights it has."""
BAGS = ("walk_a", "walk_b", "walk_c")


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> Path:
    """Three short sample walks (other seeds) and a bag that cannot be read."""
    folder = tmp_path_factory.mktemp("recordings")
    for seed, name in enumerate(BAGS, start=3):
        write_sample_bag(folder / name, SceneConfig(people=2, seconds=2.0, seed=seed, approaching=False))
    broken = folder / "walk_broken"
    broken.mkdir()
    (broken / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 9, files: [oops]}\n")
    return folder


@pytest.fixture(scope="module")
def fleet_run(recordings, tmp_path_factory):
    """One fleet run with two local workers: (exit code, its output folder)."""
    out = tmp_path_factory.mktemp("fleet") / "out"
    code = main(["bag", "process", str(recordings), "-o", str(out), "--jobs", "2", "--no-progress", *SKELETONS])
    return code, out


def test_two_workers_process_every_readable_bag_and_report_the_broken_one(fleet_run, recordings):
    code, out = fleet_run
    assert code == 1  # a recording failed
    report = json.loads((out / "fleet.json").read_text())
    assert report["run"] == {**report["run"], "engine": "local", "jobs": 2, "recordings": 4, "processed": 3,
                             "skipped": 0, "failed": 1}
    assert [f["name"] for f in report["failures"]] == ["walk_broken"]
    assert "cannot read the bag" in report["failures"][0]["error"]
    assert not (out / "walk_broken").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging folder left
    for name in BAGS:
        summary = _summary(out / name)
        assert summary["fleet"]["fingerprint"] and summary["fleet"]["ground_truth"] == str(recordings / name / "ground_truth.json")
        assert summary["frames"]["processed"] == 60 and summary["scoring"]["overall"]["valid_frames"] > 0
    markdown = (out / "fleet.md").read_text()
    assert "walk_broken" in markdown and all(name in markdown for name in BAGS)
    assert all((out / image).stat().st_size > 0 for image in ("fleet_agreement.png", "fleet_labels.png"))


def test_the_report_numbers_are_those_of_the_outputs(fleet_run):
    _, out = fleet_run
    report = json.loads((out / "fleet.json").read_text())
    entries = {e["name"]: e for e in report["recordings"]}
    correct = valid = 0
    labels: collections.Counter[str] = collections.Counter()
    person_frames = gait_valid = 0
    for name in BAGS:
        scoring = _summary(out / name)["scoring"]
        people_correct = sum(p["correct_frames"] for p in scoring["people"])
        assert entries[name]["agreement"] == round(people_correct / scoring["overall"]["valid_frames"], 4)
        correct, valid = correct + people_correct, valid + scoring["overall"]["valid_frames"]
        rows = load_rows(out / name / "people.csv")
        own = collections.Counter(row["fused_emotion"] for row in rows if row["fused_valid"])
        assert entries[name]["label_share"] == {k: round(v / sum(own.values()), 4) for k, v in own.items()}
        labels.update(own)
        person_frames += len(rows)
        gait_valid += sum(row.get("gait_valid", 0) for row in rows)
        assert entries[name]["frames_per_second"] > 0
    overall = report["overall"]
    assert overall["agreement"] == round(correct / valid, 4)
    assert overall["counts"]["person_frames"] == person_frames
    assert overall["valid_share"]["gait"] == round(gait_valid / person_frames, 4)
    assert overall["label_share"] == {label: round(labels[label] / sum(labels.values()), 4)
                                      for label in EMOTIONS if labels[label]}
    assert overall["label_flips_per_minute"] is not None


def test_a_rerun_skips_every_recording_done_with_the_same_fingerprint(fleet_run, recordings):
    code, out = fleet_run
    before = {name: (out / name / "summary.json").stat().st_mtime_ns for name in BAGS}
    assert main(["bag", "process", str(recordings), "-o", str(out), "--jobs", "2", "--no-progress", *SKELETONS]) == 1
    report = json.loads((out / "fleet.json").read_text())
    assert (report["run"]["processed"], report["run"]["skipped"], report["run"]["failed"]) == (0, 3, 1)
    assert before == {name: (out / name / "summary.json").stat().st_mtime_ns for name in BAGS}
    assert report["overall"]["counts"]["person_frames"] > 0  # skipped recordings still count in the report


def test_the_fingerprint_follows_settings_and_weights_files(tmp_path):
    weights = tmp_path / "gesture.pt"
    weights.write_bytes(b"one")
    settings = Settings().with_values({"gesture.weights": str(weights)})
    first = settings_fingerprint(settings)
    assert settings_fingerprint(settings)["sha256"] == first["sha256"]
    assert settings_fingerprint(settings.with_values({"fusion.min_hold_s": 0.5}))["sha256"] != first["sha256"]
    weights.write_bytes(b"two")  # same path, other weights
    assert settings_fingerprint(settings)["sha256"] != first["sha256"]
    assert first["models"]["gait.weights"].startswith("sha256:")  # the released file's hash, not its name


def test_compare_passes_identical_runs_and_fails_an_injected_regression(fleet_run, tmp_path, recordings):
    _, out = fleet_run
    assert main(["compare", str(out), str(out), "-o", str(tmp_path / "same")]) == 0
    same = json.loads((tmp_path / "same" / "compare.json").read_text())
    assert same["overall"]["agreement"]["change"] == 0 and same["overall"]["differing"] == 0
    assert same["regression"] is False
    # B: the same outputs with a model that calls every valid person neutral, scored again
    worse = tmp_path / "worse"
    changed = 0
    for name in BAGS:
        shutil.copytree(out / name, worse / name)
        rows = load_rows(worse / name / "people.csv")
        for row in rows:
            if row["fused_valid"] and row["fused_emotion"] != "neutral":
                row["fused_emotion"], changed = "neutral", changed + 1
        columns = (worse / name / "people.csv").read_text().splitlines()[0].split(",")
        write_csv(worse / name / "people.csv", rows, columns)
        summary = _summary(worse / name)
        truth = load_ground_truth(recordings / name / "ground_truth.json")
        summary["scoring"] = write_scoring(worse / name, rows, truth)
        write_summary(worse / name, summary)
    assert main(["compare", str(out), str(worse)]) == REGRESSION_EXIT
    report = json.loads((worse / "compare.json").read_text())
    agreement = report["overall"]["agreement"]
    assert report["regression"] and agreement["change"] < -0.02 and agreement["ci"][1] < 0
    assert report["overall"]["differing"] == changed
    assert all(change.endswith("-> neutral") for r in report["recordings"] for change in r["labels"]["changes"])
    assert "REGRESSION" in (worse / "compare.md").read_text()
    # a drop tolerated by the threshold passes
    assert main(["compare", str(out), str(worse), "--max-drop", "0.99", "-o", str(tmp_path / "tolerated")]) == 0


def test_recordings_are_found_in_folders_globs_and_list_files(recordings, tmp_path):
    listing = tmp_path / "bags.txt"
    listing.write_text(f"# two of them\n{recordings / 'walk_a'}\n\n{recordings / 'walk_c'}\n")
    assert [r.name for r in find_recordings([str(listing)])] == ["walk_a", "walk_c"]
    assert [r.name for r in find_recordings([str(recordings / "walk_[ab]")])] == ["walk_a", "walk_b"]
    assert len(find_recordings([str(recordings), str(recordings / "walk_a")])) == 4  # each once
    other = tmp_path / "robot2"
    shutil.copytree(recordings / "walk_a", other / "walk_a")
    names = [r.name for r in find_recordings([str(recordings / "walk_a"), str(other / "walk_a")])]
    assert len(set(names)) == 2 and all(name.endswith("__walk_a") for name in names)
    with pytest.raises(ValueError, match="no bag"):
        find_recordings([str(tmp_path / "nothing_*")])


def _write_video(path: Path, frames: int) -> Path:
    _, rendered = render_scene(SceneConfig(people=1, seconds=frames / 30.0, seed=1, photo_seconds=0.0))
    height, width = rendered[0].image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (width, height))
    for frame in rendered[:frames]:
        writer.write(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_videos_are_run_like_run_with_a_detector_file(tmp_path, small_detector_overrides):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("cam_1", "cam_2"):
        _write_video(videos / f"{name}.mp4", 6)
    out = tmp_path / "out"
    assert main(["bag", "process", str(videos / "*.mp4"), "-o", str(out), "--no-progress",
                 "--set", *small_detector_overrides]) == 0
    report = json.loads((out / "fleet.json").read_text())
    assert [(e["name"], e["kind"], e["status"]) for e in report["recordings"]] == [
        ("cam_1", "video", "processed"), ("cam_2", "video", "processed")]
    summary = _summary(out / "cam_1")
    assert summary["frames"]["images"] == 6 and summary["fleet"]["settings"]["models"]["detector.weights"].startswith("sha256:")


def test_ray_without_the_extra_says_how_to_install_it(recordings, tmp_path):
    code = ("import sys; sys.modules['ray'] = None\n"  # as if ray were not installed
            "from emotion_perception.cli import main\n"
            f"sys.exit(main(['bag', 'process', {str(recordings / 'walk_a')!r}, '-o', {str(tmp_path / 'out')!r}, '--ray']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2, done.stderr
    assert "pip install 'emotion_perception[fleet]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_local_ray_cluster_runs_one_task_per_recording(recordings, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.chdir(tmp_path)  # Ray puts the driver's folder on its workers' path: not the uninstalled source tree
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = process_fleet(find_recordings([str(recordings / "walk_a"), str(recordings / "walk_b")]),
                               tmp_path / "out", Settings().with_values({"pipeline.pose_source": "skeletons"}),
                               process_bag, FleetOptions(ray=True, progress=False))
    finally:
        ray.shutdown()
    run = report["run"]
    assert (run["engine"], run["processed"], run["failed"], run["task_cpus"], run["task_gpus"]) == ("ray", 2, 0, 1.0, 0.0)
    assert all(_summary(tmp_path / "out" / name)["scoring"]["overall"]["valid_frames"] > 0 for name in ("walk_a", "walk_b"))
