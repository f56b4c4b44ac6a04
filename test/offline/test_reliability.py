"""A robot's day, offline: clocks that jump, pauses, bad skeletons and intrinsics, bombs, typos and broken bags.

Each test names the defect it pins; the node-level twins over real DDS are in test_node_reliability.py.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from sensor_msgs.msg import CameraInfo

from emotion_perception.runtime.image_codec import ImageDecodeError, decode_compressed
from emotion_perception.pipeline import FrameRejected, Pipeline
from emotion_perception.pose import HistoryConfig, JointHistory
from emotion_perception.pose.plausibility import detection_problem
from emotion_perception.runtime.paths import sample_bag_path
from emotion_perception.ros.bags.process import process_bag
from emotion_perception.ros.bags.store import message_class, typestore
from emotion_perception.ros.conversions import intrinsics_from_camera_info, ns_to_stamp, stamp_to_ns
from emotion_perception.ros.frames import fit_intrinsics
from emotion_perception.settings import Settings
from emotion_perception.offline.sources import pinhole_intrinsics
from emotion_perception.types import CameraIntrinsics, ExternalSkeleton, Frame, PositionSource, Skeleton
from emotion_perception.visualization import draw_people

from support.skeleton_input import SAMPLE_BAG_SETTINGS, SECOND, camera_frame, skeleton_pipeline
from support.small_detector import random_pipeline



def standing(offset_x: float = 0.0) -> np.ndarray:
    """A plausible standing skeleton 3 m in front of the camera (optical frame, metres)."""
    rng = np.random.default_rng(0)
    joints = rng.uniform(-0.25, 0.25, (16, 3)).astype(np.float32)
    joints[:, 1] = np.linspace(0.0, 1.6, 16) - 0.8  # spread over a body's height
    joints[:, 0] += offset_x
    joints[:, 2] += 3.0
    return joints


def walker_x(stamp_ns: int) -> float:
    """Where the people of :func:`walk` are at a stamp [m]."""
    return (stamp_ns % (10 * SECOND)) / SECOND - 5.0


def walk(pipeline: Pipeline, stamps_ns, people=1):
    """People walking to the right at 1 m/s (every 10 s they start again on the left)."""
    results = []
    for stamp in stamps_ns:
        x = walker_x(stamp)
        skeletons = [ExternalSkeleton(track_id, standing(track_id) + [x, 0, 0], np.ones(16, np.float32))
                     for track_id in range(1, people + 1)]
        results.append(pipeline.process(camera_frame(stamp), skeletons))
    return results


# --- time ------------------------------------------------------------------------------------------------
def test_a_future_stamp_or_a_jump_back_resets_state_and_never_stops_output():
    """One frame stamped in 2036 used to make every later frame 'out of order' until restart."""
    pipeline = skeleton_pipeline()
    start = 1_700_000_000 * SECOND
    before = walk(pipeline, [start + k * SECOND // 30 for k in range(60)])
    assert before[-1].people[0].cues["gait"].valid
    future = walk(pipeline, [2_100_000_000 * SECOND])[0]
    assert future.time_jump == "forward"
    back = walk(pipeline, [start + k * SECOND // 30 for k in range(60, 120)])
    assert back[0].time_jump == "back" and all(not r.time_jump for r in back[1:])
    assert len(back) == 60 and all(len(r.people) == 1 for r in back)
    gait = [r.people[0].cues["gait"] for r in back]
    assert not gait[0].valid and gait[-1].valid, "the gait cue starts collecting afresh and gets there again"
    assert pipeline.stamps.jumps == 2


def test_a_frame_slightly_older_than_the_last_is_dropped_as_out_of_order():
    pipeline = skeleton_pipeline()
    walk(pipeline, [10 * SECOND])
    with pytest.raises(FrameRejected) as caught:
        walk(pipeline, [10 * SECOND - SECOND // 10])
    assert caught.value.reason == "out_of_order"
    assert not walk(pipeline, [10 * SECOND + SECOND // 30])[0].time_jump


def test_a_track_returning_after_max_age_gets_a_fresh_history_not_an_error():
    """JointHistory.add raised KeyError: it looked the track up, dropped it as old, then moved it."""
    history = JointHistory(HistoryConfig(max_age_seconds=2.0))
    skeleton = Skeleton(np.zeros((16, 2), np.float32), np.ones(16, np.float32), standing(), PositionSource.DEPTH)
    assert history.add(1, 0, skeleton)
    assert history.add(1, 3 * SECOND, skeleton)
    assert history.frames_buffered(1) == 1 and history.frames_observed(1) == 1


def test_gaps_are_measured_on_the_input_stream_not_between_processed_frames():
    """A node that processes every 20th frame under load keeps its tracks' histories."""
    skeleton = Skeleton(np.zeros((16, 2), np.float32), np.ones(16, np.float32), standing(), PositionSource.DEPTH)
    slow = JointHistory(HistoryConfig(max_gap_seconds=0.5))
    for k in range(10):
        stamp = k * 20 * SECOND // 30  # 0.67 s apart, every frame between them received but skipped
        slow.start_frame(stamp, input_gap_s=1 / 30)
        slow.add(1, stamp, skeleton)
    assert slow.frames_buffered(1) == 10
    offline = JointHistory(HistoryConfig(max_gap_seconds=0.5))
    for k in range(10):  # the same stamps when they are all the frames there were: real gaps
        stamp = k * 20 * SECOND // 30
        offline.start_frame(stamp)
        offline.add(1, stamp, skeleton)
    assert offline.frames_buffered(1) == 1
    camera_stall = JointHistory(HistoryConfig(max_gap_seconds=0.5))
    for k, gap in enumerate([1 / 30, 1 / 30, 0.9, 1 / 30]):  # the camera itself stalled once
        camera_stall.start_frame(k * SECOND, input_gap_s=gap)
        camera_stall.add(1, k * SECOND, skeleton)
    assert camera_stall.frames_buffered(1) == 2


# --- bad skeletons ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("defect, expected", [
    ("nan", "too few confident joints"), ("collapsed", "collapsed skeleton"), ("one_point_nan", None)])
def test_degenerate_skeletons_give_invalid_cues_with_a_reason_never_a_label(defect, expected):
    pipeline = skeleton_pipeline()
    start = 100 * SECOND
    walk(pipeline, [start + k * SECOND // 30 for k in range(60)])
    for k in range(60, 130):  # 2.3 s of broken input from the walker
        stamp = start + k * SECOND // 30
        joints = standing(1) + np.float32([walker_x(stamp), 0, 0])
        if defect == "nan":
            joints[:] = np.nan
        elif defect == "collapsed":
            joints[:] = joints[0]
        else:
            joints[5] = np.nan  # one joint lost: the rest still describe a body
        result = pipeline.process(camera_frame(stamp), [ExternalSkeleton(1, joints, np.ones(16, np.float32))])
        person = result.people[0]
        if expected is None:
            assert person.cues["gait"].valid
            continue
        assert not person.cues["gait"].valid and expected in person.cues["gait"].status, person.cues["gait"].status
        assert person.cues["gait"].label == "" and person.position.valid is False
    if expected is not None:
        assert not person.fused.valid, "a person whose input is broken gets no label once the filter has faded"


def test_two_people_sent_with_one_track_id_are_both_left_unjudged():
    pipeline = skeleton_pipeline()
    result = pipeline.process(camera_frame(SECOND), [ExternalSkeleton(4, standing(0.0), np.ones(16, np.float32)),
                                                 ExternalSkeleton(4, standing(1.0), np.ones(16, np.float32))])
    assert len(result.people) == 2
    for person in result.people:
        assert "duplicate track id 4" in person.cues["gait"].status and not person.fused.valid
    assert pipeline.history.track_ids == []


def three_walking(pipeline: Pipeline, extra=None, frames: int = 60):
    """Three people walking to the right at 1 m/s; ``extra(k)`` gives more skeletons for frame k."""
    results = []
    for k in range(frames):
        skeletons = [ExternalSkeleton(track, standing(track) + [k / 30, 0, 0], np.ones(16, np.float32))
                     for track in (1, 2, 3)]
        results.append(pipeline.process(camera_frame(100 * SECOND + k * SECOND // 30),
                                        skeletons + (extra(k) if extra else [])))
    return results


def outcome(person) -> tuple:
    """Everything a subscriber learns about a person, comparable with ==."""
    fused = person.fused
    cues = tuple((name, result.valid, result.status, None if result.label_values() is None else
                  tuple(np.round(result.label_values(), 6))) for name, result in sorted(person.cues.items()))
    return (person.track_id, tuple(np.round(person.box, 3)), fused.valid, fused.emotion, round(fused.confidence, 6),
            None if fused.probabilities is None else tuple(np.round(fused.probabilities, 6)), cues,
            tuple(np.round(person.position.point, 6)))


def sentinel(k: int) -> np.ndarray:
    joints = standing(9) + [k / 30, 0, 0]
    joints[::2, 0] = 3e38  # FLT_MAX: what some trackers send for a joint they lost
    return joints


IMPLAUSIBLE = {
    "sentinel": (lambda k: ExternalSkeleton(9, sentinel(k), np.ones(16, np.float32)), "from the camera"),
    "millimetres": (lambda k: ExternalSkeleton(9, (standing(9) + [k / 30, 0, 0]) * 1000, np.ones(16, np.float32)),
                    "another unit"),
    "confidence": (lambda k: ExternalSkeleton(9, standing(9), np.full(16, 1e9, np.float32)), "outside [0, 1]"),
    "teleporting": (lambda k: ExternalSkeleton(9, standing(9) + [5.0 * (k % 2), 0, 0], np.ones(16, np.float32)),
                    "m/s"),
    "malformed": (lambda k: ExternalSkeleton(9, np.zeros((3, 3), np.float32), np.ones(3, np.float32)), "malformed"),
}


@pytest.mark.parametrize("kind", list(IMPLAUSIBLE))
def test_one_implausible_person_is_set_aside_with_a_reason_and_nobody_else_changes(kind):
    """One FLT_MAX joint used to blank every person of the frame (NaN to int in the face crop, cv2.line overflow);
    a skeleton in millimetres or a confidence of 1e9 got the same confident label as a real one."""
    make, reason = IMPLAUSIBLE[kind]
    alone = three_walking(skeleton_pipeline())
    crowd = three_walking(skeleton_pipeline(), lambda k: [make(k)])
    for k, (clean, mixed) in enumerate(zip(alone, crowd)):
        assert [outcome(p) for p in mixed.people[:3]] == [outcome(p) for p in clean.people], f"frame {k}"
        bad = mixed.people[3]
        if kind == "teleporting" and k == 0:
            assert bad.track_id == 9 and not mixed.set_aside, "a first frame has nothing to be compared with"
            continue
        assert bad.track_id == 9 and not bad.fused.valid and bad.skeleton is None and not bad.box.any()
        assert all(reason in cue.status for cue in bad.cues.values()), bad.cues
        assert [counter for counter, _ in mixed.set_aside] == ["ignored_implausible_skeleton"]
        assert "track 9" in mixed.set_aside[0][1] and reason in mixed.set_aside[0][1]
        draw_people(mixed_image := np.zeros((240, 320, 3), np.uint8), mixed)  # the debug image draws it too
        assert not mixed_image.any(), "drawing works on a copy"
    assert all(p.cues["gait"].valid for p in crowd[-1].people[:3]), "the others are judged all along"


def test_confidences_a_rounding_above_one_are_clipped_not_refused():
    pipeline = skeleton_pipeline()
    result = pipeline.process(camera_frame(SECOND), [ExternalSkeleton(1, standing(), np.full(16, 1.0004, np.float32))])
    assert not result.set_aside and result.people[0].skeleton.confidence.max() == 1.0


def test_a_detection_no_person_could_give_is_refused_with_a_reason():
    keypoints = np.concatenate([np.random.default_rng(0).uniform(100, 200, (17, 2)), np.ones((17, 1))], axis=1)
    box = np.array([90.0, 90.0, 210.0, 210.0])
    assert detection_problem(box, keypoints, 320, 240) == ""
    assert "finite" in detection_problem([np.nan, 0, 10, 10], keypoints, 320, 240)
    assert "does not fit" in detection_problem([0, 0, 3e38, 10], keypoints, 320, 240)
    far = keypoints.copy()
    far[3, 0] = 3e38
    assert "outside the 320x240 image" in detection_problem(box, far, 320, 240)
    loud = keypoints.copy()
    loud[:, 2] = 1e9
    assert "outside [0, 1]" in detection_problem(box, loud, 320, 240)


# --- intrinsics and images --------------------------------------------------------------------------------
def camera_info(k, width=320, height=240) -> CameraInfo:
    return CameraInfo(width=width, height=height, k=[float(v) for v in k])


@pytest.mark.parametrize("k, problem", [
    ([np.nan, 0, 160, 0, 300, 120, 0, 0, 1], "NaN"), ([np.inf, 0, 160, 0, 300, 120, 0, 0, 1], "NaN or infinite"),
    ([0] * 9, "uncalibrated"), ([-300, 0, 160, 0, 300, 120, 0, 0, 1], "positive"),
    ([300, 0, 1e300, 0, 300, 120, 0, 0, 1], "principal point cx"), ([1e30, 0, 160, 0, 1e30, 120, 0, 0, 1], "field of view"),
    ([2, 0, 160, 0, 2, 120, 0, 0, 1], "field of view")])
def test_camera_info_that_cannot_describe_a_camera_is_set_aside_with_a_reason(k, problem):
    intrinsics, why = intrinsics_from_camera_info(camera_info(k))
    assert intrinsics is None and problem in why, why


def test_intrinsics_no_camera_has_are_refused_wherever_they_enter():
    """cx = 1e300 was taken silently (then 0 outputs); fx = 1e30 made every frame an internal error."""
    assert intrinsics_from_camera_info(camera_info([1000, 0, 639.5, 0, 1000, 359.5, 0, 0, 1], 1280, 720))[1] == ""
    sizeless, why = intrinsics_from_camera_info(camera_info([1e30, 0, 160, 0, 1e30, 120, 0, 0, 1], 0, 0))
    assert sizeless is not None and why == "", "without a size only the image can tell"
    fitted, note = fit_intrinsics(sizeless, 320, 240)
    assert fitted is None and "field of view" in note and "without intrinsics" in note
    with pytest.raises(ValueError, match="principal point"):
        pinhole_intrinsics(320, 240, (300.0, 300.0, 1e300, 120.0))
    pipeline = skeleton_pipeline()
    frame = camera_frame(SECOND)
    frame.intrinsics = CameraIntrinsics(300.0, 300.0, 1e300, 120.0, 320, 240)
    result = pipeline.process(frame, [ExternalSkeleton(track, standing(track), np.ones(16, np.float32)) for track in (1, 2)])
    assert [p.track_id for p in result.people] == [1, 2] and all(p.cues["gait"].status for p in result.people)
    assert [counter for counter, _ in result.set_aside] == ["ignored_camera_info"]
    assert not any(p.box.any() for p in result.people), "no intrinsics: nobody is placed in the image"


def test_intrinsics_are_rescaled_for_a_resized_stream_and_refused_for_another_aspect():
    full = CameraIntrinsics(1000.0, 1000.0, 639.5, 359.5, 1280, 720)
    scaled, note = fit_intrinsics(full, 320, 180)
    assert note == "" and scaled.fx == pytest.approx(250.0) and scaled.cx == pytest.approx(159.5)
    assert scaled.cy == pytest.approx(89.5) and (scaled.width, scaled.height) == (320, 180)
    refused, note = fit_intrinsics(full, 160, 120)
    assert refused is None and "aspect" in note


def test_a_compressed_bomb_is_refused_from_its_header_before_decoding():
    ok, png = cv2.imencode(".png", np.zeros((16000, 16000), np.uint8))
    assert ok and png.size < 300_000
    with pytest.raises(ImageDecodeError, match="refused before decoding"):
        decode_compressed(png.tobytes(), max_pixels=33_177_600)
    ok, small = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))
    assert decode_compressed(small.tobytes(), max_pixels=33_177_600).shape == (48, 64, 3)


# --- settings --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("values, message", [
    ({"output": {"diagnostics_period_s": 0}}, "output.diagnostics_period_s: 0.0 is out of range"),
    ({"gait": {"fps": float("nan")}}, "gait.fps: must be a finite number"),
    ({"pipeline": {"max_people": -1}}, "pipeline.max_people: -1 is out of range"),
    ({"input": {"max_image_pixels": -1}}, "input.max_image_pixels"),
    ({"gait": {"fusion_weight": -1}}, "gait.fusion_weight"),
    ({"input": {"sync_slop_s": -1}}, "input.sync_slop_s"),
    ({"gait": {"modle": "stgcn"}}, "did you mean gait.model?"),
    ({"pipeline": {"device": "gpu0"}}, "device must be"),
])
def test_settings_are_validated_once_with_the_reason(values, message):
    with pytest.raises(ValueError, match=message.replace("?", r"\?").replace(".", r"\.")):
        Settings.from_nested(values)


def test_an_override_with_an_empty_value_is_the_empty_string():
    """``--set detector.weights=`` (no detector) used to fail with "expected str, got None"."""
    from emotion_perception.settings import load_settings

    settings = load_settings(None, ["detector.weights=", "pipeline.max_people=3"])
    assert settings.detector.weights == "" and settings.pipeline.max_people == 3
    with pytest.raises(ValueError, match=r"detector\.weights: expected str, got None"):
        load_settings(None, ["detector.weights=~"])  # YAML's null stays what it is: not a string


# --- bags ------------------------------------------------------------------------------------------------
def rewrite_sample(out: Path, stamp_of, topics: str = "", keep_order: bool = False) -> int:
    """The sample bag with the header stamp (and log time, unless ``keep_order``) of every message whose topic
    contains ``topics`` replaced by ``stamp_of(frame, stamp)``."""
    store = typestore()
    frames: dict[int, int] = {}
    with Reader(sample_bag_path()) as reader, Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {c.topic: writer.add_connection(c.topic, c.msgtype, typestore=store) for c in reader.connections}
        for connection, timestamp, raw in reader.messages():
            index = frames.setdefault(timestamp, len(frames))
            msg = deserialize_message(raw, message_class(connection.msgtype))
            stamp = stamp_to_ns(msg.header.stamp)
            if topics in connection.topic:
                stamp = stamp_of(index, stamp)
            msg.header.stamp = ns_to_stamp(stamp)
            writer.write(connections[connection.topic], timestamp if keep_order else stamp, serialize_message(msg))
    return len(frames)


@pytest.mark.parametrize("topic", ["image", "skeletons"])
def test_bag_process_loses_only_a_future_stamped_frame_and_counts_it(tmp_path: Path, topic: str):
    """One image stamped in 2036 also lost the next normal frame, and neither loss was counted."""
    total = rewrite_sample(tmp_path / "rough", lambda index, stamp: 2_100_000_000 * SECOND if index == 60 else stamp,
                           topics=topic, keep_order=True)
    frames = process_bag(tmp_path / "rough", tmp_path / "out", Settings.from_nested(SAMPLE_BAG_SETTINGS),
                         progress=False)["frames"]
    unpaired = {reason: n for reason, n in frames.items() if reason.startswith("unpaired_by")}
    assert frames["processed"] == total - 1 and sum(unpaired.values()) == 1, frames
    assert frames["images"] == total


def test_bag_process_keeps_frames_through_a_pause_a_future_stamp_and_a_clock_jumping_back(tmp_path: Path):
    def stamp_of(index: int, stamp: int) -> int:
        if index == 60:
            return 2_100_000_000 * SECOND  # one frame from 2036
        shifted = stamp + (3 * SECOND if index >= 30 else 0)  # a 3 s pause
        return shifted - (20 * SECOND if index >= 90 else 0)  # the clock jumps back 20 s

    total = rewrite_sample(tmp_path / "rough", stamp_of)
    summary = process_bag(tmp_path / "rough", tmp_path / "out", Settings.from_nested(SAMPLE_BAG_SETTINGS),
                          progress=False)
    assert summary["frames"]["processed"] >= 0.95 * total, summary["frames"]
    assert summary["frames"]["time_jumps"] >= 2
    rows = (tmp_path / "out" / "people.csv").read_text().splitlines()
    assert len(rows) > 3 * 0.95 * total


def test_a_failed_run_leaves_no_output_behind_and_bad_messages_are_skipped(tmp_path: Path):
    store = typestore()
    broken = tmp_path / "broken"
    with Reader(sample_bag_path()) as reader, Writer(broken, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {c.topic: writer.add_connection(c.topic, c.msgtype, typestore=store) for c in reader.connections}
        for index, (connection, timestamp, raw) in enumerate(reader.messages()):
            writer.write(connections[connection.topic], timestamp, raw[:7] if index == 10 else raw)
    summary = process_bag(broken, tmp_path / "out", Settings.from_nested(SAMPLE_BAG_SETTINGS), progress=False)
    assert sum(v for k, v in summary["frames"].items() if k.startswith("undecodable")) == 1
    assert summary["frames"]["processed"] >= 118
    with pytest.raises(ValueError, match="exists"):
        process_bag(broken, tmp_path / "out", Settings.from_nested(SAMPLE_BAG_SETTINGS), progress=False)
    not_a_bag = tmp_path / "not_a_bag"
    not_a_bag.mkdir()
    (not_a_bag / "metadata.yaml").write_text("this: is not rosbag2 metadata\n")
    with pytest.raises(ValueError, match="cannot read the bag"):
        process_bag(not_a_bag, tmp_path / "out2", Settings.from_nested(SAMPLE_BAG_SETTINGS), progress=False)
    assert not (tmp_path / "out2").exists() and not list(tmp_path.glob(".out2.partial*"))


def test_bag_play_resolves_only_registered_message_types(tmp_path: Path, capsys):
    with pytest.raises(ValueError, match="not a registered ROS message type"):
        message_class("this/msg/Zen")
    assert "Beautiful is better than ugly" not in capsys.readouterr().out
    assert message_class("sensor_msgs/msg/Image").__name__ == "Image"


def test_realtime_replay_drops_frames_as_a_live_node_of_that_speed_would(tmp_path: Path):
    from emotion_perception.offline.realtime import RealtimeReplay

    settings = Settings.from_nested(SAMPLE_BAG_SETTINGS)
    fast = process_bag(sample_bag_path(), tmp_path / "fast", settings, progress=False,
                       realtime=RealtimeReplay(speed=1.0, cost_s=0.05))
    slow = process_bag(sample_bag_path(), tmp_path / "slow", settings, progress=False,
                       realtime=RealtimeReplay(speed=1.0, cost_s=0.2))
    again = process_bag(sample_bag_path(), tmp_path / "again", settings, progress=False,
                        realtime=RealtimeReplay(speed=1.0, cost_s=0.2))
    assert slow["frames"]["processed"] < fast["frames"]["processed"] < slow["frames"]["images"]
    assert slow["frames"]["processed"] + slow["frames"]["superseded"] == slow["frames"]["images"]
    assert slow["realtime"] == again["realtime"] and slow["people"] == again["people"], "a fixed cost is repeatable"


def test_bag_process_without_a_detector_uses_the_skeleton_topic_or_refuses(tmp_path: Path):
    """With the default people source (the detector) and no detector weights, a bag with tracked skeletons is
    processed from them, saying so; a bag without any would give nothing and is refused."""
    notes: list[str] = []
    settings = Settings.from_nested({"detector": {"weights": ""}, "input": {"image_transport": "compressed"}})
    summary = process_bag(sample_bag_path(), tmp_path / "out", settings, progress=False, log=notes.append)
    assert summary["frames"]["processed"] > 0 and summary["people"]
    assert any("people come from the bag's tracked skeletons" in note for note in notes), notes
    store = typestore()
    images_only = tmp_path / "images_only"
    with Reader(sample_bag_path()) as reader, Writer(images_only, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {c.topic: writer.add_connection(c.topic, c.msgtype, typestore=store)
                       for c in reader.connections if "Skeleton" not in c.msgtype}
        for connection, timestamp, raw in reader.messages():
            if connection.topic in connections:
                writer.write(connections[connection.topic], timestamp, raw)
    with pytest.raises(ValueError, match="nobody could be seen"):
        process_bag(images_only, tmp_path / "nothing", settings, progress=False, log=notes.append)
    assert not (tmp_path / "nothing").exists()


def test_a_jump_seen_on_a_rejected_frame_still_resets_the_cues_half():
    """The front end reset for the jump, then the frame was rejected: the next frame must carry the jump to
    fusion and the reused results, or the old time's filters go on as if nothing happened."""
    pipeline = skeleton_pipeline()
    start = 100 * SECOND
    walk(pipeline, [start + k * SECOND // 30 for k in range(60)])
    assert pipeline.fusion.track_ids == [1]
    with pytest.raises(ValueError):  # the front end fails after seeing the jump (the node counts an internal error)
        pipeline.process(camera_frame(SECOND), [ExternalSkeleton(1, "no numbers", np.ones(16, np.float32))])
    after = walk(pipeline, [SECOND + SECOND // 30])[0]
    assert not after.people[0].fused.valid, "the old time's fused label must not carry over"
    assert after.time_jump == "back" and pipeline.stamps.jumps == 1


def test_a_track_the_tracker_has_dropped_loses_its_history_and_filters(small_detector_settings):
    """With the detector, histories and per-track state live as long as the tracker keeps the track."""
    from skimage import data

    pipeline = random_pipeline(small_detector_settings)
    photo = data.astronaut()
    for k in range(5):
        pipeline.process(Frame(photo, k * SECOND // 10, "cam"))
    assert pipeline.history.track_ids and pipeline.fusion.track_ids
    classifier = pipeline.detector.model.roi_heads.box_predictor.cls_score
    with torch.no_grad():
        classifier.bias.copy_(torch.tensor([5.0, -5.0]))  # from now on every box is background: nobody is seen
    lost_for = pipeline.settings.tracker.max_lost_seconds + 0.3
    for k in range(5, 5 + int(lost_for * 10)):
        result = pipeline.process(Frame(photo, k * SECOND // 10, "cam"))
    assert not result.people and not result.time_jump
    assert pipeline.tracker.live_ids == []
    assert pipeline.history.track_ids == [] and pipeline.fusion.track_ids == []
