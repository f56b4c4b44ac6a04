"""Bad input reaches the running node: it warns, counts the drop, keeps running and processes the next good frame."""

from __future__ import annotations

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

SECOND = 1_000_000_000


def bad_images(image, header) -> dict[str, Image]:
    """Images the node cannot use (their stamps are set as they are sent)."""
    return {
        "wrong encoding": Image(header=header(0), height=4, width=4, encoding="yuv422", step=8, data=bytes(32)),
        "zero size": Image(header=header(0), height=0, width=0, encoding="rgb8", step=0, data=b""),
        "step smaller than width": Image(header=header(0), height=48, width=64, encoding="rgb8", step=100, data=bytes(100 * 48)),
        "truncated data": Image(header=header(0), height=48, width=64, encoding="rgb8", step=192, data=bytes(192 * 10)),
        "1x1": Image(header=header(0), height=1, width=1, encoding="rgb8", step=3, data=bytes(3)),
        "8000x8000": Image(header=header(0), height=8000, width=8000, encoding="mono8", step=8000, data=bytes(8000 * 8000)),
        "out-of-order stamp": image(0),  # set to 0.2 s before the last good frame below
    }


def test_raw_images_that_cannot_be_used_are_counted_and_the_node_goes_on(start_node, rclpy_context, spin, listen,
                                                                         image, header):
    import rclpy

    # reliable QoS: a 64 MB frame is reliably lost in fragments under best effort, before the node could see it
    node_process = start_node("-p", "output.diagnostics_period_s:=0.3", "-p", "input.qos:=reliable",
                              "-r", "image:=/bad/image")
    node = rclpy.create_node("test_bad_input", context=rclpy_context)
    publisher = node.create_publisher(Image, "/bad/image", 10)
    observer = listen(node, depth=50)
    assert spin(node, lambda: publisher.get_subscription_count() > 0 and observer.subscription.get_publisher_count() > 0, 60)
    good_images = (image(second * SECOND) for second in range(60, 90))
    assert observer.first_answer(publisher.publish, good_images, 1.0), "the node never answered a good image"
    answered_before = len(observer.arrays)
    expected_drops = {"bad_image": 5, "too_small": 1, "out_of_order": 1}
    second = 200
    for name, msg in bad_images(image, header).items():
        counted = sum(observer.drops().values())
        second += 1
        if name == "out-of-order stamp":  # a little older than the last good frame: a reordered frame
            msg.header.stamp.sec, msg.header.stamp.nanosec = second - 2, 800_000_000
        else:  # newer than the last good frame, so only its own defect counts
            msg.header.stamp.sec = second
        publisher.publish(msg)
        assert spin(node, lambda: sum(observer.drops().values()) > counted, 30), f"the {name!r} frame was not counted"
        second += 1
        publisher.publish(image(second * SECOND))  # the next good frame is processed
        assert spin(node, lambda: observer.seconds()[-1] == second, 30), f"no output after the {name!r} frame"
    assert spin(node, lambda: all(observer.drops().get(k, 0) >= v for k, v in expected_drops.items()), 10), \
        observer.drops()
    assert observer.drops().get("bad_image") == 5 and observer.drops().get("too_small") == 1, observer.drops()
    assert node_process.poll() is None, "the node died"
    assert len(observer.arrays) == answered_before + len(bad_images(image, header))


def test_corrupt_compressed_images_bombs_nan_depth_and_nan_intrinsics(start_node, rclpy_context, spin, listen, header):
    import rclpy

    node_process = start_node("-p", "input.image_transport:=compressed", "-p", "input.use_depth:=true",
                              "-p", "output.diagnostics_period_s:=0.3", "-r", "image/compressed:=/bad/compressed",
                              "-r", "depth:=/bad/depth", "-r", "camera_info:=/bad/camera_info")
    node = rclpy.create_node("test_bad_compressed", context=rclpy_context)
    images = node.create_publisher(CompressedImage, "/bad/compressed", 10)
    depths = node.create_publisher(Image, "/bad/depth", 10)
    infos = node.create_publisher(CameraInfo, "/bad/camera_info", 10)
    observer = listen(node, depth=50)
    assert spin(node, lambda: images.get_subscription_count() > 0 and depths.get_subscription_count() > 0
                and observer.subscription.get_publisher_count() > 0, 60)
    ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 90, dtype=np.uint8))
    nan_depth = np.full((48, 64), np.nan, dtype=np.float32).tobytes()

    def send(second: int, data: bytes) -> None:
        depths.publish(Image(header=header(second * SECOND), height=48, width=64, encoding="32FC1", step=256,
                             data=nan_depth))
        images.publish(CompressedImage(header=header(second * SECOND), format="jpeg", data=data))

    assert observer.first_answer(lambda second: send(second, jpeg.tobytes()), range(10, 40), 1.0), \
        "the node never answered a good image with NaN depth"
    assert observer.arrays[-1].people == []
    corrupt = jpeg.tobytes()[:20] + bytes(range(256)) * 4
    ok, bomb = cv2.imencode(".png", np.zeros((16000, 16000), np.uint8))  # 260 KB declaring 256 Mpx
    for second, data in ((50, corrupt), (51, b"not an image at all"), (52, bomb.tobytes())):
        counted = observer.drops().get("bad_image", 0)
        send(second, data)
        assert spin(node, lambda: observer.drops().get("bad_image", 0) == counted + 1, 30), observer.drops()
    nan_k = [float("nan"), 0.0, 32.0, 0.0, float("nan"), 24.0, 0.0, 0.0, 1.0]
    infos.publish(CameraInfo(header=header(53 * SECOND), width=64, height=48, k=nan_k))
    assert spin(node, lambda: observer.drops().get("ignored_camera_info", 0) >= 1, 30), observer.drops()
    send(54, jpeg.tobytes())
    assert spin(node, lambda: observer.seconds()[-1] == 54, 30), observer.seconds()
    assert node_process.poll() is None, "the node died"
