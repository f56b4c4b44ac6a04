"""The example behaviour (examples/slow_down_near_angry.py) against the running node on the sample bag, over DDS:
the angry walker who comes up to the camera makes it slow the robot down; nobody else does."""

from __future__ import annotations

import sys

from std_msgs.msg import Float32

EXAMPLE = f"{sys.prefix}/lib/emotion_perception/slow_down_near_angry.py"


def test_the_example_slows_down_for_the_angry_person_within_two_metres(start_sample_node, play_sample, processes,
                                                                        ros_env, rclpy_context, spin):
    import rclpy

    start_sample_node()
    example = processes([EXAMPLE], ros_env)
    node = rclpy.create_node("test_example", context=rclpy_context)
    limits: list[float] = []
    subscription = node.create_subscription(Float32, "/speed_limit", lambda msg: limits.append(msg.data), 2000)  # kept while play_bag blocks
    assert spin(node, lambda: subscription.get_publisher_count() > 0, 60), "the example did not come up"
    play_sample(node)
    spin(node, lambda: False, 2.0)
    example.send_signal(2)
    output, _ = example.communicate(timeout=20)
    assert limits and limits[0] == 1.0, "full speed while nobody is near and angry"
    assert any(abs(limit - 0.3) < 1e-6 for limit in limits), f"the angry person who came within 2 m slowed the robot down: {output[-2000:]}"
    assert "slowing down: angry person(s) [4]" in output, output[-2000:]
