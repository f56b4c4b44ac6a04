"""Gait branch: released weights reproduce the reference numbers; features; the stage's behaviour."""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from emotion_perception.cli import main as cli_main
from emotion_perception.cues.gait import GaitConfig, GaitEmotion
from emotion_perception.cues.gait.data import load_h5_gaits, save_h5_gaits
from emotion_perception.cues.gait.features import affective_features
from emotion_perception.cues.gait.models import build_network, load_gait_model
from emotion_perception.cues.gait.preprocessing import (GaitInputError, check_sequence, proxemo_images, resize_images,
                                                    step_file_preprocess, to_stgcn_input)
from emotion_perception.cues.gait.restricted_load import extract_state_dict
from emotion_perception.cues.gait.stgcn import spatial_partition_graph, stgcn_step
from emotion_perception.cues.gait.synthetic import generate_gait
from emotion_perception.cues.gait.vsgcnn import vsgcnn_proxemo
from emotion_perception.cues.gait.labels import GAIT_EMOTIONS
from emotion_perception.types import JointSequence
from emotion_perception.cues.gait.weights import STEP_STGCN
from emotion_perception.cues.registry import released_weights
from emotion_perception.runtime.weights import WeightsError, fetch_published, load_state_dict, zero_subnormals


@pytest.fixture(scope="module")
def weights_dir(shared_dir, tmp_path_factory) -> Path:
    """Released weights fetched (sha256-verified) into a private weights dir, as setup does."""
    target = tmp_path_factory.mktemp("weights")
    for passport in released_weights().values():
        fetch_published(passport, Path(shared_dir) / "models", target)
    previous = os.environ.get("EMOTION_PERCEPTION_WEIGHTS_DIR")
    os.environ["EMOTION_PERCEPTION_WEIGHTS_DIR"] = str(target)
    yield target
    if previous is None:
        os.environ.pop("EMOTION_PERCEPTION_WEIGHTS_DIR")
    else:
        os.environ["EMOTION_PERCEPTION_WEIGHTS_DIR"] = previous


@pytest.fixture(scope="module")
def step_golden(shared_dir):
    return np.load(Path(shared_dir) / "models" / "golden" / "step_public.npz")


@pytest.fixture(scope="module")
def proxemo_golden(shared_dir):
    return np.load(Path(shared_dir) / "models" / "golden" / "proxemo_public.npz")


@pytest.fixture(scope="module")
def sample_h5(shared_dir) -> Path:
    return Path(shared_dir) / "data" / "step_sample" / "features4DCVAEGCN.h5"


def test_step_weights_load_strictly_and_graph_matches(step_weights):
    state = load_state_dict(step_weights, STEP_STGCN.sha256)
    model = stgcn_step()
    assert model.load_state_dict(state, strict=True).missing_keys == []
    assert np.array_equal(spatial_partition_graph(), state["A"].numpy())
    assert sum(p.numel() for p in model.parameters()) == 716_292


@pytest.mark.parametrize("pair", ["a", "b"])
def test_stgcn_network_reproduces_golden_logits(step_weights, step_golden, pair, device):
    model = load_gait_model(step_weights).to(device).network
    with torch.inference_mode():
        logits = model(torch.from_numpy(step_golden[f"net_input_{pair}"]).to(device)).cpu().numpy()
    assert np.abs(logits - step_golden[f"net_logits_{pair}"]).max() <= 1e-4


@pytest.mark.parametrize("name, architecture, zeroed", [("step_stgcn_epoch395.pth", "stgcn", 0.9),
                                                        ("proxemo_vsgcnn_epoch134.pth.tar", "vsgcnn", 0.1)])
def test_subnormal_weights_are_zeroed_at_load_with_the_same_outputs(shared_dir, sample_h5, name, architecture, zeroed):
    """The released weights are mostly subnormal (100x slower on a CPU): loading zeroes them, outputs unchanged."""
    path = Path(shared_dir) / "models" / name
    loaded = load_gait_model(str(path), architecture)
    raw = build_network(architecture, loaded.passport.config)
    raw.load_state_dict(extract_state_dict(path)[0] if architecture == "vsgcnn" else load_state_dict(path), strict=True)
    raw.eval()
    tiny = torch.finfo(torch.float32).tiny
    subnormal = [int(((t != 0) & (t.abs() < tiny)).sum()) for t in (*raw.parameters(), *raw.buffers())
                 if t.is_floating_point()]
    assert sum(subnormal) > zeroed * sum(p.numel() for p in raw.parameters())
    assert zero_subnormals(loaded.network) == 0  # none left
    # One window: VS-GCNN sees it as 4 views of 244 x 244, ~7 s on the raw weights on one x86 core.
    window = generate_gait(GAIT_EMOTIONS[0], 75, 30.0, rng=np.random.default_rng(0))
    inputs = loaded.network_input([window], 75, 30.0)
    with torch.inference_mode():
        assert torch.allclose(loaded.network(*inputs), raw(*inputs), rtol=0, atol=1e-6)


def test_step_file_preprocessing_reproduces_golden(sample_h5, step_golden):
    data = load_h5_gaits(sample_h5)
    assert data.keys[:3] == list(step_golden["sample_keys"])
    aligned = step_file_preprocess(data.gaits)
    assert np.abs(aligned[:3].reshape(3, -1, 48) - step_golden["sample_preprocessed"]).max() <= 1e-9
    assert np.abs(to_stgcn_input(aligned[:3]).numpy() - step_golden["sample_input"]).max() <= 1e-6


def test_predict_gait_cli_reproduces_golden_through_file_preprocessing(step_weights, sample_h5, step_golden, tmp_path,
                                                                      device):
    data = load_h5_gaits(sample_h5)
    small = save_h5_gaits(tmp_path / "features_small.h5", data.gaits[:3], np.zeros(3, dtype=np.int64), keys=data.keys[:3])
    out = tmp_path / "step.npz"
    assert cli_main(["predict-gait", "--model", "stgcn", "--weights", step_weights,
                     "--h5", str(small), "--out", str(out), "--device", str(device)]) == 0
    result = np.load(out)
    assert list(result["keys"]) == list(step_golden["sample_keys"])
    assert np.abs(result["logits"] - step_golden["sample_logits"]).max() <= 1e-4


def test_proxemo_weights_extracted_without_unpickling_objects(proxemo_weights):
    state, dropped = extract_state_dict(proxemo_weights)
    assert "torch.nn.modules.loss.CrossEntropyLoss" in dropped
    assert len(state) == 24
    model = vsgcnn_proxemo()
    model.load_state_dict(state, strict=True)
    assert sum(p.numel() for p in model.parameters()) == 334_849
    with pytest.raises(WeightsError):  # the plain safe loader refuses the same file
        load_state_dict(proxemo_weights)


def test_vsgcnn_network_and_image_preprocessing_reproduce_golden(proxemo_weights, sample_h5, proxemo_golden, device):
    model = load_gait_model(proxemo_weights, "vsgcnn").to(device).network
    with torch.inference_mode():
        outputs = model(torch.from_numpy(proxemo_golden["input"]).to(device)).cpu().numpy()
    assert np.abs(outputs - proxemo_golden["outputs"]).max() <= 2e-4
    resized = resize_images(torch.from_numpy(proxemo_golden["image_pre_resize"]).to(device)).cpu().numpy()
    assert np.abs(resized - proxemo_golden["input"]).max() <= 1e-4
    data = load_h5_gaits(sample_h5)
    gait = data.gaits[data.keys.index(str(proxemo_golden["sample_keys"][0]))]
    image = proxemo_images(torch.from_numpy(gait[None]).to(device), (int(proxemo_golden["sample_angle_deg"][0]),))[0, 0]
    assert np.abs(image.cpu().numpy() - proxemo_golden["sample_image_pre_resize"][0]).max() <= 1e-9


def test_affective_features_golden_and_hand_computed(sample_h5, step_golden):
    first = load_h5_gaits(sample_h5).gaits[0]
    assert np.allclose(affective_features(first), step_golden["aff_features_sample0"][0], rtol=1e-7, atol=1e-9)
    pose = generate_gait("neutral", 1)[0].astype(np.float64)
    # right arm bent to exactly 90 degrees at the elbow: shoulder above elbow, hand in front of it
    pose[5] = pose[4] - [0, 0.3, 0]
    pose[6] = pose[5] + [0.25, 0, 0]
    still = np.repeat(pose[None], 10, axis=0)
    features = affective_features(still)
    assert features[12:].max() == 0.0  # no motion → no speed, acceleration or jerk
    elbow = np.degrees(np.arccos(np.dot(pose[4] - pose[5], pose[6] - pose[5]) / 0.3 / 0.25))
    assert elbow == pytest.approx(90.0)
    assert features[6] == pytest.approx(np.linalg.norm(pose[6] - pose[0]) / 10)
    # the whole body translating at 1.5 m/s: every joint's speed is 1.5, acceleration and jerk 0
    moving = still + np.arange(10)[:, None, None] / 30.0 * np.array([1.5, 0, 0])
    features = affective_features(moving, fps=30.0)
    assert np.allclose(features[12:17], 0.15)
    assert np.allclose(features[17:], 0.0, atol=1e-9)


def _sequences(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [JointSequence(i, generate_gait(GAIT_EMOTIONS[i % 4], n, rng=rng), 30.0, n) for i, n in enumerate(lengths)]


def test_stage_batched_equals_per_person_and_reports_collecting(weights_dir, device):
    stage = GaitEmotion(GaitConfig(), device=device)
    assert stage.available, stage.status
    sequences = _sequences([90, 75, 50, 20])
    batched = stage(sequences)
    assert [r.valid for r in batched] == [True, True, True, False]
    assert batched[3].status == "collecting: 20/45 frames"
    assert [r.frames_used for r in batched] == [75, 75, 50, 20]
    for sequence, result in zip(sequences[:3], batched):
        alone = stage([sequence])[0]
        assert np.abs(alone.probabilities - result.probabilities).max() <= 1e-5
        assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
        assert result.label in GAIT_EMOTIONS
        assert alone.input_z_max == pytest.approx(result.input_z_max, abs=1e-5)


def test_stage_vsgcnn_runs_batched(weights_dir, device):
    stage = GaitEmotion(GaitConfig(model="vsgcnn", weights="proxemo_vsgcnn_epoch134", window_frames=40, min_frames=30),
                        device=device)
    assert stage.available and "CrossEntropyLoss" in stage.status
    sequences = _sequences([40, 35])
    batched = stage(sequences)
    alone = stage(sequences[1:])[0]
    assert all(r.valid for r in batched)
    assert np.abs(alone.probabilities - batched[1].probabilities).max() <= 1e-4
    # no training statistics in ProxEmo's weights: the distance is unknown, never a reason to flag
    assert all(np.isnan(r.input_z_mean) and np.isnan(r.input_z_max) and not r.out_of_distribution for r in batched)


def test_stage_without_weights_is_unavailable_and_never_guesses(tmp_path):
    for config in (GaitConfig(weights=""), GaitConfig(weights=str(tmp_path / "missing.pt")),
                   GaitConfig(model="vsgcnn", weights="step_stgcn_epoch395")):
        stage = GaitEmotion(config)
        assert not stage.available and stage.status.startswith("gait branch disabled")
        results = stage(_sequences([80]))
        assert not results[0].valid and results[0].probabilities is None and results[0].status == stage.status


def test_malformed_sequences_are_dropped_with_reasons(weights_dir):
    stage = GaitEmotion(GaitConfig())
    good = _sequences([60])[0]
    nan = JointSequence(1, good.joints.copy(), 30.0, 60)
    nan.joints[10, 3] = np.nan
    wrong_joints = JointSequence(2, np.zeros((60, 17, 3), np.float32), 30.0, 60)
    empty = JointSequence(3, np.zeros((0, 16, 3), np.float32), 30.0, 0)
    results = stage([nan, good, wrong_joints, empty])
    assert results[1].valid
    assert "non-finite" in results[0].status and "(T, 16, 3)" in results[2].status and "0 frames" in results[3].status
    assert stage.dropped == 3
    with pytest.raises(GaitInputError, match="at least 5"):
        check_sequence(np.zeros((3, 16, 3)), min_frames=5)


def test_checkpoint_needing_arbitrary_unpickling_is_refused(tmp_path):
    path = tmp_path / "pickled.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)
    passport = dataclasses.replace(STEP_STGCN, file_name=path.name, sha256="")
    (tmp_path / "pickled.json").write_text(passport.to_json())
    with pytest.raises(WeightsError, match="pickled objects are refused"):
        load_gait_model(str(path))


def test_restricted_reader_never_constructs_pickled_objects(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo should-never-run",))

    path = tmp_path / "hostile.pth"
    torch.save({"model_state_dict": {"w": torch.arange(4.0)}, "loss": Boom()}, path, pickle_protocol=2)
    state, dropped = extract_state_dict(path)
    assert torch.equal(state["w"], torch.arange(4.0))
    assert any("system" in name for name in dropped)
    with pytest.raises(WeightsError):
        path.write_bytes(pickle.dumps({"not": "a checkpoint"}))
        extract_state_dict(path)
