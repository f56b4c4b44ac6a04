"""EmotionArray over real DDS between two processes, and through rosbag2 files written by rosbags."""

from __future__ import annotations

from pathlib import Path

import pytest
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from emotion_perception.msg import EmotionArray
from emotion_perception.ros.bags.store import typestore

from support.installed import PROCESSES
from support.processes.message_samples import differences, full_emotion_array


def test_comparison_sees_any_changed_field():
    changed = full_emotion_array()
    changed.people[2].keypoints[15].position.z += 0.5
    changed.people[0].context.active_categories = ["Peace"]
    found = differences(full_emotion_array(), changed)
    assert len(found) == 2, found
    assert found[0] == "msg.people[0].context.active_categories: length 1 != 2"
    assert found[1] == "msg.people[2].keypoints[15].position.z: 5.5 != 5.0"


def test_every_field_arrives_intact_between_two_processes(ros_env, processes):
    publisher = processes([str(PROCESSES / "publish_emotions.py"), "60"], ros_env)
    receiver = processes([str(PROCESSES / "receive_emotions.py"), "50"], ros_env)
    output, _ = receiver.communicate(timeout=90)
    assert receiver.returncode == 0, output
    assert "IDENTICAL" in output
    assert publisher.poll() is None, "the publisher died"


@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_rosbag2_round_trip(tmp_path: Path, storage):
    store = typestore()
    sample = full_emotion_array()
    path = tmp_path / f"emotions_{storage.name.lower()}"
    with Writer(path, version=9, storage_plugin=storage) as writer:
        connection = writer.add_connection("/emotions", "emotion_perception/msg/EmotionArray", typestore=store)
        for n in range(3):
            writer.write(connection, 1_000 + n, serialize_message(sample))
    with Reader(path) as reader:
        (connection,) = reader.connections
        assert connection.msgtype == "emotion_perception/msg/EmotionArray"
        messages = list(reader.messages())
    assert [timestamp for _, timestamp, _ in messages] == [1_000, 1_001, 1_002]
    for _, _, raw in messages:
        assert differences(sample, deserialize_message(raw, EmotionArray)) == []
        # rosbags' own decoder, with the type registered from msg/ text, reads the same bytes
        decoded = store.deserialize_cdr(raw, "emotion_perception/msg/EmotionArray")
        assert decoded.header.frame_id == "camera_optical"
        assert decoded.people[1].keypoints[3].name == "head"
        assert list(decoded.people[0].context.active_categories) == ["Yearning", "Sympathy"]
        assert decoded.people[2].fused.cues == ["gait", "context"]


def test_the_bag_typestore_is_built_once_with_our_messages():
    """Every bag job (sample, video, play, process) shares one typestore instead of parsing msg/ again."""
    store = typestore()
    assert typestore() is store
    assert {"emotion_perception/msg/EmotionArray", "emotion_perception/msg/TrackedSkeletonArray",
            "sensor_msgs/msg/CompressedImage"} <= set(store.fielddefs)
