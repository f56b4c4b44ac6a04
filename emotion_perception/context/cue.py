"""The context cue (EMOTIC): every judged person's body crop and the whole scene through the network in one pass."""

from __future__ import annotations

import numpy as np
import torch

from ..cue import Cue, CueFrame
from ..types import ContextResult
from .stage import ContextConfig, ContextEmotion


class ContextCue(Cue):
    name = "context"
    config_class = ContextConfig
    result_class = ContextResult

    def __init__(self, config: ContextConfig, device: torch.device) -> None:
        super().__init__(config, device)
        self.stage = ContextEmotion(config, device=device)

    @property
    def configured(self) -> bool:
        return bool(self.config.weights)

    @property
    def available(self) -> bool:
        return self.stage.available

    @property
    def status(self) -> str:
        return self.stage.status

    def __call__(self, inputs: CueFrame) -> list[ContextResult]:
        if not inputs.people:
            return []
        if not self.available:
            return [self.invalid(self.status) for _ in inputs.people]
        boxes = np.stack([person.box for person in inputs.people]).astype(np.float32)
        return self.stage(inputs.frame.image, boxes)
