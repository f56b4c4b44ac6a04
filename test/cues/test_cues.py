"""Cues are plug-ins: one registered here reaches settings, fusion, the message, the CSV and the debug image
without any of them naming it; and the pipeline's people get positions and move between devices whole."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header

from emotion_perception.configuration import setting
from emotion_perception.cues.base import Cue, PreparedPeople, fusion_weight_setting
from emotion_perception.cues.registry import register_cue, unregister_cue
from emotion_perception.msg import EmotionArray
from emotion_perception.pipeline import Pipeline
from emotion_perception.offline.report import csv_columns, frame_rows
from emotion_perception.ros.conversions import emotion_array_msg
from emotion_perception.settings import Settings, render_params_yaml
from emotion_perception.types import CueResult, Evidence, ExternalSkeleton, Frame
from emotion_perception.visualization import draw_people

from support.skeleton_input import SECOND, camera_frame, skeleton_pipeline, upright_body


@dataclass
class PostureConfig:
    """A made-up cue for the test: people standing upright are happy."""

    threshold_m: float = setting(1.2, "height above which a person counts as upright [m]", above=0.0)
    fusion_weight: float = fusion_weight_setting(1.0)


@dataclass
class PostureResult(CueResult):
    labels: ClassVar[tuple[str, ...]] = ("slumped", "upright")
    valid: bool
    status: str
    probabilities: np.ndarray | None = None
    model: str = "posture-rule"

    def evidence(self) -> Evidence | None:
        if not self.valid:
            return None
        upright = float(self.probabilities[1])
        return Evidence.from_distribution(np.array([upright, 1.0 - upright, 0.0, 0.0]))


class PostureCue(Cue):
    name = "posture"
    config_class = PostureConfig
    result_class = PostureResult

    configured = True
    available = True
    status = "ready: a rule"

    def __call__(self, inputs: PreparedPeople) -> list[PostureResult]:
        results = []
        for person in inputs.people:
            joints = person.skeleton.joints_3d if person.skeleton is not None else None
            if joints is None:
                results.append(PostureResult(False, "no 3D skeleton"))
                continue
            height = float(np.ptp(joints[:, 1]))
            upright = float(height > self.config.threshold_m)
            results.append(PostureResult(True, "ok", np.array([1.0 - upright, upright], np.float32)))
        return results


@pytest.fixture
def posture_cue():
    register_cue(PostureCue)
    yield PostureCue
    unregister_cue(PostureCue)


def test_a_registered_cue_reaches_settings_fusion_message_csv_and_debug_image(posture_cue):
    settings = Settings.from_nested({"pipeline": {"pose_source": "skeletons"}, "posture": {"threshold_m": 1.0},
                                     "gait": {"weights": ""}, "face": {"expression_weights": ""}})
    assert "posture:" in render_params_yaml() and settings["posture"].threshold_m == 1.0
    pipeline = Pipeline(settings, log=lambda _: None)
    assert [cue.name for cue in pipeline.running_cues()] == ["posture"]
    result = pipeline.process(camera_frame(SECOND),
                              [ExternalSkeleton(1, upright_body(1.7), np.ones(16, np.float32)),
                               ExternalSkeleton(2, upright_body(0.8, x=1.0), np.ones(16, np.float32))])
    upright, slumped = result.people
    assert upright.cues["posture"].label == "upright" and slumped.cues["posture"].label == "slumped"
    assert upright.fused.emotion == "happy" and slumped.fused.emotion == "sad"
    message = deserialize_message(serialize_message(emotion_array_msg(result, Header(frame_id="cam"))),
                                  EmotionArray)
    (entry,) = message.people[0].cues
    assert (entry.name, entry.label, list(entry.labels)) == ("posture", "upright", ["slumped", "upright"])
    assert entry.valid and entry.probabilities[1] == pytest.approx(1.0) and entry.model == "posture-rule"
    columns = csv_columns({"posture": PostureResult})
    row = frame_rows(result, SECOND)[0]
    assert {"posture_valid", "posture_label", "posture_p_upright"} <= set(columns) and row["posture_label"] == "upright"
    assert draw_people(camera_frame(SECOND).image, result).any(), "the debug image lists the cue's summary"


def test_people_get_a_position_distance_and_ground_velocity_and_2d_people_say_they_have_none():
    pipeline = skeleton_pipeline()
    for k in range(20):  # walking to the right at 1 m/s, 3 m away
        result = pipeline.process(camera_frame(k * SECOND // 20),
                                  [ExternalSkeleton(1, upright_body(1.7, x=k / 20), np.ones(16, np.float32))])
    position = result.people[0].position
    assert position.valid and position.velocity_valid
    assert position.point[2] == pytest.approx(3.0) and position.distance == pytest.approx(np.hypot(19 / 20, 3.0), rel=0.02)
    np.testing.assert_allclose(position.velocity, [1.0, 0.0, 0.0], atol=1e-3)
    message = emotion_array_msg(result, Header(frame_id="cam"))
    assert message.people[0].has_position and message.people[0].has_velocity
    assert message.people[0].velocity.x == pytest.approx(1.0, abs=1e-3)
    flat = skeleton_pipeline()
    no_intrinsics = Frame(np.zeros((240, 320, 3), np.uint8), SECOND, "cam")
    person = flat.process(no_intrinsics, [ExternalSkeleton(1, upright_body(1.7), np.zeros(16, np.float32))]).people[0]
    assert not person.position.valid and not emotion_array_msg(
        flat.process(camera_frame(2 * SECOND), []), Header()).people


def networks_in(thing, depth: int = 3) -> list[torch.nn.Module]:
    """Every torch module reachable through an object's attributes (a stage, its models, their networks)."""
    if isinstance(thing, torch.nn.Module):
        return [thing]
    if depth == 0 or not hasattr(thing, "__dict__"):
        return []
    return [module for value in vars(thing).values() for module in networks_in(value, depth - 1)]


def test_moving_the_pipeline_moves_every_network():
    pipeline = skeleton_pipeline()
    networks = [network for cue in pipeline.running_cues() for network in networks_in(cue.stage)]
    assert len(networks) >= 5, "gait, face expression and the three MTCNN networks"
    assert all(p.device == torch.device("cpu") for network in networks for p in network.parameters())
    pipeline.to("meta")  # a device without memory: proves each network went, no GPU needed
    assert all(p.device.type == "meta" for network in networks for p in network.parameters())
    assert pipeline.device.type == "meta" and pipeline.home_device == torch.device("cpu")


def test_parameters_file_documents_the_registered_cue(posture_cue):
    lines = render_params_yaml().splitlines()
    start = lines.index("    posture:")
    end = next((n for n in range(start + 1, len(lines)) if lines[n].strip() and not lines[n].startswith("      ")),
               len(lines))
    posture = "\n".join(lines[start + 1:end])  # the cue's own group: its settings and its fusion weight
    assert "threshold_m: 1.2" in posture and "weight of this cue in the fused estimate" in posture, posture


class RuleStage:
    """A stage without a network (a CueStage): nothing to move, nothing to compile."""

    available = True
    status = "ready: a rule"

    def __init__(self, config: PostureConfig, device: torch.device) -> None:
        self.config = config

    def to(self, device: torch.device) -> None:
        pass

    def accelerate(self, mode: str, precision: str) -> str:
        return f"{mode}: a rule, nothing to compile"


class StagedPostureCue(PostureCue):
    stage_class = RuleStage


def test_the_pipeline_accelerates_a_registered_cues_stage_and_refuses_a_stage_that_is_not_a_cue_stage():
    register_cue(StagedPostureCue)
    try:
        settings = Settings.from_nested({"pipeline": {"pose_source": "skeletons", "accelerate": "compile"},
                                         "gait": {"weights": ""}, "face": {"expression_weights": ""}})
        pipeline = Pipeline(settings, log=lambda _: None)
        assert pipeline.acceleration["posture"] == "compile: a rule, nothing to compile"
    finally:
        unregister_cue(StagedPostureCue)

    class NoAcceleration:  # a stage as they were before the protocol: no accelerate()
        available, status = True, "ready: a rule"

        def __init__(self, config: PostureConfig, device: torch.device) -> None:
            self.config = config

        def to(self, device: torch.device) -> None:
            pass

    class Unaccelerated(PostureCue):
        stage_class = NoAcceleration

    with pytest.raises(TypeError, match="cue 'posture': NoAcceleration is not a CueStage"):
        Unaccelerated(PostureConfig(), torch.device("cpu"))
