"""The EMOTIC network: a body ResNet-18 and a scene ResNet-18, fused into 26 categories and 3 dimensions.

Outputs follow the reference implementation: the category head is a plain linear regression towards the
0/1 labels (no sigmoid; per-category thresholds decide), and the continuous head predicts valence,
arousal and dominance divided by 10 (``VAD_SCALE`` turns it back into the 1-10 EMOTIC scale).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

from .labels import EMOTIC_CATEGORIES, VAD_DIMENSIONS
from ...runtime.weights import WeightsError, WeightsPassport, load_checkpoint

ARCHITECTURE = "emotic"
FEATURES = 512
"""Features of each ResNet-18 branch once its classifier is removed."""
VAD_SCALE = 10.0
"""The continuous head predicts VAD / VAD_SCALE (as the reference trains it)."""
IMAGENET = "imagenet"
"""Backbone weights name meaning torchvision's ResNet18_Weights.IMAGENET1K_V1 (downloaded by torchvision)."""


class EmoticFusion(nn.Module):
    """Concatenated scene and body features -> 256 -> (26 category scores, 3 scaled VAD values)."""

    def __init__(self, features: int = 2 * FEATURES, hidden: int = 256, dropout: float = 0.5) -> None:
        super().__init__()
        self.fuse = nn.Linear(features, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.categories = nn.Linear(hidden, len(EMOTIC_CATEGORIES))
        self.continuous = nn.Linear(hidden, len(VAD_DIMENSIONS))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.dropout(self.relu(self.norm(self.fuse(features))))
        return self.categories(hidden), self.continuous(hidden)


class EmoticNet(nn.Module):
    """Body branch, scene (context) branch and fusion; the scene features come first in the fusion input."""

    def __init__(self, body: nn.Module, context: nn.Module, fusion: EmoticFusion) -> None:
        super().__init__()
        self.body = body
        self.context = context
        self.fusion = fusion

    def forward(self, context: torch.Tensor, body: torch.Tensor,
                scene_index: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores (N, 26) and scaled VAD (N, 3) for N body crops.

        ``context`` holds M scene images; ``scene_index`` (N,) says which scene each body belongs to, so
        a frame's scene goes through its branch once however many people it holds. Without it M == N.
        """
        scene_features = self.context(context)
        if scene_index is not None:
            scene_features = scene_features[scene_index]
        elif scene_features.shape[0] != body.shape[0]:
            raise ValueError(f"{scene_features.shape[0]} scenes for {body.shape[0]} bodies and no scene_index")
        return self.fusion(torch.cat((scene_features, self.body(body)), dim=1))


def resnet18_features(weights: str = "") -> torchvision.models.ResNet:
    """ResNet-18 without its classifier: (N, 3, H, W) -> (N, 512).

    ``weights``: "" (random initialisation), "imagenet" (torchvision's IMAGENET1K_V1, downloaded into
    torch's cache), or a local file: a ResNet-18 state_dict, or a checkpoint dict holding one under
    "state_dict" such as Places365's resnet18_places365.pth.tar ("module." prefixes and the classifier
    are dropped).
    """
    model = torchvision.models.resnet18()
    model.fc = nn.Identity()
    if weights == IMAGENET:
        try:
            state = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
        except Exception as exc:  # no network, proxy, corrupt cache: all mean the same to the user
            raise WeightsError(f"cannot get torchvision's ImageNet ResNet-18 weights ({exc}); "
                               "give a local ResNet-18 weights file instead") from exc
    elif weights:
        state = backbone_state_dict(weights)
    else:
        return model
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")})
    return model


def backbone_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A ResNet-18 state_dict from a plain or wrapped checkpoint file, loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"backbone weights file not found: {path}")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"cannot load backbone weights from {path}: {str(exc).splitlines()[0]} (a whole "
                           "pickled module? convert it with `emotion-perception import-context`)") from exc
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise WeightsError(f"{path} holds no ResNet-18 state_dict")
    return {key.removeprefix("module."): value for key, value in loaded.items()}


def emotic_resnet18(body_weights: str = "", context_weights: str = "", dropout: float = 0.5) -> EmoticNet:
    """The EMOTIC model; backbone weights as in :func:`resnet18_features` (the method uses ImageNet for
    the body and Places365 for the scene). The fusion layers start random."""
    return EmoticNet(resnet18_features(body_weights), resnet18_features(context_weights),
                     EmoticFusion(dropout=dropout))


def load_emotic(path: str | Path) -> tuple[EmoticNet, WeightsPassport]:
    """Our EMOTIC checkpoint (NAME.pt + passport NAME.json) as an eval-mode model on the CPU."""
    state, passport = load_checkpoint(path, ARCHITECTURE)
    if tuple(passport.labels) != EMOTIC_CATEGORIES:
        raise WeightsError(f"{path}: passport labels are not the 26 EMOTIC categories in our order")
    model = emotic_resnet18(dropout=float(passport.config.get("dropout", 0.5)))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsError(f"{path} does not fit the EMOTIC ResNet-18 model: {str(exc).splitlines()[0]}") from exc
    return model.eval(), passport
