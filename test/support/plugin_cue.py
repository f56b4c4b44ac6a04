"""A cue from outside the package, installed the way another distribution would be: a module and a
``*.dist-info`` folder whose entry points declare it, in a folder that a subprocess gets on its PYTHONPATH.

The cue, "posture", calls a person upright (happy) or slumped (sad) from their box's height over its width,
with a one-layer torch network that has a weights passport, an ONNX export entry and a command of its own.
Beside it the folder holds three plug-ins that must be reported and skipped: a cue taking a shipped cue's
name, a cue whose module fails to import, and a detector backend whose module does.
"""

from __future__ import annotations

import os
from pathlib import Path

POSTURE_MODULE = '''
"""posture_cue: a cue of another distribution (written by test/support/plugin_cue.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from emotion_perception.configuration import setting
from emotion_perception.cues.base import Cue, fusion_weight_setting
from emotion_perception.runtime.export import BATCH_SIZES, ExportableNetwork, example_generator
from emotion_perception.runtime.weights import WeightsPassport
from emotion_perception.types import CueResult, Evidence

LABELS = ("slumped", "upright")


class PostureNet(nn.Module):
    """Box height / width -> logits over LABELS: upright above a ratio of 1.5."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(1, 2)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[-4.0], [4.0]]))
            self.linear.bias.copy_(torch.tensor([6.0, -6.0]))

    def forward(self, ratio: torch.Tensor) -> torch.Tensor:
        return self.linear(ratio)


PASSPORT = WeightsPassport(name="posture_rule", architecture="posture_net", labels=LABELS, license="CC0 (test)",
                           trained_on="set by hand")
NETWORK = ExportableNetwork(
    name="posture_net", summary="the posture plug-in's network: box ratios (N, 1) -> logits (N, 2)",
    build=lambda weights: PostureNet().eval(),
    example_inputs=lambda sizes: (3 * torch.rand(sizes["batch"], 1, generator=example_generator()),),
    input_names=("ratio",), input_axes=({0: "batch"},), output_names=("logits",),
    export_sizes={"batch": 2}, check_sizes=BATCH_SIZES, default_weights=PASSPORT.name)


@dataclass
class PostureConfig:
    """Settings of the posture plug-in."""

    weights: str = setting("posture_rule", "the posture network's weights; empty switches the cue off")
    min_height_px: float = setting(4.0, "boxes lower than this get no result [px]", min=0.0)
    fusion_weight: float = fusion_weight_setting(1.0)


@dataclass
class PostureResult(CueResult):
    labels: ClassVar[tuple[str, ...]] = LABELS
    valid: bool
    status: str
    probabilities: np.ndarray | None = None
    model: str = ""

    def evidence(self) -> Evidence | None:
        probabilities = self._probabilities()
        if probabilities is None:
            return None
        upright = float(probabilities[1])
        return Evidence.from_distribution(np.array([upright, 1.0 - upright, 0.0, 0.0]))


class PostureStage:
    def __init__(self, config: PostureConfig, device: torch.device) -> None:
        self.config = config
        self.network = PostureNet().to(device) if config.weights else None
        self.status = f"ready: {config.weights}" if config.weights else "no weights configured"

    @property
    def available(self) -> bool:
        return self.network is not None

    def to(self, device: torch.device) -> None:
        if self.network is not None:
            self.network.to(device)

    def accelerate(self, mode: str, precision: str) -> str:
        return "posture: nothing to compile: eager"


class PostureCue(Cue):
    name = "posture"
    config_class = PostureConfig
    result_class = PostureResult
    stage_class = PostureStage
    released_weights = (PASSPORT,)
    exportable_networks = (NETWORK,)
    commands_module = __name__

    def __call__(self, inputs) -> list[PostureResult]:
        boxes = np.array([person.box for person in inputs.people], np.float32).reshape(-1, 4)
        heights, widths = boxes[:, 3] - boxes[:, 1], np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
        with torch.inference_mode():
            ratios = torch.as_tensor(heights / widths).reshape(-1, 1)
            probabilities = torch.softmax(self.stage.network(ratios.to(self.device)), dim=1).cpu().numpy()
        return [PostureResult(True, "ok", p, PASSPORT.name) if h >= self.config.min_height_px
                else PostureResult(False, f"box under {self.config.min_height_px:g} px")
                for p, h in zip(probabilities, heights)]


class SecondGait(PostureCue):
    """A plug-in cue that takes a shipped cue's name: skipped."""

    name = "gait"


def add_commands(subparsers) -> None:
    check = subparsers.add_parser("posture-check", help="say how the posture plug-in reads a box height/width ratio")
    check.add_argument("ratio", type=float)
    check.set_defaults(func=_check)


def _check(args) -> int:
    logits = PostureNet()(torch.tensor([[args.ratio]]))
    print(LABELS[int(logits.argmax())])
    return 0
'''

BROKEN_CUE_MODULE = 'raise ImportError("posture_broken needs a package that is not installed")\n'


def distribution(folder: Path, name: str, entry_points: str) -> None:
    """A ``NAME-1.0.dist-info`` folder (what pip writes) with METADATA and the given entry_points.txt."""
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def install_plugins(folder: Path) -> Path:
    """Write the posture cue and the three faulty plug-ins into ``folder`` as installed distributions."""
    (folder / "posture_cue.py").write_text(POSTURE_MODULE)
    (folder / "posture_broken.py").write_text(BROKEN_CUE_MODULE)
    distribution(folder, "posture_cue", "[emotion_perception.cues]\nposture = posture_cue:PostureCue\n"
                                        "second_gait = posture_cue:SecondGait\n")
    distribution(folder, "posture_broken", "[emotion_perception.cues]\nbroken = posture_broken:BrokenCue\n\n"
                                           "[emotion_perception.detectors]\nbroken_detector = posture_broken\n")
    return folder


def plugin_env(folder: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (this process's environment by default) with ``folder`` first on PYTHONPATH."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(folder), env.get("PYTHONPATH", ""))))
    return env
