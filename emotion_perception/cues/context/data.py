"""EMOTIC data in the two layouts users have, as torch Datasets of normalised (scene, body, labels).

- Preprocessed arrays (the reference's preprocessing output): ``{split}_context_arr.npy`` (N, 224, 224, 3)
  uint8 RGB, ``{split}_body_arr.npy`` (N, 128, 128, 3), ``{split}_cat_arr.npy`` (N, 26) one-hot in
  labels.EMOTIC_CATEGORIES order, ``{split}_cont_arr.npy`` (N, 3) valence/arousal/dominance on 1-10.
- Annotation CSVs (``{split}.csv``, columns Folder, Filename, BBox, Categorical_Labels,
  Continuous_Labels, ...) with the EMOTIC images under a root folder (ROOT/Folder/Filename).

Training samples get the reference augmentation: horizontal flip and colour jitter (brightness, contrast,
saturation 0.4), drawn independently for the scene and the body.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from .labels import EMOTIC_CATEGORIES
from .preprocessing import EmoticPreprocessing, clip_box, crop, resize_square

SPLITS = ("train", "val", "test")
ARRAY_KINDS = ("context", "body", "cat", "cont")


def array_paths(data_dir: str | Path, split: str) -> dict[str, Path]:
    """The four preprocessed array files of a split."""
    return {kind: Path(data_dir) / f"{split}_{kind}_arr.npy" for kind in ARRAY_KINDS}


class EmoticSamples(Dataset):
    """Common part of both layouts: subclasses give raw uint8 images and labels, this resizes,
    augments (when ``augment``) and normalises them."""

    def __init__(self, preprocessing: EmoticPreprocessing, augment: bool) -> None:
        self.preprocessing = preprocessing
        self.augment = augment
        self._augmentation = v2.Compose([v2.RandomHorizontalFlip(),
                                         v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4)])

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(scene uint8 HxWx3, body uint8 hxwx3, categories (26,), vad (3,) on 1-10)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        scene, body, categories, vad = self.raw(index)
        scene = torch.from_numpy(resize_square(scene, self.preprocessing.context_size)).permute(2, 0, 1)
        body = torch.from_numpy(resize_square(body, self.preprocessing.body_size)).permute(2, 0, 1)
        if self.augment:
            scene, body = self._augmentation(scene), self._augmentation(body)
        return (self.preprocessing.context_tensor(scene.permute(1, 2, 0)[None])[0],
                self.preprocessing.body_tensor(body.permute(1, 2, 0)[None])[0],
                torch.as_tensor(categories, dtype=torch.float32), torch.as_tensor(vad, dtype=torch.float32))


class EmoticArrays(EmoticSamples):
    """One split of the preprocessed arrays (memory-mapped, so large splits need not fit in memory)."""

    def __init__(self, data_dir: str | Path, split: str, preprocessing: EmoticPreprocessing | None = None,
                 augment: bool = False) -> None:
        super().__init__(preprocessing or EmoticPreprocessing(), augment)
        paths = array_paths(data_dir, split)
        missing = [str(path) for path in paths.values() if not path.is_file()]
        if missing:
            raise FileNotFoundError(f"EMOTIC arrays missing: {', '.join(missing)}")
        self.context, self.body, self.categories, self.vad = (np.load(paths[kind], mmap_mode="r", allow_pickle=False)
                                                             for kind in ARRAY_KINDS)
        count = len(self.context)
        checks = {
            "context": self.context.ndim == 4 and self.context.shape[-1] == 3,
            "body": self.body.ndim == 4 and self.body.shape[-1] == 3,
            "cat": self.categories.shape[1:] == (len(EMOTIC_CATEGORIES),),
            "cont": self.vad.shape[1:] == (3,),
        }
        bad = [kind for kind, ok in checks.items() if not ok]
        if bad or any(len(array) != count for array in (self.body, self.categories, self.vad)):
            raise ValueError(f"EMOTIC arrays of split {split!r} in {data_dir} have unexpected shapes "
                             f"({', '.join(bad) or 'different lengths'}): context {self.context.shape}, body "
                             f"{self.body.shape}, cat {self.categories.shape}, cont {self.vad.shape}")
        if self.context.dtype != np.uint8 or self.body.dtype != np.uint8:
            raise ValueError(f"EMOTIC image arrays must be uint8, got {self.context.dtype} / {self.body.dtype}")

    def __len__(self) -> int:
        return len(self.context)

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (np.array(self.context[index]), np.array(self.body[index]),
                np.array(self.categories[index]), np.array(self.vad[index]))


def parse_annotation_row(row: dict[str, str]) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """(relative image path, box (4,), one-hot categories (26,), vad (3,)) from one CSV row."""
    try:
        box = np.array(ast.literal_eval(row["BBox"]), dtype=np.float32)
        names = ast.literal_eval(row["Categorical_Labels"])
        vad = np.array(ast.literal_eval(row["Continuous_Labels"]), dtype=np.float32)
        relative = str(Path(row["Folder"]) / row["Filename"])
    except (KeyError, ValueError, SyntaxError) as exc:
        raise ValueError(f"malformed EMOTIC annotation row {row}: {exc}") from exc
    unknown = set(names) - set(EMOTIC_CATEGORIES)
    if box.shape != (4,) or vad.shape != (3,) or unknown:
        raise ValueError(f"malformed EMOTIC annotation row {row}: box {box.shape}, vad {vad.shape}, "
                         f"unknown categories {sorted(unknown)}")
    categories = np.array([name in names for name in EMOTIC_CATEGORIES], dtype=np.float32)
    return relative, box, categories, vad


class EmoticAnnotations(EmoticSamples):
    """One split from the annotation CSV, reading and cropping the images on the fly."""

    def __init__(self, csv_path: str | Path, images_root: str | Path,
                 preprocessing: EmoticPreprocessing | None = None, augment: bool = False) -> None:
        super().__init__(preprocessing or EmoticPreprocessing(), augment)
        with open(csv_path, newline="") as handle:
            self.rows = [parse_annotation_row(row) for row in csv.DictReader(handle)]
        self.images_root = Path(images_root)

    def __len__(self) -> int:
        return len(self.rows)

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        relative, box, categories, vad = self.rows[index]
        path = self.images_root / relative
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read EMOTIC image {path}")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        pixel_box = clip_box(box, image.shape[1], image.shape[0])
        if pixel_box is None:
            raise ValueError(f"{path}: box {box.tolist()} lies outside the image")
        return image, crop(image, pixel_box), categories, vad


def open_split(data_dir: str | Path, split: str, preprocessing: EmoticPreprocessing,
               augment: bool = False, images_root: str | Path = "") -> EmoticSamples:
    """The split from whichever layout ``data_dir`` holds: arrays if present, else ``{split}.csv``."""
    data_dir = Path(data_dir)
    if array_paths(data_dir, split)[ARRAY_KINDS[0]].is_file():
        return EmoticArrays(data_dir, split, preprocessing, augment)
    csv_path = data_dir / f"{split}.csv"
    if csv_path.is_file():
        return EmoticAnnotations(csv_path, images_root or data_dir, preprocessing, augment)
    raise FileNotFoundError(f"no EMOTIC split {split!r} in {data_dir}: expected {split}_context_arr.npy "
                            f"(and body/cat/cont arrays) or {split}.csv")
