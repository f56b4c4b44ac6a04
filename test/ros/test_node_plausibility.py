"""Finite but impossible input reaches the running node over DDS: an FLT_MAX sentinel person among others, and
camera_info no camera has. It is set aside, counted and warned about; everyone else's output goes on."""

from __future__ import annotations

from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from emotion_perception.msg import TrackedSkeleton, TrackedSkeletonArray


def test_a_sentinel_person_and_impossible_intrinsics_are_set_aside_and_everyone_else_goes_on(
        start_node, rclpy_context, spin, listen, image, header, camera_info, tracked_skeleton, frame_stamp):
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
    observer = listen(node)
    arrays, values = observer.arrays, observer.values
    debug: list[Image] = []
    node.create_subscription(Image, "/emotion_perception/debug_image", debug.append,
                             QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
    assert spin(node, lambda: images.get_subscription_count() > 0 and skeletons.get_subscription_count() > 0
                and infos.get_subscription_count() > 0 and observer.subscription.get_publisher_count() > 0, 60)

    def sentinel_person() -> TrackedSkeleton:
        person = tracked_skeleton(9, x=0.0, z=4.0)
        for joint in person.joints[1::2]:
            joint.x = 3e38
        return person

    def send(index: int, sentinel: bool) -> None:
        people = [tracked_skeleton(1, x=-0.5, z=4.0), tracked_skeleton(2, x=0.5, z=4.0)]
        skeletons.publish(TrackedSkeletonArray(header=header(frame_stamp(index)),
                                               skeletons=people + ([sentinel_person()] if sentinel else [])))
        images.publish(image(frame_stamp(index)))

    sent: list[int] = []

    def send_with_camera_info(index: int) -> None:
        sent.append(index)
        infos.publish(camera_info(frame_stamp(index)))
        send(index, sentinel=False)

    assert observer.first_answer(send_with_camera_info, range(60), 0.3), "the node never answered"  # discovery
    index = sent[-1]
    for bad in (camera_info(frame_stamp(index), cx=1e300), camera_info(frame_stamp(index), fx=1e30)):
        counted = int(values().get("ignored_camera_info", 0))
        infos.publish(bad)
        assert spin(node, lambda: int(values().get("ignored_camera_info", 0)) > counted, 20), values()
    before = answered = len(arrays)
    for index in range(index + 1, index + 21):
        send(index, sentinel=True)
        spin(node, lambda: len(arrays) > answered, 5.0)  # one frame at a time: none is superseded
        answered = len(arrays)
    assert answered - before >= 15, "every frame with the sentinel person is answered"
    assert spin(node, lambda: int(values().get("ignored_implausible_skeleton", 0)) >= answered - before, 20), values()
    latest = arrays[-1]
    assert [p.track_id for p in latest.people] == [1, 2, 9]
    assert latest.people[0].box_x_max > latest.people[0].box_x_min > 0, "the others are placed with the good intrinsics"
    assert not latest.people[2].fused.valid and latest.people[2].box_x_max == 0.0
    assert debug, "debug images go on"
    assert "dropped_internal_error" not in values(), values()
    assert node_process.poll() is None
