"""Training and evaluating the lifter: walks → random camera views → a residual MLP fitted with an L1 loss
on the root-relative shape (in person heights), then measured on views it never saw.

Metrics, in millimetres: MPJPE is the mean joint error of the root-relative skeleton scaled by the height
prior (what the node uses); PA-MPJPE after the best similarity transform (the shape alone). The distance
error is |lifted root distance − true| / true distance, the quantity the monocular position depends on; its
68th percentile on the held-out views is written into the passport as the position's one-sigma uncertainty.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...labels import GAIT_JOINTS
from ...runtime.training import distributed_run, epoch_order, training_objective
from ...runtime.weights import WeightsPassport, load_checkpoint, save_checkpoint
from .data import LiftingSamples, standing_on_floor, view_walks, walker_gaits
from .model import PRIOR_HEIGHT_M, Lifter, LifterNetwork, lifter_features, place_in_camera, viewing_rays

ARCHITECTURE = "lifter_mlp"


@dataclass
class LifterTrainConfig:
    """What train-lifter does (each field a command-line option)."""

    walks: int = field(default=1600, metadata={"help": "procedural walks to view (every emotion's style)"})
    walk_frames: int = field(default=60, metadata={"help": "frames per walk (30 fps)"})
    views_per_walk: int = field(default=12, metadata={"help": "frames of each walk projected (plus mirror images)"})
    epochs: int = field(default=25, metadata={"help": "passes over the training views"})
    batch_size: int = field(default=256, metadata={"help": "views per optimisation step"})
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate (cosine decay to 0)"})
    width: int = field(default=256, metadata={"help": "hidden units of the residual MLP"})
    blocks: int = field(default=2, metadata={"help": "residual blocks"})
    dropout: float = field(default=0.1, metadata={"help": "dropout inside the blocks"})
    min_confidence: float = field(default=0.05, metadata={"help": "joints below this confidence are masked"})
    seed: int = field(default=0, metadata={"help": "seed of the walks, the cameras, the split and the initialisation"})


def training_views(config: LifterTrainConfig, extra_gaits: list[np.ndarray] = ()) -> LiftingSamples:
    """The training set: procedural walks and ``extra_gaits`` (gait-frame metres, feet on y = 0), each viewed."""
    rng = np.random.default_rng(config.seed)
    walks = walker_gaits(config.walks, config.walk_frames, rng) + list(extra_gaits)
    return view_walks(walks, config.views_per_walk, rng)


def _targets(samples: LiftingSamples) -> np.ndarray:
    return ((samples.joints_3d - samples.joints_3d[:, :1]) / samples.height_m[:, None, None]).astype(np.float32)


def _inputs(samples: LiftingSamples, min_confidence: float) -> np.ndarray:
    return lifter_features(viewing_rays(samples.joints_2d, samples.intrinsics), samples.confidence, min_confidence)


def fit_lifter(samples: LiftingSamples, config: LifterTrainConfig, progress=None) -> tuple[LifterNetwork, list[dict]]:
    """Train a LifterNetwork on ``samples``; returns it (eval mode) and the per-epoch history. Under torchrun each
    process trains on its share of every epoch (training.distributed_run; --batch-size stays the global batch)."""
    run = distributed_run()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed + 1)
    inputs = torch.from_numpy(_inputs(samples, config.min_confidence))
    targets = torch.from_numpy(_targets(samples))
    weights = torch.from_numpy((samples.confidence >= config.min_confidence).astype(np.float32) * 0.5 + 0.5)
    network = LifterNetwork(config.width, config.blocks, config.dropout)

    def batch_loss(trained: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        error = (trained(inputs[batch]) - targets[batch]).abs().sum(dim=2)
        return (error * weights[batch]).mean()

    objective = training_objective(network, batch_loss, run, torch.device("cpu"))
    batch_size = run.batch_size(config.batch_size)
    optimiser = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    steps = config.epochs * int(np.ceil(np.ceil(len(inputs) / run.world_size) / batch_size))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(steps, 1))
    history = []
    for epoch in range(config.epochs):
        started, total, seen = time.perf_counter(), 0.0, 0
        network.train()
        order = torch.from_numpy(epoch_order(np.arange(len(inputs)), run, rng, config.seed, epoch))
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            loss = objective(batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total, seen = total + float(loss.detach()) * len(batch), seen + len(batch)
        total, seen = run.sum(total, seen)
        history.append({"epoch": epoch, "train_loss": total / max(seen, 1), "seconds": time.perf_counter() - started})
        if progress and run.main:
            progress(history[-1])
    return network.eval(), history


def procrustes_aligned(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``predicted`` (N, J, 3) moved by the similarity transform (rotation, scale, translation) closest to ``truth``."""
    p_mean, t_mean = predicted.mean(axis=1, keepdims=True), truth.mean(axis=1, keepdims=True)
    p, t = predicted - p_mean, truth - t_mean
    u, s, vt = np.linalg.svd(np.einsum("nji,njk->nik", p, t))
    sign = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))
    s[:, -1] *= sign
    u[:, :, -1] *= sign[:, None]
    rotation = np.einsum("nij,njk->nik", u, vt)
    scale = s.sum(axis=1) / (p ** 2).sum(axis=(1, 2))
    return scale[:, None, None] * np.einsum("nji,nik->njk", p, rotation) + t_mean


def evaluate_lifter(lifter: Lifter, samples: LiftingSamples) -> dict[str, float]:
    """MPJPE / PA-MPJPE [mm] of the root-relative skeleton and the relative root-distance error on ``samples``."""
    rays = viewing_rays(samples.joints_2d, samples.intrinsics)
    shape = lifter.shapes(rays, samples.confidence) * PRIOR_HEIGHT_M
    truth = samples.joints_3d.astype(np.float64)
    relative_truth = truth - truth[:, :1]
    root = place_in_camera(shape, rays, samples.confidence >= lifter.min_confidence)
    distance_error = np.abs(np.linalg.norm(root, axis=1) - np.linalg.norm(truth[:, 0], axis=1)) / np.linalg.norm(truth[:, 0], axis=1)
    per_joint = np.linalg.norm(shape - relative_truth, axis=2)
    aligned = np.linalg.norm(procrustes_aligned(shape, relative_truth) - relative_truth, axis=2)
    return {"views": int(len(samples)), "mpjpe_mm": float(per_joint.mean() * 1000),
            "pa_mpjpe_mm": float(aligned.mean() * 1000),
            "distance_error_median": float(np.median(distance_error)),
            "distance_error_p68": float(np.percentile(distance_error, 68))}


def step_gaits(features_path: Path, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """STEP's gait file (``features*.h5``) as standing walks of random adult heights: (training, held-out thirds)."""
    from ...cues.gait.data import load_h5_gaits

    rng = np.random.default_rng(seed)
    gaits = [standing_on_floor(g, float(rng.uniform(1.5, 1.9)))
             for g in load_h5_gaits(features_path).gaits]
    order = rng.permutation(len(gaits))
    held = set(order[: len(gaits) // 3].tolist())
    return ([g for i, g in enumerate(gaits) if i not in held], [g for i, g in enumerate(gaits) if i in held])


def lifter_passport(config: LifterTrainConfig, metrics: dict, trained_on: str, command: str) -> WeightsPassport:
    return WeightsPassport(
        name="lifter_mlp", architecture=ARCHITECTURE, labels=(), license="MIT (trained by this package)",
        preprocessing="16 gait joints → viewing rays ((px − c) / f), centred on the root ray and divided by their "
                      "spread; masked below min_confidence; + the root ray (pose/lifting/model.py)",
        trained_on=trained_on, joint_order=GAIT_JOINTS,
        config={"width": config.width, "blocks": config.blocks, "dropout": config.dropout,
                "min_confidence": config.min_confidence,
                "relative_distance_error": metrics["held_out_walker"]["distance_error_p68"],
                "seed": config.seed, "command": command, "metrics": metrics})


def load_lifter(path: str | Path, device: torch.device | str = "cpu") -> Lifter:
    """A Lifter from our NAME.pt + NAME.json (weights_only load, passport checked)."""
    state, passport = load_checkpoint(path, ARCHITECTURE)
    network = LifterNetwork(int(passport.config["width"]), int(passport.config["blocks"]),
                            float(passport.config.get("dropout", 0.0)))
    network.load_state_dict(state)
    return Lifter(network, float(passport.config["min_confidence"]),
                  float(passport.config["relative_distance_error"]), device)


def train_lifter(config: LifterTrainConfig, out: Path, step_features: Path | None = None,
                 command: str = "", progress=None) -> tuple[Path, dict]:
    """Train, evaluate on held-out walker views (other seed) and held-out STEP gaits; write lifter_mlp.pt/.json."""
    step_train, step_held = step_gaits(step_features, config.seed) if step_features else ([], [])
    samples = training_views(config, step_train)
    network, history = fit_lifter(samples, config, progress)
    lifter = Lifter(network, config.min_confidence, relative_distance_error=float("nan"))
    rng = np.random.default_rng(config.seed + 1000)
    held_walks = walker_gaits(max(config.walks // 8, 40), config.walk_frames, rng)
    metrics = {"training_views": len(samples), "history": history,
               "held_out_walker": evaluate_lifter(lifter, view_walks(held_walks, config.views_per_walk, rng, mirror=False))}
    if step_held:
        metrics["held_out_step"] = evaluate_lifter(lifter, view_walks(step_held, config.views_per_walk, rng, mirror=False))
    trained_on = f"{config.walks} procedural walks (gait/synthetic.py, every emotion's style)"
    if step_features:
        trained_on += f" + {len(step_train)} gaits of {step_features.name} (a third held out)"
    trained_on += ", each through a random pinhole camera (pose/lifting/data.py CameraRanges, DetectorNoise)"
    path = Path(out) / "lifter_mlp.pt"
    if distributed_run().main:  # in a distributed run, rank 0 writes
        path = save_checkpoint(network.state_dict(), lifter_passport(config, metrics, trained_on, command), path)
    return path, metrics
