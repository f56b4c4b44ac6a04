"""Person boxes and COCO-17 keypoints in one pass: torchvision's Keypoint R-CNN (ResNet-50 FPN).

Weights come from one of three places, named by ``DetectorConfig.weights``:
- ``"DEFAULT"`` (the default): torchvision's published COCO weights, fetched and cached by torch.hub the
  standard way (``$TORCH_HOME/hub/checkpoints``, default ~/.cache/torch) on first use, or beforehand with
  ``emotion-perception weights fetch keypointrcnn``; an offline robot copies the file there;
- a local file: a plain state_dict (for example that same torchvision file), or a ``NAME.pt`` with a
  ``NAME.json`` passport beside it (``weights.save_checkpoint``), whose sha256 is then verified;
- ``""``: none; the detector reports itself unavailable. Random weights exist only for tests and
  benchmarks, asked for explicitly with ``build_detector(config, random_weights=True)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import KeypointRCNN, KeypointRCNN_ResNet50_FPN_Weights, keypointrcnn_resnet50_fpn

from ..runtime.acceleration import accelerate_network
from ..runtime.loading import stage_load_problem
from ..types import Detection
from ..labels import COCO_KEYPOINTS
from ..runtime.export import ExportableNetwork, Sizes, example_generator
from ..runtime.weights import WeightsError, WeightsPassport, copy_from_dir, load_checkpoint, load_state_dict
from .base import IDENTITY, DetectorWeights, check_images

if TYPE_CHECKING:
    from .registry import DetectorConfig

ARCHITECTURE = "keypointrcnn_resnet50_fpn"
"""Passport architecture name of the weights this backend loads."""

PERSON_LABEL = 1
"""Class index of 'person' in the two-class (background, person) COCO keypoint model."""

SCORE_CALIBRATION = IDENTITY
"""The tracker's thresholds were tuned on this backend's scores (tracking/byte_tracker.py)."""


def build_keypoint_rcnn(config: DetectorConfig) -> KeypointRCNN:
    """The Keypoint R-CNN architecture with the config's thresholds and input size, randomly initialised."""
    return keypointrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=2, num_keypoints=17,
        min_size=config.min_size, max_size=config.max_size, box_score_thresh=config.score_threshold,
        box_nms_thresh=config.nms_threshold, box_detections_per_img=config.max_detections)


def default_weights_cache_path() -> Path:
    """Where torch.hub keeps torchvision's published Keypoint R-CNN weights (``$TORCH_HOME/hub/checkpoints``)."""
    url = KeypointRCNN_ResNet50_FPN_Weights.DEFAULT.url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


WEIGHTS_NAME = "keypointrcnn"
"""The name `weights list|fetch` give torchvision's Keypoint R-CNN weights (cached by torch.hub, not by us)."""
FETCH_DEFAULT_COMMAND = f"emotion-perception weights fetch {WEIGHTS_NAME}"
"""What a user runs (on a machine with internet) to cache the DEFAULT weights."""


def fetch_default_weights(download: bool = True, source_dir: Path | None = None) -> Path:
    """torchvision's published weights in the torch.hub cache, downloaded first when ``download`` and absent,
    or copied from ``source_dir`` (which must hold the file under torchvision's name) without downloading.

    WeightsError (naming the cache file and the command that fetches it) when they are neither cached nor
    obtainable: an offline robot copies the file into the cache or points ``detector.weights`` at a file.
    """
    published = KeypointRCNN_ResNet50_FPN_Weights.DEFAULT
    cache = default_weights_cache_path()
    match = torch.hub.HASH_REGEX.search(cache.name)  # torchvision names carry a sha256 prefix, checked on copy
    if source_dir is not None and not cache.is_file():
        cache.parent.mkdir(parents=True, exist_ok=True)
        copied = copy_from_dir(source_dir, [cache.name], cache, match.group(1) if match else "")
        if copied is None:
            raise WeightsError(f"{source_dir} holds no {cache.name} (torchvision {published})")
        return copied
    if cache.is_file() or not download:
        if not cache.is_file():
            raise WeightsError(f"torchvision {published} is not cached at {cache} and this start does not download; "
                               f"run `{FETCH_DEFAULT_COMMAND}` on a machine with internet (or copy the file there)")
        return cache
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(published.url, str(cache), hash_prefix=match.group(1) if match else None,
                                       progress=False)
    except Exception as exc:  # network failures of every kind mean the same to the user
        raise WeightsError(f"cannot download torchvision {published} from {published.url} ({exc}); offline robots: "
                           f"run `{FETCH_DEFAULT_COMMAND}` where there is internet and copy {cache.name} to "
                           f"{cache.parent}, or set detector.weights to a local file") from exc
    return cache


def load_detector_weights(spec: str, download: bool = True) -> tuple[dict[str, torch.Tensor], str]:
    """State dict and a description for ``DEFAULT`` or a file path; WeightsError naming the file on failure."""
    if spec == "DEFAULT":
        path = fetch_default_weights(download)
        try:
            return load_state_dict(path), f"torchvision {KeypointRCNN_ResNet50_FPN_Weights.DEFAULT} ({path})"
        except WeightsError as exc:
            raise WeightsError(f"{exc}; delete it and run `{FETCH_DEFAULT_COMMAND}`") from exc
    path = Path(spec).expanduser()
    if path.with_suffix(".json").is_file():
        state, passport = load_checkpoint(path, ARCHITECTURE)
        return state, f"{passport.name} ({path})"
    return load_state_dict(path), str(path)


class KeypointRCNNDetector:
    """Finds people and their COCO-17 keypoints in RGB images, several images per forward pass (a
    detection.PersonDetector).

    Precision (fp16 autocast or not) is the caller's: the pipeline runs every network inside
    device.inference_context.
    """

    def __init__(self, config: DetectorConfig, model: KeypointRCNN | None, status: str,
                 device: torch.device | str = "cpu") -> None:
        self.config = config
        self.model = model
        self.status = status
        self.device = torch.device(device)
        self.score_calibration = SCORE_CALIBRATION

    @property
    def available(self) -> bool:
        return self.model is not None

    def to(self, device: torch.device) -> None:
        """Move the network to ``device`` (the node parks it on the CPU while it is inactive)."""
        self.device = torch.device(device)
        if self.model is not None:
            self.model.to(self.device)

    def accelerate(self, mode: str, precision: str) -> str:
        """Compile the backbone (ResNet-50 + FPN, most of the detector's time) when ``mode`` is "compile"; a note
        for the log. The heads stay eager (their shapes follow the proposals NMS keeps), and so does all of it
        for "tensorrt", which is out of scope here (docs/acceleration.md)."""
        if self.model is None or mode == "eager":
            return f"{mode}: detector eager ({self.status})"
        if mode == "tensorrt":
            return "tensorrt: not for the Keypoint R-CNN detector (out of scope, see docs/acceleration.md): eager"
        device = self.device
        with torch.inference_mode():  # the size the backbone sees for a 640 x 480 frame; others reuse its graph
            height, width = self.model.transform([torch.zeros(3, 480, 640, device=device)])[0].tensors.shape[-2:]

        def frames(count: int) -> tuple[torch.Tensor, ...]:
            return (torch.randn(count, 3, height, width, device=device),)

        self.model.backbone, note = accelerate_network(self.model.backbone, frames, device, precision, mode,
                                                       name="detector backbone", batches=(1,), cpu_conv_layout=True,
                                                       part="detector")
        return note

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """One list of people per image (H x W x 3 uint8 RGB), best score first.

        An unavailable detector returns an empty list per image (see ``status``); a malformed image
        raises ValueError naming its index.
        """
        check_images(images)
        if self.model is None or not images:
            return [[] for _ in images]
        with torch.inference_mode():
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


def build_detector(config: DetectorConfig, device: torch.device, *, random_weights: bool,
                   download: bool) -> KeypointRCNNDetector:
    """The backend's builder (detection.registry.build_detector documents the arguments); ``download=False``
    reads DEFAULT weights from the torch.hub cache only."""
    problem = stage_load_problem(config, "detector", device, "no detector weights configured: set detector.weights "
                                 "to 'DEFAULT' (torchvision COCO Keypoint R-CNN) or to a local state_dict file")
    if random_weights:
        model, status = build_keypoint_rcnn(config), "RANDOM WEIGHTS (tests and benchmarks only)"
    elif problem:
        return KeypointRCNNDetector(config, None, problem, device)
    else:
        try:
            state, description = load_detector_weights(config.weights, download)
            model = build_keypoint_rcnn(config)
            model.load_state_dict(state)
        except WeightsError as exc:
            return KeypointRCNNDetector(config, None, str(exc), device)
        except RuntimeError as exc:
            return KeypointRCNNDetector(config, None, f"{config.weights}: not Keypoint R-CNN weights "
                                                f"({str(exc).splitlines()[0]})", device)
        status = f"ok: {description}"
    return KeypointRCNNDetector(config, model.eval().to(device), status, device)


def _fetch_for_command(source_dir: Path | None, weights_dir: Path | None) -> None:
    """`weights fetch keypointrcnn`: into the torch.hub cache (``--dir`` does not apply)."""
    print(f"{WEIGHTS_NAME}: {fetch_default_weights(source_dir=source_dir)} (torch.hub cache, sha256 prefix verified)")


RELEASED_WEIGHTS: tuple[DetectorWeights, ...] = (DetectorWeights(
    passport=WeightsPassport(
        name=WEIGHTS_NAME, architecture=ARCHITECTURE, labels=COCO_KEYPOINTS,
        file_name=Path(KeypointRCNN_ResNet50_FPN_Weights.DEFAULT.url).name,
        url=KeypointRCNN_ResNet50_FPN_Weights.DEFAULT.url, license="BSD-3-Clause (torchvision), COCO",
        trained_on="COCO 2017 person keypoints (torchvision's published weights)"),
    location=default_weights_cache_path, fetch=_fetch_for_command),)
"""torchvision's published weights, cached by torch.hub (by name only: robots with internet fetch them on first use)."""

EXPORT_OUTPUTS = ("boxes", "labels", "scores", "keypoints", "keypoints_scores")
EXPORT_TOLERANCE = 1e-3
"""Its export check's tolerance: its rounded box coordinates set RoIAlign's sampling points for the box and
keypoint heads, so differences pass from stage to stage (measured 4.7e-5 on boxes, 8.1e-5 on keypoint scores)."""


class OneImageKeypointRCNN(nn.Module):
    """Keypoint R-CNN on one (3, H, W) image in [0, 1], its detections as a tuple (ONNX has no list of dicts)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        (detections,) = self.model([image])
        return tuple(detections[name] for name in EXPORT_OUTPUTS)


def _export_build(weights: str | None) -> nn.Module:
    """The detector with the default DetectorConfig baked in; random weights keep every box (score threshold
    0), as their scores mean nothing and a check needs detections to compare."""
    from .registry import DetectorConfig

    if weights is None:
        return OneImageKeypointRCNN(build_keypoint_rcnn(DetectorConfig(score_threshold=0.0))).eval()
    model = build_keypoint_rcnn(DetectorConfig())
    model.load_state_dict(load_detector_weights(weights)[0])
    return OneImageKeypointRCNN(model).eval()


def _export_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    return (torch.rand(3, sizes["height"], sizes["width"], generator=example_generator()),)


EXPORTABLE_NETWORKS: tuple[ExportableNetwork, ...] = (ExportableNetwork(
    name="keypointrcnn", summary="torchvision Keypoint R-CNN person detector: one image (3, H, W) in [0, 1] "
                                 "-> boxes, labels, scores, COCO-17 keypoints and their scores",
    build=_export_build, example_inputs=_export_inputs,
    input_names=("image",), input_axes=({1: "height", 2: "width"},), output_names=EXPORT_OUTPUTS,
    export_sizes={"height": 480, "width": 640},
    check_sizes=({"height": 480, "width": 640}, {"height": 360, "width": 300}),
    default_weights="DEFAULT", tracer=True, tolerance=EXPORT_TOLERANCE),)
"""The whole detector in one graph (the TorchScript tracer: its control flow depends on the data)."""
