"""The training toolkit the classifiers' CLIs share (gait, gesture, face clips): one copy of each step.

Gait uses its options, reports and outputs but fits with its own loop (``gait/train.py``): ProxEmo trains on
per-view classes and STEP on two inputs, for a fixed number of epochs as their authors did, without the
validation-selected epoch of :func:`fit_classifier`.

- **Settings as options**: :func:`add_options` / :func:`options_of` turn a settings dataclass into CLI
  options and back, so a field's default and help are written once; :func:`add_fit_arguments` and
  :func:`add_evaluation_arguments` declare the options of a train / evaluate command.
- **Labelled sets on disk**: :func:`read_labelled_npz` / :func:`write_labelled_npz` hold the part of the
  ``.npz`` layouts every data set shares (samples, ``labels`` indexing ``label_names``, −1 unlabelled,
  optional ``fps``), read without pickles; :func:`labels_in` and :func:`known_labels` map a set's labels
  onto a model's label order by name.
- **Fitting**: :func:`fit_classifier` is Adam on a loss (cross-entropy by default) with a stratified
  validation split (:func:`stratified_split`); after every epoch the validation accuracy is measured and
  the best epoch's weights (ties: lower validation loss) are the ones kept, with optional early stopping
  after ``patience`` epochs without improvement.
- **Evaluating**: :func:`predict_probabilities` and :func:`classification_report` (accuracy, per-class
  precision/recall/support, confusion matrix).
- **Several processes or GPUs**: under ``torchrun --nproc_per_node N`` every trainer joins the job once
  (:func:`distributed_run`: NCCL on GPUs, gloo on the CPU), each process trains on its share of every epoch
  (:func:`epoch_order`, a ``DistributedSampler``) through :func:`training_objective` (DistributedDataParallel:
  gradients averaged over the processes), ``--batch-size`` stays the global batch, and only rank 0 writes
  checkpoints, reports and histories (:func:`finish_training`). Without torchrun nothing changes.
- **A run's outputs**: :func:`finish_training` saves NAME.pt + NAME.json (state_dict and passport, through
  ``weights.save_checkpoint``), report.json + confusion.png and history.json, and returns the line the CLI
  prints; :func:`finish_evaluation` does the same for an evaluation report.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .weights import WeightsPassport, save_checkpoint

# --- settings as command-line options ----------------------------------------------------------------------------


def add_options(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One --option per field of a settings dataclass, with its type, default and help (``metadata["help"]``)."""
    for config_field in dataclasses.fields(config_class):
        parser.add_argument(f"--{config_field.name.replace('_', '-')}", type=type(config_field.default),
                            default=config_field.default, help=config_field.metadata["help"])


def options_of(args: argparse.Namespace, config_class: type):
    """The settings dataclass filled from the options :func:`add_options` added."""
    return config_class(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_class)})


def add_fit_arguments(parser: argparse.ArgumentParser, config_class: type, default_name: str, name_help: str) -> None:
    """The options of a command that trains with :func:`fit_classifier` and ends in :func:`finish_training`:
    --out, --name, --device, then one per field of ``config_class`` (the model's settings) and of :class:`FitSettings`."""
    parser.add_argument("--out", type=Path, required=True,
                        help="output directory (NAME.pt/.json, report.json, confusion.png, history.json)")
    parser.add_argument("--name", default=default_name, help=name_help)
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N")
    add_options(parser, config_class)
    add_options(parser, FitSettings)


def add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a command that evaluates our NAME.pt and ends in :func:`finish_evaluation`."""
    parser.add_argument("--weights", type=Path, required=True, help="our NAME.pt (passport NAME.json beside it)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N")


# --- labelled data sets on disk ----------------------------------------------------------------------------------


@dataclass
class LabelledArrays:
    """The shared part of a labelled ``.npz``, as :func:`read_labelled_npz` reads it."""

    samples: np.ndarray
    labels: np.ndarray
    """(N,) int64 index into ``label_names``; −1 unlabelled."""
    label_names: tuple[str, ...]
    fps: float
    """The file's frame rate [Hz], or the reader's default where it has none."""
    optional: dict[str, np.ndarray] = field(default_factory=dict)
    """The optional arrays asked for that the file holds."""


def check_labels(labels: np.ndarray, count: int, label_names: tuple[str, ...], where: str) -> np.ndarray:
    """``labels`` as (count,) int64 indices into ``label_names`` (−1 unlabelled); ValueError naming ``where``."""
    labels = np.asarray(labels).astype(np.int64)
    if labels.shape != (count,) or (labels.size and (labels.min() < -1 or labels.max() >= len(label_names))):
        raise ValueError(f"{where}: labels must be ({count},) indices into label_names in "
                         f"-1..{len(label_names) - 1}, got shape {labels.shape}, "
                         f"range {labels.min(initial=0)}..{labels.max(initial=0)}")
    return labels


def read_labelled_npz(path: str | Path, samples_key: str, kind: str, layout: str, default_fps: float,
                      optional: tuple[str, ...] = ()) -> LabelledArrays:
    """Read a labelled ``.npz`` (``samples_key``, ``labels``, ``label_names``; ``fps`` and ``optional`` if
    present) without unpickling; FileNotFoundError / ValueError naming the file, the ``kind`` of data and
    where its ``layout`` is described. The caller checks the samples' own shape."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{kind} data file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        missing = {samples_key, "labels", "label_names"} - set(data.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)} (layout in {layout})")
        samples = data[samples_key]
        label_names = tuple(str(name) for name in data["label_names"])
        labels = check_labels(data["labels"], len(samples), label_names, str(path))
        fps = float(data["fps"]) if "fps" in data.files else default_fps
        extra = {key: data[key] for key in optional if key in data.files}
    return LabelledArrays(samples, labels, label_names, fps, extra)


def write_labelled_npz(path: str | Path, samples_key: str, samples: np.ndarray, labels: np.ndarray,
                       label_names: tuple[str, ...], fps: float, **optional: np.ndarray) -> Path:
    """Write samples, labels (checked), label names, fps and ``optional`` arrays as a compressed ``.npz``;
    returns the path (``.npz`` added if missing)."""
    path = Path(path)
    path = path if path.suffix == ".npz" else path.with_name(path.name + ".npz")
    labels = check_labels(labels, len(samples), label_names, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{samples_key: samples}, labels=labels,
                        label_names=np.asarray(label_names, dtype=str), fps=np.float64(fps), **optional)
    return path


def labels_in(order: tuple[str, ...], labels: np.ndarray, label_names: tuple[str, ...]) -> np.ndarray:
    """Labels indexing ``label_names`` (−1 unlabelled) as indices into ``order`` (a model's label order), by
    name; −1 where a name is not in ``order``."""
    lookup = np.array([order.index(name) if name in order else -1 for name in label_names] + [-1])
    return lookup[np.where(np.asarray(labels) >= 0, labels, len(label_names))]


def known_labels(order: tuple[str, ...], labels: np.ndarray, label_names: tuple[str, ...],
                 noun: str) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the samples whose label is in ``order``, those labels as indices into ``order``);
    ValueError saying no ``noun`` has one when none has."""
    mapped = labels_in(order, labels, label_names)
    known = mapped >= 0
    if not known.any():
        raise ValueError(f"no {noun} has a label in {order}")
    return known, mapped[known]


# --- several processes (torchrun) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistributedRun:
    """This process's place in a torchrun job; world_size 1 is a plain single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes checkpoints, reports and histories."""
        return self.rank == 0

    def not_writing(self) -> str:
        """What a process other than rank 0 says at the end instead of naming the files it did not write."""
        return f"rank {self.rank} of {self.world_size}: trained; rank 0 writes the outputs"

    def device(self, device: torch.device | str) -> torch.device:
        """``device`` for this process: a CUDA device becomes this process's own GPU (cuda:LOCAL_RANK)."""
        device = torch.device(device)
        if self.active and device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def batch_size(self, global_batch: int) -> int:
        """Each process's share of a global batch (the gradients are averaged over the processes)."""
        return max(1, math.ceil(global_batch / self.world_size))

    def sum(self, *values: float) -> list[float]:
        """``values`` summed over the processes (themselves in a single process)."""
        if not self.active:
            return list(values)
        import torch.distributed as dist

        total = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(total)
        return total.tolist()


def distributed_run(device: torch.device | str = "cpu") -> DistributedRun:
    """This process's place in a torchrun job (WORLD_SIZE, RANK, LOCAL_RANK), joining the job's process group on
    the first call: NCCL when training on CUDA, gloo on the CPU. Outside torchrun: a single process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return DistributedRun()
    import torch.distributed as dist

    if not dist.is_initialized():
        on_gpus = torch.device(device).type == "cuda"
        if not on_gpus:  # oneDNN's CPU kernels corrupt the heap in DDP's backward of ST-GCN (torch 2.14, gloo)
            torch.backends.mkldnn.enabled = False
        dist.init_process_group("nccl" if on_gpus else "gloo")
        atexit.register(dist.destroy_process_group)
    return DistributedRun(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def epoch_order(indices: np.ndarray, run: DistributedRun, rng: np.random.Generator, seed: int, epoch: int) -> np.ndarray:
    """The samples this process trains on in ``epoch``, shuffled: all of them from ``rng`` in a single process;
    in a distributed run its share from a ``DistributedSampler`` (equal shares, the same seed everywhere)."""
    if not run.active:
        return rng.permutation(indices)
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(len(indices)), run.world_size, run.rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return np.asarray(indices)[list(sampler)]


class _Objective(nn.Module):
    """A network and its loss as one module, so that DistributedDataParallel sees every use of the network's
    parameters (losses may call other methods than ``forward``)."""

    def __init__(self, network: nn.Module, loss: Callable[..., torch.Tensor]):
        super().__init__()
        self.network = network
        self.loss = loss

    def forward(self, *batch: torch.Tensor) -> torch.Tensor:
        return self.loss(self.network, *batch)


def training_objective(network: nn.Module, loss: Callable[..., torch.Tensor], run: DistributedRun,
                       device: torch.device) -> Callable[..., torch.Tensor]:
    """``loss(network, *batch)`` as a function of the batch; in a distributed run through DistributedDataParallel,
    so that backward averages the gradients over the processes (it also starts every process from rank 0's
    weights)."""
    if not run.active:
        return lambda *batch: loss(network, *batch)
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(_Objective(network, loss), device_ids=[device.index] if device.type == "cuda" else None)


# --- fitting -----------------------------------------------------------------------------------------------------


@dataclass
class FitSettings:
    """Optimisation settings shared by the classifiers trained with :func:`fit_classifier` (each a CLI option)."""

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
    run = distributed_run(device)
    device = run.device(device)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    network.to(device)
    objective = training_objective(network, loss_fn, run, device)
    batch_size = run.batch_size(settings.batch_size)
    optimiser = torch.optim.Adam(network.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    result = FitResult()
    best_key, best_state, stale = (-1.0, 0.0), None, 0
    val_inputs, val_truth = inputs[torch.from_numpy(val_index)], targets[torch.from_numpy(val_index)].numpy()
    epochs = tqdm(range(settings.epochs), desc="train", disable=not progress or not run.main)
    for epoch in epochs:
        started = time.perf_counter()
        network.train()
        order = epoch_order(train_index, run, rng, settings.seed, epoch)
        total, seen = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = torch.from_numpy(order[start:start + batch_size])
            if len(batch) < 2:  # BatchNorm needs two samples (every process has as many: equal shares)
                continue
            loss = objective(inputs[batch].to(device), targets[batch].to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, seen = total + float(loss.detach()) * len(batch), seen + len(batch)
        total, seen = run.sum(total, seen)
        row = {"epoch": epoch, "train_loss": total / max(seen, 1), "val_loss": float("nan"), "val_accuracy": float("nan")}
        if len(val_index):
            probabilities = predict_probabilities(network, val_inputs, device=device)
            row["val_accuracy"] = float((probabilities.argmax(axis=1) == val_truth).mean())
            row["val_loss"] = float(-np.log(np.clip(probabilities[np.arange(len(val_truth)), val_truth], 1e-12, None)).mean())
        row["seconds"] = time.perf_counter() - started
        result.history.append(row)
        key = (row["val_accuracy"], -row["val_loss"]) if len(val_index) else (float(epoch), 0.0)
        if key > best_key:
            best_key, best_state, stale = key, copy.deepcopy(network.state_dict()), 0
            result.best_epoch, result.best_val_accuracy = epoch, row["val_accuracy"]
            if len(val_index):  # the kept weights' validation outputs, as the kept epoch measured them
                result.val_labels, result.val_probabilities = val_truth, probabilities
        else:
            stale += 1
        epochs.set_postfix(loss=f"{row['train_loss']:.3f}", val=f"{row['val_accuracy']:.2f}")
        if settings.patience and stale >= settings.patience:
            break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return result


# --- evaluating --------------------------------------------------------------------------------------------------


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
    """Accuracy, per-class precision/recall/support and the confusion matrix (rows true, columns predicted)."""
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


def validation_report(fit: FitResult, label_names: tuple[str, ...]) -> dict:
    """The kept weights' :func:`classification_report` on the validation split, with their epoch and the
    training time."""
    report = classification_report(fit.val_labels, fit.val_probabilities, label_names)
    report.update(split="validation", best_epoch=fit.best_epoch, train_seconds=round(fit.seconds, 2))
    return report


# --- a run's outputs ---------------------------------------------------------------------------------------------


def save_model(network: nn.Module, passport: WeightsPassport, path: str | Path) -> Path:
    """NAME.pt (state_dict) + NAME.json (its passport, named NAME); returns the .pt path."""
    path = Path(path).with_suffix(".pt")
    return save_checkpoint(network.state_dict(), replace(passport, name=path.stem), path)


def save_confusion_png(report: dict, path: str | Path) -> Path:
    """Draw a :func:`classification_report`'s confusion matrix into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(report["confusion"])
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.imshow(confusion, cmap="Blues")
    axes.set_xticks(range(len(report["labels"])), report["labels"])
    axes.set_yticks(range(len(report["labels"])), report["labels"])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"accuracy {report['accuracy']:.1%} (n={report['n']})")
    for (row, col), value in np.ndenumerate(confusion):
        axes.text(col, row, str(value), ha="center", va="center")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_report(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """report.json and confusion.png in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    return json_path, save_confusion_png(report, out_dir / "confusion.png")


def write_history(history: list[dict[str, float]], path: str | Path) -> Path:
    """Per-epoch measurements (losses, accuracies) as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(history, indent=2) + "\n")
    return path


def finish_training(out_dir: str | Path, name: str, network: nn.Module, passport: WeightsPassport, report: dict,
                    fit: FitResult | None = None, split: str = "validation") -> str:
    """Save a training run in ``out_dir``: NAME.pt + NAME.json, report.json + confusion.png and, with ``fit``,
    history.json; returns the line the CLI prints (with ``fit``: the best epoch and the training time).

    ``report`` is the :func:`classification_report` of the ``split`` the run held out. In a distributed run only
    rank 0 writes; the other processes get a line saying so.
    """
    run = distributed_run()
    if not run.main:
        return run.not_writing()
    out_dir = Path(out_dir)
    checkpoint = save_model(network, passport, out_dir / f"{name}.pt")
    json_path, png_path = write_report({**report, "processes": run.world_size}, out_dir)
    accuracy = f"{split} accuracy {report['accuracy']:.1%} on {report['n']}"
    if fit is None:
        return f"checkpoint {checkpoint}; {accuracy}; {json_path}, {png_path}"
    write_history(fit.history, out_dir / "history.json")
    return f"checkpoint {checkpoint}; best epoch {fit.best_epoch}; {accuracy}; {fit.seconds:.1f} s; {json_path}, {png_path}"


def finish_evaluation(out_dir: str | Path, report: dict, noun: str) -> str:
    """Write an evaluation's report.json + confusion.png in ``out_dir``; returns the line the CLI prints
    (``noun``: what was evaluated, e.g. "gaits")."""
    json_path, png_path = write_report(report, out_dir)
    return f"accuracy {report['accuracy']:.1%} on {report['n']} {noun}; {json_path}, {png_path}"
