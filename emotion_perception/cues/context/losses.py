"""EMOTIC losses: weighted squared error over the 26 categories, margin losses over valence/arousal/dominance.

Both sum over the batch, as the reference implementation does, and default to its training choices
(dynamic category weights, smooth-L1 for VAD). One deliberate difference: errors under the margin cost
nothing in both VAD losses, where the reference's smooth-L1 uses the margin as its L2/L1 switch point
(docs/context.md).
"""

from __future__ import annotations

import torch
from torch import nn

from .labels import EMOTIC_CATEGORIES

STATIC_CATEGORY_WEIGHTS: tuple[float, ...] = (
    0.1435, 0.1870, 0.1692, 0.1165, 0.1949, 0.1204, 0.1728, 0.1372, 0.1620, 0.1540, 0.1987, 0.1057, 0.1482,
    0.1192, 0.1590, 0.1929, 0.1158, 0.1907, 0.1345, 0.1307, 0.1665, 0.1698, 0.1797, 0.1657, 0.1520, 0.1537,
)
"""The reference's fixed per-category weights ('static'), in labels.EMOTIC_CATEGORIES order."""
ABSENT_CATEGORY_WEIGHT = 1e-4
"""Dynamic weight of a category with no positive example in the batch."""
CATEGORY_WEIGHTINGS = ("mean", "static", "dynamic")
CONTINUOUS_LOSSES = ("l2", "smooth_l1")


def dynamic_category_weights(target: torch.Tensor) -> torch.Tensor:
    """Per batch: 1 / ln(positives + 1.2) for each category, ABSENT_CATEGORY_WEIGHT where none is positive."""
    counts = target.sum(dim=0)
    return torch.where(counts > 0, 1.0 / torch.log(counts + 1.2), torch.full_like(counts, ABSENT_CATEGORY_WEIGHT))


class DiscreteLoss(nn.Module):
    """sum over batch and categories of weight[c] * (score - label)^2."""

    def __init__(self, weighting: str = "dynamic") -> None:
        super().__init__()
        if weighting not in CATEGORY_WEIGHTINGS:
            raise ValueError(f"category weighting {weighting!r} is not one of {CATEGORY_WEIGHTINGS}")
        self.weighting = weighting
        count = len(EMOTIC_CATEGORIES)
        fixed = torch.full((count,), 1.0 / count) if weighting == "mean" else torch.tensor(STATIC_CATEGORY_WEIGHTS)
        self.register_buffer("fixed_weights", fixed, persistent=False)

    def forward(self, scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weights = dynamic_category_weights(target) if self.weighting == "dynamic" else self.fixed_weights
        return (((scores - target) ** 2) * weights).sum()


class ContinuousLoss(nn.Module):
    """sum of L2 (error^2) or smooth-L1 (0.5 error^2 up to 1, error - 0.5 beyond) over the VAD errors;
    an error below ``margin`` costs nothing."""

    def __init__(self, kind: str = "smooth_l1", margin: float = 1.0) -> None:
        super().__init__()
        if kind not in CONTINUOUS_LOSSES:
            raise ValueError(f"continuous loss {kind!r} is not one of {CONTINUOUS_LOSSES}")
        self.kind = kind
        self.margin = margin

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = (prediction - target).abs()
        if self.kind == "l2":
            loss = error ** 2
        else:
            loss = torch.where(error <= 1.0, 0.5 * error ** 2, error - 0.5)
        return torch.where(error < self.margin, torch.zeros_like(loss), loss).sum()


class EmoticLoss(nn.Module):
    """discrete_weight * DiscreteLoss + continuous_weight * ContinuousLoss, the latter on the 1-10 scale."""

    def __init__(self, discrete_weight: float = 0.5, continuous_weight: float = 0.5, weighting: str = "dynamic",
                 continuous: str = "smooth_l1", margin: float = 1.0, vad_scale: float = 10.0) -> None:
        super().__init__()
        self.discrete = DiscreteLoss(weighting)
        self.continuous = ContinuousLoss(continuous, margin)
        self.discrete_weight = discrete_weight
        self.continuous_weight = continuous_weight
        self.vad_scale = vad_scale

    def forward(self, scores: torch.Tensor, scaled_vad: torch.Tensor, categories: torch.Tensor,
                vad: torch.Tensor) -> torch.Tensor:
        """``scaled_vad`` is the network's output (VAD / vad_scale); ``vad`` the labels on the 1-10 scale."""
        return (self.discrete_weight * self.discrete(scores, categories)
                + self.continuous_weight * self.continuous(scaled_vad * self.vad_scale, vad))
