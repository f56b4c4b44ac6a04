"""The running node over real DDS against a robot's day: clocks, silent or shifted partner streams, typos."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticStatus
from sensor_msgs.msg import Image

from emotion_perception.msg import TrackedSkeletonArray


def test_stamps_from_the_future_and_jumps_back_never_stop_the_output(start_node, rclpy_context, spin, listen, image,
                                                                      header):
    import rclpy

    node_process = start_node("-r", "image:=/jump/image", "-p", "output.diagnostics_period_s:=0.3")
    node = rclpy.create_node("test_jumps", context=rclpy_context)
    publisher = node.create_publisher(Image, "/jump/image", 10)
    observer = listen(node)
    assert spin(node, lambda: publisher.get_subscription_count() > 0 and observer.subscription.get_publisher_count(), 60)
    start = 1_700_000_000 * 10**9
    assert observer.first_answer(publisher.publish, (image(start + k * 10**9) for k in range(60)), 0.5), \
        "the node never answered"
    sequence = [2_100_000_000 * 10**9] + [start - 50 * 10**9 + k * 33_000_000 for k in range(10)]
    for stamp in sequence:  # one frame from 2036, then a clock far in the past
        publisher.publish(image(stamp))
        assert spin(node, lambda: observer.arrays[-1].header.stamp == header(stamp).stamp, 20), f"no output for {stamp}"
    assert spin(node, lambda: int(observer.values().get("time_jumps", 0)) >= 2, 10), observer.values()
    assert node_process.poll() is None


def test_a_silent_depth_topic_lets_frames_through_without_depth_and_says_so(start_node, rclpy_context, spin, listen,
                                                                            image):
    """With use_depth and no depth camera, 353 images used to give 0 outputs and blame the image topic."""
    import rclpy

    start_node("-r", "image:=/silent/image", "-r", "depth:=/silent/depth", "-p", "input.use_depth:=true",
               "-p", "input.depth_timeout_s:=0.5", "-p", "output.diagnostics_period_s:=0.3")
    node = rclpy.create_node("test_silent_depth", context=rclpy_context)
    images = node.create_publisher(Image, "/silent/image", 10)
    observer = listen(node)
    assert spin(node, lambda: images.get_subscription_count() > 0 and observer.subscription.get_publisher_count(), 60)
    start = 1_700_000_000 * 10**9
    stamps = iter(start + k * 33_333_333 for k in range(10_000))
    for _ in range(200):
        images.publish(image(next(stamps)))
        if spin(node, lambda: len(observer.arrays) >= 5, 0.03):
            break
    assert len(observer.arrays) >= 5, "frames never went through without their silent depth"
    assert spin(node, lambda: int(observer.values().get("ignored_depth", 0)) >= 1, 10), observer.values()


def test_skeletons_off_by_two_seconds_are_named_in_diagnostics_not_the_image_topic(start_node, rclpy_context, spin,
                                                                                   listen, image, header):
    import rclpy

    start_node("-r", "image:=/shifted/image", "-r", "skeletons:=/shifted/skeletons", "-p", "pipeline.pose_source:=skeletons",
               "-p", "output.diagnostics_period_s:=0.3", "-p", "input.no_image_warning_s:=3.0")
    node = rclpy.create_node("test_shifted_skeletons", context=rclpy_context)
    images = node.create_publisher(Image, "/shifted/image", 10)
    skeletons = node.create_publisher(TrackedSkeletonArray, "/shifted/skeletons", 10)
    observer = listen(node)
    assert spin(node, lambda: images.get_subscription_count() > 0 and skeletons.get_subscription_count() > 0, 60)
    start = 1_700_000_000 * 10**9
    for k in range(150):
        stamp = start + k * 33_333_333
        images.publish(image(stamp))
        skeletons.publish(TrackedSkeletonArray(header=header(stamp - 2 * 10**9)))
        spin(node, lambda: False, 0.02)
    assert spin(node, lambda: observer.status is not None and "/shifted/skeletons" in observer.status.message, 10), \
        observer.status
    assert observer.status.level == DiagnosticStatus.WARN and observer.arrays == []
    assert int(observer.values()["unpaired_by /shifted/skeletons"]) > 50


def test_invalid_or_unknown_parameters_stop_the_node_with_the_real_reason(start_node, tmp_path):
    """A typo in a params file used to be ignored by the node while the offline tools refused it."""
    params = tmp_path / "typo.yaml"
    params.write_text("/**:\n  ros__parameters:\n    gait:\n      modle: vsgcnn\n")
    cases = [(("--params-file", str(params)), "unknown parameters: gait.modle (did you mean gait.model?)"),
             (("-p", "output.diagnostics_period_s:=0.0"), "output.diagnostics_period_s: 0.0 is out of range"),
             (("-p", "gait.fps:=.nan"), "gait.fps: must be a finite number"),
             (("-p", "pipeline.max_people:=-1"), "pipeline.max_people: -1 is out of range")]
    started = [(start_node(*arguments), arguments, reason) for arguments, reason in cases]  # side by side
    for process, arguments, reason in started:
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 2 and reason in output, (arguments, process.returncode, output[-1500:])
        assert "Traceback" not in output


def test_depth_with_skeleton_input_is_refused_with_a_warning(start_node, rclpy_context, spin, listen):
    import rclpy

    node_process = start_node("-p", "pipeline.pose_source:=skeletons", "-p", "input.use_depth:=true",
                              "-p", "output.diagnostics_period_s:=0.3", "-r", "__node:=ep_depth")
    node = rclpy.create_node("test_depth_skeletons", context=rclpy_context)
    observer = listen(node)
    assert spin(node, lambda: any(s.values for s in observer.statuses), 60)
    values = observer.values()
    assert "depth topic is not subscribed" in values.get("note_0", ""), values
    assert node.count_publishers("/depth") == 0 and node.count_subscribers("/depth") == 0
    node_process.send_signal(2)
    output, _ = node_process.communicate(timeout=20)
    assert "input.use_depth is set but pipeline.pose_source is 'skeletons'" in output
