"""What every person-detector backend provides: the PersonDetector protocol the pipeline uses, the score
calibration each backend declares, and the input checks they share."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from ..runtime.weights import WeightsPassport
from ..types import Detection


@dataclass(frozen=True)
class ScoreCalibration:
    """A monotone, piecewise-linear map from a backend's person scores onto the tracker's scale.

    The tracker's thresholds (tracking.TrackerConfig) were tuned on Keypoint R-CNN, whose person score is
    close to the chance that a box is a real person. A backend whose scores run on another scale declares
    the map measured on real footage: raw score -> share of its detections at that score that matched a
    person of a hand-checked ground truth (data/vtest_ground_truth/). Outside the knots the end values hold.
    """

    raw: tuple[float, ...]
    calibrated: tuple[float, ...]
    source: str
    """How the knots were obtained (shown in docs and the detector's status)."""

    def __post_init__(self) -> None:
        raw, calibrated = np.asarray(self.raw, np.float64), np.asarray(self.calibrated, np.float64)
        if raw.ndim != 1 or raw.shape != calibrated.shape or len(raw) < 2:
            raise ValueError(f"a score calibration needs two or more (raw, calibrated) knots, got {self.raw} "
                             f"-> {self.calibrated}")
        if np.any(np.diff(raw) <= 0) or np.any(np.diff(calibrated) < 0):
            raise ValueError("a score calibration's raw knots must increase and its calibrated knots not decrease")
        if calibrated.min() < 0 or calibrated.max() > 1:
            raise ValueError("calibrated scores must lie in [0, 1]")

    def __call__(self, score: float) -> float:
        return float(np.interp(score, self.raw, self.calibrated))

    def apply(self, detections: list[Detection]) -> list[Detection]:
        """The detections with their scores on the tracker's scale (boxes and keypoints shared, not copied)."""
        return [dataclasses.replace(d, score=self(d.score)) for d in detections]


IDENTITY = ScoreCalibration((0.0, 1.0), (0.0, 1.0), "identity: the tracker's thresholds were tuned on this scale")
"""The calibration of a backend whose scores already are on the tracker's scale."""


@runtime_checkable
class PersonDetector(Protocol):
    """A person detector backend, as the pipeline uses it (one per backend module, built by the registry)."""

    status: str
    """'ok: ...' with what was loaded, or why the detector is unavailable."""
    score_calibration: ScoreCalibration
    """Maps this backend's scores onto the tracker's scale; the pipeline applies it before tracking."""

    @property
    def available(self) -> bool:
        """Whether it can find people (weights loaded); an unavailable one returns no people."""
        ...

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """One list of people per H x W x 3 uint8 RGB image, best score first, boxes and keypoints in the
        image's pixels, scores on the backend's own scale. ValueError naming a malformed image's index."""
        ...

    def to(self, device: torch.device) -> None:
        """Move the network to ``device`` (the node parks it on the CPU while inactive)."""
        ...

    def accelerate(self, mode: str, precision: str) -> str:
        """Run the network on the path ``mode`` names (runtime.acceleration: eager, compile, tensorrt) at
        ``precision``; a note for the log and /diagnostics (ending ": eager" where it fell back). A backend
        with nothing to compile leaves its network and says so."""
        ...


def check_images(images: list[np.ndarray]) -> None:
    """ValueError naming the index of the first image that is not H x W x 3 uint8 RGB of at least 2 x 2 px."""
    for index, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"image {index}: expected an H x W x 3 uint8 RGB array, got {desc}")
        if min(image.shape[:2]) < 2:
            raise ValueError(f"image {index}: too small ({image.shape[1]}x{image.shape[0]} px)")


@dataclass(frozen=True)
class DetectorWeights:
    """A backend's released weights, as `emotion-perception weights list|fetch` show and fetch them; a backend
    module lists its own in ``RELEASED_WEIGHTS`` (detection.registry.released_weights collects them). Unlike a
    cue's, they are fetched only when named: they are large, and each backend keeps them its own way."""

    passport: WeightsPassport
    """What they are: name (the one `weights fetch` takes), architecture, licence, source."""
    location: Callable[[], Path]
    """Where the fetched file lies (``weights list`` says whether it is there)."""
    fetch: Callable[[Path | None, Path | None], None]
    """Fetch them (``--from DIR`` or None, ``--dir`` or None), printing one line per thing done; WeightsError
    when they cannot be had."""
