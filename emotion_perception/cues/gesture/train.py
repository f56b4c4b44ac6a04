"""Training and evaluation of ACCM on labelled gesture sets, through the shared toolkit (``training.py``):
joint-motion windows in, :func:`~emotion_perception.runtime.training.fit_classifier` (stratified validation split,
best epoch kept), a classification report out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ...runtime.training import (FitResult, FitSettings, classification_report, fit_classifier, known_labels,
                        predict_probabilities, stratified_split)
from ...runtime.weights import WeightsPassport
from .data import GestureSet
from .model import ACCM, MODEL_DEFAULTS, accm, accm_passport
from .representation import GestureInputError, joint_motion


@dataclass
class GestureTrainConfig:
    """Model and representation settings of `emotion-perception train-gesture` (saved in the passport)."""

    window_frames: int = field(default=60, metadata={"help": "frames per window at --fps [frames] (60 = 2 s at 30 fps)"})
    fps: float = field(default=30.0, metadata={"help": "rate the representation is resampled to [Hz]"})
    joint_channels: int = field(default=MODEL_DEFAULTS["joint_channels"],
                                metadata={"help": "features each joint keeps in the channel-wise branch"})
    width: int = field(default=MODEL_DEFAULTS["width"], metadata={"help": "channels after the joints are mixed"})
    kernel: int = field(default=MODEL_DEFAULTS["kernel"],
                        metadata={"help": "temporal kernel of the convolutions [frames] (odd)"})
    reduction: int = field(default=MODEL_DEFAULTS["reduction"],
                           metadata={"help": "bottleneck reduction of the joint attention"})
    dropout: float = field(default=MODEL_DEFAULTS["dropout"], metadata={"help": "dropout before the classifier"})

    def model_arguments(self) -> dict:
        return {k: getattr(self, k) for k in ("joint_channels", "width", "kernel", "reduction", "dropout")}


def gesture_inputs(sequences: list[np.ndarray], fps: float, model_fps: float, window_frames: int) -> torch.Tensor:
    """Sequences → (N, 16·6, window_frames) joint-motion windows; GestureInputError naming a bad sequence."""
    windows = []
    for index, sequence in enumerate(sequences):
        try:
            windows.append(joint_motion(sequence, fps, model_fps, window_frames))
        except GestureInputError as exc:
            raise GestureInputError(f"sequence {index}: {exc}") from exc
    return torch.from_numpy(np.stack(windows)) if windows else torch.zeros(0, 0, window_frames)


def _labelled(data: GestureSet, order: tuple[str, ...]) -> tuple[list[np.ndarray], np.ndarray]:
    known, labels = known_labels(order, data.labels, data.label_names, "sequence")
    return [s for s, k in zip(data.sequences, known) if k], labels


def train_gesture(data: GestureSet, config: GestureTrainConfig | None = None, settings: FitSettings | None = None,
                  device: torch.device | str = "cpu", progress: bool = False,
                  trained_on: str = "") -> tuple[ACCM, WeightsPassport, FitResult]:
    """Train an ACCM from scratch on ``data`` (its label names become the model's label order)."""
    config, settings = config or GestureTrainConfig(), settings or FitSettings()
    sequences, labels = _labelled(data, data.label_names)
    inputs = gesture_inputs(sequences, data.fps, config.fps, config.window_frames)
    train_index, val_index = stratified_split(labels, settings.val_fraction, settings.seed)
    torch.manual_seed(settings.seed)
    network = accm(len(data.label_names), **config.model_arguments())
    fit = fit_classifier(network, inputs, torch.from_numpy(labels), train_index, val_index, settings,
                         device=device, progress=progress)
    passport = accm_passport(data.label_names, config.model_arguments(), config.fps, config.window_frames,
                             trained_on=trained_on, training={**asdict(settings), "best_epoch": fit.best_epoch,
                                                             "best_val_accuracy": fit.best_val_accuracy})
    return network, passport, fit


def evaluate_gesture(network: ACCM, passport: WeightsPassport, data: GestureSet,
                     device: torch.device | str = "cpu") -> dict:
    """Classification report of ``network`` on the sequences of ``data`` whose label is in the passport's order."""
    sequences, labels = _labelled(data, passport.labels)
    representation = passport.config["representation"]
    inputs = gesture_inputs(sequences, data.fps, representation["fps"], representation["window_frames"])
    return classification_report(labels, predict_probabilities(network, inputs, device=device), passport.labels)
