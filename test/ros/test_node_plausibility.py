"""Finite but impossible input reaches the running node over DDS: an FLT_MAX sentinel person among others, and
camera_info no camera has. It is set aside, counted and warned about; everyone else's output goes on."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from emotion_perception.msg import EmotionArray, TrackedSkeleton, TrackedSkeletonArray

WIDTH, HEIGHT = 64, 48


def header(index: int) -> Header:
    return Header(stamp=Time(sec=100 + index // 10, nanosec=(index % 10) * 100_000_000), frame_id="cam")


def camera_info(index: int, fx: float = 60.0, cx: float = 31.5) -> CameraInfo:
    return CameraInfo(header=header(index), width=WIDTH, height=HEIGHT,
                      k=[fx, 0.0, cx, 0.0, fx, 23.5, 0.0, 0.0, 1.0])


def person(track_id: int, x: float, sentinel: bool = False) -> TrackedSkeleton:
    joints = [Point(x=3e38 if sentinel and j % 2 else x + 0.1 * (j % 3), y=-0.8 + 0.1 * j, z=4.0) for j in range(16)]
    return TrackedSkeleton(id=track_id, joints=joints, confidence=np.ones(16, np.float32))


def test_a_sentinel_person_and_impossible_intrinsics_are_set_aside_and_everyone_else_goes_on(
        start_node, rclpy_context, spin):
    """One person at x = 3e38 gave 0 outputs for all; camera_info with cx = 1e300 was taken silently (then 0
    outputs), and fx = 1e30 made every frame an internal error with no debug image."""
    import rclpy

    node_process = start_node("-p", "pipeline.pose_source:=skeletons", "-p", "output.diagnostics_period_s:=0.3",
                              "-r", "image:=/odd/image", "-r", "skeletons:=/odd/skeletons",
                              "-r", "camera_info:=/odd/camera_info")
    node = rclpy.create_node("test_odd_values", context=rclpy_context)
    images = node.create_publisher(Image, "/odd/image", 10)
    skeletons = node.create_publisher(TrackedSkeletonArray, "/odd/skeletons", 10)
    infos = node.create_publisher(CameraInfo, "/odd/camera_info", 10)
    arrays: list[EmotionArray] = []
    debug: list[Image] = []
    values: dict[str, str] = {}
    outputs = node.create_subscription(EmotionArray, "/emotions", arrays.append, 100)
    node.create_subscription(Image, "/emotion_perception/debug_image", debug.append,
                             QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
    node.create_subscription(DiagnosticArray, "/diagnostics",
                             lambda msg: values.update({kv.key: kv.value for kv in msg.status[0].values}), 10)
    assert spin(node, lambda: images.get_subscription_count() > 0 and skeletons.get_subscription_count() > 0
                and infos.get_subscription_count() > 0 and outputs.get_publisher_count() > 0, 60)

    def send(index: int, sentinel: bool) -> None:
        people = [person(1, -0.5), person(2, 0.5)] + ([person(9, 0.0, sentinel=True)] if sentinel else [])
        skeletons.publish(TrackedSkeletonArray(header=header(index), skeletons=people))
        images.publish(Image(header=header(index), height=HEIGHT, width=WIDTH, encoding="rgb8", step=WIDTH * 3,
                             data=np.full(HEIGHT * WIDTH * 3, 100, np.uint8).tobytes()))

    index = 0
    for index in range(60):  # discovery takes a moment
        infos.publish(camera_info(index))
        send(index, sentinel=False)
        if spin(node, lambda: arrays, 0.3):
            break
    assert arrays, "the node never answered"
    for bad in (camera_info(index, cx=1e300), camera_info(index, fx=1e30)):
        counted = int(values.get("ignored_camera_info", 0))
        infos.publish(bad)
        assert spin(node, lambda: int(values.get("ignored_camera_info", 0)) > counted, 20), values
    before = answered = len(arrays)
    for index in range(index + 1, index + 21):
        send(index, sentinel=True)
        spin(node, lambda: len(arrays) > answered, 5.0)  # one frame at a time: none is superseded
        answered = len(arrays)
    assert answered - before >= 15, "every frame with the sentinel person is answered"
    assert spin(node, lambda: int(values.get("ignored_implausible_skeleton", 0)) >= answered - before, 20), values
    latest = arrays[-1]
    assert [p.track_id for p in latest.people] == [1, 2, 9]
    assert latest.people[0].box_x_max > latest.people[0].box_x_min > 0, "the others are placed with the good intrinsics"
    assert not latest.people[2].fused.valid and latest.people[2].box_x_max == 0.0
    assert debug, "debug images go on"
    assert "dropped_internal_error" not in values, values
    assert node_process.poll() is None
