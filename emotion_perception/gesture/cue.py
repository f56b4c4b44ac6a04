"""The body-gesture cue (FER_BGER's ACCM): each judged track's recent joint motion, all tracks in one batch."""

from __future__ import annotations

import torch

from ..cue import SequenceCue
from .stage import GestureConfig, GestureEmotion, GestureResult


class GestureCue(SequenceCue):
    name = "gesture"
    config_class = GestureConfig
    result_class = GestureResult

    def __init__(self, config: GestureConfig, device: torch.device) -> None:
        super().__init__(config, device)
        self.stage = GestureEmotion(config, device=device)

    @property
    def configured(self) -> bool:
        return bool(self.config.weights)

    @property
    def available(self) -> bool:
        return self.stage.available

    @property
    def status(self) -> str:
        return self.stage.status

    @property
    def labels(self) -> tuple[str, ...]:
        return self.stage.labels

    @property
    def window_frames(self) -> int:
        return self.config.window_frames

    @property
    def frames_needed(self) -> int:
        return self.config.min_frames

    @property
    def fps(self) -> float:
        return self.stage.fps

    def counters(self) -> dict[str, int]:
        return {"dropped_sequences": self.stage.dropped}
