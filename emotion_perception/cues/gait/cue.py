"""The gait cue: each judged track's recent walk, from its joint history, through the gait network in one batch."""

from __future__ import annotations

import numpy as np
import torch

from ..base import PreparedPeople, SequenceCue
from ...types import JointSequence
from .export import GAIT_NETWORKS
from .results import GaitResult
from .stage import GaitConfig, GaitEmotion
from .weights import GAIT_WEIGHTS


class GaitCue(SequenceCue):
    """A track's walk, once its history covers the gait stage's minimum at the stage's own rate.

    A window in which the body hardly moved over the ground is not a walk: standing people get no gait
    result (the networks were trained on walks and would label a still pose all the same).
    """

    name = "gait"
    config_class = GaitConfig
    result_class = GaitResult
    commands_module = ".cli"
    stage_class = GaitEmotion
    released_weights = tuple(GAIT_WEIGHTS.values())
    exportable_networks = GAIT_NETWORKS

    def __init__(self, config: GaitConfig, device: torch.device) -> None:
        super().__init__(config, device)
        self.windows = 0
        """Windows classified since start."""
        self.out_of_distribution = 0
        """Of those, windows beyond gait.max_input_z from the training inputs (down-weighted in fusion)."""
        self.latest_input_z = (float("nan"), float("nan"))
        """Mean and max |z| of the latest window classified [training std]."""

    def __call__(self, inputs: PreparedPeople) -> list[GaitResult]:
        results = super().__call__(inputs)
        judged = [result for result in results if result.valid]
        self.windows += len(judged)
        self.out_of_distribution += sum(result.out_of_distribution for result in judged)
        if judged:
            self.latest_input_z = (judged[-1].input_z_mean, judged[-1].input_z_max)
        return results

    def counters(self) -> dict[str, int | str]:
        z_mean, z_max = self.latest_input_z
        return {"windows": self.windows, "out_of_distribution": self.out_of_distribution,
                "latest_input_z": f"mean {z_mean:.2f} max {z_max:.2f} (bound {self.config.max_input_z:g})"}

    def refuse(self, sequence: JointSequence) -> str:
        root = sequence.joints[:, 0]
        travel = float(np.linalg.norm(root[-1, [0, 2]] - root[0, [0, 2]]))
        seconds = (len(root) - 1) / sequence.fps
        minimum = self.config.min_walk_speed_mps * seconds
        if travel < minimum:
            return f"not walking: moved {travel:.2f} m in {seconds:.1f} s (< gait.min_walk_speed_mps)"
        return ""

