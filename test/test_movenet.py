"""The MoveNet MultiPose port: the network read from the TF.js graph model equals TensorFlow.js itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from emotion_perception.detection.movenet import load_movenet
from emotion_perception.weights import WeightsError

TOLERANCE = 1e-4
"""Largest |difference| to TensorFlow.js's CPU back-end allowed on any output value (its WASM back-end differs
from its CPU back-end by up to 2.3e-5)."""


@pytest.fixture(scope="module")
def movenet_dir(shared_dir) -> Path:
    return Path(shared_dir) / "models" / "movenet"


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
