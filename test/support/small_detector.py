"""Keypoint R-CNN with random weights at a small input size (CPU, no download), for tests that need people
from the detector path: the point is the plumbing, not accuracy."""

from __future__ import annotations

import torch

from emotion_perception.detection import build_detector
from emotion_perception.pipeline import Pipeline
from emotion_perception.settings import Settings

SMALL_DETECTOR = {"detector.model": "keypointrcnn", "detector.weights": "", "detector.min_size": 96,
                  "detector.max_size": 128, "detector.max_detections": 2}


def random_detector(settings: Settings):
    """Keypoint R-CNN with random weights whose box classifier calls every box it keeps a person."""
    torch.manual_seed(0)
    detector = build_detector(settings.detector, random_weights=True)
    with torch.no_grad():
        classifier = detector.model.roi_heads.box_predictor.cls_score
        classifier.weight.zero_()
        classifier.bias.copy_(torch.tensor([-5.0, 5.0]))  # (background, person)
    return detector


def random_pipeline(settings: Settings) -> Pipeline:
    return Pipeline(settings, log=lambda text: None, detector=random_detector(settings))
