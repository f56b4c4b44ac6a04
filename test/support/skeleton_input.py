"""The pipeline fed external skeletons, as the offline tests drive it: its settings, a camera frame, a body."""

from __future__ import annotations

import numpy as np

from emotion_perception.pipeline import Pipeline
from emotion_perception.settings import Settings
from emotion_perception.types import CameraIntrinsics, Frame

SECOND = 1_000_000_000
SAMPLE_BAG_SETTINGS = {"pipeline": {"pose_source": "skeletons"}, "input": {"image_transport": "compressed"}}
"""How the sample bag is read: compressed images, its people as tracked skeletons."""
CAMERA = CameraIntrinsics(300.0, 300.0, 160.0, 120.0, 320, 240)
"""A 320x240 pinhole camera."""


def skeleton_pipeline(**groups) -> Pipeline:
    """A quiet pipeline whose people come as external skeletons; ``groups`` are further settings, by group."""
    return Pipeline(Settings.from_nested({"pipeline": {"pose_source": "skeletons"}, **groups}), log=lambda _: None)


def camera_frame(stamp_ns: int) -> Frame:
    """A black frame from :data:`CAMERA`."""
    return Frame(np.zeros((CAMERA.height, CAMERA.width, 3), np.uint8), stamp_ns, "cam", CAMERA)


def upright_body(height: float, x: float = 0.0, z: float = 3.0) -> np.ndarray:
    """A body ``height`` m tall, 0.4 m wide, standing at (x, z) m in the camera's optical frame: (16, 3)."""
    joints = np.zeros((16, 3), np.float32)
    joints[:, 1] = np.linspace(-height / 2, height / 2, 16)
    joints[:, 0] = x + np.linspace(-0.2, 0.2, 16)
    joints[:, 2] = z
    return joints
