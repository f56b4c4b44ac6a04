"""The example behaviour (examples/slow_down_near_angry.py) against the running node on the sample bag, over DDS:
the angry walker who comes up to the camera makes it slow the robot down; nobody else does."""

from __future__ import annotations

import sys

from std_msgs.msg import Float32

from emotion_perception.runtime.paths import sample_bag_path
from emotion_perception.ros.bag import SAMPLE_TOPICS, play_bag

EXAMPLE = f"{sys.prefix}/lib/emotion_perception/slow_down_near_angry.py"


def test_the_example_slows_down_for_the_angry_person_within_two_metres(start_node, processes, ros_env, rclpy_context,
                                                                        spin):
    import rclpy

    start_node("-p", "pipeline.pose_source:=skeletons", "-p", "input.image_transport:=compressed",
               "-r", f"image/compressed:={SAMPLE_TOPICS['image']}", "-r", f"camera_info:={SAMPLE_TOPICS['camera_info']}",
               "-r", f"skeletons:={SAMPLE_TOPICS['skeletons']}")
    example = processes([EXAMPLE], ros_env)
    node = rclpy.create_node("test_example", context=rclpy_context)
    limits: list[float] = []
    subscription = node.create_subscription(Float32, "/speed_limit", lambda msg: limits.append(msg.data), 2000)  # kept while play_bag blocks
    assert spin(node, lambda: subscription.get_publisher_count() > 0, 60), "the example did not come up"
    play_bag(node, sample_bag_path(), rate=0.5, wait_for_subscribers_s=60)  # half speed: slow CPUs keep up
    spin(node, lambda: False, 2.0)
    example.send_signal(2)
    output, _ = example.communicate(timeout=20)
    assert limits and limits[0] == 1.0, "full speed while nobody is near and angry"
    assert any(abs(limit - 0.3) < 1e-6 for limit in limits), f"the angry person who came within 2 m slowed the robot down: {output[-2000:]}"
    assert "slowing down: angry person(s) [4]" in output, output[-2000:]
