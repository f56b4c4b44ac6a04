"""Face clips: SISTCM (super-image spatio-temporal CNN) + a two-stream LSTM, and a time-blind baseline.

A track's face video is cut into consecutive clips of K frames (:func:`video_clips`). **SISTCM** tiles a
clip's K crops, in order, into one *super image* (``grid_rows`` rows, frame k at row k // cols, column
k % cols; empty tiles black) and runs a 2D CNN over it, so its kernels see neighbouring frames side by
side. The feature map is average-pooled per tile, keeping the tiles' order, and a linear layer turns the
K ordered tile features into the clip's **feature** (local spatio-temporal cues); a second linear layer
gives the clip's own class scores, its **clip-level emotion representation**.

The **two-stream LSTM** reads the sequence of clips: the *feature stream* runs an LSTM over the clip
features, the *emotion stream* an LSTM over the clips' class distributions (softmax); each ends in a
linear head, and the fused class scores are the sum of the two streams' logits.

**frame_bag** is the baseline that ignores time: the same CNN trunk over every frame on its own, global
average pooling, then the mean and the standard deviation of each feature over all frames of the video (so it
sees *what* varies, not in which order) and a linear classifier. Reordering the frames of a video cannot
change its output.

Inputs are (N, clips, K, channels, H, W) tensors, uint8 0–255 (or float on that scale); the networks
map them to [−1, 1] themselves.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .labels import FACE_EXPRESSIONS
from ...runtime.weights import WeightsError, WeightsPassport, load_checkpoint

MODEL_DEFAULTS: dict[str, dict] = {
    "sistcm_tlstm": {"channels": 1, "clip_frames": 9, "grid_rows": 3, "widths": [16, 32, 64], "feature_dim": 128,
                     "hidden": 128, "emotion_hidden": 32, "dropout": 0.3},
    "frame_bag": {"channels": 1, "widths": [16, 32, 64], "feature_dim": 128, "dropout": 0.3},
}
"""Builder arguments of each architecture (a passport's ``config["model"]`` holds the ones a checkpoint used)."""
ARCHITECTURES: tuple[str, ...] = tuple(MODEL_DEFAULTS)
PREPROCESSING = ("face crops (grey or RGB uint8), cut into consecutive clips of clip_frames frames (the oldest "
                 "frames that do not fill a clip dropped); pixels mapped to [-1, 1] by the network (x / 127.5 - 1)")


class VideoInputError(ValueError):
    """A face video cannot be cut into clips (wrong shape, too few frames, not finite)."""


def video_clips(videos: np.ndarray, clip_frames: int, channels: int) -> torch.Tensor:
    """(N, F, H, W) grey or (N, F, H, W, C) face videos → (N, F // K, K, C, H, W) tensor, newest frames kept.

    uint8 stays uint8 (the networks normalise); other dtypes become float32 on the 0–255 scale.
    """
    array = np.asarray(videos)
    if array.ndim == 4 and channels == 1:
        array = array[..., None]
    if array.ndim != 5 or array.shape[-1] != channels:
        raise VideoInputError(f"face videos must be (N, F, H, W{'' if channels == 1 else ', ' + str(channels)})"
                              f"{' or (N, F, H, W, 1)' if channels == 1 else ''}, got shape {np.shape(videos)}")
    clips = array.shape[1] // clip_frames
    if clips < 1:
        raise VideoInputError(f"face videos have {array.shape[1]} frames; a clip needs {clip_frames}")
    if array.dtype != np.uint8:
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise VideoInputError("face videos have non-finite pixels")
    array = array[:, array.shape[1] - clips * clip_frames:]
    n, _, height, width, _ = array.shape
    shaped = array.reshape(n, clips, clip_frames, height, width, channels).transpose(0, 1, 2, 5, 3, 4)
    return torch.from_numpy(np.ascontiguousarray(shaped))


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 127.5 - 1.0


def _trunk(channels: int, widths: list[int]) -> nn.Sequential:
    """Conv-BN-ReLU stages, each halving the resolution."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2)]
        channels = width
    return nn.Sequential(*layers)


def _check_input(x: torch.Tensor, channels: int, clip_frames: int | None = None) -> None:
    if x.ndim != 6 or x.shape[3] != channels or (clip_frames is not None and x.shape[2] != clip_frames):
        raise ValueError(f"expected (N, clips, {clip_frames or 'K'}, {channels}, H, W), got {tuple(x.shape)}")


class SISTCM(nn.Module):
    """Clips (B, K, C, H, W) → clip features (B, feature_dim) and clip class logits (B, num_classes)."""

    def __init__(self, num_classes: int, channels: int, clip_frames: int, grid_rows: int, widths: list[int],
                 feature_dim: int) -> None:
        super().__init__()
        if not 1 <= grid_rows <= clip_frames:
            raise ValueError(f"grid_rows must lie in 1..clip_frames ({clip_frames}), got {grid_rows}")
        self.clip_frames, self.rows = clip_frames, grid_rows
        self.cols = math.ceil(clip_frames / grid_rows)
        self.trunk = _trunk(channels, widths)
        self.tile_pool = nn.AdaptiveAvgPool2d((self.rows, self.cols))
        self.feature = nn.Sequential(nn.Linear(widths[-1] * self.rows * self.cols, feature_dim), nn.ReLU(inplace=True))
        self.clip_head = nn.Linear(feature_dim, num_classes)

    def super_image(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, K, C, H, W) → (B, C, rows·H, cols·W): frame k at tile (k // cols, k % cols), empty tiles 0."""
        b, k, c, h, w = clips.shape
        tiles = self.rows * self.cols
        if tiles > k:
            clips = torch.cat([clips, clips.new_zeros(b, tiles - k, c, h, w)], dim=1)
        grid = clips.reshape(b, self.rows, self.cols, c, h, w).permute(0, 3, 1, 4, 2, 5)
        return grid.reshape(b, c, self.rows * h, self.cols * w)

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tiles = self.tile_pool(self.trunk(self.super_image(clips)))
        features = self.feature(tiles.flatten(1))
        return features, self.clip_head(features)


class StreamLogits(NamedTuple):
    """Class logits of the fused model, of each LSTM stream, and of every clip ((N, clips, classes))."""

    fused: torch.Tensor
    feature: torch.Tensor
    emotion: torch.Tensor
    clips: torch.Tensor


class SistcmTwoStreamLSTM(nn.Module):
    """Face videos (N, clips, K, C, H, W) → (N, num_classes) logits: SISTCM per clip, two LSTM streams."""

    def __init__(self, num_classes: int, *, channels: int, clip_frames: int, grid_rows: int,
                 widths: list[int] | tuple[int, ...], feature_dim: int, hidden: int, emotion_hidden: int,
                 dropout: float) -> None:
        """Built by :func:`sistcm_tlstm`, whose MODEL_DEFAULTS hold the default of each argument."""
        super().__init__()
        self.channels, self.clip_frames = channels, clip_frames
        self.sistcm = SISTCM(num_classes, channels, clip_frames, grid_rows, list(widths), feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.feature_lstm = nn.LSTM(feature_dim, hidden, batch_first=True)
        self.emotion_lstm = nn.LSTM(num_classes, emotion_hidden, batch_first=True)
        self.feature_head = nn.Linear(hidden, num_classes)
        self.emotion_head = nn.Linear(emotion_hidden, num_classes)

    def streams(self, videos: torch.Tensor) -> StreamLogits:
        _check_input(videos, self.channels, self.clip_frames)
        n, clips = videos.shape[:2]
        features, clip_logits = self.sistcm(_normalise(videos.flatten(0, 1)))
        features = self.dropout(features).reshape(n, clips, -1)
        clip_logits = clip_logits.reshape(n, clips, -1)
        feature_logits = self.feature_head(self.feature_lstm(features)[0][:, -1])
        emotion_logits = self.emotion_head(self.emotion_lstm(torch.softmax(clip_logits, dim=2))[0][:, -1])
        return StreamLogits(feature_logits + emotion_logits, feature_logits, emotion_logits, clip_logits)

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        return self.streams(videos).fused


class FrameBag(nn.Module):
    """The time-blind baseline: mean and spread over the video's frames of per-frame CNN features."""

    def __init__(self, num_classes: int, *, channels: int, widths: list[int] | tuple[int, ...], feature_dim: int,
                 dropout: float) -> None:
        """Built by :func:`frame_bag`, whose MODEL_DEFAULTS hold the default of each argument."""
        super().__init__()
        self.channels = channels
        self.trunk = nn.Sequential(_trunk(channels, list(widths)), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                   nn.Linear(widths[-1], feature_dim), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * feature_dim, num_classes))

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        _check_input(videos, self.channels)
        n = videos.shape[0]
        features = self.trunk(_normalise(videos.reshape(-1, *videos.shape[3:])))
        features = features.reshape(n, -1, features.shape[-1])
        return self.classifier(torch.cat([features.mean(dim=1), features.std(dim=1, correction=0)], dim=1))


def _settings(architecture: str, config: dict) -> dict:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown face-clip architecture {architecture!r}; expected one of {ARCHITECTURES}")
    unknown = set(config) - set(MODEL_DEFAULTS[architecture])
    if unknown:
        raise ValueError(f"unknown {architecture} settings {sorted(unknown)}; known: {sorted(MODEL_DEFAULTS[architecture])}")
    return {**MODEL_DEFAULTS[architecture], **config}


def sistcm_tlstm(num_classes: int = len(FACE_EXPRESSIONS), **config) -> SistcmTwoStreamLSTM:
    """An untrained SISTCM + two-stream LSTM; ``config`` overrides MODEL_DEFAULTS["sistcm_tlstm"]."""
    return SistcmTwoStreamLSTM(num_classes, **_settings("sistcm_tlstm", config))


def frame_bag(num_classes: int = len(FACE_EXPRESSIONS), **config) -> FrameBag:
    """An untrained time-blind baseline; ``config`` overrides MODEL_DEFAULTS["frame_bag"]."""
    return FrameBag(num_classes, **_settings("frame_bag", config))


def build_clip_network(architecture: str, num_classes: int, config: dict | None = None) -> nn.Module:
    """The network of ``architecture`` built with a passport's model config (unknown names are refused)."""
    settings = _settings(architecture, config or {})
    return {"sistcm_tlstm": SistcmTwoStreamLSTM, "frame_bag": FrameBag}[architecture](num_classes, **settings)


def clip_passport(architecture: str, labels: tuple[str, ...], model: dict, clip_frames: int, image_size: tuple[int, int],
                  name: str = "", trained_on: str = "", training: dict | None = None) -> WeightsPassport:
    """The passport of face-clip weights: label order, builder arguments and the clips they expect."""
    config = {"model": _settings(architecture, model),
              "input": {"clip_frames": int(clip_frames), "image_size": [int(s) for s in image_size]}}
    if training is not None:
        config["training"] = training
    return WeightsPassport(name=name, architecture=architecture, labels=tuple(labels), license="ours (trained locally)",
                           preprocessing=PREPROCESSING, trained_on=trained_on, config=config)


def load_clip_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, WeightsPassport]:
    """A face-clip checkpoint (NAME.pt + passport NAME.json) built, loaded strictly, in eval mode on ``device``."""
    state, passport = load_checkpoint(path)
    architecture = passport.architecture
    if architecture not in ARCHITECTURES:
        raise WeightsError(f"{path} holds {architecture!r} weights, not a face-clip model {ARCHITECTURES}")
    if not passport.labels or not isinstance(passport.config.get("model"), dict) or "input" not in passport.config:
        raise WeightsError(f"{path}: passport needs labels and config 'model' and 'input'")
    try:
        network = build_clip_network(architecture, len(passport.labels), passport.config["model"])
        network.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: weights do not fit the {architecture} its passport describes: {exc}".splitlines()[0]) from exc
    return network.to(device).eval(), passport
