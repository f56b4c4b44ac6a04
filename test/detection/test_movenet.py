"""The MoveNet MultiPose port: the network read from the TF.js graph model equals TensorFlow.js itself."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from emotion_perception.detection.movenet import load_movenet
from emotion_perception.detection.movenet_detector import build_movenet_detector, people_in_image
from emotion_perception.runtime.weights import WeightsError

TOLERANCE = 1e-4
"""Largest |difference| to TensorFlow.js's CPU back-end allowed on any output value (its WASM back-end differs
from its CPU back-end by up to 2.3e-5)."""


@pytest.fixture(scope="module")
def golden(movenet_dir) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Case name -> (the model's input image, TensorFlow.js CPU back-end's [6, 56] output)."""
    data = np.load(movenet_dir / "golden_public.npz")
    names = sorted({key.split("__")[0] for key in data.files})
    assert len(names) == 4
    return {name: (data[f"{name}__image"], data[f"{name}__tfjs_cpu"]) for name in names}


@pytest.fixture(scope="module")
def cpu_model(movenet_dir):
    return load_movenet(movenet_dir)


@pytest.fixture(params=["cpu", "cuda"])
def strict_device(request):
    """CPU, and CUDA where present, in strict fp32 (TF32 off)."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield torch.device(request.param)
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def run(model, images: np.ndarray, device: torch.device | str = "cpu") -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(images).to(device)).cpu().numpy()


def test_equals_tensorflow_js_on_every_golden_case(cpu_model, golden, strict_device):
    model = cpu_model.to(strict_device)
    try:
        for name, (image, expected) in golden.items():
            output = run(model, image[None].astype(np.int32), strict_device)
            assert output.shape == (1, 6, 56) and output.dtype == np.float32
            difference = np.abs(output[0] - expected).max()
            assert difference <= TOLERANCE, f"{name}: largest difference to TensorFlow.js {difference:.3g}"
    finally:
        cpu_model.to("cpu")


def test_golden_frames_hold_people_the_port_finds(cpu_model, golden):
    """Guards the oracle's meaning: the vtest frames have walkers scoring well above the empty slots."""
    image, expected = golden["vtest400_768x576"]
    output = run(cpu_model, image[None])[0]
    people = output[:, 55] >= 0.2
    assert people.sum() == (expected[:, 55] >= 0.2).sum() == 3
    boxes = output[people, 51:55]
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])


def test_batch_equals_one_image_at_a_time(cpu_model, golden):
    """uint8 images are taken as they are; a batch of same-sized images gives each image's own output."""
    images = np.stack([golden["vtest100_768x576"][0], golden["vtest400_768x576"][0]])
    batched = run(cpu_model, images)
    for index in range(len(images)):
        np.testing.assert_allclose(batched[index], run(cpu_model, images[index:index + 1])[0], rtol=0, atol=1e-5)


def test_input_sides_must_be_multiples_of_32(cpu_model):
    with pytest.raises(ValueError, match="multiples of 32"):
        cpu_model(torch.zeros(1, 200, 256, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
        cpu_model(torch.zeros(1, 3, 256, 256, dtype=torch.uint8))


def test_missing_truncated_or_foreign_graphs_are_refused_naming_the_file(movenet_dir, tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_movenet(tmp_path)
    model = json.loads((movenet_dir / "movenet-multipose.json").read_text())
    (tmp_path / "movenet-multipose.bin").write_bytes((movenet_dir / "movenet-multipose.bin").read_bytes()[:-100])
    (tmp_path / "movenet-multipose.json").write_text(json.dumps(model))
    with pytest.raises(WeightsError, match="truncated"):
        load_movenet(tmp_path)
    shutil.copy(movenet_dir / "movenet-multipose.bin", tmp_path)
    conv = next(node for node in model["modelTopology"]["node"] if node["op"] == "_FusedConv2D")
    conv["op"] = "Conv3D"
    (tmp_path / "movenet-multipose.json").write_text(json.dumps(model))
    with pytest.raises(WeightsError, match="Conv3D is not supported"):
        load_movenet(tmp_path)


# --- the detector: letterboxed images in, people in the image's pixels out -----------------------------------

@pytest.fixture(scope="module")
def detector(movenet_dir):
    return build_movenet_detector(movenet_dir, input_size=512, score_threshold=0.15)


def test_detections_are_the_model_output_in_image_pixels(movenet_dir, golden):
    """An image already of the network's size (768 x 576 at input size 768) goes in unchanged: the people are
    TensorFlow.js's own, scaled to pixels and turned into (x, y) order."""
    image, expected = golden["vtest400_768x576"]
    people = build_movenet_detector(movenet_dir, input_size=768, score_threshold=0.2).detect([image])[0]
    rows = expected[np.argsort(-expected[:, 55])][:len(people)]
    assert len(people) == (expected[:, 55] >= 0.2).sum() == 3
    for person, row in zip(people, rows):
        assert person.score == pytest.approx(row[55], abs=TOLERANCE)
        np.testing.assert_allclose(person.box, row[[52, 51, 54, 53]] * [768, 576, 768, 576], atol=0.05)
        keypoints = row[:51].reshape(17, 3)
        np.testing.assert_allclose(person.keypoints[:, 0], keypoints[:, 1] * 768, atol=0.05)
        np.testing.assert_allclose(person.keypoints[:, 1], keypoints[:, 0] * 576, atol=0.05)
        np.testing.assert_allclose(person.keypoints[:, 2], keypoints[:, 2], atol=TOLERANCE)


def test_letterbox_maps_people_back_to_the_original_pixels(detector, golden):
    """A frame twice the size, or cut to sides that are not multiples of 32, yields the people of the golden
    512 x 384 frame (the four it scores 0.25 or more), at the same places in its own pixels."""
    image, expected = golden["vtest100_512x384"]
    reference = [row for row in expected if row[55] >= 0.25]
    centres = np.array([[(row[52] + row[54]) * 256, (row[51] + row[53]) * 192] for row in reference])
    doubled = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
    cut = image[:370, :500]  # padded to 512 x 384 inside the detector; no walker of this frame is cut off
    for frame, scale in ((doubled, 2.0), (cut, 1.0)):
        people = detector.detect([frame])[0]
        assert len(reference) == 4 and len(people) >= 4
        found = np.array([[(p.box[0] + p.box[2]) / 2, (p.box[1] + p.box[3]) / 2] for p in people]) / scale
        nearest = np.linalg.norm(centres[:, None] - found[None], axis=2).min(axis=1)
        assert nearest.max() < 8.0, f"a person's box centre moved by {nearest.max():.1f} px"
        for person in people:
            assert np.all(person.box >= 0) and np.all(person.box[[2, 3]] <= [frame.shape[1], frame.shape[0]])
            assert np.all(person.keypoints[:, 0] < frame.shape[1]) and np.all(person.keypoints[:, 1] < frame.shape[0])
        assert [p.score for p in people] == sorted((p.score for p in people), reverse=True)


def test_people_and_keypoints_in_the_letterbox_padding_are_dropped():
    """A 512 x 200 image runs as 512 x 224: the bottom 24 rows are padding. A person centred there is not
    reported; a person's keypoint there has confidence 0 and is clipped to the image."""
    output = np.zeros((6, 56), np.float32)
    inside, in_padding = output[0], output[1]
    inside[:51] = np.tile([100 / 224, 300 / 512, 0.9], 17)
    inside[3:6] = [215 / 224, 310 / 512, 0.8]  # left eye, in the padding
    inside[51:56] = [60 / 224, 250 / 512, 180 / 224, 350 / 512, 0.5]
    in_padding[51:56] = [205 / 224, 100 / 512, 222 / 224, 140 / 512, 0.6]
    (person,) = people_in_image(output, 200, 512, 512, score_threshold=0.1)
    assert person.score == pytest.approx(0.5)
    np.testing.assert_allclose(person.box, [250, 60, 350, 180], atol=1e-3)
    np.testing.assert_allclose(person.keypoints[0], [300, 100, 0.9], atol=1e-3)
    assert person.keypoints[1, 2] == 0.0 and person.keypoints[1, 1] <= 200


def test_images_of_several_sizes_in_one_call(detector, golden):
    small, large = golden["vtest750_256x192"][0], golden["vtest400_768x576"][0]
    together = detector.detect([large, small, large])
    alone = [detector.detect([image])[0] for image in (large, small, large)]
    for batched, single in zip(together, alone):
        assert len(batched) == len(single)
        for a, b in zip(batched, single):
            np.testing.assert_allclose(a.box, b.box, atol=1e-3)
            np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)


def test_detector_without_its_files_is_unavailable_and_finds_nobody(tmp_path):
    detector = build_movenet_detector(tmp_path)
    assert not detector.available and str(tmp_path) in detector.status
    assert detector.detect([np.zeros((48, 64, 3), np.uint8)]) == [[]]
    with pytest.raises(ValueError, match="image 1"):
        detector.detect([np.zeros((48, 64, 3), np.uint8), np.zeros((48, 64), np.uint8)])
    with pytest.raises(ValueError, match="multiple of 32"):
        build_movenet_detector(tmp_path, input_size=500)


# --- ONNX export --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_onnx_export_takes_any_size_and_equals_tensorflow_js(movenet_dir, golden, tmp_path, capsys):
    """`export movenet_multipose` checks itself with onnxruntime at two sizes; the file also runs at a size it
    was neither traced nor checked at, and equals TensorFlow.js there."""
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from emotion_perception.cli import main as cli_main

    path = tmp_path / "movenet.onnx"
    assert cli_main(["export", "movenet_multipose", "-o", str(path), "--weights", str(movenet_dir)]) == 0
    assert capsys.readouterr().out.count(" ok") == 2
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (image_input,), (people_output,) = session.get_inputs(), session.get_outputs()
    assert image_input.shape[0] == 1 and image_input.shape[3] == 3 and not isinstance(image_input.shape[1], int)
    assert people_output.shape == [1, 6, 56]
    for name in ("vtest750_256x192", "vtest100_768x576"):
        image, expected = golden[name]
        (output,) = session.run(None, {image_input.name: image[None].astype(np.int32)})
        assert np.abs(output[0] - expected).max() <= TOLERANCE, name


@pytest.mark.slow
def test_compiled_network_finds_the_same_people(movenet_dir, golden):
    """pipeline.accelerate 'compile' compiles the network (inductor); the people are eager's."""
    image, _ = golden["vtest100_512x384"]
    detector = build_movenet_detector(movenet_dir, input_size=256, score_threshold=0.1)
    eager = detector.raw_outputs([image])[0]
    note = detector.accelerate("compile", "fp32")
    assert note.startswith("compile: MoveNet network compiled"), note
    np.testing.assert_allclose(detector.raw_outputs([image])[0], eager, rtol=0, atol=TOLERANCE)
