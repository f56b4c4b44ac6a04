"""Gait emotion: STEP's ST-GCN (and its affective-feature hybrid) and ProxEmo's VS-GCNN on 16-joint walks.

The pipeline uses :class:`GaitEmotion` with a :class:`GaitConfig`; training, evaluation and the fidelity
checks are `emotion-perception train-gait / eval-gait / predict-gait` (see docs/gait.md).
"""

from .stage import GaitConfig, GaitEmotion

__all__ = ["GaitConfig", "GaitEmotion"]
