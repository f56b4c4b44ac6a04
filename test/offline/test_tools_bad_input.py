"""The offline tools against what a user or an attacker gives them first: image bombs, frame sizes the video
encoder refuses, absent topics, rates that are not rates, camera indices OpenCV cannot take, bags with no
decodable image; and what `bag process` reports (a short summary, where the people came from)."""

from __future__ import annotations

import json
import struct
import zlib

import cv2
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from sensor_msgs.msg import CompressedImage

from emotion_perception.cli import main
from emotion_perception.runtime.paths import sample_bag_path
from emotion_perception.ros.bags.process import process_bag
from emotion_perception.ros.bags.store import typestore
from emotion_perception.offline.scoring import people_source_text
from emotion_perception.settings import Settings
from emotion_perception.offline.sources import ImageFolderSource, SourceError, VideoFileSource, open_source

NO_DETECTOR = ["--set", "detector.weights=''"]
"""Nothing downloads: without a detector, bag process takes people from the bag's skeletons."""


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` grey pixels, with one compressed row of data: a few
    hundred bytes that a decoder would allocate the whole image for (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(width + 1)))
            + chunk(b"IEND", b""))


def one_line_error(capsys) -> str:
    """The command's error: one line (notes it logged before may precede it), no traceback."""
    error = capsys.readouterr().err
    lines = [line for line in error.splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("emotion-perception ") and "Traceback" not in error, error
    return lines[0]


# --- item 6: the image-size guard ----------------------------------------------------------------------------
def test_an_image_declaring_an_enormous_size_is_refused_from_its_header(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "bomb.png").write_bytes(png_declaring(16000, 16000))
    assert main(["run", str(folder), "-o", str(tmp_path / "out"), "--no-progress", *NO_DETECTOR]) == 2
    error = one_line_error(capsys)
    assert "16000x16000" in error and "refused before decoding" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images"]
    with pytest.raises(SourceError, match="16000x16000"):  # the node's limit unless told another
        open_source(folder)


def test_a_folder_skips_and_counts_images_over_the_limit(tmp_path):
    for name in ("a.png", "c.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((24, 32, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((300, 400, 3), np.uint8))  # over the limit
    with ImageFolderSource(tmp_path, max_pixels=32 * 24) as source:
        frames = list(source)
    assert len(frames) == 2 and source.skipped == {"too_large_image": 1}


def test_a_video_with_frames_over_the_limit_is_refused_when_it_opens(tmp_path):
    path = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    with VideoFileSource(path, max_pixels=64 * 48) as source:
        assert (source.width, source.height) == (64, 48)
    with pytest.raises(SourceError, match="64x48, over the limit of 3071 pixels"):
        VideoFileSource(path, max_pixels=64 * 48 - 1)


def test_a_frame_size_the_video_encoder_refuses_stops_the_run_before_it_starts(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "wide.png"), np.zeros((4, 8200, 3), np.uint8))  # 32,800 pixels: under the limit
    assert main(["run", str(folder), "-o", str(tmp_path / "out"), "--no-progress", *NO_DETECTOR]) == 2
    error = one_line_error(capsys)
    assert "8200x4" in error and "--no-video" in error and "no person detector" not in error


# --- item 10: other command-line tracebacks ------------------------------------------------------------------
def test_a_camera_index_opencv_cannot_take_is_a_clear_error(tmp_path, capsys):
    assert main(["run", "99999999999", "-o", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "camera 99999999999 cannot be opened" in one_line_error(capsys)


@pytest.mark.parametrize("arguments, reason", [
    (["--topics", "/nothing"], "has no topic /nothing; it has /body_tracker/skeletons"),
    (["--rate", "-1"], "rate must be a finite number >= 0"),
    (["--rate", "nan"], "rate must be a finite number >= 0"),
    (["--remap", "/a=/b"], "FROM:=TO"),
])
def test_bag_play_refuses_what_it_cannot_play_with_one_line(ros_env, capsys, arguments, reason):
    assert main(["bag", "play", str(sample_bag_path()), *arguments]) == 2
    assert reason in one_line_error(capsys)


# --- item 7 (in process): a bag of which no image decodes ----------------------------------------------------
def test_a_bag_whose_images_are_all_undecodable_exits_2_and_leaves_nothing(tmp_path, capsys):
    bag = tmp_path / "broken"
    store = typestore()
    with Reader(sample_bag_path()) as reader, Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {c.topic: writer.add_connection(c.topic, c.msgtype, typestore=store) for c in reader.connections}
        for connection, stamp, raw in reader.messages():
            if connection.msgtype == "sensor_msgs/msg/CompressedImage":
                image = deserialize_message(raw, CompressedImage)
                image.data = b"\xff\xd8 not a JPEG"
                raw = serialize_message(image)
            writer.write(connections[connection.topic], stamp, raw)
    with pytest.raises(ValueError, match=r"none of the 180 images .* could be processed \(bad_image 180"):
        process_bag(bag, tmp_path / "out", Settings().with_values({"detector.weights": ""}), progress=False)
    assert main(["bag", "process", str(bag), "-o", str(tmp_path / "out"), "--no-progress", *NO_DETECTOR]) == 2
    assert "bad_image 180" in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]


# --- item 12: what bag process reports -----------------------------------------------------------------------
@pytest.mark.slow
def test_bag_process_max_frames_video_short_summary_and_where_people_came_from(tmp_path, capsys):
    bag, out = sample_bag_path(), tmp_path / "out"
    assert main(["bag", "process", str(bag), "-o", str(out), "--max-frames", "12", "--video", "--no-progress",
                 "--ground-truth", str(bag / "ground_truth.json"), *NO_DETECTOR]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"]["images"] == 12 and summary["frames"]["processed"] == 12
    assert summary["video"] == {"file": "annotated.mp4", "codec": "mp4v", "frames": 12}
    capture = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    capture.release()
    assert "frames: 12 of 12 processed" in printed and str(out / "summary.json") in printed
    assert len(printed.splitlines()) <= 5 and '"people"' not in printed  # no summary.json dump
    scoring = (out / "scoring.md").read_text()
    assert "/body_tracker/skeletons" in scoring and "box IoU of 1.0" in scoring
    assert summary["scoring"]["people_source"] == {"source": "skeletons", "detail": "/body_tracker/skeletons"}
    assert main(["bag", "process", str(bag), "-o", str(tmp_path / "none"), "--max-frames", "0"]) == 2
    assert main(["bag", "process", str(bag), str(bag), "-o", str(tmp_path / "none"), "--video"]) == 2
    assert "take one bag" in capsys.readouterr().err and not (tmp_path / "none").exists()


def test_scoring_says_when_people_came_from_the_detector():
    text = people_source_text("detector", "ok: torchvision Keypoint R-CNN")
    assert "person detector (ok: torchvision Keypoint R-CNN)" in text and "IoU" not in text
