"""Process 2 of the DDS round trip: receives one EmotionArray and compares every field with the sample."""

import sys
import time

import rclpy

from emotion_perception.msg import EmotionArray
from message_samples import differences, full_emotion_array

rclpy.init()
node = rclpy.create_node("emotion_sample_receiver")
received = []
node.create_subscription(EmotionArray, "/test/emotions", received.append, 10)
deadline = time.monotonic() + float(sys.argv[1])
while not received and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.1)
if not received:
    print("NOTHING RECEIVED")
    sys.exit(3)
found = differences(full_emotion_array(), received[0])
print("\n".join(found) if found else "IDENTICAL")
sys.exit(1 if found else 0)
