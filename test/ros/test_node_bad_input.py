"""Bad input reaches the running node: it warns, counts the drop, keeps running and processes the next good frame."""

from __future__ import annotations

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from emotion_perception.msg import EmotionArray


def header(second: int, nanosec: int = 0) -> Header:
    return Header(stamp=Time(sec=second, nanosec=nanosec), frame_id="cam")


def good_image(second: int) -> Image:
    return Image(header=header(second), height=48, width=64, encoding="rgb8", step=192,
                 data=np.full(48 * 192, 128, dtype=np.uint8).tobytes())


def bad_images() -> dict[str, Image]:
    return {
        "wrong encoding": Image(header=header(100), height=4, width=4, encoding="yuv422", step=8, data=bytes(32)),
        "zero size": Image(header=header(101), height=0, width=0, encoding="rgb8", step=0, data=b""),
        "step smaller than width": Image(header=header(102), height=48, width=64, encoding="rgb8", step=100, data=bytes(100 * 48)),
        "truncated data": Image(header=header(103), height=48, width=64, encoding="rgb8", step=192, data=bytes(192 * 10)),
        "1x1": Image(header=header(104), height=1, width=1, encoding="rgb8", step=3, data=bytes(3)),
        "8000x8000": Image(header=header(105), height=8000, width=8000, encoding="mono8", step=8000, data=bytes(8000 * 8000)),
        "out-of-order stamp": good_image(0),  # set to 0.2 s before the last good frame below
    }


class Observer:
    def __init__(self, node):
        self.arrays: list[EmotionArray] = []
        self.drops: dict[str, int] = {}
        self.subscription = node.create_subscription(EmotionArray, "/emotions", self.arrays.append, 50)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        self.drops = {kv.key.removeprefix("dropped_"): int(kv.value) for kv in msg.status[0].values
                      if kv.key.startswith(("dropped_", "ignored_"))}

    def stamps(self) -> list[int]:
        return [a.header.stamp.sec for a in self.arrays]


def test_raw_images_that_cannot_be_used_are_counted_and_the_node_goes_on(start_node, rclpy_context, spin):
    import rclpy

    # reliable QoS: a 64 MB frame is reliably lost in fragments under best effort, before the node could see it
    node_process = start_node("-p", "output.diagnostics_period_s:=0.3", "-p", "input.qos:=reliable",
                              "-r", "image:=/bad/image")
    node = rclpy.create_node("test_bad_input", context=rclpy_context)
    publisher = node.create_publisher(Image, "/bad/image", 10)
    observer = Observer(node)
    assert spin(node, lambda: publisher.get_subscription_count() > 0 and observer.subscription.get_publisher_count() > 0, 60)
    for second in range(60, 90):  # until the node's output reaches us (discovery takes a moment)
        publisher.publish(good_image(second))
        if spin(node, lambda: observer.arrays, 1.0):
            break
    assert observer.arrays, "the node never answered a good image"
    answered_before = len(observer.arrays)
    expected_drops = {"bad_image": 5, "too_small": 1, "out_of_order": 1}
    second = 200
    for name, msg in bad_images().items():
        counted = sum(observer.drops.values())
        second += 1
        if name == "out-of-order stamp":  # a little older than the last good frame: a reordered frame
            msg.header.stamp.sec, msg.header.stamp.nanosec = second - 2, 800_000_000
        else:  # newer than the last good frame, so only its own defect counts
            msg.header.stamp.sec = second
        publisher.publish(msg)
        assert spin(node, lambda: sum(observer.drops.values()) > counted, 30), f"the {name!r} frame was not counted"
        second += 1
        publisher.publish(good_image(second))  # the next good frame is processed
        assert spin(node, lambda: observer.stamps()[-1] == second, 30), f"no output after the {name!r} frame"
    assert spin(node, lambda: all(observer.drops.get(k, 0) >= v for k, v in expected_drops.items()), 10), observer.drops
    assert observer.drops.get("bad_image") == 5 and observer.drops.get("too_small") == 1, observer.drops
    assert node_process.poll() is None, "the node died"
    assert len(observer.arrays) == answered_before + len(bad_images())


def test_corrupt_compressed_images_bombs_nan_depth_and_nan_intrinsics(start_node, rclpy_context, spin):
    import rclpy

    node_process = start_node("-p", "input.image_transport:=compressed", "-p", "input.use_depth:=true",
                              "-p", "output.diagnostics_period_s:=0.3", "-r", "image/compressed:=/bad/compressed",
                              "-r", "depth:=/bad/depth", "-r", "camera_info:=/bad/camera_info")
    node = rclpy.create_node("test_bad_compressed", context=rclpy_context)
    images = node.create_publisher(CompressedImage, "/bad/compressed", 10)
    depths = node.create_publisher(Image, "/bad/depth", 10)
    infos = node.create_publisher(CameraInfo, "/bad/camera_info", 10)
    observer = Observer(node)
    assert spin(node, lambda: images.get_subscription_count() > 0 and depths.get_subscription_count() > 0
                and observer.subscription.get_publisher_count() > 0, 60)
    ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 90, dtype=np.uint8))
    nan_depth = np.full((48, 64), np.nan, dtype=np.float32).tobytes()

    def send(second: int, data: bytes) -> None:
        depths.publish(Image(header=header(second), height=48, width=64, encoding="32FC1", step=256, data=nan_depth))
        images.publish(CompressedImage(header=header(second), format="jpeg", data=data))

    for second in range(10, 40):  # until the node's output reaches us (discovery takes a moment)
        send(second, jpeg.tobytes())
        if spin(node, lambda: observer.arrays, 1.0):
            break
    assert observer.arrays, "the node never answered a good image with NaN depth"
    assert observer.arrays[-1].people == []
    corrupt = jpeg.tobytes()[:20] + bytes(range(256)) * 4
    ok, bomb = cv2.imencode(".png", np.zeros((16000, 16000), np.uint8))  # 260 KB declaring 256 Mpx
    for second, data in ((50, corrupt), (51, b"not an image at all"), (52, bomb.tobytes())):
        counted = observer.drops.get("bad_image", 0)
        send(second, data)
        assert spin(node, lambda: observer.drops.get("bad_image", 0) == counted + 1, 30), observer.drops
    nan_k = [float("nan"), 0.0, 32.0, 0.0, float("nan"), 24.0, 0.0, 0.0, 1.0]
    infos.publish(CameraInfo(header=header(53), width=64, height=48, k=nan_k))
    assert spin(node, lambda: observer.drops.get("ignored_camera_info", 0) >= 1, 30), observer.drops
    send(54, jpeg.tobytes())
    assert spin(node, lambda: observer.stamps()[-1] == 54, 30), observer.stamps()
    assert node_process.poll() is None, "the node died"
