"""The node in its own process, over real DDS: images in, EmotionArrays with the images' headers out."""

from __future__ import annotations

from rcl_interfaces.srv import ListParameters
from sensor_msgs.msg import Image

from emotion_perception.settings import Settings

from support.installed import NO_DOWNLOADS, NODE, node_command


def test_node_publishes_one_emotion_array_per_image_with_its_header(start_node, rclpy_context, spin, listen, image):
    import rclpy

    node_process = start_node("-r", "image:=/test_cam/image_raw", "-r", "__ns:=/robot")
    node = rclpy.create_node("test_camera", context=rclpy_context)
    publisher = node.create_publisher(Image, "/test_cam/image_raw", 10)
    listener = listen(node, "/robot/emotions", depth=10)
    received = listener.arrays
    assert spin(node, lambda: publisher.get_subscription_count() > 0
                and listener.subscription.get_publisher_count() > 0, 60), \
        f"the node did not come up: {node_process.poll()}"
    warm_up = (image(1_600_000_000_000_000_000 + n * 33_333_333, "warm_up") for n in range(30))
    assert listener.first_answer(publisher.publish, warm_up, 1.0), "the node never answered"
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


def test_no_image_warning_is_said_once_and_again_only_after_images_came_back(start_node, rclpy_context, spin, image):
    """It used to repeat every few seconds for as long as the camera was silent."""
    import rclpy
    from rcl_interfaces.msg import Log
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    start_node("-p", "input.no_image_warning_s:=0.5", "-r", "image:=/quiet/camera", "-r", "__node:=ep_quiet")
    node = rclpy.create_node("test_watchdog", context=rclpy_context)
    logs: list[str] = []
    node.create_subscription(Log, "/rosout", lambda m: logs.append(m.msg) if m.name == "ep_quiet" else None,
                             QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                                        durability=DurabilityPolicy.TRANSIENT_LOCAL))

    def said(text: str) -> list[str]:
        return [line for line in logs if text in line]

    assert spin(node, lambda: said("no image received"), 90), logs[-5:]
    warning = said("no image received")[0]
    assert "/quiet/camera" in warning and "best effort" in warning
    spin(node, lambda: False, 4.0)  # several watchdog periods of silence more
    assert len(said("no image received")) == 1, said("no image received")
    camera = node.create_publisher(Image, "/quiet/camera", 10)
    sent = 0

    def came_back() -> list[str]:
        nonlocal sent
        camera.publish(image(1_700_000_000_000_000_000 + sent * 50_000_000, "cam"))
        sent += 1
        return said("again")

    assert spin(node, came_back, 60), logs[-5:]
    assert spin(node, lambda: len(said("no image received")) == 2, 60), "silence again is said again"
    spin(node, lambda: False, 3.0)
    assert len(said("no image received")) == 2 and len(said("again")) == 1, logs


def test_a_parameter_of_the_wrong_type_exits_2_naming_it_and_the_type(processes, ros_env, tmp_path):
    """Both used to end in "AttributeError: '_lock'" with status 1."""
    params = tmp_path / "params.yaml"
    params.write_text("/**:\n  ros__parameters:\n    input:\n      queue_depth: 5.5\n")
    wrong = {"gait.window_frames: expected int, got 'abc'":  # no params file: the installed one would win over -p
             processes([str(NODE), "--ros-args", *NO_DOWNLOADS, "-p", "gait.window_frames:=abc"], ros_env),
             "input.queue_depth: expected int, got 5.5": processes(node_command("--params-file", str(params)), ros_env)}
    for message, process in wrong.items():
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 2 and message in output and "Traceback" not in output, output[-2000:]
