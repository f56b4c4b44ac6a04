"""Training learns a visible cue on a small generated data set; evaluation writes its report."""

import json

import cv2
import numpy as np
import pytest

from emotion_perception.cli import main
from emotion_perception.cues.context import ContextConfig, ContextEmotion, EmoticPreprocessing, load_emotic
from emotion_perception.cues.context.data import open_split
from emotion_perception.cues.context.train import TrainConfig, evaluate, train
from emotion_perception.cues.context.labels import EMOTIC_CATEGORIES

HAPPINESS = EMOTIC_CATEGORIES.index("Happiness")
SADNESS = EMOTIC_CATEGORIES.index("Sadness")
ENGAGEMENT = EMOTIC_CATEGORIES.index("Engagement")
RED, BLUE = (220, 40, 40), (40, 40, 220)
EPOCHS = 10


def _person(rng, colour, size):
    body = rng.integers(0, 60, (size, size, 3)).astype(np.int32)
    body[size // 6: -size // 6, size // 4: -size // 4] += colour  # a coloured figure on a dark ground
    return np.clip(body, 0, 255).astype(np.uint8)


def _write_split(directory, split, count, seed):
    """People dressed red are happy (valence 8), blue ones sad (valence 3); the scene is noise."""
    rng = np.random.default_rng(seed)
    red = np.arange(count) % 2 == 0
    rng.shuffle(red)
    np.save(directory / f"{split}_context_arr.npy", rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8))
    np.save(directory / f"{split}_body_arr.npy", np.stack([_person(rng, RED if r else BLUE, 32) for r in red]))
    categories = np.zeros((count, 26), np.float32)
    categories[red, HAPPINESS] = 1
    categories[~red, SADNESS] = 1
    categories[:, ENGAGEMENT] = 1
    np.save(directory / f"{split}_cat_arr.npy", categories)
    vad = np.stack([np.where(red, 8.0, 3.0), np.full(count, 5.0), np.full(count, 5.0)], axis=1).astype(np.float32)
    np.save(directory / f"{split}_cont_arr.npy", vad)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("emotic_cues")
    for split, count, seed in (("train", 96, 0), ("val", 32, 1), ("test", 32, 2)):
        _write_split(directory, split, count, seed)
    # L2 for VAD: with the default smooth-L1 (the reference's) 5 epochs on 96 people leave valence half learnt.
    # 10 epochs: with 5, fit seeds 1 and 2 (and seed 1 at 2 torch threads) left one category unlearnt (AP 0.32-0.33,
    # seed 0 reached 1.0 by luck); with 10, seeds 0-2 at 1 thread and seed 1 at 2 reach AP 1.0, valence gap 2.7-5.1.
    config = TrainConfig(data=str(directory), out=str(directory / "run"), name="cues", epochs=EPOCHS, batch_size=16,
                         lr=1e-3, continuous_loss="l2", body_backbone="none", context_backbone="none",
                         context_size=32, body_size=32)
    return directory, train(config, progress=False)


def test_training_learns_the_visible_cue_on_held_out_people(trained, capsys):
    directory, result = trained
    assert result.checkpoint.is_file() and len(result.history) == EPOCHS
    code = main(["eval-context", "--weights", str(result.checkpoint), "--data", str(directory), "--split", "test",
                 "--out", str(directory / "test_report"), "--quiet"])
    assert code == 0
    report = json.loads((directory / "test_report" / "report.json").read_text())
    # chance level is 0.5 for both categories (half the test people are happy)
    assert report["average_precision"]["Happiness"] > 0.9
    assert report["average_precision"]["Sadness"] > 0.9
    model, passport = load_emotic(result.checkpoint)
    predictions = evaluate(model, open_split(directory, "test", EmoticPreprocessing.from_config(passport.config)))
    red = predictions.categories[:, HAPPINESS] == 1
    # labels say 8 vs 3; an untrained head gives both groups the same valence
    assert predictions.vad[red, 0].mean() - predictions.vad[~red, 0].mean() > 1.5
    for name in ("report.md", "ap.png", "pr_curves.png"):
        assert (directory / "test_report" / name).stat().st_size > 0
    assert "| Happiness |" in (directory / "test_report" / "report.md").read_text()


def test_checkpoint_carries_thresholds_and_preprocessing(trained):
    _, result = trained
    passport = json.loads(result.checkpoint.with_suffix(".json").read_text())
    assert passport["architecture"] == "emotic" and passport["labels"] == list(EMOTIC_CATEGORIES)
    assert len(passport["config"]["thresholds"]) == 26 and passport["config"]["body_size"] == 32
    assert passport["config"]["training"]["lr"] == 1e-3
    assert np.isinf(passport["config"]["thresholds"][0])  # Affection never occurs: never on


def test_trained_stage_tells_red_from_blue_people(trained):
    _, result = trained
    stage = ContextEmotion(ContextConfig(weights=str(result.checkpoint)))
    assert stage.available
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    image[10:74, 10:74] = _person(rng, RED, 64)
    image[10:74, 60:124] = cv2.flip(_person(rng, BLUE, 64), 1)
    red, blue = stage(image, np.array([[10, 10, 74, 74], [60, 10, 124, 74]], dtype=np.float32))
    assert red.scores[HAPPINESS] > blue.scores[HAPPINESS]
    assert blue.scores[SADNESS] > red.scores[SADNESS]
    assert red.vad[0] > blue.vad[0]


def test_save_thresholds_rewrites_the_passport(trained, tmp_path):
    directory, result = trained
    before = json.loads(result.checkpoint.with_suffix(".json").read_text())["config"]["thresholds"]
    code = main(["eval-context", "--weights", str(result.checkpoint), "--data", str(directory), "--split", "val",
                 "--out", str(tmp_path), "--save-thresholds", "--quiet"])
    assert code == 0
    passport = json.loads(result.checkpoint.with_suffix(".json").read_text())
    np.testing.assert_allclose(passport["config"]["thresholds"], before, rtol=1e-6)  # same data, same choice
    assert "split val" in passport["config"]["thresholds_from"]
    assert ContextEmotion(ContextConfig(weights=str(result.checkpoint))).available  # sha256 still matches
