"""Training and evaluation of the EMOTIC network, with the reference hyper-parameters as defaults.

Training keeps the epoch with the lowest validation loss, chooses per-category thresholds on the
validation split (where precision meets recall) and saves a state_dict checkpoint whose passport holds
the thresholds, the preprocessing and the training settings.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from .labels import EMOTIC_CATEGORIES, VAD_DIMENSIONS
from ...runtime.training import distributed_run, training_objective
from ...runtime.weights import WeightsPassport, save_checkpoint
from .data import open_split
from .losses import EmoticLoss
from .metrics import average_precisions, choose_thresholds, precision_recall, vad_mean_absolute_error
from .model import ARCHITECTURE, VAD_SCALE, EmoticNet, emotic_resnet18
from .preprocessing import EmoticPreprocessing


@dataclass
class TrainConfig:
    """Settings of `emotion-perception train-context` (defaults: the reference implementation's training
    defaults; docs/context.md lists where the method itself differs)."""

    data: str = field(default="", metadata={"help": "folder with the EMOTIC split arrays or split CSVs"})
    images: str = field(default="", metadata={"help": "root of the EMOTIC images for CSV annotations (default: data)"})
    out: str = field(default="runs/context", metadata={"help": "output folder: checkpoint, passport, report"})
    name: str = field(default="emotic_resnet18", metadata={"help": "checkpoint name (NAME.pt, NAME.json)"})
    epochs: int = field(default=15, metadata={"help": "training epochs"})
    batch_size: int = field(default=52, metadata={"help": "people per batch"})
    lr: float = field(default=0.01, metadata={"help": "Adam learning rate"})
    weight_decay: float = field(default=5e-4, metadata={"help": "Adam weight decay"})
    lr_step: int = field(default=7, metadata={"help": "epochs between learning-rate drops"})
    lr_gamma: float = field(default=0.1, metadata={"help": "learning-rate factor at each drop"})
    discrete_weight: float = field(default=0.5, metadata={"help": "weight of the category loss"})
    continuous_weight: float = field(default=0.5, metadata={"help": "weight of the VAD loss"})
    category_weighting: str = field(default="dynamic", metadata={"help": "category loss weights: mean, static or dynamic"})
    continuous_loss: str = field(default="smooth_l1", metadata={"help": "VAD loss: smooth_l1 or l2"})
    margin: float = field(default=1.0, metadata={"help": "VAD errors under this cost nothing [1-10 scale units]"})
    body_backbone: str = field(default="imagenet", metadata={
        "help": "body ResNet-18 start: imagenet (torchvision download), a local weights file, or none"})
    context_backbone: str = field(default="imagenet", metadata={
        "help": "scene ResNet-18 start: a Places365 resnet18 file (the method), imagenet, or none"})
    context_size: int = field(default=224, metadata={"help": "scene input side [px]"})
    body_size: int = field(default=128, metadata={"help": "body crop input side [px]"})
    seed: int = field(default=0, metadata={"help": "seed of torch, numpy and random"})
    device: str = field(default="cpu", metadata={"help": "torch device: cpu, cuda or cuda:N"})
    workers: int = field(default=0, metadata={"help": "data loader worker processes"})


@dataclass
class Predictions:
    """Network outputs over a data set, with the labels (VAD on the 1-10 scale)."""

    scores: np.ndarray
    vad: np.ndarray
    categories: np.ndarray
    vad_true: np.ndarray
    loss: float


@dataclass
class EvaluationReport:
    """Per-category average precision, mAP and VAD mean absolute error of one evaluation."""

    count: int
    average_precision: dict[str, float]
    mean_average_precision: float
    vad_mean_absolute_error: dict[str, float]
    loss: float

    @classmethod
    def from_predictions(cls, predictions: Predictions) -> EvaluationReport:
        ap = average_precisions(predictions.categories, predictions.scores)
        mae = vad_mean_absolute_error(predictions.vad, predictions.vad_true)
        return cls(count=len(predictions.scores),
                   average_precision={name: float(value) for name, value in zip(EMOTIC_CATEGORIES, ap)},
                   mean_average_precision=float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan"),
                   vad_mean_absolute_error={name: float(value) for name, value in zip(VAD_DIMENSIONS, mae)},
                   loss=predictions.loss)


def _backbone(name: str) -> str:
    return "" if name in ("", "none") else name


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def evaluate(model: EmoticNet, dataset: Dataset, device: str = "cpu", batch_size: int = 52,
             loss_fn: EmoticLoss | None = None, progress: bool = False) -> Predictions:
    """Run ``model`` (in eval mode) over ``dataset``; loss per person when ``loss_fn`` is given."""
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    outputs: list[tuple[torch.Tensor, ...]] = []
    total_loss = 0.0
    with torch.inference_mode():
        for context, body, categories, vad in tqdm(loader, desc="evaluate", disable=not progress, leave=False):
            scores, scaled_vad = model(context.to(device), body.to(device))
            if loss_fn is not None:
                total_loss += float(loss_fn(scores, scaled_vad, categories.to(device), vad.to(device)))
            outputs.append((scores.cpu(), scaled_vad.cpu() * VAD_SCALE, categories, vad))
    if not outputs:
        raise ValueError("cannot evaluate on an empty data set")
    scores, vad_pred, categories, vad = (torch.cat(parts).numpy() for parts in zip(*outputs))
    return Predictions(scores, vad_pred, categories, vad, total_loss / len(scores))


@dataclass
class TrainResult:
    checkpoint: Path
    best_epoch: int
    history: list[dict[str, float]]
    validation: EvaluationReport


def train(config: TrainConfig, progress: bool = True) -> TrainResult:
    """Train on the 'train' split, select on 'val', save ``out/NAME.pt`` + passport and a validation report."""
    _seed_everything(config.seed)
    preprocessing = EmoticPreprocessing(context_size=config.context_size, body_size=config.body_size)
    train_set = open_split(config.data, "train", preprocessing, augment=True, images_root=config.images)
    val_set = open_split(config.data, "val", preprocessing, images_root=config.images)
    if len(train_set) < 2 or len(val_set) < 1:
        raise ValueError(f"need at least 2 training and 1 validation people, got {len(train_set)} and {len(val_set)}")
    run = distributed_run(config.device)
    device = run.device(config.device)
    progress = progress and run.main
    model = emotic_resnet18(_backbone(config.body_backbone), _backbone(config.context_backbone)).to(device)
    loss_fn = EmoticLoss(config.discrete_weight, config.continuous_weight, config.category_weighting,
                         config.continuous_loss, config.margin).to(device)

    def batch_loss(network: EmoticNet, context: torch.Tensor, body: torch.Tensor, categories: torch.Tensor,
                   vad: torch.Tensor) -> torch.Tensor:
        return loss_fn(*network(context, body), categories, vad)

    objective = training_objective(model, batch_loss, run, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step, gamma=config.lr_gamma)
    generator = torch.Generator().manual_seed(config.seed)
    batch_size = run.batch_size(config.batch_size)
    sampler = DistributedSampler(train_set, run.world_size, run.rank, seed=config.seed) if run.active else None
    share = len(sampler) if sampler is not None else len(train_set)
    # A last batch of one person would break BatchNorm in training mode (every process has as many: equal shares).
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=sampler is None, sampler=sampler,
                        generator=generator, num_workers=config.workers, drop_last=share % batch_size == 1)
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state = float("inf"), 0, copy.deepcopy(model.state_dict())
    for epoch in range(1, config.epochs + 1):
        model.train()
        if sampler is not None:
            sampler.set_epoch(epoch)
        running, seen = 0.0, 0
        for context, body, categories, vad in tqdm(loader, desc=f"epoch {epoch}/{config.epochs}",
                                                   disable=not progress, leave=False):
            loss = objective(context.to(device), body.to(device), categories.to(device), vad.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
            seen += len(context)
        running, seen = run.sum(running, seen)
        scheduler.step()
        val_loss = evaluate(model, val_set, device, config.batch_size, loss_fn).loss
        history.append({"epoch": epoch, "train_loss": running / max(seen, 1), "val_loss": val_loss})
        if progress:
            tqdm.write(f"epoch {epoch}: train loss {running / max(seen, 1):.4f}, val loss {val_loss:.4f}")
        if val_loss < best_loss:
            best_loss, best_epoch, best_state = val_loss, epoch, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    predictions = evaluate(model, val_set, device, config.batch_size, loss_fn)
    thresholds = choose_thresholds(predictions.categories, predictions.scores)
    report = EvaluationReport.from_predictions(predictions)
    passport = WeightsPassport(
        name=config.name, architecture=ARCHITECTURE, labels=EMOTIC_CATEGORIES,
        preprocessing="emotic: scene resized to context_size and body crop to body_size (bilinear), "
                      "RGB / 255, normalised with context_/body_ mean and std",
        trained_on=f"{config.data} (train split; selected and thresholded on val)",
        config={**preprocessing.to_config(), "thresholds": thresholds.tolist(), "vad_scale": VAD_SCALE,
                "dropout": 0.5, "best_epoch": best_epoch, "val_mean_average_precision": report.mean_average_precision,
                "training": dataclasses.asdict(config)},
    )
    out = Path(config.out)
    checkpoint = out / f"{config.name}.pt"
    if run.main:  # in a distributed run, rank 0 writes
        checkpoint = save_checkpoint(model.state_dict(), passport, checkpoint)
        write_report(report, out / "val_report", predictions)
    return TrainResult(checkpoint, best_epoch, history, report)


def write_report(report: EvaluationReport, out_dir: str | Path, predictions: Predictions | None = None) -> Path:
    """report.json, report.md (per-category AP table, mAP, VAD error) and ap.png (AP bars) in ``out_dir``;
    with ``predictions`` also pr_curves.png (precision-recall per category)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(dataclasses.asdict(report), indent=2) + "\n")
    lines = [f"# EMOTIC evaluation ({report.count} people)", "", f"mAP: {report.mean_average_precision:.4f}", "",
             "| category | AP |", "|---|---|"]
    lines += [f"| {name} | {value:.4f} |" for name, value in report.average_precision.items()]
    lines += ["", "| dimension | mean absolute error (1-10 scale) |", "|---|---|"]
    lines += [f"| {name} | {value:.4f} |" for name, value in report.vad_mean_absolute_error.items()]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")

    figure, axes = plt.subplots(figsize=(10, 4))
    axes.bar(range(len(EMOTIC_CATEGORIES)), [report.average_precision[name] for name in EMOTIC_CATEGORIES])
    axes.set_xticks(range(len(EMOTIC_CATEGORIES)), EMOTIC_CATEGORIES, rotation=75, fontsize=8)
    axes.set_ylabel("average precision")
    axes.set_title(f"EMOTIC per-category AP (mAP {report.mean_average_precision:.3f})")
    figure.tight_layout()
    figure.savefig(out_dir / "ap.png", dpi=100)
    plt.close(figure)
    if predictions is not None:
        figure, axes = plt.subplots(figsize=(7, 6))
        for index, name in enumerate(EMOTIC_CATEGORIES):
            if predictions.categories[:, index].any():
                precision, recall, _ = precision_recall(predictions.categories[:, index], predictions.scores[:, index])
                axes.plot(np.r_[0.0, recall], np.r_[1.0, precision], linewidth=0.8, label=name)
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
        axes.legend(fontsize=5, ncol=2)
        figure.tight_layout()
        figure.savefig(out_dir / "pr_curves.png", dpi=100)
        plt.close(figure)
    return out_dir
