"""One place that knows each gait architecture: builder, preprocessing for live tracks, label order, weights.

The stage, training and the CLI all go through :class:`GaitModel`, so a network is always fed the way
it was trained and its outputs are always mapped to labels.GAIT_EMOTIONS. ST-GCN models carry the
statistics of their training inputs (distribution.InputStatistics: from our passport, else from the
weights' own input BatchNorm); live windows are aligned to them and measured against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .labels import GAIT_EMOTIONS
from ...runtime.weights import (WeightsError, WeightsPassport, load_checkpoint, load_state_dict, published_path,
                                verify_sha256, zero_subnormals)
from .distribution import InputStatistics, input_distance
from .features import affective_features
from .preprocessing import (PROXEMO_VIEW_ANGLES_DEG, proxemo_input, step_online_input, to_our_order, to_stgcn_input,
                            view_group)
from .restricted_load import extract_state_dict
from .stgcn import TEMPORAL_KERNEL, stgcn_affective, stgcn_step
from .vsgcnn import combine_views, vsgcnn_proxemo
from .weights import GAIT_WEIGHTS

ARCHITECTURES: tuple[str, ...] = ("stgcn", "stgcn_affective", "vsgcnn")
STATISTICS_KEY = "input_statistics"
"""Passport config entry of our checkpoints holding the training inputs' InputStatistics."""


def build_network(architecture: str, config: dict | None = None) -> torch.nn.Module:
    """Build an untrained network of ``architecture`` with builder arguments from a passport config."""
    config = config or {}
    if architecture == "stgcn":
        return stgcn_step(temporal_kernel=int(config.get("temporal_kernel", TEMPORAL_KERNEL)))
    if architecture == "stgcn_affective":
        return stgcn_affective(num_features=int(config.get("num_features", 27)),
                               temporal_kernel=int(config.get("temporal_kernel", TEMPORAL_KERNEL)))
    if architecture == "vsgcnn":
        return vsgcnn_proxemo()
    raise ValueError(f"unknown gait architecture {architecture!r}; expected one of {ARCHITECTURES}")


@dataclass
class GaitModel:
    """A network with its passport: ``network_input`` turns live joint windows into inputs, ``probabilities`` scores them."""

    network: torch.nn.Module
    passport: WeightsPassport
    notes: list[str] = field(default_factory=list)
    """What loading did that a user should know (e.g. pickled objects dropped)."""
    statistics: InputStatistics | None = None
    """Training distribution of an ST-GCN's input (alignment target and z reference); None for VS-GCNN."""

    @property
    def architecture(self) -> str:
        return self.passport.architecture

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def to(self, device: torch.device | str) -> GaitModel:
        self.network.to(device)
        return self

    def network_input(self, sequences: list[np.ndarray], window_frames: int, fps: float) -> tuple[torch.Tensor, ...]:
        """Input tensors on the network's device for a batch of (T, 16, 3) sequences: newest ``window_frames``
        frames of each, tiled (wrapped) when shorter."""
        windows = [s[-window_frames:] for s in sequences]
        if self.architecture == "vsgcnn":
            return (proxemo_input(windows, window_frames, self.device),)
        if self.statistics is None:
            raise WeightsError(f"{self.passport.name or self.architecture}: no training statistics to align live windows to")
        inputs = (to_stgcn_input(step_online_input(windows, window_frames, self.statistics)).to(self.device),)
        if self.architecture == "stgcn_affective":
            features = np.stack([affective_features(w, fps) for w in windows]).astype(np.float32)
            inputs += (torch.from_numpy(features).to(self.device),)
        return inputs

    def input_distance(self, inputs: tuple[torch.Tensor, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and max |z| over the 48 channels of each window's mean input (distribution.input_distance);
        NaN for models without training statistics."""
        if self.statistics is None:
            unknown = np.full(len(inputs[0]), np.nan)
            return unknown, unknown.copy()
        window_means = inputs[0].mean(dim=2)[..., 0].transpose(1, 2)  # (N, 3, T, 16, 1) → (N, 16, 3)
        return input_distance(window_means.double().cpu().numpy(), self.statistics)

    def logits(self, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Forward pass → (N, 4) scores in the model's own label order (VS-GCNN: combined over views)."""
        device = self.device
        outputs = self.network(*(x.to(device) for x in inputs))
        if self.architecture == "vsgcnn":
            views = len(PROXEMO_VIEW_ANGLES_DEG)
            outputs = combine_views(outputs.view(-1, views, outputs.shape[-1]),
                                    [view_group(a) for a in PROXEMO_VIEW_ANGLES_DEG])
        return outputs

    def probabilities(self, inputs: tuple[torch.Tensor, ...]) -> np.ndarray:
        """(N, 4) float32 probabilities over labels.GAIT_EMOTIONS."""
        probabilities = torch.softmax(self.logits(inputs).float(), dim=1).cpu().numpy()
        return to_our_order(probabilities, self.passport.labels).astype(np.float32)


def training_statistics(network: torch.nn.Module, passport: WeightsPassport) -> InputStatistics | None:
    """The input statistics a model was trained with: our passport's, else its input BatchNorm's; None without either."""
    if STATISTICS_KEY in passport.config:
        return InputStatistics.from_config(passport.config[STATISTICS_KEY])
    norm = getattr(network, "input_norm", None)
    return None if norm is None else InputStatistics.from_batchnorm(norm)


def _published_passport(weights: str) -> tuple[WeightsPassport, Path] | None:
    """A released weights name, or a path to a released file (recognised by its file name)."""
    if weights in GAIT_WEIGHTS:
        return GAIT_WEIGHTS[weights], published_path(GAIT_WEIGHTS[weights])
    path = Path(weights).expanduser()
    for passport in GAIT_WEIGHTS.values():
        if path.name == passport.file_name:
            return passport, path
    return None


def load_gait_model(weights: str, architecture: str | None = None) -> GaitModel:
    """Released weights (by name, or a path to the released file) or our checkpoint NAME.pt (+ NAME.json)."""
    notes: list[str] = []
    published = _published_passport(weights)
    if published is not None:
        passport, path = published
        if passport.architecture == "vsgcnn":  # pickles a loss object: restricted extraction
            verify_sha256(path, passport.sha256)
            state, dropped = extract_state_dict(path)
            notes.append(f"{path.name}: took model_state_dict only; left unconstructed: {', '.join(dropped) or 'nothing'}")
        else:
            state = load_state_dict(path, passport.sha256)
    else:
        state, passport = load_checkpoint(Path(weights).expanduser(), None)
    if architecture is not None and passport.architecture != architecture:
        raise WeightsError(f"weights {weights!r} are for {passport.architecture!r}, but the model asked for is {architecture!r}")
    if tuple(sorted(passport.labels)) != tuple(sorted(GAIT_EMOTIONS)):
        raise WeightsError(f"weights {weights!r} have labels {passport.labels}, not the four gait emotions")
    network = build_network(passport.architecture, passport.config)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"weights {weights!r} do not fit the {passport.architecture} network: {exc}".splitlines()[0]) from exc
    network.eval()
    zero_subnormals(network)  # the released weights are mostly subnormal: 100x slower on a CPU, same outputs
    try:
        statistics = training_statistics(network, passport)
    except ValueError as exc:
        raise WeightsError(f"weights {weights!r}: {exc}") from exc
    return GaitModel(network, passport, notes, statistics)
