"""rosbag2 files without the ROS 2 CLI, one module per job.

- :mod:`.store`: the typestore (built once, with this package's messages), message classes, opening a bag;
- :mod:`.sample`: writing the sample bag (``bag make-sample``);
- :mod:`.video`: writing a video file as a bag (``bag from-video``);
- :mod:`.play`: replaying a bag onto DDS (``bag play``);
- :mod:`.process`: running the pipeline over a bag offline (``bag process``).

rosbags (pure Python) reads and writes the bag container (sqlite3 or mcap); messages are (de)serialised with
rclpy's own CDR code, so what goes through the pipeline offline is byte for byte what the node would receive.
"""
