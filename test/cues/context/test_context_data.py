"""EMOTIC data loaders: the preprocessed arrays and the annotation CSVs with images."""

import csv

import cv2
import numpy as np
import pytest
import torch

from emotion_perception.cues.context.data import EmoticAnnotations, EmoticArrays, open_split
from emotion_perception.cues.context.preprocessing import EmoticPreprocessing
from emotion_perception.cues.context.labels import EMOTIC_CATEGORIES

SMALL = EmoticPreprocessing(context_size=40, body_size=24)


def _mean_colour(tensor, mean, std):
    return (tensor * torch.tensor(std).view(3, 1, 1) + torch.tensor(mean).view(3, 1, 1)).mean(dim=(1, 2)) * 255


def test_annotation_csv_crops_the_person_and_reads_labels(tmp_path):
    image = np.zeros((60, 80, 3), np.uint8)
    image[:] = (0, 0, 255)  # blue scene
    image[10:50, 20:40] = (255, 0, 0)  # red person
    (tmp_path / "mscoco" / "images").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "mscoco" / "images" / "a.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    with open(tmp_path / "val.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Index", "Folder", "Filename", "Image Size", "BBox", "Categorical_Labels",
                         "Continuous_Labels", "Gender", "Age"])
        writer.writerow([0, "mscoco/images", "a.jpg", "[80, 60]", "[20, 10, 40, 50]",
                         "['Engagement', 'Happiness']", "[7, 4, 6]", "Male", "Adult"])
    dataset = open_split(tmp_path, "val", SMALL)
    assert isinstance(dataset, EmoticAnnotations) and len(dataset) == 1
    scene, body, categories, vad = dataset[0]
    assert scene.shape == (3, 40, 40) and body.shape == (3, 24, 24)
    assert [EMOTIC_CATEGORIES[i] for i in np.flatnonzero(categories.numpy())] == ["Engagement", "Happiness"]
    np.testing.assert_allclose(vad.numpy(), [7, 4, 6])
    body_colour = _mean_colour(body, SMALL.body_mean, SMALL.body_std)
    assert body_colour[0] > 200 and body_colour[2] < 50  # the crop holds the red person only
    scene_colour = _mean_colour(scene, SMALL.context_mean, SMALL.context_std)
    assert scene_colour[2] > scene_colour[0]  # the scene is mostly blue


def test_annotation_with_unknown_category_is_a_clear_error(tmp_path):
    with open(tmp_path / "train.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Folder", "Filename", "BBox", "Categorical_Labels", "Continuous_Labels"])
        writer.writerow(["f", "a.jpg", "[0, 0, 4, 4]", "['Joy']", "[5, 5, 5]"])
    with pytest.raises(ValueError, match="Joy"):
        EmoticAnnotations(tmp_path / "train.csv", tmp_path)


def _write_arrays(directory, split, count, size=(32, 20)):
    rng = np.random.default_rng(0)
    np.save(directory / f"{split}_context_arr.npy", rng.integers(0, 256, (count, size[0], size[0], 3), dtype=np.uint8))
    np.save(directory / f"{split}_body_arr.npy", rng.integers(0, 256, (count, size[1], size[1], 3), dtype=np.uint8))
    np.save(directory / f"{split}_cat_arr.npy", (rng.random((count, 26)) < 0.2).astype(np.float32))
    np.save(directory / f"{split}_cont_arr.npy", rng.integers(1, 11, (count, 3)).astype(np.float32))


def test_arrays_are_resized_and_augmented_to_the_configured_sizes(tmp_path):
    _write_arrays(tmp_path, "train", 5)
    plain = EmoticArrays(tmp_path, "train", SMALL)
    augmented = EmoticArrays(tmp_path, "train", SMALL, augment=True)
    assert len(plain) == 5
    scene, body, categories, vad = plain[3]
    assert scene.shape == (3, 40, 40) and body.shape == (3, 24, 24) and categories.shape == (26,)
    torch.manual_seed(0)
    changed = [not torch.equal(augmented[i][1], plain[i][1]) for i in range(5)]
    assert any(changed)  # colour jitter and flips change the training samples
    assert torch.equal(plain[3][1], body)  # evaluation samples stay as they are


def test_inconsistent_arrays_are_refused(tmp_path):
    _write_arrays(tmp_path, "test", 4)
    np.save(tmp_path / "test_cat_arr.npy", np.zeros((4, 25), np.float32))
    with pytest.raises(ValueError, match="unexpected shapes"):
        EmoticArrays(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="val"):
        open_split(tmp_path, "val", SMALL)
