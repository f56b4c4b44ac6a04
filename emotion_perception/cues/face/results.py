"""The face cue's result: its verdict on one person in one frame, and how expressions speak to fusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...labels import EMOTIONS
from ...types import CueResult, Evidence
from .labels import FACE_EXPRESSION_CIRCUMPLEX, FACE_EXPRESSION_EMOTIONS, FACE_EXPRESSIONS

_EMOTION_OF_EXPRESSION = np.array([[FACE_EXPRESSION_EMOTIONS[expression].get(emotion, 0.0) for emotion in EMOTIONS]
                                   for expression in FACE_EXPRESSIONS])
_EXPRESSION_CIRCUMPLEX = np.array([FACE_EXPRESSION_CIRCUMPLEX[expression] for expression in FACE_EXPRESSIONS])


@dataclass
class FaceResult(CueResult):
    """The face cue's verdict on one person in one frame."""

    labels: ClassVar[tuple[str, ...]] = FACE_EXPRESSIONS
    valid: bool
    status: str
    """"ok: happy", "no face visible", "face too small: 12 px (min 20)", or why the cue is off."""
    probabilities: np.ndarray | None = None
    """(7,) float32 over FACE_EXPRESSIONS, summing to 1; None when not valid."""
    face_box: np.ndarray | None = None
    """(4,) float32 x_min, y_min, x_max, y_max [px] of the face, when one was placed."""
    face_score: float = 0.0
    """Detector face probability, or the mean confidence of the head keypoints the box rests on [0-1]."""
    source: str = ""
    """"keypoints" or "detector": where the face box came from."""
    model: str = ""

    def evidence(self) -> Evidence | None:
        """Expression probabilities mapped onto the four emotions and the circumplex (labels.py's tables)."""
        probabilities = self._probabilities()
        if probabilities is None:
            return None
        probabilities = np.asarray(probabilities, dtype=np.float64)
        valence, arousal = probabilities @ _EXPRESSION_CIRCUMPLEX
        return Evidence(probabilities @ _EMOTION_OF_EXPRESSION, float(valence), float(arousal))

    def message_fields(self) -> dict[str, Any]:
        fields = super().message_fields()
        if self.face_box is not None:
            fields.update(zip(("box_x_min", "box_y_min", "box_x_max", "box_y_max"), self.face_box))
        fields["score"] = self.face_score
        return fields
