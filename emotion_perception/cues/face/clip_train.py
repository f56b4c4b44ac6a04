"""Face-clip data, a generated task whose answer lies in time, and training/evaluation of the clip models.

**Data layout** (numpy ``.npz``, read with ``allow_pickle=False``):

| key           | shape / dtype                                   | meaning                                        |
|---------------|-------------------------------------------------|------------------------------------------------|
| `videos`      | (N, F, H, W) uint8 grey or (N, F, H, W, 3) RGB  | F consecutive face crops of one track, oldest first |
| `labels`      | (N,) int64                                      | index into `label_names`; −1 = unlabelled       |
| `label_names` | (L,) unicode                                    | e.g. labels.FACE_EXPRESSIONS                    |
| `fps`         | () float64, optional                            | frame rate of the videos [Hz]                   |

**Generated task** (:func:`synthetic_face_videos`): a drawn grey face (oval, eyes, brows, mouth) whose
class is decided by how it changes over the video — **happy**: the mouth corners rise (slowly);
**sad**: they fall; **surprise**: the brows go up (quickly); **angry**: they come down (quickly);
**neutral**: nothing changes. The feature that does not move rests at a random level. A falling ramp is
drawn exactly like a rising one played backwards (start/end levels and onset/duration come from the same
distributions), so the *set* of frames of a happy video is distributed like that of a sad one, and a
surprise video like an angry one: a model blind to frame order can at best tell neutral, "mouth moves"
and "brows move" apart — 60 % on the five classes — while one that reads time can reach 100 %.
Person-to-person variation: face size, place, brightness and contrast, eye spacing, feature sizes,
per-frame head jitter and pixel noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .labels import FACE_EXPRESSIONS
from ...runtime.training import (FitResult, FitSettings, classification_report, fit_classifier, known_labels,
                        predict_probabilities, read_labelled_npz, stratified_split, write_labelled_npz)
from ...runtime.weights import WeightsPassport
from .clip_model import MODEL_DEFAULTS, build_clip_network, clip_passport, video_clips

# --- data layout -------------------------------------------------------------------------------------------------


@dataclass
class FaceClipSet:
    """Labelled face videos: (N, F, H, W, C) uint8 (C = 1 grey or 3 RGB)."""

    videos: np.ndarray
    labels: np.ndarray
    """(N,) int64 index into ``label_names``; −1 unlabelled."""
    label_names: tuple[str, ...] = FACE_EXPRESSIONS
    fps: float = 0.0
    """Frame rate [Hz]; 0 = unknown."""

    @property
    def channels(self) -> int:
        return int(self.videos.shape[-1])


def _as_channels_last(videos: np.ndarray, where: str) -> np.ndarray:
    if videos.ndim == 4:
        videos = videos[..., None]
    if videos.ndim != 5 or videos.shape[-1] not in (1, 3) or videos.dtype != np.uint8:
        raise ValueError(f"{where}: videos must be uint8 (N, F, H, W) or (N, F, H, W, 3), got {videos.dtype} {videos.shape}")
    return videos


def save_face_clips(path: str | Path, videos: np.ndarray, labels: np.ndarray,
                    label_names: tuple[str, ...] = FACE_EXPRESSIONS, fps: float = 0.0) -> Path:
    """Write face videos and labels in the layout above; returns the path (``.npz`` added if missing)."""
    videos = _as_channels_last(np.asarray(videos), str(path))
    return write_labelled_npz(path, "videos", videos[..., 0] if videos.shape[-1] == 1 else videos, labels,
                              label_names, fps)


def load_face_clips(path: str | Path) -> FaceClipSet:
    """Read a face-clip ``.npz`` (layout above), checking shapes."""
    data = read_labelled_npz(path, "videos", "face-clip", "emotion_perception/cues/face/clip_train.py", 0.0)
    return FaceClipSet(_as_channels_last(data.samples, str(path)), data.labels, data.label_names, data.fps)


# --- the generated task ------------------------------------------------------------------------------------------

SYNTHETIC_FRAMES, SYNTHETIC_SIZE = 36, 16
"""Default frames per generated video (4 clips of 9) and side of its face crops [px]."""
SYNTHETIC_CLASSES: dict[str, tuple[str, str]] = {
    "happy": ("mouth", "up"), "sad": ("mouth", "down"), "surprise": ("brows", "up"), "angry": ("brows", "down"),
    "neutral": ("", ""),
}
"""Which feature moves, and which way, in each class of the generated task."""


def _ramp(frames: int, start: float, end: float, duration: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Levels over ``frames``: ``start`` until an onset, a linear change to ``end``, then ``end``.

    Duration (a share of the video) and onset are drawn so that reversed ramps are as likely as forward ones.
    """
    length = rng.uniform(*duration)
    onset = rng.uniform(0.05, 0.95 - length)
    t = np.linspace(0.0, 1.0, frames)
    return start + (end - start) * np.clip((t - onset) / length, 0.0, 1.0)


def render_face_video(mouth: np.ndarray, brows: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """(F, size, size) uint8 grey frames of one drawn person.

    ``mouth`` (F,) in [−1, 1]: −1 corners down, +1 corners up; ``brows`` (F,) in [0, 1]: 0 low, 1 raised.
    """
    frames = len(mouth)
    axis = (np.arange(size) + 0.5) / size * 2 - 1
    v, u = np.meshgrid(axis, axis, indexing="ij")  # v down, u right, both in [−1, 1]
    soft = size / 2.0  # edge sharpness: about one pixel

    def inside(distance: np.ndarray) -> np.ndarray:
        """Anti-aliased mask from a signed distance (negative inside), in image units."""
        return 1.0 / (1.0 + np.exp(np.clip(distance * soft * 2.0, -30, 30)))

    cx, cy = rng.uniform(-0.06, 0.06, size=2)
    half_width, half_height = rng.uniform(0.6, 0.75), rng.uniform(0.78, 0.9)
    background, skin, ink = rng.uniform(30, 80), rng.uniform(160, 210), rng.uniform(10, 50)
    eye_dx, eye_y, eye_r = rng.uniform(0.26, 0.36), rng.uniform(-0.12, -0.04), rng.uniform(0.06, 0.09)
    brow_half, brow_gap = rng.uniform(0.12, 0.17), rng.uniform(0.06, 0.1)
    mouth_y, mouth_half, lip = rng.uniform(0.4, 0.5), rng.uniform(0.25, 0.35), rng.uniform(0.05, 0.07)
    video = np.empty((frames, size, size), dtype=np.uint8)
    for i in range(frames):
        jx, jy = rng.normal(0.0, 0.012, size=2)
        x, y = u - cx - jx, v - cy - jy
        face = inside((np.sqrt((x / half_width) ** 2 + (y / half_height) ** 2) - 1.0) * half_width)
        ink_mask = np.zeros_like(u)
        for side in (-1.0, 1.0):
            eye = np.hypot(x - side * eye_dx, y - eye_y) - eye_r
            brow_y = eye_y - eye_r - brow_gap - 0.3 * brows[i]
            brow = np.maximum(np.abs(x - side * eye_dx) - brow_half, np.abs(y - brow_y) - 0.035)
            ink_mask = np.maximum(ink_mask, np.maximum(inside(eye), inside(brow)))
        curve = mouth_y - 0.3 * mouth[i] * (x / mouth_half) ** 2
        mouth_shape = np.maximum(np.abs(x) - mouth_half, np.abs(y - curve) - lip)
        ink_mask = np.maximum(ink_mask, inside(mouth_shape)) * face
        image = background + (skin - background) * face + (ink - skin) * ink_mask
        image += rng.normal(0.0, 4.0, image.shape)
        video[i] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return video


def synthetic_face_video(emotion: str, frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One generated face video of a class of SYNTHETIC_CLASSES: (frames, size, size) uint8."""
    if emotion not in SYNTHETIC_CLASSES:
        raise ValueError(f"unknown generated face class {emotion!r}; expected one of {tuple(SYNTHETIC_CLASSES)}")
    feature, direction = SYNTHETIC_CLASSES[emotion]
    mouth = np.full(frames, rng.uniform(-1.0, 1.0))
    brows = np.full(frames, rng.uniform(0.0, 1.0))
    if feature:
        low, high = (-1.0, 1.0) if feature == "mouth" else (0.0, 1.0)
        span = high - low
        start = rng.uniform(low, high - 0.6 * span)
        end = rng.uniform(start + 0.5 * span, high)
        if direction == "down":
            start, end = end, start
        duration = (0.5, 0.85) if feature == "mouth" else (0.12, 0.3)
        ramp = _ramp(frames, start, end, duration, rng)
        if feature == "mouth":
            mouth = ramp
        else:
            brows = ramp
    return render_face_video(mouth, brows, size, rng)


def synthetic_face_videos(per_class: int, frames: int = SYNTHETIC_FRAMES, size: int = SYNTHETIC_SIZE, seed: int = 0,
                          label_names: tuple[str, ...] = FACE_EXPRESSIONS) -> FaceClipSet:
    """A balanced labelled set of generated face videos (module doc), labels indexing ``label_names``."""
    rng = np.random.default_rng(seed)
    videos, labels = [], []
    for _ in range(per_class):
        for emotion in SYNTHETIC_CLASSES:
            videos.append(synthetic_face_video(emotion, frames, size, rng))
            labels.append(label_names.index(emotion))
    return FaceClipSet(np.stack(videos)[..., None], np.asarray(labels, dtype=np.int64), tuple(label_names))


# --- training and evaluation -------------------------------------------------------------------------------------


_DEFAULTS = MODEL_DEFAULTS["sistcm_tlstm"]  # frame_bag's shared settings have the same defaults


@dataclass
class ClipTrainConfig:
    """Model settings of `emotion-perception train-face-clips` (saved in the passport)."""

    architecture: str = field(default="sistcm_tlstm", metadata={
        "help": "sistcm_tlstm (SISTCM + two-stream LSTM) or frame_bag (time-blind baseline)"})
    clip_frames: int = field(default=_DEFAULTS["clip_frames"], metadata={"help": "frames per clip K [frames]"})
    grid_rows: int = field(default=_DEFAULTS["grid_rows"], metadata={
        "help": "rows of the super image (columns = ceil(K / rows))"})
    widths: str = field(default=",".join(str(w) for w in _DEFAULTS["widths"]), metadata={
        "help": "channels of the CNN's stages, comma-separated (each stage halves the resolution)"})
    feature_dim: int = field(default=_DEFAULTS["feature_dim"], metadata={
        "help": "size of a clip's (frame_bag: a frame's) feature"})
    hidden: int = field(default=_DEFAULTS["hidden"], metadata={"help": "hidden size of the feature-stream LSTM"})
    emotion_hidden: int = field(default=_DEFAULTS["emotion_hidden"], metadata={
        "help": "hidden size of the emotion-stream LSTM"})
    dropout: float = field(default=_DEFAULTS["dropout"], metadata={
        "help": "dropout on clip features (frame_bag: before the classifier)"})
    stream_weight: float = field(default=0.5, metadata={
        "help": "weight of each stream's own loss beside the fused loss"})

    def model_arguments(self, channels: int) -> dict:
        """Builder arguments of the chosen architecture for videos with ``channels`` channels."""
        if self.architecture not in MODEL_DEFAULTS:
            raise ValueError(f"unknown face-clip architecture {self.architecture!r}; "
                             f"expected one of {tuple(MODEL_DEFAULTS)}")
        try:
            widths = [int(w) for w in self.widths.split(",")]
        except ValueError:
            raise ValueError(f"widths must be comma-separated integers, got {self.widths!r}") from None
        shared = {k: getattr(self, k) for k in MODEL_DEFAULTS[self.architecture] if k not in ("channels", "widths")}
        return {"channels": channels, "widths": widths, **shared}


def two_stream_loss(stream_weight: float):
    """Cross-entropy of the fused logits plus ``stream_weight`` × that of each LSTM stream (deep supervision)."""
    def loss(network: nn.Module, videos: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if not hasattr(network, "streams"):
            return nn.functional.cross_entropy(network(videos), targets)
        logits = network.streams(videos)
        return (nn.functional.cross_entropy(logits.fused, targets)
                + stream_weight * (nn.functional.cross_entropy(logits.feature, targets)
                                   + nn.functional.cross_entropy(logits.emotion, targets)))
    return loss


def _labelled(data: FaceClipSet, order: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    known, labels = known_labels(order, data.labels, data.label_names, "video")
    return data.videos[known], labels


def train_face_clips(data: FaceClipSet, config: ClipTrainConfig | None = None, settings: FitSettings | None = None,
                     device: torch.device | str = "cpu", progress: bool = False,
                     trained_on: str = "") -> tuple[nn.Module, WeightsPassport, FitResult]:
    """Train a face-clip model from scratch on ``data`` (its label names become the model's label order)."""
    config, settings = config or ClipTrainConfig(), settings or FitSettings()
    videos, labels = _labelled(data, data.label_names)
    inputs = video_clips(videos, config.clip_frames, data.channels)
    train_index, val_index = stratified_split(labels, settings.val_fraction, settings.seed)
    torch.manual_seed(settings.seed)
    model_arguments = config.model_arguments(data.channels)
    network = build_clip_network(config.architecture, len(data.label_names), model_arguments)
    fit = fit_classifier(network, inputs, torch.from_numpy(labels), train_index, val_index, settings,
                         loss_fn=two_stream_loss(config.stream_weight), device=device, progress=progress)
    passport = clip_passport(config.architecture, data.label_names, model_arguments, config.clip_frames,
                             data.videos.shape[2:4], trained_on=trained_on,
                             training={"stream_weight": config.stream_weight, **asdict(settings),
                                       "best_epoch": fit.best_epoch, "best_val_accuracy": fit.best_val_accuracy})
    return network, passport, fit


def evaluate_face_clips(network: nn.Module, passport: WeightsPassport, data: FaceClipSet,
                        device: torch.device | str = "cpu") -> dict:
    """Classification report on the videos of ``data`` whose label is in the passport's order."""
    videos, labels = _labelled(data, passport.labels)
    inputs = video_clips(videos, int(passport.config["input"]["clip_frames"]), data.channels)
    return classification_report(labels, predict_probabilities(network, inputs, batch_size=16, device=device),
                                 passport.labels)
