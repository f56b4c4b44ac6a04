"""A video file as a rosbag2 (mcap) for replay testing: ``emotion-perception bag from-video``.

The bag carries what a colour camera driver publishes, under a topic prefix (default ``/camera/color``: the
launch file's and the sample bag's topics, so ``bag play``, ``bag process`` and the node take it as it is):

- ``PREFIX/image_raw/compressed``: ``sensor_msgs/CompressedImage``, JPEG (the default), or with ``--raw``
  ``PREFIX/image_raw``: ``sensor_msgs/Image``, rgb8 (or bgr8);
- ``PREFIX/camera_info``: ``sensor_msgs/CameraInfo`` with every image, same header: the given intrinsics, else
  pinhole intrinsics from a horizontal field of view (default 60 degrees, see
  :func:`emotion_perception.offline.sources.pinhole_intrinsics`), no distortion (a video carries no calibration).

The i-th frame is stamped ``start + i / fps`` (the video's own frame rate unless given); the bag's message
times equal the stamps, so ``bag play`` replays the video at its speed.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from ...offline.report import atomic_output_dir
from ...offline.sources import DEFAULT_START_NS, VideoFileSource, pinhole_intrinsics
from ..conversions import camera_info_msg, ns_to_stamp, rgb_to_image_msg, rgb_to_jpeg_msg
from .store import typestore

DEFAULT_TOPIC_PREFIX = "/camera/color"
ENCODINGS = ("rgb8", "bgr8")
"""Encodings of raw images (rgb8: what RGB-D camera drivers publish; bgr8: OpenCV's order)."""


def video_topics(prefix: str = DEFAULT_TOPIC_PREFIX, compressed: bool = True) -> dict[str, str]:
    """The image and camera_info topics under ``prefix`` (an absolute ROS name)."""
    prefix = prefix.rstrip("/")
    if not prefix.startswith("/") or "//" in prefix or " " in prefix:
        raise ValueError(f"topic prefix must be an absolute ROS name such as /camera/color, not {prefix!r}")
    return {"image": f"{prefix}/image_raw" + ("/compressed" if compressed else ""),
            "camera_info": f"{prefix}/camera_info"}


def write_video_bag(video: Path, out: Path, *, compressed: bool = True, encoding: str = "rgb8",
                    intrinsics: tuple[float, float, float, float] | None = None, hfov_deg: float | None = None,
                    topic_prefix: str = DEFAULT_TOPIC_PREFIX, max_frames: int | None = None, fps: float | None = None,
                    start_ns: int = DEFAULT_START_NS, jpeg_quality: int = 90, progress: bool = True) -> dict[str, Any]:
    """Write the frames of ``video`` (at most ``max_frames``) as a rosbag2 (mcap) at ``out``, all at once when it
    succeeds (see the module docstring); returns what was written: frames, topics, fps, stamps and intrinsics.

    ``intrinsics`` (fx, fy, cx, cy in pixels) or ``hfov_deg`` set the CameraInfo; ``fps`` overrides the file's rate.
    """
    from tqdm import tqdm

    if encoding not in ENCODINGS:
        raise ValueError(f"raw image encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"JPEG quality must lie in 1..100, not {jpeg_quality}")
    out = Path(out)
    topics = video_topics(topic_prefix, compressed)
    store = typestore()
    written = 0
    with VideoFileSource(video, fps, start_ns) as source, atomic_output_dir(out) as partial:
        camera = pinhole_intrinsics(source.width, source.height, intrinsics, hfov_deg)
        image_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
        with Writer(partial, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            image_connection = writer.add_connection(topics["image"], image_type, typestore=store)
            info_connection = writer.add_connection(topics["camera_info"], "sensor_msgs/msg/CameraInfo",
                                                    typestore=store)
            with tqdm(total=source.expected_frames(max_frames), unit="frame", disable=not progress,
                      desc=Path(video).name) as bar:
                for frame in itertools.islice(source, max_frames):
                    header = Header(stamp=ns_to_stamp(frame.stamp_ns), frame_id=frame.frame_id)
                    writer.write(info_connection, frame.stamp_ns, serialize_message(camera_info_msg(camera, header)))
                    writer.write(image_connection, frame.stamp_ns,
                                 serialize_message(_image_msg(frame.image, header, compressed, encoding, jpeg_quality)))
                    written += 1
                    bar.update(1)
        if not written:
            raise ValueError(f"{video}: OpenCV decodes no frame from it")
    return {"bag": str(out), "frames": written, "fps": source.fps, "width": source.width, "height": source.height,
            "topics": topics, "image_type": image_type, "first_stamp_ns": start_ns,
            "intrinsics": {"fx": camera.fx, "fy": camera.fy, "cx": camera.cx, "cy": camera.cy}}


def _image_msg(rgb: np.ndarray, header: Header, compressed: bool, encoding: str,
               jpeg_quality: int) -> CompressedImage | Image:
    if compressed:
        return rgb_to_jpeg_msg(rgb, header, jpeg_quality)
    if encoding == "rgb8":
        return rgb_to_image_msg(rgb, header)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return Image(header=header, height=bgr.shape[0], width=bgr.shape[1], encoding="bgr8", is_bigendian=0,
                 step=bgr.shape[1] * 3, data=bgr.tobytes())
