"""The face cue: each judged person's face (from head keypoints, else MTCNN) through the expression network."""

from __future__ import annotations

import numpy as np

from ..base import Cue, PreparedPeople
from .export import FACE_NETWORKS
from .results import FaceResult
from .stage import FaceConfig, FaceExpression
from .weights import FACE_WEIGHTS


class FaceCue(Cue):
    name = "face"
    config_class = FaceConfig
    result_class = FaceResult
    commands_module = ".cli"
    stage_class = FaceExpression
    weights_field = "expression_weights"
    released_weights = tuple(FACE_WEIGHTS.values())
    exportable_networks = FACE_NETWORKS

    def counters(self) -> dict[str, int]:
        return {"dropped_faces": self.stage.dropped_faces}

    def __call__(self, inputs: PreparedPeople) -> list[FaceResult]:
        if not inputs.people:
            return []
        boxes = np.stack([person.box for person in inputs.people]).astype(np.float32)
        return self.stage(inputs.frame.image, boxes, [person.keypoints_coco for person in inputs.people])
