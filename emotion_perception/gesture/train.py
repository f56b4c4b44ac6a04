"""Training and evaluation of ACCM on labelled gesture sets, and the classifier-training helpers it is built on.

The helpers (:class:`FitSettings`, :func:`stratified_split`, :func:`fit_classifier`,
:func:`predict_probabilities`, :func:`classification_report`, :func:`labels_in`, :func:`save_model`) know
nothing about gestures: the face-clip models train through them as well. Training is Adam on cross-entropy with a stratified validation split;
after every epoch the validation accuracy is measured and the best epoch's weights (ties: lower
validation loss) are the ones kept, with optional early stopping after ``patience`` epochs without
improvement.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..weights import WeightsPassport, save_checkpoint
from .data import GestureSet
from .model import ACCM, accm, accm_passport
from .representation import GestureInputError, joint_motion


@dataclass
class FitSettings:
    """Optimisation settings shared by the classifiers trained here (each a CLI option)."""

    epochs: int = field(default=40, metadata={"help": "passes over the training split"})
    batch_size: int = field(default=32, metadata={"help": "samples per optimisation step"})
    learning_rate: float = field(default=3e-3, metadata={"help": "Adam learning rate"})
    weight_decay: float = field(default=1e-4, metadata={"help": "Adam weight decay"})
    val_fraction: float = field(default=0.2, metadata={"help": "share of each class held out to pick the best epoch"})
    patience: int = field(default=15, metadata={"help": "stop after this many epochs without a better validation accuracy (0: never)"})
    seed: int = field(default=0, metadata={"help": "seed of the split, the shuffling and the initialisation"})


@dataclass
class FitResult:
    """What training did: per-epoch history and the epoch whose weights were kept."""

    history: list[dict] = field(default_factory=list)
    """Per epoch: epoch, train_loss, val_loss, val_accuracy, seconds."""
    best_epoch: int = -1
    best_val_accuracy: float = float("nan")
    val_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    val_probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    """The kept weights' softmax on the validation split, for its report."""

    @property
    def seconds(self) -> float:
        return float(sum(row["seconds"] for row in self.history))


@dataclass
class GestureTrainConfig:
    """Model and representation settings of `emotion-perception train-gesture` (saved in the passport)."""

    window_frames: int = field(default=60, metadata={"help": "frames per window at --fps [frames] (60 = 2 s at 30 fps)"})
    fps: float = field(default=30.0, metadata={"help": "rate the representation is resampled to [Hz]"})
    joint_channels: int = field(default=8, metadata={"help": "features each joint keeps in the channel-wise branch"})
    width: int = field(default=64, metadata={"help": "channels after the joints are mixed"})
    kernel: int = field(default=9, metadata={"help": "temporal kernel of the convolutions [frames] (odd)"})
    reduction: int = field(default=4, metadata={"help": "bottleneck reduction of the joint attention"})
    dropout: float = field(default=0.2, metadata={"help": "dropout before the classifier"})

    def model_arguments(self) -> dict:
        return {k: getattr(self, k) for k in ("joint_channels", "width", "kernel", "reduction", "dropout")}


LossFunction = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices holding out ``val_fraction`` of each class (one at least, if it has two)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = int(round(len(members) * val_fraction))
        if val_fraction > 0 and len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        held.extend(members[:count].tolist())
    val = np.sort(np.asarray(held, dtype=np.int64))
    return np.setdiff1d(np.arange(len(labels)), val), val


def _cross_entropy(network: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(network(inputs), targets)


def fit_classifier(network: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, train_index: np.ndarray,
                   val_index: np.ndarray, settings: FitSettings, loss_fn: LossFunction = _cross_entropy,
                   device: torch.device | str = "cpu", progress: bool = False) -> FitResult:
    """Train ``network`` in place on ``inputs[train_index]``; keep the weights of the best validation epoch.

    ``inputs`` (N, ...) stays on the CPU and goes to ``device`` batch by batch; ``network(x)`` must give
    (B, classes) logits in eval mode; ``loss_fn(network, x, y)`` is the training loss (cross-entropy by default).
    """
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    network.to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    result = FitResult()
    best_key, best_state, stale = (-1.0, 0.0), None, 0
    epochs = tqdm(range(settings.epochs), desc="train", disable=not progress)
    for epoch in epochs:
        started = time.perf_counter()
        network.train()
        order = rng.permutation(train_index)
        total, seen = 0.0, 0
        for start in range(0, len(order), settings.batch_size):
            batch = torch.from_numpy(order[start:start + settings.batch_size])
            if len(batch) < 2:  # BatchNorm needs two samples
                continue
            loss = loss_fn(network, inputs[batch].to(device), targets[batch].to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, seen = total + float(loss.detach()) * len(batch), seen + len(batch)
        row = {"epoch": epoch, "train_loss": total / max(seen, 1), "val_loss": float("nan"), "val_accuracy": float("nan")}
        if len(val_index):
            probabilities = predict_probabilities(network, inputs[torch.from_numpy(val_index)], device=device)
            truth = targets[torch.from_numpy(val_index)].numpy()
            row["val_accuracy"] = float((probabilities.argmax(axis=1) == truth).mean())
            row["val_loss"] = float(-np.log(np.clip(probabilities[np.arange(len(truth)), truth], 1e-12, None)).mean())
        row["seconds"] = time.perf_counter() - started
        result.history.append(row)
        key = (row["val_accuracy"], -row["val_loss"]) if len(val_index) else (float(epoch), 0.0)
        if key > best_key:
            best_key, best_state, stale = key, copy.deepcopy(network.state_dict()), 0
            result.best_epoch, result.best_val_accuracy = epoch, row["val_accuracy"]
        else:
            stale += 1
        epochs.set_postfix(loss=f"{row['train_loss']:.3f}", val=f"{row['val_accuracy']:.2f}")
        if settings.patience and stale >= settings.patience:
            break
    if best_state is not None:
        network.load_state_dict(best_state)
    if len(val_index):
        result.val_labels = targets[torch.from_numpy(val_index)].numpy()
        result.val_probabilities = predict_probabilities(network, inputs[torch.from_numpy(val_index)], device=device)
    network.eval()
    return result


def predict_probabilities(network: nn.Module, inputs: torch.Tensor, batch_size: int = 64,
                          device: torch.device | str = "cpu") -> np.ndarray:
    """(N, classes) float32 softmax of ``network`` (put in eval mode) over ``inputs``, batched."""
    network.eval()
    rows = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            logits = network(inputs[start:start + batch_size].to(device))
            rows.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)


def classification_report(labels: np.ndarray, probabilities: np.ndarray, label_names: tuple[str, ...]) -> dict:
    """Accuracy, per-class precision/recall/support and the confusion matrix (rows true, columns predicted).

    Same keys as gait.train.evaluation_report, so gait.train.write_report draws it.
    """
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(probabilities).argmax(axis=1) if len(labels) else np.zeros(0, np.int64)
    k = len(label_names)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for i, name in enumerate(label_names):
        predicted_i, actual_i = confusion[:, i].sum(), confusion[i].sum()
        per_class[name] = {"precision": float(confusion[i, i] / predicted_i) if predicted_i else 0.0,
                           "recall": float(confusion[i, i] / actual_i) if actual_i else 0.0,
                           "support": int(actual_i)}
    return {"accuracy": float((predicted == labels).mean()) if len(labels) else 0.0, "n": int(len(labels)),
            "labels": list(label_names), "per_class": per_class, "confusion": confusion.tolist()}


def labels_in(order: tuple[str, ...], labels: np.ndarray, label_names: tuple[str, ...]) -> np.ndarray:
    """Labels indexing ``label_names`` (−1 unlabelled) as indices into ``order`` (a model's label order), by
    name; −1 where a name is not in ``order``."""
    lookup = np.array([order.index(name) if name in order else -1 for name in label_names] + [-1])
    return lookup[np.where(np.asarray(labels) >= 0, labels, len(label_names))]


def save_model(network: nn.Module, passport: WeightsPassport, path: str | Path) -> Path:
    """NAME.pt (state_dict) + NAME.json (its passport, named NAME); returns the .pt path."""
    path = Path(path).with_suffix(".pt")
    return save_checkpoint(network.state_dict(), replace(passport, name=path.stem), path)


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
    labels = labels_in(order, data.labels, data.label_names)
    known = labels >= 0
    if not known.any():
        raise ValueError(f"no sequence has a label in {order}")
    return [s for s, k in zip(data.sequences, known) if k], labels[known]


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
