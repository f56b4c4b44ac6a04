"""What the offline tests share: the small random-weights detector, as settings and as the commands' `--set`."""

from __future__ import annotations

import pytest
import torch

from emotion_perception.settings import Settings

from support.small_detector import SMALL_DETECTOR, random_detector


@pytest.fixture(scope="session")
def small_detector_settings() -> Settings:
    """The default settings with the small Keypoint R-CNN (random weights: nothing downloads)."""
    return Settings().with_values(SMALL_DETECTOR)


@pytest.fixture(scope="session")
def small_detector_overrides(small_detector_settings, tmp_path_factory) -> list[str]:
    """`--set` values for a command: the small Keypoint R-CNN, its random weights saved as a local file (a command
    needs a detector, and the DEFAULT one would download)."""
    weights = tmp_path_factory.mktemp("detector") / "keypointrcnn.pth"
    torch.save(random_detector(small_detector_settings).model.state_dict(), weights)
    return [f"{key}={value}" for key, value in {**SMALL_DETECTOR, "detector.weights": weights}.items()]
