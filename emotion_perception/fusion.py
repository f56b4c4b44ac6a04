"""One emotion estimate per person from whichever cues are valid.

The rule (documented in the README, "Fusion"):

1. Each valid cue becomes a distribution over labels.GAIT_EMOTIONS and a (valence, arousal) point in
   [-1, 1]^2:
   - gait: its probabilities; valence/arousal = the probability-weighted mean of each emotion's place on
     the circumplex (EMOTION_CIRCUMPLEX);
   - context: the positive category scores summed per emotion group (CONTEXT_GROUPS; categories outside the
     groups count towards "neutral"), normalised to sum 1 (uniform when every score is <= 0); valence and
     arousal = EMOTIC's 1-10 VAD mapped linearly onto [-1, 1].
2. The fused distribution and point are the weighted means over the valid cues (weights from
   FusionConfig, renormalised over the cues present).
3. emotion = the argmax; confidence = its probability times the share of the configured weight that was
   present, so an estimate from fewer cues says so in its confidence. Missing cues are listed by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .labels import EMOTIC_CATEGORIES, GAIT_EMOTIONS
from .types import ContextResult, FusedEstimate, GaitResult

EMOTION_CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "happy": (0.8, 0.5),
    "sad": (-0.7, -0.5),
    "angry": (-0.6, 0.8),
    "neutral": (0.0, 0.0),
}
"""(valence, arousal) of each gait emotion on Russell's circumplex, both in [-1, 1]."""

CONTEXT_GROUPS: dict[str, tuple[str, ...]] = {
    "happy": ("Happiness", "Pleasure", "Excitement", "Affection", "Esteem", "Confidence"),
    "sad": ("Sadness", "Suffering", "Pain", "Fatigue", "Disconnection", "Yearning", "Embarrassment"),
    "angry": ("Anger", "Annoyance", "Disapproval", "Aversion"),
}
"""EMOTIC categories that speak for each gait emotion; the rest count towards "neutral"."""

_GROUP_OF_CATEGORY = np.array(
    [next((GAIT_EMOTIONS.index(emotion) for emotion, names in CONTEXT_GROUPS.items() if name in names),
          GAIT_EMOTIONS.index("neutral")) for name in EMOTIC_CATEGORIES])


@dataclass
class FusionConfig:
    """How much each cue counts in the fused estimate."""

    gait_weight: float = field(default=0.6, metadata={"help": "weight of the gait cue in the fused estimate (>= 0)"})
    context_weight: float = field(default=0.4, metadata={"help": "weight of the context cue in the fused estimate (>= 0)"})


def context_distribution(scores: np.ndarray) -> np.ndarray:
    """Positive category scores pooled per emotion group and normalised; uniform when none is positive."""
    pooled = np.zeros(len(GAIT_EMOTIONS))
    np.add.at(pooled, _GROUP_OF_CATEGORY, np.clip(np.asarray(scores, dtype=np.float64), 0.0, None))
    total = pooled.sum()
    return pooled / total if total > 0 else np.full(len(GAIT_EMOTIONS), 1.0 / len(GAIT_EMOTIONS))


def fuse(gait: GaitResult, context: ContextResult, config: FusionConfig | None = None) -> FusedEstimate:
    """Combine the valid cues of one person into a FusedEstimate (see the module docstring)."""
    config = config or FusionConfig()
    circumplex = np.array([EMOTION_CIRCUMPLEX[e] for e in GAIT_EMOTIONS])
    cues: list[tuple[str, float, np.ndarray, np.ndarray]] = []
    missing: list[str] = []
    if gait.valid and gait.probabilities is not None:
        probabilities = np.asarray(gait.probabilities, dtype=np.float64)
        cues.append(("gait", config.gait_weight, probabilities, probabilities @ circumplex))
    else:
        missing.append("gait")
    if context.valid and context.scores is not None and context.vad is not None:
        point = (np.asarray(context.vad[:2], dtype=np.float64) - 5.5) / 4.5
        cues.append(("context", config.context_weight, context_distribution(context.scores), np.clip(point, -1, 1)))
    else:
        missing.append("context")
    missing.append("face")
    total_weight = config.gait_weight + config.context_weight
    present_weight = sum(weight for _, weight, _, _ in cues)
    if not cues or present_weight <= 0:
        return FusedEstimate(valid=False, cues=[], missing_cues=missing)
    distribution = sum(weight * dist for _, weight, dist, _ in cues) / present_weight
    point = sum(weight * va for _, weight, _, va in cues) / present_weight
    best = int(np.argmax(distribution))
    return FusedEstimate(
        valid=True,
        emotion=GAIT_EMOTIONS[best],
        confidence=float(distribution[best] * present_weight / total_weight),
        valence=float(point[0]),
        arousal=float(point[1]),
        cues=[name for name, _, _, _ in cues],
        missing_cues=missing,
    )
