"""Gait training on procedural gaits: converges in a test-sized run; checkpoints round-trip; CLI commands."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from emotion_perception.cli import main as cli_main
from emotion_perception.cues.gait import GaitConfig, GaitEmotion
from emotion_perception.cues.gait.data import load_h5_gaits
from emotion_perception.cues.gait.distribution import InputStatistics
from emotion_perception.cues.gait.models import STATISTICS_KEY, load_gait_model
from emotion_perception.cues.gait.synthetic import generate_gait, synthetic_dataset
from emotion_perception.cues.gait.train import TrainConfig, predict, train_classifier, trained_passport
from emotion_perception.labels import GAIT_EDGES
from emotion_perception.cues.gait.labels import GAIT_EMOTIONS
from emotion_perception.runtime.training import classification_report, save_model
from emotion_perception.types import JointSequence

WINDOW = 45
CONFIG = TrainConfig(window_frames=WINDOW, temporal_kernel=9, epochs=8, batch_size=16, learning_rate=3e-3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    gaits, labels = synthetic_dataset(32, WINDOW, seed=0)
    model, losses = train_classifier(list(gaits), labels, CONFIG, progress=False)
    passport = trained_passport(model, CONFIG, "synthetic")
    path = save_model(model.network, passport, tmp_path_factory.mktemp("ckpt") / "gait_stgcn.pt")
    return model, losses, path


HELD_OUT_ACCURACY = 0.6
"""Well below what training reaches, far above chance (0.25, +-0.07 for 40 gaits): measured over fit seeds 0-4
at 1 torch thread 1.0, 0.95, 0.775, 0.95, 0.775 and seed 1 at 2 threads 0.95 (the old bar, 0.8, passed on
seeds 0, 1 and 3 only)."""


def test_training_on_synthetic_gaits_learns_the_task_on_held_out_subjects(trained):
    model, losses, _ = trained
    held_gaits, held_labels = synthetic_dataset(10, WINDOW, seed=1)  # other subjects, other seed
    report = classification_report(held_labels, predict(model, list(held_gaits), WINDOW, 30.0), GAIT_EMOTIONS)
    assert losses[-1] < losses[0]
    assert report["accuracy"] >= HELD_OUT_ACCURACY, report


def test_checkpoint_round_trips_into_the_stage(trained):
    model, _, path = trained
    assert path.with_suffix(".json").is_file()
    reloaded = load_gait_model(str(path), "stgcn")
    gaits, _ = synthetic_dataset(2, WINDOW, seed=3)
    assert np.allclose(predict(model, list(gaits), WINDOW, 30.0), predict(reloaded, list(gaits), WINDOW, 30.0), atol=1e-6)
    stage = GaitEmotion(GaitConfig(weights=str(path), window_frames=WINDOW, min_frames=30))
    results = stage([JointSequence(i, g, 30.0, len(g)) for i, g in enumerate(gaits)])
    assert all(r.valid for r in results)
    assert np.allclose(np.stack([r.probabilities for r in results]), predict(model, list(gaits), WINDOW, 30.0), atol=1e-5)


def test_checkpoint_carries_its_training_statistics_and_loading_uses_them(trained, tmp_path):
    model, _, path = trained
    stored = InputStatistics.from_config(json.loads(path.with_suffix(".json").read_text())["config"][STATISTICS_KEY])
    reloaded = load_gait_model(str(path))
    assert all(np.array_equal(getattr(reloaded.statistics, f), getattr(stored, f)) for f in ("mean_pose", "mean", "std"))
    assert np.allclose(stored.mean, model.statistics.mean) and np.allclose(stored.mean_pose, stored.mean, atol=0.02)
    gaits, _ = synthetic_dataset(3, WINDOW, seed=4)  # new subjects of the training kind sit inside the distribution
    stage = GaitEmotion(GaitConfig(weights=str(path), window_frames=WINDOW, min_frames=30))
    results = stage([JointSequence(i, g, 30.0, len(g)) for i, g in enumerate(gaits)])
    assert all(r.valid and r.input_z_max < 3.5 and not r.out_of_distribution for r in results)
    # without the passport entry (e.g. an older checkpoint) the network's input BatchNorm is the source
    older = tmp_path / "older.pt"
    shutil.copy(path, older)
    passport = json.loads(path.with_suffix(".json").read_text())
    del passport["config"][STATISTICS_KEY]
    older.with_suffix(".json").write_text(json.dumps(passport))
    fallback = load_gait_model(str(older)).statistics
    norm = reloaded.network.input_norm
    assert np.array_equal(fallback.mean.ravel(), norm.running_mean.double().numpy())
    assert not np.array_equal(fallback.mean, stored.mean)


def test_synthetic_gaits_are_plausible_walks():
    for emotion in GAIT_EMOTIONS:
        gait = generate_gait(emotion, 60, rng=np.random.default_rng(5), heading_deg=0.0, noise=0.0)
        assert gait.shape == (60, 16, 3) and gait.dtype == np.float32
        bones = np.stack([np.linalg.norm(gait[:, a] - gait[:, b], axis=-1) for a, b in GAIT_EDGES], axis=1)
        assert bones.std(axis=0).max() < 0.05  # rigid limbs (jerk impulses aside)
        assert 1.3 < gait[:, 3, 1].mean() < 1.85  # head height of an adult
        assert np.abs(gait[:, [12, 15], 1].min(axis=1)).max() < 0.06  # a foot on the ground y = 0
        assert gait[-1, 0, 0] - gait[0, 0, 0] > 0.5  # walked along +x
    slow = generate_gait("sad", 90)
    fast = generate_gait("happy", 90)
    assert (fast[-1, 0, 0] - fast[0, 0, 0]) > 1.5 * (slow[-1, 0, 0] - slow[0, 0, 0])
    with pytest.raises(ValueError, match="unknown gait emotion"):
        generate_gait("bored", 10)


def test_cli_synth_train_eval(tmp_path):
    features = tmp_path / "featuresSynth.h5"
    assert cli_main(["synth-gait", "--out", str(features), "--per-class", "6", "--frames", "30"]) == 0
    data = load_h5_gaits(features)
    assert len(data.keys) == 24 and sorted(set(data.labels)) == [0, 1, 2, 3]
    out = tmp_path / "run"
    assert cli_main(["train-gait", "--h5", str(features), "--out", str(out), "--epochs", "1",
                     "--window-frames", "30", "--temporal-kernel", "5"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["per_class"]) == set(GAIT_EMOTIONS) and (out / "confusion.png").stat().st_size > 0
    assert cli_main(["eval-gait", "--h5", str(features), "--weights", str(out / "gait_stgcn.pt"),
                     "--out", str(tmp_path / "eval")]) == 0
    assert json.loads((tmp_path / "eval" / "report.json").read_text())["n"] == 24
