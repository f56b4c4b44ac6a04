"""The gait cue's result: its verdict on one track in one frame, and how it speaks to fusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...labels import EMOTIONS
from ...types import CueResult, Evidence
from .labels import GAIT_EMOTIONS


@dataclass
class GaitResult(CueResult):
    """The gait branch's verdict on one track in one frame."""

    labels: ClassVar[tuple[str, ...]] = GAIT_EMOTIONS
    csv_fields: ClassVar[tuple[str, ...]] = ("input_z_max", "out_of_distribution")
    valid: bool
    status: str
    probabilities: np.ndarray | None = None
    """(4,) float32 over GAIT_EMOTIONS, summing to 1; None when not valid."""
    frames_observed: int = 0
    frames_used: int = 0
    model: str = ""
    input_z_mean: float = float("nan")
    """Mean over the 48 joint coordinates c of |z_c|, z_c = (the window's mean network input c − training mean c)
    / training std c, from the weights' input statistics [std]; NaN when the model has none (vsgcnn) or not valid."""
    input_z_max: float = float("nan")
    """Largest |z_c| over the 48 joint coordinates [std]; NaN as input_z_mean."""
    out_of_distribution: bool = False
    """input_z_max exceeded gait.max_input_z: valid, but the input is unlike the training data."""
    measured_3d: bool = False
    """The window came from measured 3D joints; False for the planar no-depth fallback (PositionSource.NONE)."""

    def evidence(self) -> Evidence | None:
        """Its probabilities; a window out of the training distribution counts OUT_OF_DISTRIBUTION_RELIABILITY."""
        probabilities = self._probabilities()
        if probabilities is None:
            return None
        reliability = OUT_OF_DISTRIBUTION_RELIABILITY if self.out_of_distribution else 1.0
        return Evidence.from_distribution(np.asarray(probabilities)[[GAIT_EMOTIONS.index(e) for e in EMOTIONS]],
                                          reliability)


OUT_OF_DISTRIBUTION_RELIABILITY = 0.3
"""Share of its fusion weight a gait result keeps when its input lies beyond gait.max_input_z (docs/gait.md)."""
