"""emotion_perception: how the people around a robot feel, from camera images.

The package has two floors: a ROS-agnostic core (numpy/torch; this package and its sub-packages) and a
thin ROS 2 layer in :mod:`emotion_perception.ros`, the only place that imports rclpy or message types.
"""

__version__ = "0.1.0"
