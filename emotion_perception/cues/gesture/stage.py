"""The gesture stage: tracks' joint histories → emotion probabilities from body movement, all tracks in one batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...runtime.acceleration import accelerate_network
from ...runtime.loading import stage_load_problem
from ...configuration import setting
from ..base import WindowedStage, fusion_weight_setting, interval_setting
from ...types import JointSequence
from ...runtime.weights import WeightsError
from .model import ACCM, load_accm
from .representation import NUM_JOINTS, GestureInputError, motion_channels, prepare_window
from .results import GestureResult
from .synthetic import generate_gesture

GET_WEIGHTS_HINT = ("train ACCM weights with `emotion-perception train-gesture` (docs/gesture.md) and set "
                    "gesture.weights to the NAME.pt")


@dataclass
class GestureConfig:
    """Settings of the gesture (ACCM) branch (each becomes a ROS parameter)."""

    weights: str = setting("", "ACCM checkpoint NAME.pt with its passport NAME.json beside it; empty switches the "
                           "branch off")
    window_frames: int = setting(60, "frames per classification window at the checkpoint's rate [frames] "
                                 "(60 = 2 s at 30 fps)", min=2)
    min_frames: int = setting(30, "fewest frames [frames] in the window before a first result; shorter windows "
                              "hold their first pose", min=1)
    fusion_weight: float = fusion_weight_setting(0.4)
    min_interval_s: float = interval_setting(0.2)

    def check(self) -> None:
        if self.min_frames > self.window_frames:
            raise ValueError(f"min_frames ({self.min_frames}) must not exceed window_frames ({self.window_frames})")


class GestureEmotion(WindowedStage):
    """Classifies tracks' body movement with ACCM; unavailable (never guessing) without usable weights."""

    def __init__(self, config: GestureConfig | None = None, device: torch.device | str = "cpu") -> None:
        self.config = config or GestureConfig()
        self.device = torch.device(device)
        self.network: ACCM | None = None
        self.labels: tuple[str, ...] = ()
        self.fps = 0.0
        self.name = ""
        self.dropped = 0
        """Sequences refused as malformed since start (NaN-only joints, wrong shape, degenerate skeleton)."""
        self.available, self.status = self._load()

    def _load(self) -> tuple[bool, str]:
        cfg = self.config
        problem = stage_load_problem(cfg, "gesture", self.device, f"no weights configured; {GET_WEIGHTS_HINT}")
        if problem:
            return False, f"gesture branch off: {problem}"
        try:
            self.network, passport = load_accm(cfg.weights, self.device)
        except (WeightsError, OSError, ValueError) as exc:
            return False, f"gesture branch off: {exc}"
        self.labels, self.name = tuple(passport.labels), passport.name
        self.fps = float(passport.config["representation"]["fps"])
        trained_window = int(passport.config["representation"]["window_frames"])
        note = f" (trained on {trained_window}-frame windows)" if trained_window != cfg.window_frames else ""
        return True, f"ok: accm {self.name} on {self.device}, {cfg.window_frames} frames at {self.fps:g} Hz{note}"

    def to(self, device: torch.device | str) -> None:
        """Move the network (the node parks it on the CPU while inactive)."""
        self.device = torch.device(device)
        if self.network is not None:
            self.network.to(self.device)

    def accelerate(self, mode: str, precision: str) -> str:
        """Run the network on the path ``mode`` names (acceleration.py: eager, compile, tensorrt); a note for the log.

        Its input is fixed apart from the batch axis (windows are padded to ``window_frames``), so on CUDA it
        may replay CUDA graphs. Warm-up inputs: synthetic gestures through the stage's own representation.
        """
        if self.network is None:
            return f"{mode}: no gesture network ({self.status})"
        frames = self.config.window_frames

        def gestures(people: int) -> tuple[torch.Tensor, ...]:
            motion = [motion_channels(generate_gesture("neutral", frames, self.fps, rng=np.random.default_rng(seed)),
                                      self.fps, frames) for seed in range(people)]
            return (torch.from_numpy(np.stack(motion)).to(self.device),)

        self.network, note = accelerate_network(self.network, gestures, self.device, precision, mode,
                                                name=f"gesture network ({self.name})", cuda_graphs=True)
        return note

    def __call__(self, sequences: list[JointSequence]) -> list[GestureResult]:
        """One result per sequence, in order; every ready sequence goes through the network in one batch."""
        if not self.available or self.network is None:
            return [GestureResult(False, self.status, model=self.name) for _ in sequences]
        results: list[GestureResult] = []
        ready: list[tuple[int, np.ndarray]] = []
        for sequence in sequences:
            try:
                window = prepare_window(sequence.joints, sequence.fps, self.fps, self.config.window_frames)
                if len(window) < self.config.min_frames:
                    results.append(GestureResult(False, f"collecting: {len(window)}/{self.config.min_frames} frames",
                                                 labels=self.labels, frames_used=len(window), model=self.name))
                    continue
                motion = motion_channels(window, self.fps, self.config.window_frames)
            except GestureInputError as exc:
                shape = np.shape(sequence.joints)
                if len(shape) == 3 and shape[1:] == (NUM_JOINTS, 3) and shape[0] < self.config.min_frames:
                    status = f"collecting: {shape[0]}/{self.config.min_frames} frames"  # too young to judge
                else:
                    self.dropped += 1
                    status = f"bad input: {exc}"
                results.append(GestureResult(False, status, labels=self.labels, model=self.name))
                continue
            ready.append((len(results), motion))
            results.append(GestureResult(False, "", labels=self.labels, frames_used=len(window), model=self.name))
        if ready:
            batch = torch.from_numpy(np.stack([motion for _, motion in ready])).to(self.device)
            with torch.inference_mode():
                probabilities = torch.softmax(self.network(batch).float(), dim=1).cpu().numpy()
            for (index, _), row in zip(ready, probabilities):
                result = results[index]
                result.valid, result.probabilities = True, row
                result.status = f"ok: {result.label}"
        return results
