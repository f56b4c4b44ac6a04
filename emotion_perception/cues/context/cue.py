"""The context cue (EMOTIC): every judged person's body crop and the whole scene through the network in one pass."""

from __future__ import annotations

import numpy as np

from ..base import Cue, PreparedPeople
from .export import EMOTIC_NETWORK
from .results import ContextResult
from .stage import ContextConfig, ContextEmotion


class ContextCue(Cue):
    name = "context"
    config_class = ContextConfig
    result_class = ContextResult
    commands_module = ".cli"
    stage_class = ContextEmotion
    exportable_networks = (EMOTIC_NETWORK,)

    def __call__(self, inputs: PreparedPeople) -> list[ContextResult]:
        if not inputs.people:
            return []
        boxes = np.stack([person.box for person in inputs.people]).astype(np.float32)
        return self.stage(inputs.frame.image, boxes)
