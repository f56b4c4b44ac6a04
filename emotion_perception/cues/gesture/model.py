"""ACCM: an attention-based channel-wise CNN over the joint-motion representation (representation.py).

Two branches read the (N, 16·6, T) input after a BatchNorm over its channels:

- **channel-wise branch**: two grouped 1D convolutions over time with ``groups = joints``, so each joint's
  six channels are filtered on their own (each joint keeps ``joint_channels`` features of its own
  movement), then **joint attention**: squeeze-and-excitation over joints — each joint's features are
  pooled to one number, a bottleneck MLP with a sigmoid gives one weight per joint, and each joint's group
  is scaled by it (the network learns which joints matter) — then a 1×1 convolution mixes the joints;
- **mixed branch**: ordinary convolutions over all channels at once (how joints move together).

Their sum goes through one more temporal convolution, mean and max pooling over time, dropout and a
linear classifier. Both branches downsample time by 2 once, so any window length of at least 2 works.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ...labels import GAIT_JOINTS
from .labels import GESTURE_EMOTIONS
from ...runtime.weights import WeightsError, WeightsPassport, load_checkpoint
from .representation import FEATURES_PER_JOINT

ARCHITECTURE = "accm"
PREPROCESSING = ("joint_motion (gesture/representation.py): per joint root-relative, shoulder-line-facing, "
                 "torso-length-normalised x, y, z and their velocities [torso lengths/s]; newest window at fps")
MODEL_DEFAULTS: dict[str, int | float] = {
    "joints": len(GAIT_JOINTS), "features_per_joint": FEATURES_PER_JOINT, "joint_channels": 8, "width": 64,
    "kernel": 9, "reduction": 4, "dropout": 0.2,
}
"""Builder arguments of :func:`accm` (a passport's ``config["model"]`` holds the ones a checkpoint used)."""


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm1d(out_channels), nn.ReLU(inplace=True))


class JointAttention(nn.Module):
    """Squeeze-and-excitation over joints: a weight in (0, 1) per joint from the pooled features of its group."""

    def __init__(self, joints: int, reduction: int) -> None:
        super().__init__()
        self.joints = joints
        hidden = max(joints // reduction, 2)
        self.excite = nn.Sequential(nn.Linear(joints, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, joints), nn.Sigmoid())

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """(N, joints·C, T) grouped features → (N, joints) attention weights."""
        return self.excite(x.reshape(x.shape[0], self.joints, -1).mean(dim=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, channels, t = x.shape
        scaled = x.reshape(n, self.joints, -1, t) * self.weights(x)[:, :, None, None]
        return scaled.reshape(n, channels, t)


class ACCM(nn.Module):
    """(N, joints·features, T) joint-motion windows → (N, num_classes) logits (see the module doc)."""

    def __init__(self, num_classes: int, *, joints: int, features_per_joint: int, joint_channels: int, width: int,
                 kernel: int, reduction: int, dropout: float) -> None:
        """Built by :func:`accm`, whose MODEL_DEFAULTS hold the default of each argument."""
        super().__init__()
        if kernel % 2 == 0 or kernel < 1:
            raise ValueError(f"kernel must be odd and positive, got {kernel}")
        inputs, grouped = joints * features_per_joint, joints * joint_channels
        self.input_channels = inputs
        self.input_norm = nn.BatchNorm1d(inputs)
        self.joint_convs = nn.Sequential(_conv_bn_relu(inputs, grouped, kernel, groups=joints),
                                         _conv_bn_relu(grouped, grouped, kernel, stride=2, groups=joints))
        self.attention = JointAttention(joints, reduction)
        self.joint_mix = _conv_bn_relu(grouped, width, 1)
        self.mixed = nn.Sequential(_conv_bn_relu(inputs, width, kernel, stride=2), _conv_bn_relu(width, width, kernel))
        self.temporal = _conv_bn_relu(width, width, kernel)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, num_classes))

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[1] != self.input_channels or x.shape[2] < 2:
            raise ValueError(f"ACCM expects (N, {self.input_channels}, T >= 2), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        x = self.input_norm(x)
        features = self.temporal(self.joint_mix(self.attention(self.joint_convs(x))) + self.mixed(x))
        return self.classifier(torch.cat([features.mean(dim=2), features.amax(dim=2)], dim=1))

    def joint_weights(self, x: torch.Tensor) -> torch.Tensor:
        """(N, joints) attention weights the channel-wise branch gives each joint of these inputs."""
        self._check(x)
        return self.attention.weights(self.joint_convs(self.input_norm(x)))


def accm(num_classes: int = len(GESTURE_EMOTIONS), **config: int | float) -> ACCM:
    """An untrained ACCM; ``config`` overrides MODEL_DEFAULTS (unknown keys are refused)."""
    unknown = set(config) - set(MODEL_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown ACCM settings {sorted(unknown)}; known: {sorted(MODEL_DEFAULTS)}")
    return ACCM(num_classes, **{**MODEL_DEFAULTS, **config})


def accm_passport(labels: tuple[str, ...], model: dict, fps: float, window_frames: int, name: str = "",
                  trained_on: str = "", training: dict | None = None) -> WeightsPassport:
    """The passport of ACCM weights: label order, builder arguments and the representation they expect."""
    config = {"model": {**MODEL_DEFAULTS, **model}, "representation": {"fps": float(fps), "window_frames": int(window_frames)}}
    if training is not None:
        config["training"] = training
    return WeightsPassport(name=name, architecture=ARCHITECTURE, labels=tuple(labels), license="ours (trained locally)",
                           preprocessing=PREPROCESSING, trained_on=trained_on, joint_order=GAIT_JOINTS, config=config)


def load_accm(path: str | Path, device: torch.device | str = "cpu") -> tuple[ACCM, WeightsPassport]:
    """An ACCM checkpoint (NAME.pt + passport NAME.json) built, loaded strictly, in eval mode on ``device``."""
    state, passport = load_checkpoint(path, ARCHITECTURE)
    if passport.joint_order and tuple(passport.joint_order) != GAIT_JOINTS:
        raise WeightsError(f"{path}: joint order {passport.joint_order} is not labels.GAIT_JOINTS")
    if not passport.labels:
        raise WeightsError(f"{path}: passport has no label order")
    for key in ("model", "representation"):
        if not isinstance(passport.config.get(key), dict):
            raise WeightsError(f"{path}: passport config lacks {key!r} (builder arguments and representation)")
    representation = passport.config["representation"]
    fps, window = representation.get("fps"), representation.get("window_frames")
    if not (isinstance(fps, (int, float)) and 0 < fps <= 1000 and isinstance(window, int) and window > 0):
        raise WeightsError(f"{path}: passport representation needs a frame rate in (0, 1000] and a positive "
                           f"window_frames, not fps={fps!r}, window_frames={window!r}")
    try:
        network = accm(len(passport.labels), **passport.config["model"])
        network.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: weights do not fit the ACCM its passport describes: {exc}".splitlines()[0]) from exc
    return network.to(device).eval(), passport
