"""Person detection: boxes and COCO-17 keypoints per image (torchvision Keypoint R-CNN backend)."""

from .keypoint_rcnn import (
    ARCHITECTURE, FETCH_DEFAULT_COMMAND, WEIGHTS_NAME, DetectorConfig, PersonDetector, build_detector, build_keypoint_rcnn,
    default_weights_cache_path, fetch_default_weights, load_detector_weights,
)

__all__ = ["ARCHITECTURE", "FETCH_DEFAULT_COMMAND", "WEIGHTS_NAME", "DetectorConfig", "PersonDetector", "build_detector",
           "build_keypoint_rcnn", "default_weights_cache_path", "fetch_default_weights", "load_detector_weights"]
