"""The sample bag replayed into the running node over DDS, and processed offline."""

from __future__ import annotations

import json
from pathlib import Path

from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader

from emotion_perception.msg import EmotionArray
from emotion_perception.runtime.paths import sample_bag_path
from emotion_perception.ros.bags.process import process_bag
from emotion_perception.ros.bags.sample import SAMPLE_TOPICS
from emotion_perception.ros.conversions import stamp_to_ns
from emotion_perception.settings import Settings
from emotion_perception.offline.synthetic_scene import SAMPLE_SCENE

from support.skeleton_input import SAMPLE_BAG_SETTINGS


def bag_image_stamps(bag: Path) -> list[int]:
    with Reader(bag) as reader:
        return [timestamp for c, timestamp, _ in reader.messages() if c.topic == SAMPLE_TOPICS["image"]]


def test_sample_bag_replayed_twice_into_one_running_node(start_sample_node, play_sample, rclpy_context, spin, listen):
    """The second replay of a bag used to give 1 output instead of ~60: stamps jumping back stopped the node."""
    import rclpy

    start_sample_node("-p", "output.diagnostics_period_s:=0.5")
    node = rclpy.create_node("test_bag_replay", context=rclpy_context)
    listener = listen(node, depth=200)
    arrays, values = listener.arrays, listener.values
    assert spin(node, lambda: listener.subscription.get_publisher_count() > 0, 60), "the node did not come up"
    image_stamps = bag_image_stamps(sample_bag_path())

    def accounted() -> int:  # answered or counted as dropped (a slow machine supersedes more frames)
        return len(arrays) + int(values().get("frames_dropped", -1))

    per_replay = []
    for replay in range(2):
        before, dropped_before = len(arrays), int(values().get("frames_dropped", 0))
        assert play_sample(node) == 3 * len(image_stamps)
        assert spin(node, lambda: accounted() >= (replay + 1) * len(image_stamps) - 2, 60), (len(arrays), values())
        spin(node, lambda: False, 1.0)
        per_replay.append(arrays[before:])
        assert int(values()["frames_dropped"]) - dropped_before + len(per_replay[-1]) <= len(image_stamps)
    first, second = per_replay
    assert len(first) > 40 and len(second) >= 0.9 * len(first), (len(first), len(second))
    assert int(values()["time_jumps"]) >= 1
    walking = image_stamps[round(SAMPLE_SCENE.seconds * SAMPLE_SCENE.fps)]  # the photo's first frame
    for replay in per_replay:
        stamps = [stamp_to_ns(a.header.stamp) for a in replay]
        assert set(stamps) <= set(image_stamps), "an EmotionArray carries a stamp no image had"
        assert stamps == sorted(set(stamps)), "one EmotionArray per frame, in order"
        assert {a.header.frame_id for a in replay} == {"camera_color_optical_frame"}
        assert all(p.gait.status.startswith("collecting") for p in replay[0].people)
        last_walk = [a for a, stamp in zip(replay, stamps) if stamp < walking][-1]
        assert all(p.gait.valid for p in last_walk.people), "gait results come again after the jump"
        assert all([p.track_id for p in a.people] == [5] for a, stamp in zip(replay, stamps) if stamp >= walking)
    assert all(sorted(p.track_id for p in a.people) == [1, 2, 3, 4]
               for a in first if stamp_to_ns(a.header.stamp) < walking), "track ids are stable"
    first_gait = next(a for a in first if all(p.gait.valid for p in a.people))
    gait_person = first_gait.people[0]
    assert gait_person.gait.frames_observed >= Settings().gait.min_frames
    assert sorted(gait_person.gait.labels) == ["angry", "happy", "neutral", "sad"]
    assert abs(sum(gait_person.gait.probabilities) - 1.0) < 1e-4
    last = [a for a in first if stamp_to_ns(a.header.stamp) < walking][-1].people
    assert all(p.fused.valid and "gait" in p.fused.cues and p.fused.emotion in p.fused.labels for p in last)
    assert all([c.name for c in p.cues] == ["gait", "face"] and p.cues[0].valid for p in last)
    assert all(len(p.keypoints) == 16 and p.position_source == p.POSITION_SKELETON_INPUT for p in last)
    assert all(p.has_position and p.distance > 1.0 for p in last)
    photo = first[-1].people[0]
    assert photo.face.valid and photo.face.label == "happy" and photo.fused.emotion == "happy", photo.face.status
    assert values()["cue_gait"].startswith("active") and values()["cue_context"].startswith("off")
    assert "latency_total_ms" in values() and float(values()["input_rate_hz"]) >= 0


def read_messages(bag: Path) -> list[tuple[str, int, EmotionArray]]:
    """Decoded messages (raw CDR bytes are not comparable: serialisers leave padding bytes uninitialised)."""
    with Reader(bag) as reader:
        return [(c.topic, timestamp, deserialize_message(raw, EmotionArray)) for c, timestamp, raw in reader.messages()]


def test_bag_process_is_deterministic_and_complete(tmp_path: Path):
    settings = Settings.from_nested(SAMPLE_BAG_SETTINGS)
    first = process_bag(sample_bag_path(), tmp_path / "first", settings, progress=False)
    second = process_bag(sample_bag_path(), tmp_path / "second", settings, progress=False)
    messages = read_messages(tmp_path / "first")
    as_text = [(topic, stamp, repr(msg)) for topic, stamp, msg in messages]  # repr: NaN fields compare equal
    assert as_text == [(topic, stamp, repr(msg)) for topic, stamp, msg in read_messages(tmp_path / "second")]
    assert (tmp_path / "first" / "people.csv").read_text() == (tmp_path / "second" / "people.csv").read_text()
    assert first["people"] == second["people"] and first["frames"] == second["frames"]
    assert first["frames"]["processed"] == len(messages) == len(bag_image_stamps(sample_bag_path()))
    assert {topic for topic, _, _ in messages} == {"/emotions"}, "the offline output topic is the live node's"
    assert [t for _, t, _ in messages] == bag_image_stamps(sample_bag_path())
    photo_start = messages[round(SAMPLE_SCENE.seconds * SAMPLE_SCENE.fps)][1]
    last_walk = [msg for _, stamp, msg in messages if stamp < photo_start][-1]
    assert sorted(p.track_id for p in last_walk.people) == [1, 2, 3, 4]
    assert all(p.gait.valid for p in last_walk.people)
    summary = json.loads((tmp_path / "first" / "summary.json").read_text())
    assert set(summary["people"]) == {"1", "2", "3", "4", "5"}
    assert all(entry["final_label"] in ("happy", "sad", "angry", "neutral") for entry in summary["people"].values())


def test_bag_play_waiting_for_subscribers_in_vain_plays_nothing_and_exits_2(ros_env, capsys):
    """It used to go on silently after its timeout, playing to nobody."""
    from emotion_perception.cli import main

    assert main(["bag", "play", str(sample_bag_path()), "--wait-for-subscribers", "1"]) == 2
    error = capsys.readouterr().err
    assert f"no subscriber on {SAMPLE_TOPICS['image']} after waiting 1 s: nothing was played" in error, error
