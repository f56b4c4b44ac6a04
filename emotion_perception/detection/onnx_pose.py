"""A multi-person pose model the user exports to ONNX (``detector.model: onnx``), run with onnxruntime.

We never fetch such weights (the popular ones, YOLO-pose, are AGPL); ``detector.weights`` names the user's
file. The layout it must have (docs/front_end.md):

- one input, float32 ``[1, 3, H, W]``: the RGB image scaled to [0, 1], letterboxed by us (aspect kept,
  centred, padded with grey 114/255), H and W fixed by the model or, where dynamic, the long side
  ``detector.onnx_input_size`` and the short side rounded up to a multiple of 32;
- first output, float32 ``[1, N, 56]``: per row a person candidate, ``x_min, y_min, x_max, y_max, score``
  then 17 COCO keypoints (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles) as
  ``x, y, score``, positions in input pixels, scores in [0, 1]. Rows below ``detector.onnx_score_threshold``
  are padding; we suppress overlaps (``detector.nms_threshold``), so N may hold NMS'd or raw candidates.

Its scores are taken as they are (identity calibration): we cannot measure a model we do not ship, so
retune the tracker's thresholds for it if its scores are not probability-like.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
from torchvision.ops import nms

from ..runtime.loading import stage_load_problem
from ..types import Detection
from .base import IDENTITY, check_images

if TYPE_CHECKING:
    from .registry import DetectorConfig

OUTPUT_WIDTH = 5 + 3 * 17
"""Values per person row: box (4), score, 17 x (x, y, score)."""
PAD_VALUE = 114
"""Grey of the letterbox bars (the YOLO convention, so its exports see what they were trained with)."""
STRIDE = 32
SCORE_CALIBRATION = IDENTITY


def letterbox_geometry(height: int, width: int, input_height: int, input_width: int) -> tuple[float, int, int]:
    """Scale and (left, top) padding that fit an image into the input, aspect kept, centred."""
    scale = min(input_height / height, input_width / width)
    left = (input_width - round(width * scale)) // 2
    top = (input_height - round(height * scale)) // 2
    return scale, left, top


class OnnxPoseDetector:
    """A user-exported pose model (a detection.PersonDetector); one onnxruntime session, one image per run."""

    def __init__(self, config: DetectorConfig, path: Path | None, status: str, device: torch.device) -> None:
        self.config = config
        self.path = path
        self.status = status
        self.device = device
        self.score_calibration = SCORE_CALIBRATION
        self.session = None
        self.input_name = ""
        self.input_size: tuple[int | None, int | None] = (None, None)
        if path is not None:
            self._open()

    @property
    def available(self) -> bool:
        return self.session is not None

    def _open(self) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        providers = ["CPUExecutionProvider"]
        if self.device.type == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.session = onnxruntime.InferenceSession(str(self.path), options, providers=providers)
        (model_input,) = self.session.get_inputs()
        shape = model_input.shape
        if len(shape) != 4 or shape[1] != 3:
            raise ValueError(f"its input {model_input.name} is {shape}, expected [1, 3, H, W]")
        self.input_name = model_input.name
        self.input_size = tuple(s if isinstance(s, int) else None for s in shape[2:])

    def to(self, device: torch.device) -> None:
        """Reopen the session on ``device``'s onnxruntime provider (CUDA where onnxruntime has it)."""
        device = torch.device(device)
        if device != self.device:
            self.device = device
            if self.session is not None:
                self._open()

    def accelerate(self, mode: str, precision: str) -> str:
        """Nothing to compile: onnxruntime runs the model as it was exported; a note for the log."""
        return f"{mode}: detector in onnxruntime, not compiled"

    def network_size(self, height: int, width: int) -> tuple[int, int]:
        """The input (H, W) for an image: the model's where fixed, else letterboxed to onnx_input_size."""
        fixed_h, fixed_w = self.input_size
        if fixed_h and fixed_w:
            return fixed_h, fixed_w
        scale = self.config.onnx_input_size / max(height, width)
        return (fixed_h or -(-round(height * scale) // STRIDE) * STRIDE,
                fixed_w or -(-round(width * scale) // STRIDE) * STRIDE)

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        check_images(images)
        if self.session is None:
            return [[] for _ in images]
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        input_height, input_width = self.network_size(height, width)
        scale, left, top = letterbox_geometry(height, width, input_height, input_width)
        canvas = np.full((input_height, input_width, 3), PAD_VALUE, np.uint8)
        resized = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_LINEAR)
        canvas[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
        blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        rows = np.asarray(self.session.run(None, {self.input_name: blob})[0], dtype=np.float32)
        if rows.ndim != 3 or rows.shape[0] != 1 or rows.shape[2] != OUTPUT_WIDTH:
            raise ValueError(f"{self.path}: output {rows.shape}, expected [1, N, {OUTPUT_WIDTH}] (docs/front_end.md)")
        rows = rows[0][np.isfinite(rows[0]).all(axis=1) & (rows[0][:, 4] >= self.config.onnx_score_threshold)]
        rows = rows[(rows[:, 2] > rows[:, 0]) & (rows[:, 3] > rows[:, 1])]
        keep = nms(torch.from_numpy(rows[:, :4]), torch.from_numpy(rows[:, 4]), self.config.nms_threshold).numpy()
        rows = rows[keep]  # best score first
        boxes = (rows[:, :4] - [left, top, left, top]) / scale
        boxes = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
        keypoints = rows[:, 5:].reshape(-1, 17, 3).copy()
        keypoints[..., 0] = (keypoints[..., 0] - left) / scale
        keypoints[..., 1] = (keypoints[..., 1] - top) / scale
        keypoints[..., 2] = np.clip(keypoints[..., 2], 0.0, 1.0)
        return [Detection(box, float(row[4]), points.astype(np.float32))
                for box, row, points in zip(boxes, rows, keypoints)]


def build_detector(config: DetectorConfig, device: torch.device, *, random_weights: bool,
                   download: bool) -> OnnxPoseDetector:
    """The backend's builder (detection.registry.build_detector documents the arguments). Nothing is ever
    downloaded: the file is the user's."""
    if random_weights:
        return OnnxPoseDetector(config, None, "the onnx backend has no random weights: export a model", device)
    no_weights = ("detector.model 'onnx' needs detector.weights set to your exported .onnx file (layout: "
                  "docs/front_end.md); it has no DEFAULT")
    problem = stage_load_problem(config, "detector", device, no_weights)
    if problem or config.weights == "DEFAULT":
        return OnnxPoseDetector(config, None, problem or no_weights, device)
    if importlib.util.find_spec("onnxruntime") is None:
        return OnnxPoseDetector(config, None, "detector.model 'onnx' needs onnxruntime: pip install onnxruntime "
                                              "(onnxruntime-gpu for CUDA)", device)
    path = Path(config.weights).expanduser()
    if not path.is_file():
        return OnnxPoseDetector(config, None, f"{path}: no such ONNX file", device)
    try:
        detector = OnnxPoseDetector(config, path, f"ok: ONNX pose model {path}", device)
        detector.detect([np.zeros((STRIDE, STRIDE, 3), np.uint8)])  # its output layout, checked before any frame
        return detector
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable or foreign files
        return OnnxPoseDetector(config, None, f"{path}: not a pose model of the documented layout "
                                              f"({str(exc).splitlines()[0]})", device)
