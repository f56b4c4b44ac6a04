"""The GPU paths against their CPU references: JPEG decoding by torchvision (nvJPEG on CUDA) against OpenCV,
and the face crops cut in one batched op on the device against OpenCV's one-face-at-a-time crops.

Each test runs on the CPU and again on CUDA where a GPU is present (the CUDA cases skip without one).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from emotion_perception.cues.face import FaceConfig, FaceExpression
from emotion_perception.cues.face.boxes import face_crop_square, grey_face_crop, grey_face_crops, square_touches_image
from emotion_perception.runtime.image_codec import ImageDecodeError, decode_compressed, decode_jpeg_torchvision
from emotion_perception.labels import COCO_KEYPOINTS

from support.marks import needs_cuda, without_cuda

DEVICES = ["cpu", pytest.param("cuda", marks=needs_cuda)]

JPEG_CPU_LEVELS = 2
"""torchvision's libjpeg-turbo against OpenCV's libjpeg: the same image up to a level or two where the two
libraries' versions round the IDCT or the chroma upsampling differently (equal with the wheels here)."""
JPEG_CUDA_MEAN_LEVELS = 2.0
"""nvJPEG against OpenCV: mean |difference| per channel value, the bound torchvision's own tests set for nvJPEG
against its CPU decoder (the two may round and upsample chroma differently)."""
FACE_CROP_LEVELS = 1
"""Batched crops against OpenCV's: OpenCV's bilinear resize rounds its weights to 11 bits; area resize and
the grey conversion are reproduced exactly."""
PROBABILITY_ATOL = 1e-3

deprecated_codecs = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")


def jpeg(image: np.ndarray, quality: int = 90, sampling: int = cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420) -> np.ndarray:
    """JPEG bytes of an RGB (or grey) image, as a camera driver's CompressedImage carries them."""
    pixels = image[..., ::-1] if image.ndim == 3 else image
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(pixels),
                            [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling])
    assert ok
    return data.ravel()


def levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16))


# --- JPEG --------------------------------------------------------------------------------------------------------

@deprecated_codecs
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("quality,sampling", [(95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444),
                                              (75, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420),
                                              (50, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422)])
def test_torchvision_decodes_a_photo_as_opencv_does(astronaut, device, quality, sampling):
    data = jpeg(astronaut, quality, sampling)
    reference = decode_compressed(data)  # OpenCV
    decoded = decode_jpeg_torchvision(data, device)
    assert decoded.shape == reference.shape == astronaut.shape and decoded.dtype == np.uint8
    difference = levels(decoded, reference)
    if device == "cpu":
        assert difference.max() <= JPEG_CPU_LEVELS
    else:
        assert difference.mean() < JPEG_CUDA_MEAN_LEVELS
    assert levels(decoded, astronaut).mean() < 6, "both decode the photo, not something else"


@deprecated_codecs
@pytest.mark.parametrize("device", DEVICES)
def test_a_grey_jpeg_becomes_three_equal_channels(device):
    camera = skimage.data.camera()
    decoded = decode_jpeg_torchvision(jpeg(camera), device)
    assert decoded.shape == (*camera.shape, 3)
    np.testing.assert_array_equal(decoded[..., 0], decoded[..., 2])
    assert levels(decoded, decode_compressed(jpeg(camera))).mean() < JPEG_CUDA_MEAN_LEVELS


@deprecated_codecs
@pytest.mark.parametrize("device", DEVICES)
def test_the_size_limit_refuses_a_jpeg_before_any_decoder_sees_it(astronaut, device):
    data = jpeg(astronaut)
    with pytest.raises(ImageDecodeError, match="refused before decoding"):
        decode_compressed(data, max_pixels=512 * 511, device=device)
    np.testing.assert_array_equal(decode_compressed(data, max_pixels=512 * 512, device=device),
                                  decode_compressed(data, device=device))


@without_cuda
def test_without_cuda_a_cuda_device_decodes_with_opencv(astronaut):
    data = jpeg(astronaut)
    np.testing.assert_array_equal(decode_compressed(data, device="cuda"), decode_compressed(data))


@deprecated_codecs
@needs_cuda
def test_on_cuda_jpeg_goes_to_nvjpeg_and_anything_it_refuses_to_opencv(astronaut):
    data = jpeg(astronaut)
    np.testing.assert_array_equal(decode_compressed(data, device="cuda"), decode_jpeg_torchvision(data, "cuda"))
    ok, png = cv2.imencode(".png", astronaut[..., ::-1].copy())
    np.testing.assert_array_equal(decode_compressed(png.ravel(), device="cuda"), astronaut)  # not JPEG: OpenCV
    with pytest.raises(ImageDecodeError, match="could not be decoded"):
        decode_compressed(data[:40], device="cuda")  # nvJPEG fails, OpenCV says why


@deprecated_codecs
@pytest.mark.parametrize("device", DEVICES)
def test_the_frame_assembler_decodes_on_its_device(astronaut, device):
    from sensor_msgs.msg import CompressedImage

    from emotion_perception.ros.frames import FrameAssembler
    from emotion_perception.settings import InputConfig

    data = jpeg(astronaut)
    message = CompressedImage(format="jpeg", data=data.tobytes())
    message.header.frame_id = "camera"
    assembler = FrameAssembler(InputConfig(), device)
    frame, _, _ = assembler.assemble(message)
    expected = decode_jpeg_torchvision(data, device) if device == "cuda" else decode_compressed(data)
    np.testing.assert_array_equal(frame.image, expected)


# --- face crops --------------------------------------------------------------------------------------------------

def face_boxes(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Square-ish face boxes from 4 to 600 px, some reaching beyond the image, some outside it entirely."""
    boxes = []
    for side in (4, 12, 20, 33, 47, 58, 64, 71, 90, 128, 200, 333, 600):
        for _ in range(4):
            centre = rng.uniform([-60, -60], [width + 60, height + 60])
            size = side * rng.uniform([0.8, 0.8], [1.2, 1.2])
            boxes.append(np.concatenate([centre - size / 2, centre + size / 2]))
    return np.asarray(boxes, dtype=np.float32)


@pytest.mark.parametrize("device", DEVICES)
def test_batched_face_crops_equal_opencv_crops(astronaut, device):
    height, width = astronaut.shape[:2]
    boxes = face_boxes(np.random.default_rng(0), width, height)
    squares = [face_crop_square(box, 0.1) for box in boxes]
    inside = [i for i, square in enumerate(squares) if square_touches_image(square, width, height)]
    references = [grey_face_crop(astronaut, box, 0.1, 64) for box in boxes]
    assert [i for i, crop in enumerate(references) if crop is not None] == inside
    assert 0 < len(inside) < len(boxes)
    crops = grey_face_crops(torch.from_numpy(astronaut).to(device),
                            torch.from_numpy(np.stack([squares[i] for i in inside])).to(device), 64)
    assert crops.device.type == device and crops.dtype == torch.uint8 and crops.shape == (len(inside), 64, 64)
    difference = levels(crops.cpu().numpy(), np.stack([references[i] for i in inside]))
    assert difference.max() <= FACE_CROP_LEVELS and difference.mean() < 0.1
    shrunk = [row for row, i in enumerate(inside) if squares[i][3] - squares[i][1] > 64]
    assert shrunk and difference[shrunk].max() == 0, "area resizing is reproduced exactly"


def test_no_faces_give_no_crops(astronaut):
    assert grey_face_crops(torch.from_numpy(astronaut), torch.zeros((0, 4), dtype=torch.int64), 64).shape == (0, 64, 64)


def crowd_of_astronauts(astronaut: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """A 640x480 frame with the astronaut at five scales (face boxes about 23 to 117 px), their boxes and COCO
    head keypoints (nose, eyes, ears; the rest unseen)."""
    head = np.array([[224, 126], [247, 103], [202, 101], [271, 122], [183, 122]], dtype=np.float32)
    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    boxes, keypoints = [], []
    for scale, (left, top) in zip((0.2, 0.35, 0.5, 0.75, 1.0), ((0, 0), (110, 0), (300, 0), (0, 200), (330, 130))):
        person = cv2.resize(astronaut, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        visible = person[:480 - top, :640 - left]
        frame[top:top + visible.shape[0], left:left + visible.shape[1]] = visible
        boxes.append([left, top, left + visible.shape[1], top + visible.shape[0]])
        points = np.zeros((len(COCO_KEYPOINTS), 3), dtype=np.float32)
        points[:5, :2] = head * scale + [left, top]
        points[:5, 2] = 0.9
        keypoints.append(points)
    return frame, np.asarray(boxes, dtype=np.float32), keypoints


@pytest.mark.parametrize("device", DEVICES)
def test_expressions_from_batched_crops_match_the_opencv_path(face_weights, astronaut, device):
    frame, boxes, keypoints = crowd_of_astronauts(astronaut)
    reference = FaceExpression(FaceConfig(detector=False), device="cpu")
    reference.batched_crops = False
    batched = FaceExpression(FaceConfig(detector=False), device=device)
    batched.batched_crops = True
    assert reference.available and batched.available, reference.status
    expected, results = reference(frame, boxes, keypoints), batched(frame, boxes, keypoints)
    assert sum(result.valid for result in expected) == len(boxes)
    for result, wanted in zip(results, expected):
        assert (result.valid, result.status, result.source) == (wanted.valid, wanted.status, wanted.source)
        np.testing.assert_array_equal(result.face_box, wanted.face_box)
        np.testing.assert_allclose(result.probabilities, wanted.probabilities, atol=PROBABILITY_ATOL)


def test_the_cpu_stage_cuts_faces_with_opencv_by_default(face_weights, astronaut):
    """On the CPU the batched op is far slower than OpenCV (bench/bench_face.py, crops row), so the stage's
    default there is OpenCV: its expressions are the OpenCV path's bit for bit, which the batched path's are
    not on these faces (enlarged crops differ by a grey level)."""
    frame, boxes, keypoints = crowd_of_astronauts(astronaut)
    paths = {}
    for batched in (None, False, True):
        stage = FaceExpression(FaceConfig(detector=False), device="cpu")
        stage.batched_crops = batched
        paths[batched] = [result.probabilities for result in stage(frame, boxes, keypoints)]
    assert any(not np.array_equal(a, b) for a, b in zip(paths[False], paths[True]))
    for default, opencv in zip(paths[None], paths[False]):
        np.testing.assert_array_equal(default, opencv)


@needs_cuda
def test_the_cuda_stage_with_its_default_crops_gives_the_cpu_stages_expressions(face_weights, astronaut):
    frame, boxes, keypoints = crowd_of_astronauts(astronaut)
    on_gpu = FaceExpression(FaceConfig(detector=False), device="cuda")
    assert on_gpu.batched_crops is None and on_gpu.available
    on_cpu = FaceExpression(FaceConfig(detector=False), device="cpu")
    for gpu, cpu in zip(on_gpu(frame, boxes, keypoints), on_cpu(frame, boxes, keypoints)):
        assert gpu.status == cpu.status
        np.testing.assert_allclose(gpu.probabilities, cpu.probabilities, atol=PROBABILITY_ATOL)
