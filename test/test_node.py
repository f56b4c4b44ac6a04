"""The node in its own process, over real DDS: images in, EmotionArrays with the images' headers out."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from rcl_interfaces.srv import ListParameters
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from emotion_perception.msg import EmotionArray
from emotion_perception.settings import Settings


def image(stamp_ns: int, frame_id: str) -> Image:
    pixels = np.random.default_rng(stamp_ns % 1000).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    return Image(header=Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id=frame_id),
                 height=48, width=64, encoding="rgb8", step=64 * 3, data=pixels.tobytes())


def test_node_publishes_one_emotion_array_per_image_with_its_header(start_node, rclpy_context, spin):
    import rclpy

    node_process = start_node("-r", "image:=/test_cam/image_raw", "-r", "__ns:=/robot")
    node = rclpy.create_node("test_camera", context=rclpy_context)
    publisher = node.create_publisher(Image, "/test_cam/image_raw", 10)
    received: list[EmotionArray] = []
    subscription = node.create_subscription(EmotionArray, "/robot/emotions", received.append, 10)
    assert spin(node, lambda: publisher.get_subscription_count() > 0 and subscription.get_publisher_count() > 0, 60), \
        f"the node did not come up: {node_process.poll()}"
    for n in range(30):  # best-effort delivery starts once discovery settles: retry the first frame
        publisher.publish(image(1_600_000_000_000_000_000 + n * 33_333_333, "warm_up"))
        if spin(node, lambda: received, 1.0):
            break
    assert received, "the node never answered"
    received.clear()
    sent = []
    for n in range(5):
        msg = image(1_700_000_000_000_000_000 + n * 33_333_333, f"camera_{n}")
        sent.append(msg.header)
        publisher.publish(msg)
        assert spin(node, lambda: len(received) == n + 1, 30), f"no EmotionArray for image {n}"
    for header, array in zip(sent, received):
        assert array.header.stamp == header.stamp
        assert array.header.frame_id == header.frame_id
        assert array.people == []  # no detector weights configured here: nobody is reported


def test_node_declares_every_setting_as_a_parameter(start_node, rclpy_context, spin):
    import rclpy

    start_node("-p", "input.sync_slop_s:=1", "-r", "__node:=ep_under_test")
    node = rclpy.create_node("test_parameters", context=rclpy_context)
    client = node.create_client(ListParameters, "/ep_under_test/list_parameters")
    assert spin(node, client.service_is_ready, 60), "the node's parameter services did not appear"
    future = client.call_async(ListParameters.Request())
    assert spin(node, future.done, 20)
    names = set(future.result().result.names)
    assert set(Settings().flat()) <= names, sorted(set(Settings().flat()) - names)


def test_node_warns_when_no_image_arrives_naming_topic_and_qos(start_node, rclpy_context, spin):
    import rclpy

    node_process = start_node("-p", "input.no_image_warning_s:=1.0", "-r", "image:=/quiet/camera")
    node = rclpy.create_node("test_watchdog", context=rclpy_context)
    subscription = node.create_subscription(EmotionArray, "/emotions", lambda msg: None, 10)
    assert spin(node, lambda: subscription.get_publisher_count() > 0, 60), "the node did not come up"
    spin(node, lambda: False, 3.0)  # silence on the image topic for more than the warning period
    node_process.send_signal(2)
    output, _ = node_process.communicate(timeout=20)
    warning = next((line for line in output.splitlines() if "no image received" in line), "")
    assert "/quiet/camera" in warning and "best effort" in warning, output[-2000:]
