"""Training and evaluation of the gait classifiers on labelled gait sets (same preprocessing as the stage)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .labels import GAIT_EMOTIONS
from ...runtime.training import distributed_run, epoch_order, training_objective
from ...runtime.weights import WeightsPassport
from .distribution import estimate_statistics
from .models import STATISTICS_KEY, GaitModel, build_network
from .preprocessing import PROXEMO_VIEW_ANGLES_DEG, newest_windows, view_group
from .vsgcnn import NUM_VIEW_GROUPS


@dataclass
class TrainConfig:
    """Settings of `emotion-perception train-gait`."""

    architecture: str = field(default="stgcn", metadata={"help": "stgcn or stgcn_affective (vsgcnn trains too, slowly on CPU; "
                                                                 "it takes every gait tiled to the file's longest)"})
    window_frames: int = field(default=75, metadata={"help": "frames per training window [frames]"})
    temporal_kernel: int = field(default=75, metadata={"help": "ST-GCN temporal kernel [frames] (odd; STEP: 75)"})
    fps: float = field(default=30.0, metadata={"help": "frame rate of the gaits [Hz]"})
    epochs: int = field(default=30, metadata={"help": "passes over the training set"})
    batch_size: int = field(default=16, metadata={"help": "gaits per optimisation step"})
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    weight_decay: float = field(default=1e-4, metadata={"help": "Adam weight decay"})
    seed: int = field(default=0, metadata={"help": "seed of torch and numpy (shuffling, initialisation)"})
    device: str = field(default="cpu", metadata={"help": "torch device: cpu or cuda"})


def _untrained_model(config: TrainConfig) -> GaitModel:
    builder = {"temporal_kernel": config.temporal_kernel, "window_frames": config.window_frames, "fps": config.fps}
    preprocessing = (f"vsgcnn: newest {config.window_frames} frames, tiled if fewer, 4 views (ProxEmo's image embedding)"
                     if config.architecture == "vsgcnn" else
                     f"online: newest {config.window_frames} frames, tiled if fewer, root-centred, the window's mean "
                     f"pose similarity-aligned to config.{STATISTICS_KEY}.mean_pose in units of its std")
    passport = WeightsPassport(name="", architecture=config.architecture, labels=GAIT_EMOTIONS,
                               preprocessing=preprocessing, joint_order=(), config=builder)
    return GaitModel(build_network(config.architecture, builder), passport)


def train_classifier(gaits: list[np.ndarray], labels: np.ndarray, config: TrainConfig,
                     progress: bool = True) -> tuple[GaitModel, list[float]]:
    """Train a gait classifier from scratch; returns the model (eval mode) and the mean loss per epoch.

    ST-GCN models first get the statistics of their training windows (distribution.estimate_statistics):
    every window is aligned to them, in training as later on live tracks. VS-GCNN learns each view's
    (emotion, view group) output, ProxEmo's 16 classes.
    """
    run = distributed_run(config.device)
    device = run.device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = _untrained_model(config).to(device)
    if config.architecture != "vsgcnn":
        model.statistics = estimate_statistics(newest_windows(list(gaits), config.window_frames))
    with torch.no_grad():
        inputs = model.network_input(list(gaits), config.window_frames, config.fps)
    targets = torch.as_tensor(labels, dtype=torch.long, device=model.device)
    views = len(PROXEMO_VIEW_ANGLES_DEG)
    view_groups = torch.as_tensor([view_group(a) for a in PROXEMO_VIEW_ANGLES_DEG], device=model.device)
    optimiser = torch.optim.Adam(model.network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    loss_fn = nn.CrossEntropyLoss()

    def batch_loss(network: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        if config.architecture == "vsgcnn":  # each view image: class 4 · emotion + its view group
            images = (batch[:, None] * views + torch.arange(views, device=model.device)).flatten()
            classes = (targets[batch, None] * NUM_VIEW_GROUPS + view_groups).flatten()
            return loss_fn(network(inputs[0][images]), classes)
        return loss_fn(network(*(x[batch] for x in inputs)), targets[batch])

    objective = training_objective(model.network, batch_loss, run, device)
    batch_size = run.batch_size(config.batch_size)
    losses = []
    epochs = tqdm(range(config.epochs), desc=f"train {config.architecture}", disable=not progress or not run.main)
    for epoch in epochs:
        model.network.train()
        order = epoch_order(np.arange(len(targets)), run, rng, config.seed, epoch)
        total, seen = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = torch.from_numpy(order[start:start + batch_size]).to(model.device)
            if len(batch) < 2:  # BatchNorm needs two samples (every process has as many: equal shares)
                continue
            loss = objective(batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, seen = total + float(loss.detach()) * len(batch), seen + len(batch)
        total, seen = run.sum(total, seen)
        losses.append(total / max(seen, 1))
        epochs.set_postfix(loss=f"{losses[-1]:.3f}")
    model.network.eval()
    return model, losses


def predict(model: GaitModel, gaits: list[np.ndarray], window_frames: int, fps: float, batch_size: int = 32) -> np.ndarray:
    """(N, 4) probabilities over GAIT_EMOTIONS, batched."""
    rows = []
    with torch.inference_mode():
        for start in range(0, len(gaits), batch_size):
            batch = [g[-window_frames:] for g in gaits[start:start + batch_size]]
            rows.append(model.probabilities(model.network_input(batch, window_frames, fps)))
    return np.concatenate(rows) if rows else np.zeros((0, len(GAIT_EMOTIONS)), np.float32)


def trained_passport(model: GaitModel, config: TrainConfig, trained_on: str) -> WeightsPassport:
    """The passport a trained model is saved with (``training.save_model``): builder arguments, training settings
    and, for ST-GCN models, the training inputs' statistics in its config."""
    extra = {"training": asdict(config)}
    if model.statistics is not None:
        extra[STATISTICS_KEY] = model.statistics.to_config()
    return replace(model.passport, trained_on=trained_on, config={**model.passport.config, **extra})
