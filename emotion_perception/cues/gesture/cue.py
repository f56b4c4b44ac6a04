"""The body-gesture cue (FER_BGER's ACCM): each judged track's recent joint motion, all tracks in one batch."""

from __future__ import annotations

from ..base import SequenceCue
from .export import ACCM_NETWORK
from .results import GestureResult
from .stage import GestureConfig, GestureEmotion


class GestureCue(SequenceCue):
    name = "gesture"
    config_class = GestureConfig
    result_class = GestureResult
    commands_module = ".cli"
    stage_class = GestureEmotion
    exportable_networks = (ACCM_NETWORK,)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.stage.labels

    def counters(self) -> dict[str, int]:
        return {"dropped_sequences": self.stage.dropped}
