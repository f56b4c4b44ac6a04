#!/usr/bin/env python3
"""An example behaviour: slow the robot down while an angry person is within 2 m, stably for 1 s.

It subscribes the emotion_perception node's EmotionArray and publishes a speed limit (std_msgs/Float32, 0..1
of full speed) on ``speed_limit``, as a robot's velocity smoother or navigation stack could take it:

    ros2 run emotion_perception slow_down_near_angry.py      # or: python3 examples/slow_down_near_angry.py

What it relies on in each PersonEmotion: ``fused.valid`` and ``fused.emotion`` (the stable label, compared with
the FusedEmotion constants), ``fused.label_since`` (how long that label has held, on the images' clock),
``has_position``, ``distance`` [m] and ``position_uncertainty`` [m]. On a camera without depth the position is
lifted from 2D (``position_source`` POSITION_LIFTED) and less sure, so a person counts as near when they may be
within ``distance_m`` at one sigma (distance − uncertainty). A person the rule would fire for but who has no position
at all (no depth, and no camera_info for the lifter) is named in a warning, once. Parameters: ``emotion`` (default
angry), ``distance_m`` (2.0), ``hold_s`` (1.0), ``slow_speed`` (0.3).
"""

from __future__ import annotations

import sys

import rclpy
from rclpy.node import Node
from std_msgs.msg import Float32

from emotion_perception.msg import EmotionArray, FusedEmotion, PersonEmotion


def seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class SlowDownNearAngry(Node):
    def __init__(self) -> None:
        super().__init__("slow_down_near_angry")
        self.emotion = self.declare_parameter("emotion", FusedEmotion.ANGRY).value
        self.distance_m = self.declare_parameter("distance_m", 2.0).value
        self.hold_s = self.declare_parameter("hold_s", 1.0).value
        self.slow_speed = self.declare_parameter("slow_speed", 0.3).value
        self.limit_pub = self.create_publisher(Float32, "speed_limit", 10)
        self.create_subscription(EmotionArray, "emotions", self.on_emotions, 10)
        self.slowing_for: set[int] = set()
        self.warned_unplaced: set[int] = set()

    def held(self, person: PersonEmotion, now: float) -> bool:
        return (person.fused.valid and person.fused.emotion == self.emotion
                and now - seconds(person.fused.label_since) >= self.hold_s)

    def triggers(self, msg: EmotionArray) -> set[int]:
        """Track ids of the people who make the robot slow down in this frame."""
        now = seconds(msg.header.stamp)
        held = [person for person in msg.people if self.held(person, now)]
        for person in held:
            if not person.has_position and person.track_id not in self.warned_unplaced:
                self.warned_unplaced.add(person.track_id)
                self.get_logger().warn(f"{self.emotion} person {person.track_id} has no position, so their distance "
                                       "is unknown: the camera gives no depth and the node could not lift their 2D "
                                       "skeleton (it needs camera_info and the lifter; see /diagnostics)")
        return {person.track_id for person in held
                if person.has_position and person.distance - person.position_uncertainty <= self.distance_m}

    def on_emotions(self, msg: EmotionArray) -> None:
        triggers = self.triggers(msg)
        if triggers != self.slowing_for:
            if triggers:
                self.get_logger().info(f"slowing down: {self.emotion} person(s) {sorted(triggers)} within "
                                       f"{self.distance_m:g} m for {self.hold_s:g} s")
            else:
                self.get_logger().info("full speed again")
        self.slowing_for = triggers
        self.limit_pub.publish(Float32(data=self.slow_speed if triggers else 1.0))


def main() -> int:
    rclpy.init()
    node = SlowDownNearAngry()
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
