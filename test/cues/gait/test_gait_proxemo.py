"""ProxEmo (VS-GCNN): the image embedding as torch ops on the device equals the numpy/OpenCV path; files of gaits
of different lengths go through every gait command with ProxEmo's tile-to-the-longest rule."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from emotion_perception.cli import main as cli_main
from emotion_perception.cues.gait.data import save_h5_gaits
from emotion_perception.cues.gait.models import load_gait_model
from emotion_perception.cues.gait.preprocessing import PROXEMO_VIEW_ANGLES_DEG, proxemo_input
from emotion_perception.cues.gait.synthetic import generate_gait
from emotion_perception.cues.gait.labels import GAIT_EMOTIONS


def numpy_embedding(gait: np.ndarray, length: int) -> np.ndarray:
    """The embedding as ProxEmo's loader computes it, in float64 numpy with OpenCV's resize: (V, 244, 244, 3)."""
    tiled = gait.astype(np.float64)[np.arange(length) % len(gait)]
    x, y, z = tiled[..., 0], tiled[..., 1], tiled[..., 2]
    images = []
    for angle in PROXEMO_VIEW_ANGLES_DEG:
        cos, sin = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
        view = np.stack([x * cos + z * sin + 150 * cos, y + 150 * sin, -x * sin + z * cos], axis=-1)
        high, low = view.max(axis=(0, 1)), view.min(axis=(0, 1))
        image = (high - view) * 255.0 / np.where(high - low > 0, high - low, 1.0)
        images.append(cv2.resize(image, (244, 244), interpolation=cv2.INTER_LINEAR).astype(np.float32))
    return np.stack(images)


def _gaits(lengths, seed=0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [generate_gait(GAIT_EMOTIONS[i % 4], n, rng=rng, heading_deg=float(rng.uniform(0, 360)))
            for i, n in enumerate(lengths)]


def test_image_embedding_on_device_equals_numpy_reference(device):
    gaits = _gaits([50, 31, 12])
    embedded = proxemo_input(gaits, 50, device)
    assert embedded.device.type == device.type and embedded.dtype == torch.float32
    assert embedded.shape == (3 * len(PROXEMO_VIEW_ANGLES_DEG), 244, 244, 3)
    reference = np.concatenate([numpy_embedding(g, 50) for g in gaits])
    assert np.abs(embedded.cpu().numpy() - reference).max() <= 1e-5
    # a window of live joints (metres from the camera): the values sit far from the origin
    far = gaits[0] + np.array([3.0, 0.0, -5.0], dtype=np.float32)
    assert np.abs(proxemo_input([far], 75, device).cpu().numpy() - numpy_embedding(far, 75)).max() <= 1e-5


@pytest.mark.slow
def test_predict_gait_vsgcnn_on_a_file_of_gaits_of_different_lengths(proxemo_weights, tmp_path, device):
    gaits = _gaits([24, 40])
    features = save_h5_gaits(tmp_path / "featuresMixed.h5", gaits, np.arange(2))
    out = tmp_path / "proxemo.npz"
    assert cli_main(["predict-gait", "--model", "vsgcnn", "--weights", proxemo_weights, "--h5", str(features),
                     "--out", str(out), "--device", str(device)]) == 0
    result = np.load(out)
    assert result["view_outputs"].shape == (2, len(PROXEMO_VIEW_ANGLES_DEG), 16) and result["logits"].shape == (2, 4)
    network = load_gait_model(proxemo_weights, "vsgcnn").to(device).network
    with torch.inference_mode():
        for index, gait in enumerate(gaits):  # each gait alone, tiled to the file's longest (40 frames)
            alone = network(proxemo_input([gait], 40, device)).cpu().numpy()
            assert np.abs(alone - result["view_outputs"][index]).max() <= 1e-4


@pytest.mark.slow
def test_eval_and_train_gait_vsgcnn_on_a_file_of_gaits_of_different_lengths(proxemo_weights, tmp_path):
    gaits = _gaits([18, 30, 25, 22])
    features = save_h5_gaits(tmp_path / "featuresMixed.h5", gaits, np.arange(4))
    assert cli_main(["eval-gait", "--h5", str(features), "--weights", proxemo_weights,
                     "--out", str(tmp_path / "eval")]) == 0
    assert json.loads((tmp_path / "eval" / "report.json").read_text())["n"] == 4
    assert cli_main(["train-gait", "--h5", str(features), "--architecture", "vsgcnn", "--epochs", "1",
                     "--batch-size", "2", "--val-fraction", "0.25", "--out", str(tmp_path / "run")]) == 0
    trained = load_gait_model(str(tmp_path / "run" / "gait_vsgcnn.pt"), "vsgcnn")
    assert trained.passport.config["window_frames"] == 30  # the file's longest gait
    assert json.loads((tmp_path / "run" / "report.json").read_text())["n"] == 1
