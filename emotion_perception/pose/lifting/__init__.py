"""2D → 3D lifting for cameras without depth: a small network of ours, its training data and the shipped weights."""

from pathlib import Path

from .model import PRIOR_HEIGHT_M, Lifter, LifterNetwork
from .train import ARCHITECTURE, LifterTrainConfig, load_lifter, train_lifter

SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "weights" / "lifter_mlp.pt"
"""The lifter trained by ``train-lifter`` with its defaults (passport beside it: data, command, seed, metrics)."""

__all__ = ["ARCHITECTURE", "PRIOR_HEIGHT_M", "SHIPPED_WEIGHTS", "Lifter", "LifterNetwork", "LifterTrainConfig",
           "load_lifter", "train_lifter"]
