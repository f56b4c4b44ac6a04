"""The sample bag (``bag make-sample``): the synthetic scene as a camera and a body tracker would publish it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from geometry_msgs.msg import Point
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from std_msgs.msg import Header

from emotion_perception.msg import TrackedSkeleton, TrackedSkeletonArray

from ...offline.ground_truth import ground_truth_from_scene, save_ground_truth
from ...offline.synthetic_scene import SAMPLE_SCENE, SceneConfig, render_scene
from ...runtime.paths import PACKAGE
from ..conversions import camera_info_msg, ns_to_stamp, rgb_to_jpeg_msg
from .store import typestore

SAMPLE_TOPICS = {"image": "/camera/color/image_raw/compressed", "camera_info": "/camera/color/camera_info",
                 "skeletons": "/body_tracker/skeletons"}


def write_sample_bag(path: Path, config: SceneConfig = SAMPLE_SCENE, jpeg_quality: int = 85) -> Path:
    """Render the synthetic scene and write it as a rosbag2 (mcap): compressed images, camera info, skeletons.

    Beside the bag's files, ground_truth.json names the emotion each track id's walk was generated with.
    """
    intrinsics, frames = render_scene(config)
    store = typestore()
    frame_id = "camera_color_optical_frame"
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {
            "image": writer.add_connection(SAMPLE_TOPICS["image"], "sensor_msgs/msg/CompressedImage", typestore=store),
            "camera_info": writer.add_connection(SAMPLE_TOPICS["camera_info"], "sensor_msgs/msg/CameraInfo", typestore=store),
            "skeletons": writer.add_connection(SAMPLE_TOPICS["skeletons"], f"{PACKAGE}/msg/TrackedSkeletonArray", typestore=store),
        }
        for frame in frames:
            header = Header(stamp=ns_to_stamp(frame.stamp_ns), frame_id=frame_id)
            skeletons = TrackedSkeletonArray(header=header, skeletons=[
                TrackedSkeleton(id=s.track_id, joints=[Point(x=float(x), y=float(y), z=float(z)) for x, y, z in s.joints_3d],
                                confidence=s.confidence.astype(np.float32))
                for s in frame.skeletons])
            writer.write(connections["camera_info"], frame.stamp_ns, serialize_message(camera_info_msg(intrinsics, header)))
            writer.write(connections["skeletons"], frame.stamp_ns, serialize_message(skeletons))
            writer.write(connections["image"], frame.stamp_ns,
                         serialize_message(rgb_to_jpeg_msg(frame.image, header, jpeg_quality)))
    note = ("synthetic scene: procedural walks drawn as solid figures (emotion_perception/offline/synthetic_scene.py), "
            "each labelled with the emotion style it was generated with")
    if config.photo_seconds:
        note += ("; then a real photograph (scikit-image's astronaut, NASA, public domain) whose smiling person is "
                 "labelled happy by hand, with hand-placed joints")
    metadata = {"note": note, "scene": {k: getattr(config, k) for k in config.__dataclass_fields__}}
    save_ground_truth(ground_truth_from_scene(intrinsics, frames, metadata), path / "ground_truth.json")
    return path
