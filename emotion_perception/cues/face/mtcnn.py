"""MTCNN face detection (Zhang et al. 2016): three small cascaded networks, faces with 5 landmarks.

P-Net slides a 12 px window (stride 2) over an image pyramid and proposes faces at every scale; R-Net
(24x24 crops) and O-Net (48x48 crops) re-score and refine the survivors, O-Net also gives five landmarks.
Each stage regresses box offsets (in units of the box's width and height) and prunes with non-maximum
suppression; between stages boxes are made square. The weights are the MTCNN authors' release as
converted to PyTorch by facenet-pytorch (see the ``facenet_mtcnn_*`` passports); we only read their
state_dicts. Crops for R-Net and O-Net are cut for all candidates at once with ``roi_align`` (zeros
outside the image, as the original pads), so each network runs once per stage on one batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import box_area, nms, roi_align

from ...runtime.weights import WeightsError, load_state_dict, published_path
from .weights import FACE_WEIGHTS

DEFAULT_WEIGHTS = "facenet_mtcnn"
"""Prefix of the released P/R/O-Net weights: facenet_mtcnn_pnet, facenet_mtcnn_rnet, facenet_mtcnn_onet."""

CELL_SIZE = 12
"""P-Net's window [px of the scaled image]."""
CELL_STRIDE = 2
"""P-Net's step between windows [px of the scaled image] (its one 2x2 max-pool)."""
LANDMARKS: tuple[str, ...] = ("image_left_eye", "image_right_eye", "nose", "image_left_mouth_corner",
                              "image_right_mouth_corner")
"""O-Net's five points, in output order (left/right as seen in the image)."""


def _flatten_whc(x: torch.Tensor) -> torch.Tensor:
    """Flatten (N, C, H, W) features in (W, H, C) order: the converted Caffe dense weights expect it."""
    return x.permute(0, 3, 2, 1).flatten(1)


class PNet(nn.Module):
    """Proposal network: fully convolutional, one face score and box offsets per 12 px window."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, H, W) normalised -> face probability (N, h, w), offsets (N, 4, h, w)."""
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return torch.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


class RNet(nn.Module):
    """Refinement network on 24x24 crops: face score and box offsets."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, 24, 24) normalised -> face probability (N,), offsets (N, 4)."""
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu4(self.dense4(_flatten_whc(self.prelu3(self.conv3(x)))))
        return torch.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """Output network on 48x48 crops: face score, box offsets and five landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, 3, 48, 48) normalised -> face probability (N,), offsets (N, 4), landmarks (N, 10): 5 x then 5 y."""
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu5(self.dense5(_flatten_whc(self.prelu4(self.conv4(x)))))
        return torch.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_2(x), self.dense6_3(x)


@dataclass
class FaceDetections:
    """The faces found in one image, best first."""

    boxes: np.ndarray
    """(K, 4) float32 x_min, y_min, x_max, y_max [px]."""
    scores: np.ndarray
    """(K,) float32 O-Net face probability [0-1]."""
    landmarks: np.ndarray
    """(K, 5, 2) float32 x, y [px] in :data:`LANDMARKS` order."""

    def __len__(self) -> int:
        return len(self.boxes)


def _normalise(pixels: torch.Tensor) -> torch.Tensor:
    """Pixel values as the networks take them, in channels-last memory like the networks' weights."""
    return ((pixels - 127.5) * (1.0 / 128.0)).contiguous(memory_format=torch.channels_last)


def _calibrate(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Apply regressed offsets (fractions of the box's width/height) to (K, 4) boxes."""
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    return boxes + offsets * size


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """The square with the box's centre and its longer side."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(dim=1, keepdim=True).values / 2
    return torch.cat([centre - half, centre + half], dim=1)


def _nms_min(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """NMS with overlap = intersection / smaller area: also removes a box lying inside a better one."""
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    top_left = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    intersection = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    area = box_area(boxes)
    overlap = (intersection / torch.minimum(area[:, None], area[None, :]).clamp(min=1e-6)).cpu()
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in range(len(boxes)):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= overlap[i] > threshold
    return order[torch.tensor(keep, dtype=torch.long, device=order.device)]


class MTCNN:
    """The three-stage detector on one torch device; call it with an RGB uint8 image."""

    def __init__(self, pnet: PNet, rnet: RNet, onet: ONet, device: str | torch.device = "cpu",
                 min_face_size: float = 20.0, thresholds: Sequence[float] = (0.6, 0.7, 0.7),
                 scale_factor: float = 0.709, nms_thresholds: Sequence[float] = (0.5, 0.7, 0.7, 0.7)) -> None:
        """``thresholds``: least face probability kept after P-, R- and O-Net; ``scale_factor``: ratio between
        pyramid levels; ``nms_thresholds``: P-Net per scale, P-Net across scales, R-Net (IoU) and O-Net
        (intersection over the smaller box); ``min_face_size``: smallest face searched for [px]."""
        if min_face_size < CELL_SIZE / 4 or not 0 < scale_factor < 1 or len(thresholds) != 3 or len(nms_thresholds) != 4:
            raise ValueError(f"bad MTCNN settings: min_face_size={min_face_size} (>= 3 px), scale_factor={scale_factor} "
                             f"(in (0, 1)), thresholds={thresholds} (3), nms_thresholds={nms_thresholds} (4)")
        self.device = torch.device(device)
        # Channels-last memory: on CPU the convolutions and max-pools run 2-4 times faster than in NCHW.
        self.pnet, self.rnet, self.onet = (net.to(self.device, memory_format=torch.channels_last).eval()
                                           for net in (pnet, rnet, onet))
        self.min_face_size = float(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.scale_factor = float(scale_factor)
        self.nms_thresholds = tuple(float(t) for t in nms_thresholds)

    def to(self, device: str | torch.device) -> None:
        self.device = torch.device(device)
        for net in (self.pnet, self.rnet, self.onet):
            net.to(self.device, memory_format=torch.channels_last)

    def scales(self, height: int, width: int) -> list[float]:
        """Pyramid scales: the smallest face maps to P-Net's 12 px window, then smaller by scale_factor."""
        scale = CELL_SIZE / self.min_face_size
        scales = []
        while min(height, width) * scale >= CELL_SIZE:
            scales.append(scale)
            scale *= self.scale_factor
        return scales

    def __call__(self, image: np.ndarray) -> FaceDetections:
        """Faces in an (H, W, 3) uint8 RGB image."""
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got {getattr(image, 'shape', type(image))}")
        with torch.inference_mode():
            pixels = torch.from_numpy(np.ascontiguousarray(image)).to(self.device).permute(2, 0, 1)[None].float()
            boxes = self._propose(pixels)
            if len(boxes):
                boxes = self._refine(pixels, boxes)
            if len(boxes):
                boxes, scores, landmarks = self._output(pixels, boxes)
                return FaceDetections(boxes.cpu().numpy().astype(np.float32), scores.cpu().numpy().astype(np.float32),
                                      landmarks.cpu().numpy().astype(np.float32))
        return FaceDetections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))

    def _propose(self, pixels: torch.Tensor) -> torch.Tensor:
        """P-Net over the pyramid -> (K, 4) square candidate boxes [px]."""
        height, width = pixels.shape[2:]
        found_boxes, found_scores, found_offsets = [], [], []
        level = pixels
        for scale in self.scales(height, width):
            # Each level is an area average of the one above it: cheaper than from the full image every time.
            level = F.interpolate(level, size=(math.ceil(height * scale), math.ceil(width * scale)), mode="area")
            probability, offsets = self.pnet(_normalise(level))
            rows, cols = torch.nonzero(probability[0] >= self.thresholds[0], as_tuple=True)
            if len(rows) == 0:
                continue
            corner = torch.stack([cols, rows], dim=1).float() * CELL_STRIDE
            boxes = torch.cat([corner, corner + CELL_SIZE], dim=1) / scale
            scores = probability[0, rows, cols]
            keep = nms(boxes, scores, self.nms_thresholds[0])
            found_boxes.append(boxes[keep])
            found_scores.append(scores[keep])
            found_offsets.append(offsets[0, :, rows, cols].T[keep])
        if not found_boxes:
            return torch.zeros((0, 4), device=self.device)
        boxes, scores, offsets = torch.cat(found_boxes), torch.cat(found_scores), torch.cat(found_offsets)
        keep = nms(boxes, scores, self.nms_thresholds[1])
        return _square(_calibrate(boxes[keep], offsets[keep]))

    def _crops(self, pixels: torch.Tensor, boxes: torch.Tensor, size: int, samples: int) -> torch.Tensor:
        """(K, 3, size, size) normalised crops of the boxes; zeros (black) outside the image.

        Each output pixel averages ``samples`` x ``samples`` bilinear samples of its cell, or (-1) as many as
        the cell is wide: an area average, dearer on large boxes.
        """
        rois = torch.cat([torch.zeros((len(boxes), 1), device=boxes.device), boxes], dim=1)
        return _normalise(roi_align(pixels, rois, output_size=size, spatial_scale=1.0, sampling_ratio=samples,
                                    aligned=True))

    def _refine(self, pixels: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """R-Net on all candidates in one batch -> fewer, better (K, 4) square boxes."""
        scores, offsets = self.rnet(self._crops(pixels, boxes, 24, samples=2))  # many candidates: cheap crops
        passed = scores >= self.thresholds[1]
        boxes, scores, offsets = boxes[passed], scores[passed], offsets[passed]
        keep = nms(boxes, scores, self.nms_thresholds[2])
        return _square(_calibrate(boxes[keep], offsets[keep]))

    def _output(self, pixels: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """O-Net on all candidates in one batch -> final boxes, scores and landmarks, best first."""
        scores, offsets, points = self.onet(self._crops(pixels, boxes, 48, samples=-1))  # few: area crops
        passed = scores >= self.thresholds[2]
        boxes, scores, offsets, points = boxes[passed], scores[passed], offsets[passed], points[passed]
        size = boxes[:, 2:] - boxes[:, :2]
        landmarks = torch.stack([boxes[:, None, 0] + size[:, None, 0] * points[:, :5],
                                 boxes[:, None, 1] + size[:, None, 1] * points[:, 5:]], dim=2)
        boxes = _calibrate(boxes, offsets)
        keep = _nms_min(boxes, scores, self.nms_thresholds[3]) if len(boxes) else torch.zeros(0, dtype=torch.long)
        return boxes[keep], scores[keep], landmarks[keep]


def load_mtcnn(weights: str = DEFAULT_WEIGHTS, device: str | torch.device = "cpu", **settings) -> MTCNN:
    """The detector with the released weights ``{weights}_pnet``/``_rnet``/``_onet`` (sha256-checked state_dicts,
    loaded with ``weights_only=True``); ``settings`` as :class:`MTCNN`. WeightsError if one is missing."""
    networks = []
    for stage, network in (("pnet", PNet()), ("rnet", RNet()), ("onet", ONet())):
        name = f"{weights}_{stage}"
        passport = FACE_WEIGHTS.get(name)
        if passport is None or passport.architecture != f"mtcnn_{stage}":
            raise WeightsError(f"no released MTCNN weights named {name!r}; known: "
                               f"{', '.join(n for n, p in FACE_WEIGHTS.items() if p.architecture.startswith('mtcnn_'))}")
        try:
            network.load_state_dict(load_state_dict(published_path(passport), passport.sha256), strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"{name}: does not fit our {stage}: {exc}".splitlines()[0]) from exc
        networks.append(network)
    return MTCNN(*networks, device=device, **settings)
