"""The context cue's result: its verdict on one person in one frame, and how EMOTIC's categories speak to fusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...labels import EMOTIONS
from ...types import CueResult, Evidence
from .labels import CONTEXT_EMOTION_GROUPS, EMOTIC_CATEGORIES

_EMOTION_OF_CATEGORY = np.array(
    [next((EMOTIONS.index(emotion) for emotion, names in CONTEXT_EMOTION_GROUPS.items() if name in names),
          EMOTIONS.index("neutral")) for name in EMOTIC_CATEGORIES])


def context_distribution(scores: np.ndarray) -> np.ndarray:
    """Positive category scores pooled per emotion group and normalised; uniform when none is positive."""
    pooled = np.zeros(len(EMOTIONS))
    np.add.at(pooled, _EMOTION_OF_CATEGORY, np.clip(np.asarray(scores, dtype=np.float64), 0.0, None))
    total = pooled.sum()
    return pooled / total if total > 0 else np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))


@dataclass
class ContextResult(CueResult):
    """The context branch's verdict on one person in one frame."""

    labels: ClassVar[tuple[str, ...]] = EMOTIC_CATEGORIES
    valid: bool
    status: str
    scores: np.ndarray | None = None
    """(26,) float32 over EMOTIC_CATEGORIES."""
    thresholds: np.ndarray | None = None
    """(26,) float32 per-category thresholds."""
    vad: np.ndarray | None = None
    """(3,) float32 valence, arousal, dominance on the 1-10 scale."""
    model: str = ""

    @property
    def active(self) -> np.ndarray:
        if not self.valid or self.scores is None or self.thresholds is None:
            return np.zeros(0, dtype=bool)
        return self.scores >= self.thresholds

    @property
    def active_categories(self) -> list[str]:
        """Names of the active categories, highest score first."""
        active = self.active
        if active.size == 0:
            return []
        order = np.argsort(-self.scores, kind="stable")
        return [EMOTIC_CATEGORIES[i] for i in order if active[i]]

    @property
    def label(self) -> str:
        """The highest-scoring active category ("" when none is active)."""
        active = self.active_categories
        return active[0] if active else ""

    @property
    def confidence(self) -> float:
        return float(self.scores[EMOTIC_CATEGORIES.index(self.label)]) if self.label else 0.0

    def evidence(self) -> Evidence | None:
        """Category scores pooled into the four emotions; valence/arousal from EMOTIC's 1-10 VAD."""
        if not self.valid or self.scores is None or self.vad is None:
            return None
        valence, arousal = np.clip((np.asarray(self.vad[:2], dtype=np.float64) - 5.5) / 4.5, -1.0, 1.0)
        return Evidence(context_distribution(self.scores), float(valence), float(arousal))

    def summary(self) -> str:
        return ",".join(self.active_categories[:3]) if self.valid else self.status

    def message_fields(self) -> dict[str, Any]:
        fields = {"valid": self.valid, "status": self.status, "model": self.model, "categories": list(EMOTIC_CATEGORIES)}
        if self.valid and self.scores is not None:
            fields.update(scores=self.scores, thresholds=self.thresholds, active=self.active,
                          active_categories=self.active_categories)
            fields["valence"], fields["arousal"], fields["dominance"] = (float(v) for v in self.vad)
        return fields
