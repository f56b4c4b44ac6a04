"""EMOTIC preprocessing: the reference's normalisation exactly, and the device crop path against OpenCV.

The OpenCV path (the reference's own steps, used for training data) is the oracle; the device path may
differ from it by one pixel level (OpenCV's INTER_LINEAR rounds in fixed point; its INTER_LINEAR_EXACT
differs from it as much, see docs/context.md).
"""

import json

import cv2
import numpy as np
import pytest
import torch
from torchvision import transforms

from emotion_perception.cues.context import EmoticPreprocessing
from emotion_perception.cues.context.preprocessing import clip_box, crop, resize_boxes, resize_square

# The reference implementation's values, as its main.py writes them.
REFERENCE_CONTEXT = ([0.4690646, 0.4407227, 0.40508908], [0.2514227, 0.24312855, 0.24266963])
REFERENCE_BODY = ([0.43832874, 0.3964344, 0.3706214], [0.24784276, 0.23621225, 0.2323653])


@pytest.fixture(scope="module")
def photo():
    """A photo-like 480 x 640 RGB image: smooth shading, hard-edged shapes, blur and sensor noise."""
    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[0:480, 0:640]
    image = np.stack([rows * 0.3 + 40, cols * 0.25 + 30, (rows + cols) * 0.12 + 60], axis=-1)
    for _ in range(40):
        colour = rng.integers(0, 256, 3).tolist()
        centre = (int(rng.integers(0, 640)), int(rng.integers(0, 480)))
        if rng.random() < 0.5:
            cv2.circle(image, centre, int(rng.integers(5, 80)), colour, -1)
        else:
            cv2.rectangle(image, centre, (centre[0] + int(rng.integers(3, 150)), centre[1] + int(rng.integers(3, 200))),
                          colour, -1)
    image = cv2.GaussianBlur(image, (3, 3), 0.8) + rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_input_tensors_equal_the_reference_transforms_bit_for_bit(photo):
    pre = EmoticPreprocessing()
    scene = resize_square(photo, pre.context_size)
    body = resize_square(crop(photo, np.array([100, 50, 180, 300])), pre.body_size)
    for ours, image, (mean, std) in ((pre.context_tensor(scene[None])[0], scene, REFERENCE_CONTEXT),
                                     (pre.body_tensor(body[None])[0], body, REFERENCE_BODY)):
        reference = transforms.Normalize(mean, std)(transforms.ToTensor()(transforms.ToPILImage()(image)))
        assert torch.equal(ours, reference)


def test_normalisation_survives_the_passport_round_trip():
    pre = EmoticPreprocessing()
    assert EmoticPreprocessing.from_config(json.loads(json.dumps(pre.to_config()))) == pre


def _opencv_levels(image, pixel_boxes, size):
    return np.stack([resize_square(crop(image, box), size) for box in pixel_boxes]).astype(np.int32)


def _device_levels(image, pixel_boxes, size):
    (resized,) = resize_boxes(torch.from_numpy(image), [(torch.from_numpy(np.stack(pixel_boxes)), size)])
    return resized.permute(0, 2, 3, 1).numpy().astype(np.int32)


def test_device_crops_are_within_one_level_of_opencv(photo):
    boxes = [
        [100.4, 50.7, 141.2, 190.3],   # a small person: upscaled across, downscaled down
        [0.0, 0.0, 256.0, 256.0],      # exactly 2x (OpenCV switches to INTER_AREA, the same thing)
        [600.0, 300.0, 640.0, 480.0],  # touching the right and bottom borders
        [-40.0, -30.0, 90.0, 200.0],   # over the top-left corner
        [300.0, 200.0, 301.0, 202.0],  # 1 x 2 pixels
        [20.0, 20.0, 620.0, 470.0],    # larger than the output both ways
    ]
    pixel_boxes = [clip_box(np.array(box), 640, 480) for box in boxes]
    for size in (128, 224, 37):
        expected = _opencv_levels(photo, pixel_boxes, size)
        got = _device_levels(photo, pixel_boxes, size)
        difference = np.abs(got - expected)
        assert difference.max() <= 1
        assert (difference == 0).mean() > 0.85
    same_size = [np.array([10, 20, 138, 148])]
    np.testing.assert_array_equal(_device_levels(photo, same_size, 128), _opencv_levels(photo, same_size, 128))


def test_device_crop_repeats_the_box_edge_and_never_blends_in_outside_pixels():
    image = np.zeros((100, 100, 3), np.uint8)
    image[40:50, 30:36] = (200, 100, 50)  # a 6 x 10 box of one colour on black
    levels = _device_levels(image, [np.array([30, 40, 36, 50])], 64)
    assert (levels == np.array([200, 100, 50])).all()  # upscaling samples beyond the box edge: clamped, as OpenCV


def test_scene_and_bodies_come_out_normalised_on_the_image_device(photo, device):
    """On every device present (the CPU; CUDA where there is one): inputs stay where the image is."""
    pre = EmoticPreprocessing(context_size=96, body_size=48)
    pixel_boxes = [clip_box(np.array(box), 640, 480) for box in ([100, 50, 160, 250], [400, 100, 520, 470])]
    scene, bodies = pre.device_inputs(torch.from_numpy(photo).to(device), torch.from_numpy(np.stack(pixel_boxes)).to(device))
    assert scene.device.type == bodies.device.type == device.type
    scene, bodies = scene.cpu(), bodies.cpu()
    reference_scene, reference_bodies = pre.opencv_inputs(photo, pixel_boxes)
    assert scene.shape == (1, 3, 96, 96) and bodies.shape == (2, 3, 48, 48) and scene.dtype == torch.float32
    one_level = 1.0 / 255.0 / min(pre.body_std + pre.context_std) + 1e-6
    assert float((scene - reference_scene).abs().max()) <= one_level
    assert float((bodies - reference_bodies).abs().max()) <= one_level
