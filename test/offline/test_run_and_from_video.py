"""Recordings in, outside ROS: `emotion-perception run SOURCE` and `emotion-perception bag from-video`.

Real footage is OpenCV's vtest.avi (pedestrians, 768x576, 10 fps) from Debian's opencv-doc package; tests
that need it skip where it is not installed. People come from Keypoint R-CNN with random weights at a small
input size (CPU, no download): the point is the plumbing, not accuracy. Its box classifier is set to call
every proposal a person, so that tracks, rows and drawings exist to be checked.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from emotion_perception.cli import main
from emotion_perception.offline.box_truth import VTEST_VIDEO
from emotion_perception.offline.report import csv_columns
from emotion_perception.ros.bags.process import process_bag
from emotion_perception.ros.bags.store import open_bag
from emotion_perception.ros.conversions import image_to_rgb
from emotion_perception.ros.bags.video import write_video_bag
from emotion_perception.offline.run import run_source
from emotion_perception.offline.sources import (DEFAULT_START_NS, SourceError, open_source, pinhole_intrinsics,
                                        stamp_from_seconds)
from emotion_perception.offline.synthetic_scene import SceneConfig, render_scene

from support.marks import needs_vtest
from support.small_detector import random_pipeline


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def video_frames(path: Path) -> tuple[int, tuple[int, int]]:
    """Frames decoded from a video file, and its (width, height)."""
    capture = cv2.VideoCapture(str(path))
    count, size = 0, (0, 0)
    while True:
        ok, image = capture.read()
        if not ok:
            break
        count, size = count + 1, (image.shape[1], image.shape[0])
    capture.release()
    return count, size


def check_outputs(out: Path, summary: dict, pipeline: Pipeline, stamps: list[int], size: tuple[int, int]) -> list[dict]:
    """The files of a run agree with one another, with the pipeline's cues and with the source's stamps."""
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    header, rows = read_csv(out / "people.csv")
    assert header == csv_columns({cue.name: cue.result_class for cue in pipeline.running_cues()})
    assert rows, "the detector calls every box a person: rows expected"
    for row in rows:
        assert int(row["stamp_ns"]) in stamps
        assert float(row["time_s"]) == pytest.approx((int(row["stamp_ns"]) - stamps[0]) * 1e-9, abs=1e-6)
    per_track = {track: sum(row["track_id"] == track for row in rows) for track in {row["track_id"] for row in rows}}
    assert {track: person["frames"] for track, person in summary["people"].items()} == per_track
    assert video_frames(out / "annotated.mp4") == (summary["frames"]["images"], size)
    assert summary["video"]["frames"] == summary["frames"]["images"]
    return rows


@pytest.mark.slow
@needs_vtest
def test_run_on_a_video_stamps_frames_at_its_rate_and_writes_video_csv_and_summary(tmp_path, small_detector_settings):
    pipeline = random_pipeline(small_detector_settings)
    with open_source(VTEST_VIDEO, start_ns=5_000_000_000) as source:
        assert (source.width, source.height, source.fps, source.count) == (768, 576, 10.0, 795)
        summary = run_source(source, tmp_path / "out", pipeline=pipeline, max_frames=20, progress=False)
    assert summary["frames"]["images"] == summary["frames"]["processed"] == 20
    assert summary["source"]["kind"] == "video" and not summary["interrupted"]
    check_outputs(tmp_path / "out", summary, pipeline, [5_000_000_000 + i * 100_000_000 for i in range(20)], (768, 576))


def test_run_on_an_image_folder_stamps_by_fps_and_skips_what_it_cannot_read(tmp_path, small_detector_settings):
    _, frames = render_scene(SceneConfig(people=2, seconds=0.2, seed=3))
    folder = tmp_path / "images"
    folder.mkdir()
    for index, frame in enumerate(frames[:5]):
        cv2.imwrite(str(folder / f"frame_{index:03d}.png"), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    (folder / "frame_001b.png").write_bytes(b"not a png")  # index 2 by name: its place in time stays empty
    (folder / "notes.txt").write_text("not an image, not a frame")
    pipeline = random_pipeline(small_detector_settings)
    with open_source(folder, fps=5.0) as source:
        assert (source.kind, source.width, source.height, source.count) == ("folder", 320, 240, 6)
        summary = run_source(source, tmp_path / "out", pipeline=pipeline, progress=False)
    assert summary["frames"]["images"] == summary["frames"]["processed"] == 5
    assert summary["frames"]["unreadable_image"] == 1
    stamps = [DEFAULT_START_NS + i * 200_000_000 for i in (0, 1, 3, 4, 5)]
    check_outputs(tmp_path / "out", summary, pipeline, stamps, (320, 240))


@pytest.mark.slow
@needs_vtest
def test_bag_from_video_round_trips_through_bag_process(tmp_path, small_detector_settings):
    written = write_video_bag(VTEST_VIDEO, tmp_path / "bag", max_frames=8, progress=False)
    stamps = [DEFAULT_START_NS + i * 100_000_000 for i in range(8)]
    assert written["frames"] == 8 and written["fps"] == 10.0
    assert sorted(path.name for path in (tmp_path / "bag").iterdir()) == ["bag.mcap", "metadata.yaml"]
    images, infos = [], []
    with open_bag(tmp_path / "bag") as reader:
        types = {"/camera/color/image_raw/compressed": CompressedImage, "/camera/color/camera_info": CameraInfo}
        assert {c.topic for c in reader.connections} == set(types)
        for connection, timestamp, raw in reader.messages():
            msg = deserialize_message(raw, types[connection.topic])
            assert timestamp == msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            (infos if connection.topic.endswith("camera_info") else images).append((timestamp, msg))
    assert [t for t, _ in images] == [t for t, _ in infos] == stamps
    expected = pinhole_intrinsics(768, 576)  # the documented default: 60 degrees horizontal field of view
    assert expected.fx == pytest.approx(384 / np.tan(np.radians(30)))
    assert list(infos[0][1].k) == pytest.approx([expected.fx, 0, 383.5, 0, expected.fx, 287.5, 0, 0, 1])
    with open_source(VTEST_VIDEO) as source:
        first = next(iter(source)).image
    assert np.abs(image_to_rgb(images[0][1]).astype(int) - first).mean() < 3.0  # JPEG, quality 90

    summary = process_bag(tmp_path / "bag", tmp_path / "processed", small_detector_settings,
                          pipeline=random_pipeline(small_detector_settings),
                          progress=False, log=lambda text: None)
    assert summary["frames"]["images"] == summary["frames"]["processed"] == 8
    assert summary["topics"]["image"] == "/camera/color/image_raw/compressed"
    assert summary["topics"]["camera_info"] == "/camera/color/camera_info"
    assert "ignored_camera_info" not in summary["frames"]
    _, rows = read_csv(tmp_path / "processed" / "people.csv")
    assert rows and {int(row["stamp_ns"]) for row in rows} <= set(stamps)


@needs_vtest
def test_bag_from_video_raw_images_carry_the_video_frames_exactly(tmp_path):
    exit_code = main(["bag", "from-video", str(VTEST_VIDEO), "-o", str(tmp_path / "bag"), "--raw", "--encoding", "bgr8",
                      "--max-frames", "2", "--fps", "4", "--start-time", "12.5", "--intrinsics", "500,510,380,290",
                      "--topic-prefix", "/front", "--no-progress"])
    assert exit_code == 0
    with open_bag(tmp_path / "bag") as reader:
        messages = {(c.topic, t): raw for c, t, raw in reader.messages()}
    assert sorted(messages) == [("/front/camera_info", 12_500_000_000), ("/front/camera_info", 12_750_000_000),
                                ("/front/image_raw", 12_500_000_000), ("/front/image_raw", 12_750_000_000)]
    image = deserialize_message(messages["/front/image_raw", 12_750_000_000], Image)
    info = deserialize_message(messages["/front/camera_info", 12_500_000_000], CameraInfo)
    assert (image.encoding, image.width, image.height) == ("bgr8", 768, 576)
    assert list(info.k) == [500.0, 0.0, 380.0, 0.0, 510.0, 290.0, 0.0, 0.0, 1.0]
    with open_source(VTEST_VIDEO) as source:
        second = [frame.image for _, frame in zip(range(2), source)][1]
    np.testing.assert_array_equal(image_to_rgb(image), second)


@pytest.fixture
def bad_inputs(tmp_path) -> dict[str, Path]:
    (tmp_path / "empty").mkdir()
    (tmp_path / "text.mp4").write_text("this is not a video\n")
    return {"no such file": tmp_path / "missing.mp4", "cannot open it as a video": tmp_path / "text.mp4",
            "holds no image files": tmp_path / "empty"}


def test_bad_sources_are_refused_with_a_clear_error_and_exit_code_2(tmp_path, bad_inputs, capsys):
    for reason, path in bad_inputs.items():
        assert main(["run", str(path), "-o", str(tmp_path / "out"), "--no-progress"]) == 2
        assert reason in capsys.readouterr().err
        assert main(["bag", "from-video", str(path), "-o", str(tmp_path / "bag"), "--no-progress"]) == 2
        assert (reason if path.suffix else "is not a file") in capsys.readouterr().err
    assert main(["run", "99", "-o", str(tmp_path / "out")]) == 2  # a webcam index that no device has
    assert "camera 99 cannot be opened" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "bag").exists()
    with pytest.raises(SourceError, match="no image files"):
        open_source(bad_inputs["holds no image files"])


def test_run_without_a_usable_detector_refuses_and_leaves_nothing(tmp_path, capsys):
    _, frames = render_scene(SceneConfig(people=1, seconds=0.1))
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), frames[0].image)
    assert main(["run", str(tmp_path / "images"), "-o", str(tmp_path / "out"), "--set", "detector.weights=''",
                 "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "no person detector" in error and "detector.weights" in error
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["images"]
    assert main(["run", str(tmp_path / "images"), "-o", str(tmp_path / "out"), "--intrinsics", "1,2,3"]) == 2
    assert "fx,fy,cx,cy" in capsys.readouterr().err


@pytest.mark.slow
def test_run_command_with_a_local_detector_weights_file_writes_its_outputs(tmp_path, small_detector_overrides,
                                                                           scene_images, capsys):
    """The command end to end: a user's weights file instead of the DEFAULT download, a folder, intrinsics."""
    assert main(["run", str(scene_images), "-o", str(tmp_path / "out"), "--set", *small_detector_overrides,
                 "--hfov", "75", "--fps", "10", "--no-progress"]) == 0
    assert "annotated.mp4" in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"]["processed"] == 3 and summary["people_source"].startswith("ok: ")
    assert video_frames(tmp_path / "out" / "annotated.mp4") == (3, (320, 240))
    header, rows = read_csv(tmp_path / "out" / "people.csv")
    assert header[:3] == ["stamp_ns", "time_s", "track_id"]
    assert {int(row["stamp_ns"]) for row in rows} <= {DEFAULT_START_NS + i * 100_000_000 for i in range(3)}


def test_intrinsics_and_start_times_are_parsed_exactly():
    camera = pinhole_intrinsics(640, 480, hfov_deg=90.0)
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (pytest.approx(320.0), pytest.approx(320.0), 319.5, 239.5)
    assert pinhole_intrinsics(640, 480, (500, 501, 320, 240)).fy == 501.0
    with pytest.raises(ValueError, match="not both"):
        pinhole_intrinsics(640, 480, (500, 501, 320, 240), 60.0)
    with pytest.raises(ValueError, match="between 0 and 180"):
        pinhole_intrinsics(640, 480, hfov_deg=180.0)
    assert stamp_from_seconds("1700000000.123456789") == 1_700_000_000_123_456_789
    with pytest.raises(ValueError, match="non-negative"):
        stamp_from_seconds("-1")
