"""The REP-155 output's building blocks: the test fixtures' message types are the real packages' (RIHS01 type
hashes), the REP-155 ids, the body and face frames' axes, and the Azure Kinect skeleton input's joint mapping."""

from __future__ import annotations

import json
import random
import string
import sys
from pathlib import Path

import numpy as np
import pytest
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from emotion_perception.ros import human_ids
from emotion_perception.cues.face.results import FaceResult
from emotion_perception.ros.human_ids import HumanIds
from emotion_perception.labels import GAIT_JOINTS
from support.hri_interfaces import UPSTREAM_HASHES
from support.installed import FIXTURES
from emotion_perception.types import FrameResult, PersonEmotion, PersonPosition, PositionSource, Skeleton




def fixture_hashes() -> dict[str, str]:
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted((FIXTURES / "interfaces").glob("*/msg/*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{path.parent.parent.name}/msg/{path.stem}"))
    store.register(types)
    return {name: store.hash_rihs01(name) for name in types}


def test_fixture_types_hash_as_the_real_packages():
    assert fixture_hashes() == UPSTREAM_HASHES
    assert get_typestore(Stores.ROS2_KILTED).hash_rihs01("tf2_msgs/msg/TFMessage") == UPSTREAM_HASHES[
        "tf2_msgs/msg/TFMessage"]


def test_built_typesupport_reports_the_real_hashes():
    """What rosidl wrote for the fixtures set-up built into the venv (the middleware announces these)."""
    for name, expected in UPSTREAM_HASHES.items():
        package, _, message = name.split("/")
        description = json.loads((Path(sys.prefix) / "share" / package / "msg" / f"{message}.json").read_text())
        reported = {entry["type_name"]: entry["hash_string"] for entry in description["type_hashes"]}
        assert reported[name] == expected


def person(track_id: int, root=(0.0, 0.0, 3.0), face: bool = False) -> PersonEmotion:
    joints = np.zeros((16, 3), dtype=np.float32)
    joints[:] = root
    for name, offset in {"neck": (0, -0.5, 0), "head": (0, -0.7, 0), "left_hip": (0.1, 0, 0),
                         "right_hip": (-0.1, 0, 0)}.items():
        joints[GAIT_JOINTS.index(name)] = np.add(root, offset)
    skeleton = Skeleton(joints_2d=np.zeros((16, 2), np.float32), confidence=np.ones(16, np.float32),
                        joints_3d=joints, position_source=PositionSource.SKELETON_INPUT)
    cues = {"face": FaceResult(False, "no face visible")}
    if face:
        cues["face"] = FaceResult(False, "face too small", face_box=np.array([1, 2, 3, 4], np.float32))
    return PersonEmotion(track_id=track_id, box=np.zeros(4, np.float32), detection_score=1.0, skeleton=skeleton,
                         position=PersonPosition(valid=True, point=np.array(root, np.float32)), cues=cues)


def test_ids_are_short_random_stable_and_end_with_their_track():
    ids = HumanIds(random.Random(1))
    first = ids.name(FrameResult(0, "cam", [person(1), person(2, face=True)]))
    body_1, body_2 = first.bodies[1], first.bodies[2]
    assert all(len(i) == human_ids.ID_LENGTH and set(i) <= set(string.ascii_lowercase) for i in (body_1, body_2))
    assert body_1 != body_2 and list(first.faces) == [2] and first.faces[2] not in (body_1, body_2)
    frame = FrameResult(1, "cam", [person(2), person(3)])
    second = ids.name(frame)
    assert second.bodies[2] == body_2 and second.bodies[3] not in (body_1, body_2)
    assert second.ended_bodies == [body_1] and second.faces == {}, "no face box this frame"
    assert frame.people[0].body_id == body_2 and frame.people[0].face_id == first.faces[2], "the face id stays"
    third = ids.name(FrameResult(2, "cam", [person(1)]))
    assert third.bodies[1] not in (body_1, body_2), "a track id seen again never gets an id given before"
    assert sorted(third.ended_bodies) == sorted([body_2, second.bodies[3]]) and third.ended_faces == [first.faces[2]]


def test_ids_are_never_given_twice(monkeypatch):
    """With 26 possible ids (one letter), 26 tracks take all 26: each collision is drawn again."""
    monkeypatch.setattr(human_ids, "ID_LENGTH", 1)
    ids = HumanIds(random.Random(0))
    given = [ids.name(FrameResult(n, "cam", [person(n)])).bodies[n] for n in range(26)]
    assert sorted(given) == list(string.ascii_lowercase)


def test_body_frame_axes_follow_the_body():
    """REP-155 body frame: x out of the body, y to its left, z to the head; in the optical frame (x right,
    y down, z forward). Facing the camera: x = -z_optical; turned to walk to the image's right: x = +x_optical."""
    from emotion_perception.ros.hri import body_axes, person_transforms
    from std_msgs.msg import Header

    facing = person(1)  # left hip at +x_optical: the person's left is the image's right, so they face the camera
    np.testing.assert_allclose(body_axes(facing), [[0, 1, 0], [0, 0, -1], [-1, 0, 0]], atol=1e-6)
    walking_right = person(2)
    skeleton = walking_right.skeleton
    skeleton.joints_3d[GAIT_JOINTS.index("left_hip")] = (0, 0, 0.1)   # left hip away from the camera
    skeleton.joints_3d[GAIT_JOINTS.index("right_hip")] = (0, 0, -0.1)
    skeleton.joints_3d += np.float32([0, 0, 3])
    axes = body_axes(walking_right)
    np.testing.assert_allclose(axes[:, 0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(axes[:, 2], [0, -1, 0], atol=1e-6)
    facing.body_id, facing.face_id = "abcde", "fghij"
    frames = person_transforms(facing, Header(frame_id="cam"))
    assert [t.child_frame_id for t in frames] == ["body_abcde", "face_fghij", "gaze_fghij"]
    assert (frames[0].transform.translation.z, frames[1].transform.translation.y) == pytest.approx((3.0, -0.7))


def test_kinect_markers_become_tracked_skeletons():
    from geometry_msgs.msg import Point, Pose
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker, MarkerArray

    from emotion_perception.ros.body_trackers import KINECT_JOINTS, SkeletonInput

    header = Header(frame_id="depth_camera_link")
    header.stamp.sec = 7
    markers = [Marker(header=header, id=body * 100 + joint, action=Marker.ADD,
                      pose=Pose(position=Point(x=float(body), y=float(joint), z=2.0)))
               for body in (3, 9) for joint in range(32)]
    markers[5].action = Marker.DELETE  # body 3's left shoulder
    adapter = SkeletonInput("azure_kinect_markers")
    converted = adapter.adapt(MarkerArray(markers=markers))
    assert converted.header == header and [s.id for s in converted.skeletons] == [3, 9]
    nine = converted.skeletons[1]
    assert [nine.joints[GAIT_JOINTS.index(name)].y for name in GAIT_JOINTS] == [
        float(KINECT_JOINTS[name]) for name in GAIT_JOINTS]
    assert list(converted.skeletons[0].confidence).count(0.0) == 1
    assert adapter.adapt(MarkerArray()) is None, "nobody seen and no image yet: no stamp to pair with"
    adapter.last_image_header = header
    assert adapter.adapt(MarkerArray()).skeletons == [] and adapter.adapt(MarkerArray()).header == header


def test_without_hri_msgs_the_output_is_off_and_says_why(rclpy_context, monkeypatch):
    """What a robot without ros-<distro>-hri-msgs sees (the import's failure stands in for the package's absence)."""
    import rclpy
    from std_msgs.msg import Header

    from emotion_perception.ros import hri
    from emotion_perception.settings import OutputConfig

    monkeypatch.setattr(hri, "HRI_MSGS_PROBLEM", "hri_msgs is not installed (No module named 'hri_msgs'); install it")
    node = rclpy.create_node("test_hri_off", context=rclpy_context)
    notes: list[str] = []
    outputs = hri.HumanOutputs(node, OutputConfig(hri=True, tf=True), HumanIds(), log=notes.append)
    assert notes == ["output.hri is set but the REP-155 output is off: hri_msgs is not installed (No module named "
                     "'hri_msgs'); install it"]
    published = {name for name, _ in node.get_publisher_names_and_types_by_node("test_hri_off", "/")}
    assert "/tf" in published and not any(name.startswith("/humans/") for name in published)
    frame = FrameResult(0, "cam", [person(1)])
    outputs.publish(frame, Header(frame_id="cam"), 640, 480)
    assert frame.people[0].body_id, "the TF frames still name the body"
    outputs.close()
    node.destroy_node()


def test_deactivating_empties_the_tracked_lists_and_removes_the_bodies_topics(rclpy_context, spin):
    import rclpy
    from hri_msgs.msg import IdsList
    from std_msgs.msg import Header

    from emotion_perception.ros import hri
    from emotion_perception.settings import OutputConfig

    node = rclpy.create_node("test_hri_clear", context=rclpy_context)
    client = rclpy.create_node("test_hri_clear_client", context=rclpy_context)
    lists: list[IdsList] = []
    subscription = client.create_subscription(IdsList, "/humans/bodies/tracked", lists.append, 10)
    ids = HumanIds()
    outputs = hri.HumanOutputs(node, OutputConfig(hri=True), ids, log=print)
    assert spin(client, lambda: subscription.get_publisher_count() > 0, 30)
    frame = FrameResult(0, "cam", [person(1)])
    outputs.publish(frame, Header(frame_id="cam"), 640, 480)
    body_id = frame.people[0].body_id
    assert node.count_publishers(f"/humans/bodies/{body_id}/roi") == 1
    outputs.clear(Header(frame_id="cam"))
    assert spin(client, lambda: len(lists) == 2, 30) and [m.ids for m in lists] == [[body_id], []]
    assert node.count_publishers(f"/humans/bodies/{body_id}/roi") == 0
    outputs.close()
    again = FrameResult(1, "cam", [person(1)])
    hri.HumanOutputs(node, OutputConfig(hri=True), ids, log=print).publish(again, Header(frame_id="cam"), 640, 480)
    assert again.people[0].body_id != body_id, "a configure cycle later, the same track id gets a new id"


def test_quaternions_of_rotation_matrices():
    from scipy.spatial.transform import Rotation

    from emotion_perception.ros.hri import quaternion

    rotations = Rotation.random(200, random_state=3)
    for matrix, expected in zip(rotations.as_matrix(), rotations.as_quat()):
        got = np.array(quaternion(matrix))
        assert min(np.abs(got - expected).max(), np.abs(got + expected).max()) < 1e-9
    half_turns = [np.diag([1, -1, -1]), np.diag([-1, 1, -1]), np.diag([-1, -1, 1])]  # w = 0: each branch
    for matrix in [[[0, 1, 0], [0, 0, -1], [-1, 0, 0]], *half_turns]:
        got = Rotation.from_quat(quaternion(np.array(matrix, dtype=float))).as_matrix()
        np.testing.assert_allclose(got, matrix, atol=1e-12)
