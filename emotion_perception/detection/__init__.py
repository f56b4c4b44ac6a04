"""Person detection: boxes and COCO-17 keypoints per image (torchvision Keypoint R-CNN backend)."""

from .keypoint_rcnn import (
    ARCHITECTURE, DetectorConfig, PersonDetector, build_detector, build_keypoint_rcnn, load_detector_weights,
)

__all__ = ["ARCHITECTURE", "DetectorConfig", "PersonDetector", "build_detector", "build_keypoint_rcnn",
           "load_detector_weights"]
