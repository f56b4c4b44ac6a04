"""The gesture cue's result: its verdict on one track in one frame, and when it speaks to fusion."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...labels import EMOTIONS
from ...types import CueResult, Evidence


@dataclass
class GestureResult(CueResult):
    """The gesture branch's verdict on one track in one frame."""

    valid: bool
    status: str
    probabilities: np.ndarray | None = None
    """(len(labels),) float32 summing to 1; None when not valid."""
    labels: tuple[str, ...] = ()
    """Names of the probabilities, in order (the checkpoint's label order)."""
    frames_used: int = 0
    model: str = ""

    def evidence(self) -> Evidence | None:
        """The probabilities of the fused emotions, when the checkpoint's labels are those four."""
        probabilities = self._probabilities()
        if probabilities is None or sorted(self.labels) != sorted(EMOTIONS):
            return None
        return Evidence.from_distribution(np.asarray(probabilities)[[self.labels.index(e) for e in EMOTIONS]])
