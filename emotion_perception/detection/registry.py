"""The person-detector backends by name, and the settings that choose and tune them (``detector.*``).

A backend is one module of this package with a ``build_detector(config, device, *, random_weights, download)``
function returning a :class:`~emotion_perception.detection.base.PersonDetector`; the module also holds its score
calibration and, where it has them, its released weights (``RELEASED_WEIGHTS``, a tuple of
:class:`~emotion_perception.detection.base.DetectorWeights`: `emotion-perception weights list|fetch` show and fetch
them) and its networks' ONNX export entries (``EXPORTABLE_NETWORKS``: `emotion-perception export`). Adding a backend is its module and one line in ``BACKENDS``; a
backend of another distribution declares its module in the entry-point group ``emotion_perception.detectors``
(runtime/plugins.py) and joins the list under that name. Backends are looked up by name when built
(``backend_module``), so an optional dependency of one (onnxruntime for ``onnx``), or a plug-in's import, is
needed only by those who choose it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from dataclasses import dataclass

import torch

from ..configuration import setting, validate_config
from ..runtime import plugins
from ..runtime.export import ExportableNetwork
from .base import DetectorWeights, PersonDetector
from .movenet_detector import RUNTIMES as MOVENET_RUNTIMES


@dataclass(frozen=True)
class DetectorBackend:
    module: str
    """Module that holds the backend: relative to emotion_perception.detection (".movenet_detector") or, for a
    plug-in, absolute."""
    summary: str
    weights_hint: str
    """How a user gets its weights (said when a detector without them is refused)."""


BACKENDS: dict[str, DetectorBackend] = {
    "movenet_multipose": DetectorBackend(".movenet_detector", "Google's MoveNet MultiPose Lightning (Apache-2.0): "
                                                             "at most 6 people, ~0.1 s CPU per frame at 512 (onnxruntime)",
                                         "`emotion-perception weights fetch movenet_multipose`"),
    "keypointrcnn": DetectorBackend(".keypoint_rcnn", "torchvision's Keypoint R-CNN (ResNet-50 FPN): crowds and "
                                                     "accuracy, seconds per frame on a CPU; BSD weights via torch.hub",
                                    "`emotion-perception weights fetch keypointrcnn`"),
    "onnx": DetectorBackend(".onnx_pose", "a pose model you export to ONNX yourself (e.g. a YOLO-pose export) in "
                                         "the layout of docs/front_end.md; detector.weights names the file",
                            "export a pose model to ONNX (docs/front_end.md)"),
}
"""Backend name (the value of ``detector.model``) -> where it lives: the shipped ones, then the plug-ins'."""


def _plugin_backends() -> dict[str, DetectorBackend]:
    """The backends installed distributions declare (``name = package.module``), found without importing them;
    one whose name a shipped backend has, or whose value is no module, is logged and left out."""
    found = {}
    for entry in plugins.declared(plugins.DETECTOR_GROUP):
        if entry.name in BACKENDS or entry.attr:
            plugins.skip(entry, "the name of a shipped backend" if entry.name in BACKENDS
                         else "its value must name a module (with build_detector), not an attribute")
            continue
        distribution = entry.dist.name if entry.dist is not None else "another distribution"
        found[entry.name] = DetectorBackend(entry.module, f"a plug-in of {distribution} ({entry.module})",
                                            f"see {distribution}'s documentation")
    return found


BACKENDS.update(_plugin_backends())


@dataclass
class DetectorConfig:
    """Person detector settings (its device and precision are the pipeline's).

    Fields serve every backend unless their help names the backends they serve."""

    model: str = setting("movenet_multipose", "person detector backend (docs/front_end.md): "
                         + "; ".join(f"'{name}' {backend.summary}" for name, backend in BACKENDS.items()),
                         choices=tuple(BACKENDS))
    weights: str = setting(
        "DEFAULT", "'DEFAULT' the backend's published weights (movenet_multipose: fetched by `emotion-perception "
                   "weights fetch movenet_multipose`, which set-up runs; keypointrcnn: torchvision's, downloaded "
                   "and cached on first use or pre-fetched the same way), a weights file path "
                   "(onnx: the .onnx file; it has no DEFAULT), or '' for none (the detector is off and "
                   "/diagnostics says ERROR)")
    input_size: int = setting(
        512, "movenet_multipose: long side of the letterboxed network input, a multiple of 32; larger finds "
             "smaller people and costs more (docs/front_end.md has the table) [px]", min=64, max=1024)
    movenet_runtime: str = setting(
        "auto", "movenet_multipose: what runs the network on a CPU: 'auto' the ONNX graph that `weights fetch "
                "movenet_multipose` exports beside the weights, in onnxruntime (about 2.4x faster than torch), "
                "where it is present, valid for these weights and onnxruntime is installed, else torch; 'torch'; "
                "'onnxruntime' only (the detector is off, saying why, without a valid graph). CUDA runs torch",
        choices=MOVENET_RUNTIMES)
    movenet_score_threshold: float = setting(
        0.1, "movenet_multipose: least person score (MoveNet's own scale, before calibration) reported [0-1]",
        min=0.0, max=1.0)
    score_threshold: float = setting(
        0.3, "keypointrcnn: least person score reported, at most the tracker's high threshold [0-1]",
        min=0.0, max=1.0)
    nms_threshold: float = setting(
        0.5, "keypointrcnn, onnx: IoU above which overlapping person boxes are suppressed [0-1]", above=0.0, max=1.0)
    min_size: int = setting(800, "keypointrcnn: the image's short side is resized to this before the network [px]",
                            min=32)
    max_size: int = setting(1333, "keypointrcnn: cap on the resized image's long side [px]", min=32)
    max_detections: int = setting(
        20, "keypointrcnn: people reported per image at most (keypoint head cost grows with it)", min=1, max=1000)
    onnx_input_size: int = setting(
        640, "onnx: long side of the letterboxed network input when the model's input size is dynamic; a model "
             "with a fixed input size gets that [px]", min=32, max=4096)
    onnx_score_threshold: float = setting(
        0.25, "onnx: least person score (the model's own scale) reported [0-1]", min=0.0, max=1.0)

    def check(self) -> None:
        if self.input_size % 32:
            raise ValueError(f"input_size ({self.input_size}) must be a multiple of 32")
        if self.max_size < self.min_size:
            raise ValueError(f"max_size ({self.max_size}) must be at least min_size ({self.min_size})")


def backend_module(name: str):
    """The module of backend ``name``; ValueError listing the backends for an unknown one."""
    if name not in BACKENDS:
        raise ValueError(f"unknown detector backend {name!r}; expected one of {tuple(BACKENDS)}")
    try:
        return importlib.import_module(BACKENDS[name].module, __package__)
    except Exception as exc:  # a plug-in's import may fail in any way: the detector is refused, nothing crashes
        if BACKENDS[name].module.startswith("."):
            raise
        raise ValueError(f"detector backend {name!r} ({BACKENDS[name].module}) cannot be loaded: "
                         f"{type(exc).__name__}: {exc}") from exc


def loadable_backend_modules() -> list[ModuleType]:
    """Every backend's module, in backend order, but a plug-in's that cannot be imported: that one is logged
    (once per process) and left out here, and choosing it is refused with the reason (:func:`backend_module`)."""
    modules = []
    for name in BACKENDS:
        try:
            modules.append(backend_module(name))
        except ValueError as exc:
            if name not in _unloadable:
                _unloadable.add(name)
                plugins.log.error("emotion_perception: %s; left out", exc)
    return modules


_unloadable: set[str] = set()


def build_detector(config: DetectorConfig, device: torch.device | str = "cpu", random_weights: bool = False,
                   download: bool = True) -> PersonDetector:
    """The detector ``config.model`` names; unavailable (the reason in its ``status``) when it cannot be built.

    ``random_weights=True`` builds it with random weights, for tests and benchmarks only. ``download=False``
    never reaches the network for DEFAULT weights (only what is cached or fetched). Settings that make no
    sense raise ValueError.
    """
    validate_config(config, "detector")
    return backend_module(config.model).build_detector(config, torch.device(device), random_weights=random_weights,
                                                       download=download)


def released_weights() -> dict[str, DetectorWeights]:
    """Every backend's released weights (its module's ``RELEASED_WEIGHTS``) by name, in backend order."""
    return {entry.passport.name: entry for module in loadable_backend_modules()
            for entry in getattr(module, "RELEASED_WEIGHTS", ())}


def exportable_networks() -> dict[str, ExportableNetwork]:
    """Every backend's ONNX export entries (its module's ``EXPORTABLE_NETWORKS``) by name, in backend order."""
    return {network.name: network for module in loadable_backend_modules()
            for network in getattr(module, "EXPORTABLE_NETWORKS", ())}
