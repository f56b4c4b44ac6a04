"""MTCNN, our torch code on the released P/R/O-Net weights, on a real photograph."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch
from torchvision.ops import box_iou

from emotion_perception.cues.face import load_mtcnn
from emotion_perception.cues.face.mtcnn import MTCNN, ONet, PNet, RNet
from emotion_perception.cues.face.weights import FACE_WEIGHTS
from emotion_perception.runtime.weights import WeightsError, load_state_dict

from support.marks import needs_cuda

# Hand-picked on skimage's astronaut photo (Eileen Collins, 512 x 512): pixel positions.
ASTRONAUT_EYES = np.array([[202.0, 101.0], [247.0, 103.0]])  # image-left, image-right
ASTRONAUT_NOSE = np.array([224.0, 126.0])
ASTRONAUT_MOUTH = np.array([[202.0, 140.0], [245.0, 141.0]])  # corners, image-left then image-right


@pytest.fixture(scope="module")
def detector(face_weights) -> MTCNN:
    return load_mtcnn()


def test_released_weights_are_plain_state_dicts(face_weights):
    for stage, network in (("pnet", PNet()), ("rnet", RNet()), ("onet", ONet())):
        name = f"facenet_mtcnn_{stage}"
        state = load_state_dict(face_weights[name], FACE_WEIGHTS[name].sha256)  # weights_only=True inside
        assert network.load_state_dict(state, strict=True) is not None


def test_finds_the_astronauts_face_with_its_landmarks(detector):
    faces = detector(skimage.data.astronaut())
    assert len(faces) == 1
    assert faces.scores[0] > 0.99
    x0, y0, x1, y1 = faces.boxes[0]
    for x, y in (*ASTRONAUT_EYES, ASTRONAUT_NOSE, *ASTRONAUT_MOUTH):
        assert x0 < x < x1 and y0 < y < y1
    assert 70 < x1 - x0 < 130 and 80 < y1 - y0 < 150  # a face, not the head and helmet
    expected = np.concatenate([ASTRONAUT_EYES, ASTRONAUT_NOSE[None], ASTRONAUT_MOUTH])
    assert np.abs(faces.landmarks[0] - expected).max() < 8.0


def test_a_mirrored_photo_gives_the_mirrored_face(detector):
    image = skimage.data.astronaut()
    width = image.shape[1]
    straight = detector(image)
    mirrored = detector(np.ascontiguousarray(image[:, ::-1]))
    assert len(mirrored) == 1
    expected = np.array([width - straight.boxes[0, 2], straight.boxes[0, 1], width - straight.boxes[0, 0], straight.boxes[0, 3]])
    assert box_iou(torch.tensor(mirrored.boxes), torch.tensor(expected[None])).item() > 0.85  # not pixel-exact:
    # the cascade's candidates (12 px windows on a 2 px grid) are not mirror images of each other
    # Left and right landmarks swap sides.
    mirrored_eyes = mirrored.landmarks[0, [1, 0]]
    assert np.abs((width - mirrored_eyes[:, 0]) - straight.landmarks[0, :2, 0]).max() < 8.0


def test_a_face_cut_by_the_image_border_is_still_found(detector):
    image = np.ascontiguousarray(skimage.data.astronaut()[:, 200:])  # the face's left part is cut off
    faces = detector(image)
    assert len(faces) == 1 and faces.scores[0] > 0.9
    assert faces.boxes[0, 0] < 0 < faces.boxes[0, 2]  # the box reaches past the border, as the face does


def test_no_faces_in_a_photo_without_people(detector):
    for image in (skimage.data.coffee(), skimage.data.chelsea(), np.zeros((120, 160, 3), np.uint8)):
        faces = detector(image)
        assert len(faces) == 0 and faces.boxes.shape == (0, 4) and faces.landmarks.shape == (0, 5, 2)


def test_min_face_size_sets_the_smallest_face_searched_for(detector):
    image = np.ascontiguousarray(skimage.data.astronaut()[::4, ::4])  # the face is now about 25 px
    assert len(detector(image)) == 1
    coarse = load_mtcnn(min_face_size=60)
    assert coarse.scales(128, 128)[0] == pytest.approx(12 / 60)
    assert len(coarse(image)) == 0


def test_bad_settings_and_unknown_weights_are_refused():
    with pytest.raises(ValueError, match="scale_factor"):
        load_mtcnn(scale_factor=1.5)
    with pytest.raises(WeightsError, match="facenet_mtcnn_pnet"):
        load_mtcnn("no_such_mtcnn")


@needs_cuda
def test_same_faces_on_cuda(detector):
    image = skimage.data.astronaut()
    on_gpu = load_mtcnn(device="cuda")(image)
    on_cpu = detector(image)
    assert len(on_gpu) == len(on_cpu) == 1
    assert np.abs(on_gpu.boxes - on_cpu.boxes).max() < 1.0
    assert np.abs(on_gpu.landmarks - on_cpu.landmarks).max() < 1.0
