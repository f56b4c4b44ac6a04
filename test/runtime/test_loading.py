"""Every network stage (each cue's, the lifter, each detector backend) makes the one load check of
runtime/loading.py: settings that do not validate, or CUDA asked for where there is none, leave it off, saying so
in the same words, before any file is read."""

from __future__ import annotations

import pytest
import torch

from emotion_perception.cues.context.stage import ContextConfig, ContextEmotion
from emotion_perception.cues.face.stage import FaceConfig, FaceExpression
from emotion_perception.cues.gait.stage import GaitConfig, GaitEmotion
from emotion_perception.cues.gesture.stage import GestureConfig, GestureEmotion
from emotion_perception.detection import BACKENDS, DetectorConfig, backend_module
from emotion_perception.pose.lifting.stage import LifterConfig, LiftingStage

from support.marks import without_cuda


def detector(name: str):
    """The backend's own builder (the registry refuses bad settings before any backend sees them)."""
    return lambda device, **values: backend_module(name).build_detector(
        DetectorConfig(model=name, weights="person_model.onnx" if name == "onnx" else "DEFAULT", **values),
        torch.device(device), random_weights=False, download=False)


STAGES = {  # name: (settings group, builder taking a device and settings, a setting out of its bounds)
    "gait": ("gait", lambda device, **values: GaitEmotion(GaitConfig(**values), device), {"fps": 0.0}),
    "gesture": ("gesture", lambda device, **values: GestureEmotion(GestureConfig(weights="accm.pt", **values),
                                                                   device), {"window_frames": 1}),
    "context": ("context", lambda device, **values: ContextEmotion(ContextConfig(weights="emotic.pt", **values),
                                                                   device), {"min_box_size": -1.0}),
    "face": ("face", lambda device, **values: FaceExpression(FaceConfig(**values), device), {"min_face_size": 1.0}),
    "lifter": ("lifter", lambda device, **values: LiftingStage(LifterConfig(**values), device),
               {"prior_height_m": 5.0}),
    **{f"detector {name}": ("detector", detector(name), {"score_threshold": 2.0}) for name in BACKENDS},
}


@pytest.mark.parametrize("name", STAGES)
def test_settings_that_do_not_validate_leave_the_stage_off_naming_the_setting(name):
    group, build, bad = STAGES[name]
    stage = build("cpu", **bad)
    (field,) = bad
    assert not stage.available and f"bad settings: {group}.{field}: " in stage.status, stage.status


@without_cuda
@pytest.mark.parametrize("name", STAGES)
def test_cuda_asked_for_without_it_leaves_the_stage_off_saying_so(name):
    _, build, _ = STAGES[name]
    stage = build("cuda")
    assert not stage.available and "device 'cuda' asked for, but CUDA is not available" in stage.status, stage.status
