"""REP-155 (ROS4HRI) output and per-person TF frames of the running node, read over DDS as a ROS4HRI client
would (with the hri_msgs/tf2_msgs test fixtures, whose type hashes test_hri_interfaces pins to the real ones);
and the Azure Kinect skeleton input fed through DDS."""

from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path

import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, Writer

from emotion_perception.labels import GAIT_JOINTS
from emotion_perception.msg import EmotionArray, TrackedSkeletonArray
from emotion_perception.runtime.paths import sample_bag_path
from emotion_perception.ros.bags.sample import SAMPLE_TOPICS
from emotion_perception.ros.bags.store import typestore
from emotion_perception.ros.conversions import stamp_to_ns
from emotion_perception.ros.hri import FACE_EXPRESSION_NAMES

from support.hri_interfaces import UPSTREAM_HASHES

DEEP = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
ROOT = GAIT_JOINTS.index("root")


def play_in_background(play_sample, rclpy_context, bag: Path) -> threading.Thread:
    import rclpy

    player = rclpy.create_node("test_hri_player", context=rclpy_context)
    thread = threading.Thread(target=play_sample, args=(player, bag), daemon=True)
    thread.start()
    return thread


def test_replayed_sample_on_rep155_topics_and_tf(start_sample_node, play_sample, rclpy_context, spin):
    import rclpy
    from hri_msgs.msg import Expression, IdsList
    from tf2_msgs.msg import TFMessage

    start_sample_node("-p", "output.hri:=true", "-p", "output.tf:=true")
    node = rclpy.create_node("test_hri_client", context=rclpy_context)
    arrays: dict[int, EmotionArray] = {}
    tracked: dict[str, list[IdsList]] = {"bodies": [], "faces": []}
    transforms: dict[tuple[int, str], object] = {}
    expressions: dict[str, list[tuple[str, Expression]]] = {"bodies": [], "faces": []}
    listening: set[tuple[str, str]] = set()

    def on_tracked(kind: str, msg: IdsList) -> None:  # what libhri does: subscribe to each new id's topics
        tracked[kind].append(msg)
        for human_id in msg.ids:
            if (kind, human_id) not in listening:
                listening.add((kind, human_id))
                node.create_subscription(Expression, f"/humans/{kind}/{human_id}/expression",
                                         lambda m, k=kind, i=human_id: expressions[k].append((i, m)), DEEP)

    def on_tf(msg: TFMessage) -> None:
        for transform in msg.transforms:
            transforms[(stamp_to_ns(transform.header.stamp), transform.child_frame_id)] = transform

    emotions = node.create_subscription(EmotionArray, "/emotions",
                                        lambda m: arrays.__setitem__(stamp_to_ns(m.header.stamp), m), DEEP)
    for kind in tracked:
        node.create_subscription(IdsList, f"/humans/{kind}/tracked", lambda m, k=kind: on_tracked(k, m), DEEP)
    node.create_subscription(TFMessage, "/tf", on_tf, DEEP)
    assert spin(node, lambda: emotions.get_publisher_count() > 0 and node.count_publishers("/humans/bodies/tracked")
                and node.count_publishers("/tf"), 60), "the node did not come up with its REP-155 topics"
    for topic, name in (("/humans/bodies/tracked", "hri_msgs/msg/IdsList"), ("/tf", "tf2_msgs/msg/TFMessage")):
        (info,) = node.get_publishers_info_by_topic(topic)
        assert str(info.topic_type_hash) == UPSTREAM_HASHES[name], "the middleware announces the real type"

    player = play_in_background(play_sample, rclpy_context, sample_bag_path())
    assert spin(node, lambda: not player.is_alive() and len(tracked["bodies"]) >= len(arrays) > 40, 240), (
        len(arrays), len(tracked["bodies"]))
    spin(node, lambda: False, 2.0)

    # ids: the tracked list of each frame names exactly that frame's people, by the ids the EmotionArray gives
    ids_of_track: dict[int, set[str]] = defaultdict(set)
    for msg in tracked["bodies"]:
        array = arrays[stamp_to_ns(msg.header.stamp)]
        assert msg.header == array.header
        assert msg.ids == [p.body_id for p in array.people]
        for person in array.people:
            ids_of_track[person.track_id].add(person.body_id)
    assert sorted(ids_of_track) == [1, 2, 3, 4, 5]
    assert all(len(ids) == 1 for ids in ids_of_track.values()), "one id per track while it lives"
    assert len({next(iter(ids)) for ids in ids_of_track.values()}) == 5, "no id given to two tracks"
    walkers = {next(iter(ids_of_track[t])) for t in (1, 2, 3, 4)}
    photo = next(iter(ids_of_track[5]))
    assert set(tracked["bodies"][-1].ids) == {photo}, "the walkers' ids vanished with their tracks"
    for walker in walkers:  # and their topics with them: no publishers left behind
        assert node.count_publishers(f"/humans/bodies/{walker}/roi") == 0
    assert node.count_publishers(f"/humans/bodies/{photo}/roi") == 1

    # expressions: a body's is its fused label; a face's is the face cue's expression with the fused valence
    body_expressions = [(i, m) for i, m in expressions["bodies"] if stamp_to_ns(m.header.stamp) in arrays]
    assert len(body_expressions) > 40
    for body_id, expression in body_expressions:
        (person,) = [p for p in arrays[stamp_to_ns(expression.header.stamp)].people if p.body_id == body_id]
        assert person.fused.valid and expression.expression == person.fused.emotion
        assert (expression.valence, expression.confidence) == (person.fused.valence, person.fused.confidence)
    assert {m.expression for _, m in body_expressions} >= {"sad", "angry", "happy"}
    face_ids = {p.face_id for a in arrays.values() for p in a.people if p.face_id}
    assert len(face_ids) == 1 and any(msg.ids == list(face_ids) for msg in tracked["faces"])
    face_expressions = [(i, m) for i, m in expressions["faces"] if stamp_to_ns(m.header.stamp) in arrays]
    assert face_expressions, "the photo's face"
    for face_id, expression in face_expressions:
        (person,) = [p for p in arrays[stamp_to_ns(expression.header.stamp)].people if p.face_id == face_id]
        assert person.face.valid and expression.expression == FACE_EXPRESSION_NAMES[person.face.label]
        assert expression.valence == person.fused.valence
    assert face_expressions[-1][1].expression == "happy"

    # frames: body_<id> at the person's root joint in the image's frame, with the image's stamp; they move
    origins: dict[str, list[np.ndarray]] = defaultdict(list)
    for stamp, array in sorted(arrays.items()):
        for person in array.people:
            transform = transforms[(stamp, f"body_{person.body_id}")]
            assert transform.header.frame_id == array.header.frame_id == "camera_color_optical_frame"
            root = person.keypoints[ROOT].position
            origin = transform.transform.translation
            assert np.allclose([origin.x, origin.y, origin.z], [root.x, root.y, root.z], atol=1e-5)
            origins[person.body_id].append(np.array([origin.x, origin.y, origin.z]))
    for walker in walkers:
        path = np.array(origins[walker])
        assert np.linalg.norm(path[-1] - path[0]) > 0.5, f"body_{walker} moves with its person"
    assert any(child == f"face_{next(iter(face_ids))}" for _, child in transforms)


def kinect_bag(sample: Path, out: Path) -> dict[int, TrackedSkeletonArray]:
    """The sample with its skeletons re-encoded as the Azure Kinect driver's body_tracking_data markers (and the
    original skeletons by stamp, to compare with)."""
    from geometry_msgs.msg import Point, Pose
    from visualization_msgs.msg import Marker, MarkerArray

    from emotion_perception.ros.body_trackers import KINECT_JOINTS

    store = typestore()
    originals: dict[int, TrackedSkeletonArray] = {}
    with Reader(sample) as reader, Writer(out, version=9) as writer:
        connections = {}
        for connection in reader.connections:
            if connection.topic == SAMPLE_TOPICS["skeletons"]:
                connections[connection.id] = writer.add_connection(
                    "/body_tracking_data", "visualization_msgs/msg/MarkerArray", typestore=store)
            else:
                connections[connection.id] = writer.add_connection(connection.topic, connection.msgtype,
                                                                   typestore=store)
        for connection, timestamp, raw in reader.messages():
            if connection.topic == SAMPLE_TOPICS["skeletons"]:
                skeletons = deserialize_message(raw, TrackedSkeletonArray)
                originals[stamp_to_ns(skeletons.header.stamp)] = skeletons
                markers = [Marker(header=skeletons.header, id=s.id * 100 + KINECT_JOINTS[name], type=Marker.SPHERE,
                                  action=Marker.ADD, pose=Pose(position=Point(x=s.joints[j].x, y=s.joints[j].y,
                                                                              z=s.joints[j].z)))
                           for s in skeletons.skeletons for j, name in enumerate(GAIT_JOINTS) if s.confidence[j] > 0]
                raw = serialize_message(MarkerArray(markers=markers))
            writer.write(connections[connection.id], timestamp, raw)
    return originals


def test_azure_kinect_body_markers_as_skeleton_input(start_sample_node, play_sample, rclpy_context, spin, tmp_path):
    import rclpy

    originals = kinect_bag(sample_bag_path(), tmp_path / "kinect")
    start_sample_node("-p", "input.skeleton_format:=azure_kinect_markers", skeletons="/body_tracking_data")
    node = rclpy.create_node("test_kinect_client", context=rclpy_context)
    arrays: list[EmotionArray] = []
    emotions = node.create_subscription(EmotionArray, "/emotions", arrays.append, DEEP)
    assert spin(node, lambda: emotions.get_publisher_count() > 0, 60), "the node did not come up"
    player = play_in_background(play_sample, rclpy_context, tmp_path / "kinect")
    assert spin(node, lambda: not player.is_alive() and len(arrays) > 40, 240), len(arrays)
    slop_ns = 50_000_000  # input.sync_slop_s: a lost best-effort message pairs the image with a neighbour's

    def same_people(array: EmotionArray, original: TrackedSkeletonArray) -> bool:
        if sorted(p.track_id for p in array.people) != sorted(s.id for s in original.skeletons):
            return False
        for person in array.people:
            (skeleton,) = [s for s in original.skeletons if s.id == person.track_id]
            if person.position_source != person.POSITION_SKELETON_INPUT or any(
                    (k.position.x, k.position.y, k.position.z) != (skeleton.joints[j].x, skeleton.joints[j].y,
                                                                   skeleton.joints[j].z)
                    for j, k in enumerate(person.keypoints) if skeleton.confidence[j] > 0):
                return False
        return True

    for array in arrays:
        stamp = stamp_to_ns(array.header.stamp)
        near = [original for s, original in originals.items() if abs(s - stamp) <= slop_ns]
        assert any(same_people(array, original) for original in near), "the Kinect's bodies and joints, as sent"
    assert sum(same_people(a, originals[stamp_to_ns(a.header.stamp)]) for a in arrays) > 0.5 * len(arrays)
    assert any(p.gait.valid for a in arrays for p in a.people), "gait runs on the Kinect's joints"
