"""Process 1 of the DDS round trip: publishes the full EmotionArray until told to stop."""

import sys
import time

import rclpy

from emotion_perception.msg import EmotionArray
from message_samples import full_emotion_array

rclpy.init()
node = rclpy.create_node("emotion_sample_publisher")
publisher = node.create_publisher(EmotionArray, "/test/emotions", 10)
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    if publisher.get_subscription_count() > 0:
        publisher.publish(full_emotion_array())
    time.sleep(0.1)
node.destroy_node()
rclpy.shutdown()
