"""Turning an image and person boxes into the EMOTIC network's two inputs: body crops and the scene.

The reference implementation resizes the whole image to 224 x 224 (the scene) and the person's box crop
to 128 x 128 (the body) with OpenCV's bilinear resize, scales to [0, 1] and normalises each input with
its own mean and std. Two paths compute this:

- the OpenCV path (:func:`resize_square`, :func:`crop`, :meth:`EmoticPreprocessing.opencv_inputs`): the
  reference's own steps on the host, used for training data (``data.py``) and as the test oracle;
- the device path (:meth:`EmoticPreprocessing.device_inputs`): the pipeline stage's, on the network's
  device, where the scene and every body crop come out of one ``grid_sample`` over the uint8 frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# The reference's values (Tandon-A/emotic main.py) in full: with them our input tensors equal its tensors exactly.
CONTEXT_MEAN: tuple[float, float, float] = (0.4690646, 0.4407227, 0.40508908)
CONTEXT_STD: tuple[float, float, float] = (0.2514227, 0.24312855, 0.24266963)
BODY_MEAN: tuple[float, float, float] = (0.43832874, 0.3964344, 0.3706214)
BODY_STD: tuple[float, float, float] = (0.24784276, 0.23621225, 0.2323653)


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

    def opencv_inputs(self, image: np.ndarray, pixel_boxes: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """The reference's steps on the host: normalised scene (1, 3, S, S) and bodies (K, 3, s, s) on the CPU.

        ``image`` (H, W, 3) uint8 RGB; ``pixel_boxes`` from :func:`clip_box`.
        """
        scene = self.context_tensor(resize_square(image, self.context_size)[None])
        bodies = self.body_tensor(np.stack([resize_square(crop(image, box), self.body_size) for box in pixel_boxes]))
        return scene, bodies

    def device_inputs(self, image: torch.Tensor, pixel_boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`opencv_inputs` on ``image``'s device: the scene and all K body crops in one sampling pass.

        ``image`` (H, W, 3) uint8 RGB tensor; ``pixel_boxes`` (K, 4) integer boxes from :func:`clip_box`, on
        the same device. Pixel values differ from OpenCV's by at most one level (docs/context.md).
        """
        height, width = image.shape[:2]
        whole = torch.tensor([[0, 0, width, height]], device=image.device)
        scene, bodies = resize_boxes(image, [(whole, self.context_size), (pixel_boxes, self.body_size)])
        return (standardize(scene, self.context_mean, self.context_std),
                standardize(bodies, self.body_mean, self.body_std))


def normalize(images: np.ndarray | torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32, scaled to [0, 1] then (x - mean) / std per channel."""
    batch = torch.as_tensor(images)
    if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != torch.uint8:
        raise ValueError(f"expected (N, H, W, 3) uint8 images, got {tuple(batch.shape)} {batch.dtype}")
    return standardize(batch.permute(0, 3, 1, 2).float(), mean, std)


def standardize(pixels: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(N, 3, H, W) float32 pixel values 0-255 -> (x / 255 - mean) / std per channel, on the pixels' device.

    The same operations, in the same order, as torchvision's ToTensor + Normalize, so equal pixels give
    bit-equal tensors. The result is contiguous NCHW whatever the input's strides: a permuted (channels-last)
    input makes the CPU convolutions of the network about 1.5x slower (docs/context.md).
    """
    mean_t = torch.tensor(mean, dtype=torch.float32, device=pixels.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=pixels.device).view(1, 3, 1, 1)
    return ((pixels / 255.0 - mean_t) / std_t).contiguous()


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize to size x size (OpenCV, as the reference preprocessing)."""
    if image.shape[0] == size and image.shape[1] == size:
        return np.ascontiguousarray(image)
    return cv2.resize(np.ascontiguousarray(image), (size, size), interpolation=cv2.INTER_LINEAR)


def clip_box(box: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """Integer pixel box (x0, y0, x1, y1), exclusive end, clipped to the image; None if empty or not finite.

    Every pixel the box touches is kept (start floored, end ceiled); docs/context.md compares this with
    the reference's truncation.
    """
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


def box_sampling_grid(pixel_boxes: torch.Tensor, size: int, height: int, width: int) -> torch.Tensor:
    """(K, size, size, 2) ``grid_sample`` coordinates (x, y; align_corners=False) that resize each box's crop
    to size x size the way ``cv2.resize`` (INTER_LINEAR) does.

    Along each axis, sample i of a box [a, b) sits at pixel a + (i + 0.5)(b - a) / size - 0.5 (half-pixel
    centres), clamped to the box's first and last pixel: OpenCV resizes the crop alone, so it repeats the
    crop's edge pixels and never blends in the pixels just outside the box (``roi_align`` would).
    """
    boxes = pixel_boxes.to(torch.float32)
    centres = torch.arange(size, dtype=torch.float32, device=boxes.device) + 0.5

    def axis(start: torch.Tensor, end: torch.Tensor, extent: int) -> torch.Tensor:
        length = (end - start)[:, None]
        position = torch.minimum((centres * (length / size) - 0.5).clamp_min(0.0), length - 1.0) + start[:, None]
        return (2.0 * position + 1.0) / extent - 1.0

    x = axis(boxes[:, 0], boxes[:, 2], width)[:, None, :].expand(-1, size, -1)
    y = axis(boxes[:, 1], boxes[:, 3], height)[:, :, None].expand(-1, -1, size)
    return torch.stack((x, y), dim=-1)


def resize_boxes(image: torch.Tensor, requests: Sequence[tuple[torch.Tensor, int]]) -> list[torch.Tensor]:
    """Crop and resize boxes of one image, every request in a single ``grid_sample`` call on its device.

    ``image`` (H, W, 3) uint8; each request is (K, 4) integer pixel boxes (exclusive end, inside the image)
    with an output side S, and gives (K, 3, S, S) float32 pixel values, bilinear as :func:`box_sampling_grid`
    and rounded to whole levels as OpenCV's uint8 output is.
    """
    height, width = image.shape[:2]
    grids = [box_sampling_grid(boxes, size, height, width).reshape(-1, 2) for boxes, size in requests]
    pixels = image.permute(2, 0, 1)[None].float()
    samples = F.grid_sample(pixels, torch.cat(grids)[None, None], mode="bilinear", padding_mode="border",
                            align_corners=False).round_()[0, :, 0]
    parts = samples.split([len(grid) for grid in grids], dim=1)
    return [part.view(3, len(boxes), size, size).transpose(0, 1) for part, (boxes, size) in zip(parts, requests)]
