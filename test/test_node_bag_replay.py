"""The sample bag replayed into the running node over DDS, and processed offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader

from emotion_perception.msg import EmotionArray
from emotion_perception.ros.bag import SAMPLE_TOPICS, play_bag, process_bag, sample_bag_path
from emotion_perception.settings import Settings

NODE = Path(sys.prefix) / "lib" / "emotion_perception" / "emotion_perception_node"
CONFIG = Path(sys.prefix) / "share" / "emotion_perception" / "config" / "emotion_perception.yaml"


def bag_image_stamps(bag: Path) -> list[int]:
    with Reader(bag) as reader:
        return [timestamp for c, timestamp, _ in reader.messages() if c.topic == SAMPLE_TOPICS["image"]]


def test_sample_bag_through_the_running_node(ros_env, processes, rclpy_context, spin):
    import rclpy

    bag = sample_bag_path()
    processes([str(NODE), "--ros-args", "--params-file", str(CONFIG), "-p", "pipeline.pose_source:=skeletons",
               "-p", "input.image_transport:=compressed", "-p", "output.diagnostics_period_s:=0.5",
               "-r", f"image/compressed:={SAMPLE_TOPICS['image']}", "-r", f"camera_info:={SAMPLE_TOPICS['camera_info']}",
               "-r", f"skeletons:={SAMPLE_TOPICS['skeletons']}"], ros_env)
    node = rclpy.create_node("test_bag_replay", context=rclpy_context)
    arrays: list[EmotionArray] = []
    diagnostics: list[DiagnosticArray] = []
    subscription = node.create_subscription(EmotionArray, "/emotions", arrays.append, 200)
    node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
    assert spin(node, lambda: subscription.get_publisher_count() > 0, 60), "the node did not come up"
    published = play_bag(node, bag, rate=1.0, wait_for_subscribers_s=60)
    assert published == 3 * 120
    image_stamps = bag_image_stamps(bag)

    def drops() -> int:
        values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}
        return int(values.get("frames_dropped", -1))

    # every frame is either answered or counted as dropped (a slow machine supersedes more frames)
    assert spin(node, lambda: len(arrays) + drops() >= len(image_stamps) - 2, 60)
    assert len(arrays) + drops() <= len(image_stamps)
    stamps = [a.header.stamp.sec * 10**9 + a.header.stamp.nanosec for a in arrays]
    assert set(stamps) <= set(image_stamps), "an EmotionArray carries a stamp no image had"
    assert stamps == sorted(set(stamps)), "one EmotionArray per frame, in order"
    assert {a.header.frame_id for a in arrays} == {"camera_color_optical_frame"}
    assert all(sorted(p.track_id for p in a.people) == [1, 2, 3] for a in arrays), "track ids are stable"
    first_gait = next(i for i, a in enumerate(arrays) if all(p.gait.valid for p in a.people))
    assert all(not p.gait.valid and p.gait.status.startswith("collecting") for p in arrays[0].people)
    gait_person = arrays[first_gait].people[0]
    assert gait_person.gait.frames_observed >= Settings().gait.min_frames
    assert sorted(gait_person.gait.labels) == ["angry", "happy", "neutral", "sad"]
    assert abs(sum(gait_person.gait.probabilities) - 1.0) < 1e-4
    assert all(p.fused.valid and p.fused.cues == ["gait"] for p in arrays[-1].people)
    assert all(len(p.keypoints) == 16 and p.position_source == p.POSITION_SKELETON_INPUT for p in arrays[-1].people)
    values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values}
    assert values["branch_gait"].startswith("active")
    assert values["branch_context"].startswith("off")
    assert "latency_total_ms" in values and float(values["input_rate_hz"]) >= 0


def read_messages(bag: Path) -> list[tuple[str, int, EmotionArray]]:
    """Decoded messages (raw CDR bytes are not comparable: serialisers leave padding bytes uninitialised)."""
    with Reader(bag) as reader:
        return [(c.topic, timestamp, deserialize_message(raw, EmotionArray)) for c, timestamp, raw in reader.messages()]


def test_bag_process_is_deterministic_and_complete(tmp_path: Path):
    settings = Settings.from_nested({"pipeline": {"pose_source": "skeletons"}, "input": {"image_transport": "compressed"}})
    first = process_bag(sample_bag_path(), tmp_path / "first", settings, progress=False)
    second = process_bag(sample_bag_path(), tmp_path / "second", settings, progress=False)
    messages = read_messages(tmp_path / "first")
    assert messages == read_messages(tmp_path / "second")
    assert (tmp_path / "first" / "people.csv").read_text() == (tmp_path / "second" / "people.csv").read_text()
    assert first["people"] == second["people"] and first["frames"] == second["frames"]
    assert first["frames"]["processed"] == 120 and len(messages) == 120
    assert [t for _, t, _ in messages] == bag_image_stamps(sample_bag_path())
    last = messages[-1][2]
    assert sorted(p.track_id for p in last.people) == [1, 2, 3]
    assert all(p.gait.valid for p in last.people)
    summary = json.loads((tmp_path / "first" / "summary.json").read_text())
    assert set(summary["people"]) == {"1", "2", "3"}
    assert all(entry["gait_label"] in ("happy", "sad", "angry", "neutral") for entry in summary["people"].values())
