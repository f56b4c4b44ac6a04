"""Person detection: boxes and COCO-17 keypoints per image, from the backend ``detector.model`` names
(registry.py lists them; docs/front_end.md compares them)."""

from .base import IDENTITY, PersonDetector, ScoreCalibration
from .keypoint_rcnn import (
    ARCHITECTURE, WEIGHTS_NAME, build_keypoint_rcnn, default_weights_cache_path,
    fetch_default_weights, load_detector_weights,
)
from .registry import BACKENDS, DetectorConfig, backend_module, build_detector

__all__ = ["ARCHITECTURE", "BACKENDS", "IDENTITY", "WEIGHTS_NAME", "DetectorConfig",
           "PersonDetector", "ScoreCalibration", "backend_module", "build_detector", "build_keypoint_rcnn",
           "default_weights_cache_path", "fetch_default_weights", "load_detector_weights"]
