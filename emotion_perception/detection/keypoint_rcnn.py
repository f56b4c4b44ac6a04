"""Person boxes and COCO-17 keypoints in one pass: torchvision's Keypoint R-CNN (ResNet-50 FPN).

Weights come from one of three places, named by ``DetectorConfig.weights``:
- ``"DEFAULT"``: torchvision's published COCO weights, fetched and cached by torch.hub the standard way
  (``$TORCH_HOME/hub/checkpoints``, default ~/.cache/torch); an offline robot can copy the file there;
- a local file: a plain state_dict (for example that same torchvision file), or a ``NAME.pt`` with a
  ``NAME.json`` passport beside it (``weights.save_checkpoint``), whose sha256 is then verified;
- ``""``: none; the detector reports itself unavailable. Random weights exist only for tests and
  benchmarks, asked for explicitly with ``build_detector(config, random_weights=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torchvision.models.detection import KeypointRCNN, KeypointRCNN_ResNet50_FPN_Weights, keypointrcnn_resnet50_fpn

from ..types import Detection
from ..weights import WeightsError, load_checkpoint, load_state_dict

ARCHITECTURE = "keypointrcnn_resnet50_fpn"
"""Passport architecture name of the weights this backend loads."""

PERSON_LABEL = 1
"""Class index of 'person' in the two-class (background, person) COCO keypoint model."""


@dataclass
class DetectorConfig:
    """Person detector settings."""

    weights: str = field(
        default="", metadata={"help": "'' none (stage off), 'DEFAULT' torchvision COCO, or a state_dict file path"})
    device: str = field(default="cpu", metadata={"help": "torch device: 'cpu' or 'cuda' / 'cuda:N'"})
    fp16: bool = field(default=True, metadata={"help": "half-precision autocast when the device is CUDA"})
    score_threshold: float = field(
        default=0.3, metadata={"help": "least person score reported, at most the tracker's high threshold [0-1]"})
    nms_threshold: float = field(
        default=0.5, metadata={"help": "IoU above which overlapping person boxes are suppressed [0-1]"})
    min_size: int = field(
        default=800, metadata={"help": "the image's short side is resized to this before the network [px]"})
    max_size: int = field(default=1333, metadata={"help": "cap on the resized image's long side [px]"})
    max_detections: int = field(
        default=20, metadata={"help": "people reported per image at most (keypoint head cost grows with it)"})


def build_keypoint_rcnn(config: DetectorConfig) -> KeypointRCNN:
    """The Keypoint R-CNN architecture with the config's thresholds and input size, randomly initialised."""
    return keypointrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=2, num_keypoints=17,
        min_size=config.min_size, max_size=config.max_size, box_score_thresh=config.score_threshold,
        box_nms_thresh=config.nms_threshold, box_detections_per_img=config.max_detections)


def load_detector_weights(spec: str) -> tuple[dict[str, torch.Tensor], str]:
    """State dict and a description for ``DEFAULT`` or a file path; WeightsError naming the file on failure."""
    if spec == "DEFAULT":
        published = KeypointRCNN_ResNet50_FPN_Weights.DEFAULT
        try:
            state = torch.hub.load_state_dict_from_url(published.url, progress=False, check_hash=True,
                                                       weights_only=True)
        except Exception as exc:  # network, hash or format failures all mean the same to the user
            cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(published.url).name
            raise WeightsError(f"cannot obtain torchvision {published} from {published.url} ({exc}); "
                               f"offline, copy that file to {cache} or set weights to a local path") from exc
        return state, f"torchvision {published}"
    path = Path(spec).expanduser()
    if path.with_suffix(".json").is_file():
        state, passport = load_checkpoint(path, ARCHITECTURE)
        return state, f"{passport.name} ({path})"
    return load_state_dict(path), str(path)


class PersonDetector:
    """Finds people and their COCO-17 keypoints in RGB images, several images per forward pass."""

    def __init__(self, config: DetectorConfig, model: KeypointRCNN | None, status: str) -> None:
        self.config = config
        self.model = model
        self.status = status
        self.device = torch.device(config.device) if model is not None else torch.device("cpu")

    @property
    def available(self) -> bool:
        return self.model is not None

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """One list of people per image (H x W x 3 uint8 RGB), best score first.

        An unavailable detector returns an empty list per image (see ``status``); a malformed image
        raises ValueError naming its index.
        """
        for index, image in enumerate(images):
            if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
                raise ValueError(f"image {index}: expected an H x W x 3 uint8 RGB array, got {desc}")
            if min(image.shape[:2]) < 2:
                raise ValueError(f"image {index}: too small ({image.shape[1]}x{image.shape[0]} px)")
        if self.model is None or not images:
            return [[] for _ in images]
        autocast = torch.autocast("cuda", dtype=torch.float16, enabled=self.device.type == "cuda" and self.config.fp16)
        with torch.inference_mode(), autocast:
            tensors = [torch.from_numpy(np.ascontiguousarray(image)).to(self.device).permute(2, 0, 1).float().div_(255)
                       for image in images]
            outputs = self.model(tensors)
        return [self._to_detections(output) for output in outputs]

    @staticmethod
    def _to_detections(output: dict[str, torch.Tensor]) -> list[Detection]:
        person = output["labels"] == PERSON_LABEL
        boxes = output["boxes"][person].float().cpu().numpy()
        scores = output["scores"][person].float().cpu().numpy()
        points = output["keypoints"][person][..., :2].float().cpu().numpy()
        # Keypoint R-CNN's keypoint scores are heatmap logits; the sigmoid maps them to [0, 1].
        confidence = torch.sigmoid(output["keypoints_scores"][person].float()).cpu().numpy()
        keypoints = np.concatenate([points, confidence[..., None]], axis=2).astype(np.float32)
        return [Detection(boxes[i].astype(np.float32), float(scores[i]), keypoints[i]) for i in range(len(scores))]


def build_detector(config: DetectorConfig, random_weights: bool = False) -> PersonDetector:
    """The detector the config asks for; unavailable (with the reason in ``status``) when it cannot be built.

    ``random_weights=True`` builds it with random weights, for tests and benchmarks only. Settings that
    make no sense (sizes, thresholds) raise ValueError.
    """
    if config.min_size < 1 or config.max_size < config.min_size or config.max_detections < 1:
        raise ValueError(f"DetectorConfig needs 1 <= min_size <= max_size and max_detections >= 1, got {config}")
    if not (0.0 <= config.score_threshold <= 1.0 and 0.0 < config.nms_threshold <= 1.0):
        raise ValueError(f"DetectorConfig thresholds must lie in [0, 1], got {config}")
    try:
        device = torch.device(config.device)
    except RuntimeError as exc:
        return PersonDetector(config, None, f"invalid device {config.device!r} ({exc}); use 'cpu' or 'cuda'")
    if device.type == "cuda" and not torch.cuda.is_available():
        return PersonDetector(config, None, f"device {config.device!r} requested but CUDA is not available; "
                                            "set device to 'cpu' or run on a GPU machine")
    if random_weights:
        model, status = build_keypoint_rcnn(config), "RANDOM WEIGHTS (tests and benchmarks only)"
    elif not config.weights:
        return PersonDetector(config, None, "no detector weights configured: set weights to 'DEFAULT' "
                                            "(torchvision COCO Keypoint R-CNN) or to a local state_dict file")
    else:
        try:
            state, description = load_detector_weights(config.weights)
            model = build_keypoint_rcnn(config)
            model.load_state_dict(state)
        except WeightsError as exc:
            return PersonDetector(config, None, str(exc))
        except RuntimeError as exc:
            return PersonDetector(config, None, f"{config.weights}: not Keypoint R-CNN weights "
                                                f"({str(exc).splitlines()[0]})")
        status = f"ok: {description}"
    return PersonDetector(config, model.eval().to(device), status)
