"""A fully filled EmotionArray and a field-by-field comparison, shared by the DDS test's two processes."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from std_msgs.msg import Header

from emotion_perception.msg import (ContextEmotion, EmotionArray, FaceEmotion, FusedEmotion, GaitEmotion, Keypoint,
                                    PersonEmotion)
from emotion_perception.labels import GAIT_JOINTS
from emotion_perception.cues.context.labels import EMOTIC_CATEGORIES
from emotion_perception.cues.gait.labels import GAIT_EMOTIONS


def full_emotion_array(people: int = 3) -> EmotionArray:
    """Every field set to a distinct, non-default value."""
    array = EmotionArray(header=Header(stamp=Time(sec=1_700_000_123, nanosec=456_789_000), frame_id="camera_optical"))
    for n in range(people):
        person = PersonEmotion(track_id=10 + n, body_id=f"bdy{n}x", face_id=f"fce{n}x", box_x_min=1.5 + n, box_y_min=2.5, box_x_max=100.25, box_y_max=200.75,
                               detection_score=0.875, position_source=PersonEmotion.POSITION_DEPTH)
        person.keypoints = [Keypoint(name=name, x=float(j) + 0.5, y=float(j) * 2 + n, confidence=j / 16.0,
                                     has_position=bool(j % 2), position=Point(x=0.1 * j, y=-0.2 * j, z=3.0 + n))
                            for j, name in enumerate(GAIT_JOINTS)]
        person.gait = GaitEmotion(valid=True, status="ok", labels=list(GAIT_EMOTIONS),
                                  probabilities=[0.5, 0.25, 0.125, 0.125], label="happy", frames_observed=80 + n,
                                  frames_used=75, model="step_stgcn_epoch395")
        person.context = ContextEmotion(valid=True, status="ok", categories=list(EMOTIC_CATEGORIES),
                                        scores=[i / 32.0 for i in range(26)], thresholds=[0.25] * 26,
                                        active=[i >= 8 for i in range(26)], active_categories=["Yearning", "Sympathy"],
                                        valence=6.5, arousal=4.25, dominance=7.0, model="emotic_test")
        person.face = FaceEmotion(valid=True, status="ok", labels=["smile", "frown"], probabilities=[0.75, 0.25],
                                  label="smile", box_x_min=3.0, box_y_min=4.0, box_x_max=30.0, box_y_max=40.0,
                                  model="face_test")
        person.fused = FusedEmotion(valid=True, emotion="happy", confidence=0.625, valence=0.5, arousal=-0.25,
                                    cues=["gait", "context"], missing_cues=["face"])
        array.people.append(person)
    return array


def differences(expected, actual, path: str = "msg") -> list[str]:
    """Every field path where two messages differ (floats compared at float32 precision)."""
    if hasattr(expected, "get_fields_and_field_types"):
        found = []
        for name in expected.get_fields_and_field_types():
            found += differences(getattr(expected, name), getattr(actual, name), f"{path}.{name}")
        return found
    if isinstance(expected, (list, tuple)) or hasattr(expected, "tolist"):
        expected, actual = list(expected), list(actual)
        if len(expected) != len(actual):
            return [f"{path}: length {len(actual)} != {len(expected)}"]
        found = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            found += differences(e, a, f"{path}[{i}]")
        return found
    if isinstance(expected, float):
        return [] if math.isclose(expected, actual, rel_tol=1e-6, abs_tol=1e-7) else [f"{path}: {actual!r} != {expected!r}"]
    return [] if expected == actual else [f"{path}: {actual!r} != {expected!r}"]
