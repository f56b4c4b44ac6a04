"""Turning an image and person boxes into the EMOTIC network's two inputs: body crops and the scene.

The reference implementation resizes the whole image to 224 x 224 (the scene) and the person's box crop
to 128 x 128 (the body) with OpenCV's bilinear resize, scales to [0, 1] and normalises each input with
its own mean and std. The same steps serve the pipeline stage, the data loaders and the evaluation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

CONTEXT_MEAN: tuple[float, float, float] = (0.4691, 0.4407, 0.4051)
CONTEXT_STD: tuple[float, float, float] = (0.2514, 0.2431, 0.2427)
BODY_MEAN: tuple[float, float, float] = (0.4383, 0.3964, 0.3706)
BODY_STD: tuple[float, float, float] = (0.2478, 0.2362, 0.2324)


@dataclass(frozen=True)
class EmoticPreprocessing:
    """Input sizes and normalisation of one set of EMOTIC weights (stored in the passport's config)."""

    context_size: int = 224
    body_size: int = 128
    context_mean: tuple[float, ...] = CONTEXT_MEAN
    context_std: tuple[float, ...] = CONTEXT_STD
    body_mean: tuple[float, ...] = BODY_MEAN
    body_std: tuple[float, ...] = BODY_STD

    def to_config(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EmoticPreprocessing:
        """Read the preprocessing keys of a passport config (other keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key: tuple(value) if isinstance(value, list) else value
                  for key, value in config.items() if key in names}
        return cls(**values)

    def context_tensor(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(N, S, S, 3) uint8 scene images at context_size -> (N, 3, S, S) normalised float32."""
        return normalize(images, self.context_mean, self.context_std)

    def body_tensor(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(N, S, S, 3) uint8 body crops at body_size -> (N, 3, S, S) normalised float32."""
        return normalize(images, self.body_mean, self.body_std)


def normalize(images: np.ndarray | torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32, scaled to [0, 1] then (x - mean) / std per channel."""
    batch = torch.as_tensor(images)
    if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != torch.uint8:
        raise ValueError(f"expected (N, H, W, 3) uint8 images, got {tuple(batch.shape)} {batch.dtype}")
    batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (batch - mean_t) / std_t


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize to size x size (OpenCV, as the reference preprocessing)."""
    if image.shape[0] == size and image.shape[1] == size:
        return np.ascontiguousarray(image)
    return cv2.resize(np.ascontiguousarray(image), (size, size), interpolation=cv2.INTER_LINEAR)


def clip_box(box: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """Integer pixel box (x0, y0, x1, y1), exclusive end, clipped to the image; None if empty or not finite."""
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        return None
    x0 = int(np.clip(np.floor(box[0]), 0, width))
    y0 = int(np.clip(np.floor(box[1]), 0, height))
    x1 = int(np.clip(np.ceil(box[2]), 0, width))
    y1 = int(np.clip(np.ceil(box[3]), 0, height))
    if x1 <= x0 or y1 <= y0:
        return None
    return np.array([x0, y0, x1, y1], dtype=np.int64)


def crop(image: np.ndarray, pixel_box: np.ndarray) -> np.ndarray:
    """The part of ``image`` inside an integer box from :func:`clip_box`."""
    x0, y0, x1, y1 = (int(v) for v in pixel_box)
    return image[y0:y1, x0:x1]
