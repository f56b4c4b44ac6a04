"""The gait pipeline stage: per-track joint histories → gait emotion probabilities, all tracks in one batch."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..base import WindowedStage, fusion_weight_setting, interval_setting
from ...configuration import setting
from ...types import JointSequence, PositionSource
from ...runtime.weights import WeightsError
from ...runtime.acceleration import accelerate_network
from ...runtime.loading import stage_load_problem
from .models import ARCHITECTURES, GaitModel, load_gait_model
from .preprocessing import GaitInputError, check_sequence
from .labels import GAIT_EMOTIONS
from .results import GaitResult
from .synthetic import generate_gait
from .weights import GAIT_WEIGHTS


@dataclass
class GaitConfig:
    """Settings of the gait branch (each becomes a ROS parameter)."""

    model: str = setting("stgcn", "gait network: stgcn (STEP), stgcn_affective (STEP hybrid) or vsgcnn (ProxEmo)",
                         choices=ARCHITECTURES)
    weights: str = setting("step_stgcn_epoch395", "released weights name, path to our NAME.pt checkpoint, or empty "
                           "to disable the branch")
    window_frames: int = setting(75, "frames per classification window [frames] (STEP: 75 = 2.5 s at 30 fps)", min=1)
    fps: float = setting(30.0, "rate the network expects [Hz]; sequences at another rate are resampled", above=0.0)
    min_frames: int = setting(45, "fewest frames [frames] before a first result; shorter windows are tiled (wrapped)",
                              min=1)
    max_input_z: float = setting(3.5, "a result whose input window lies farther than this from the network's "
                                 "training inputs on any joint coordinate (|z| of the window's mean input against "
                                 "the training mean and std) is flagged out_of_distribution [std]", above=0.0,
                                 runtime=True)
    min_walk_speed_mps: float = setting(0.15, "a window whose root moved slower than this over the ground is not a "
                                        "walk and gets no gait result [m/s]", min=0.0, runtime=True)
    fusion_weight: float = fusion_weight_setting(0.6)
    min_interval_s: float = interval_setting(0.2)

    def check(self) -> None:
        if self.min_frames > self.window_frames:
            raise ValueError(f"min_frames ({self.min_frames}) must not exceed window_frames ({self.window_frames})")


def resample(joints: np.ndarray, from_fps: float, to_fps: float) -> np.ndarray:
    """Linear resampling of a (T, 16, 3) sequence in time, keeping its newest frame."""
    if len(joints) < 2 or abs(from_fps - to_fps) < 1e-6:
        return joints
    duration = (len(joints) - 1) / from_fps
    times = duration - np.arange(int(np.floor(duration * to_fps)) + 1)[::-1] / to_fps
    source = np.arange(len(joints)) / from_fps
    flat = joints.reshape(len(joints), -1)
    return np.stack([np.interp(times, source, flat[:, k]) for k in range(flat.shape[1])], axis=1).reshape(-1, *joints.shape[1:])


class GaitEmotion(WindowedStage):
    """Classifies tracks' walks; reports itself unavailable (never guesses) without usable weights.

    ``device`` is the pipeline's one device for every network. The stage alone owns the window
    (``window_frames`` at ``fps``) and the minimum history (``frames_needed``); the pipeline asks it.
    """

    def __init__(self, config: GaitConfig | None = None, device: torch.device | str = "cpu") -> None:
        self.config = config or GaitConfig()
        self.device = torch.device(device)
        self.dropped = 0
        """Sequences refused as malformed since start (NaN joints, wrong shape)."""
        self.model: GaitModel | None = None
        self.available, self.status = self._load()

    @property
    def fps(self) -> float:
        """Rate of the windows the network takes [Hz]."""
        return float(self.config.fps)

    def to(self, device: torch.device | str) -> None:
        """Move the network (the node parks it on the CPU while inactive)."""
        self.device = torch.device(device)
        if self.model is not None:
            self.model.to(self.device)

    def accelerate(self, mode: str, precision: str) -> str:
        """Run the network on the path ``mode`` names (acceleration.py: eager, compile, tensorrt); a note for the log.

        Its input is fixed apart from the batch axis (windows are tiled to ``window_frames``), so on CUDA it may
        replay CUDA graphs. Warm-up inputs: synthetic walks through the network's own preprocessing.
        """
        if self.model is None:
            return f"{mode}: no gait network ({self.status})"

        def walks(people: int) -> tuple[torch.Tensor, ...]:
            joints = [generate_gait("neutral", self.window_frames, self.fps, rng=np.random.default_rng(seed))
                      for seed in range(people)]
            return self.model.network_input(joints, self.window_frames, self.fps)

        self.model.network, note = accelerate_network(self.model.network, walks, self.device, precision, mode,
                                                      name=f"gait network ({self.config.model})", cuda_graphs=True)
        return note

    def _load(self) -> tuple[bool, str]:
        cfg = self.config
        problem = stage_load_problem(cfg, "gait", self.device, f"no weights configured; set weights to "
                                     f"{' or '.join(GAIT_WEIGHTS)} or to a checkpoint trained with `emotion-perception "
                                     "train-gait`")
        if problem:
            return False, f"gait branch disabled: {problem}"
        try:
            self.model = load_gait_model(cfg.weights, cfg.model).to(self.device)
        except (WeightsError, OSError, ValueError) as exc:
            return False, f"gait branch disabled: {exc}"
        notes = f" ({'; '.join(self.model.notes)})" if self.model.notes else ""
        return True, f"ready: {cfg.model} with {cfg.weights}{notes}"

    def __call__(self, sequences: list[JointSequence]) -> list[GaitResult]:
        """One result per sequence, in order; all ready sequences go through the network in one batch."""
        name = self.config.model
        results = [GaitResult(False, self.status, frames_observed=s.frames_observed, model=name,
                              measured_3d=s.position_source != PositionSource.NONE) for s in sequences]
        if not self.available or self.model is None:
            return results
        ready: list[tuple[GaitResult, np.ndarray]] = []
        for sequence, result in zip(sequences, results):
            try:
                joints = check_sequence(sequence.joints)
            except GaitInputError as exc:
                self.dropped += 1
                result.status = f"bad input: {exc}"
                continue
            joints = resample(joints, sequence.fps, self.fps)[-self.window_frames:]
            result.frames_used = len(joints)
            if len(joints) < self.frames_needed:
                result.status = f"collecting: {len(joints)}/{self.frames_needed} frames"
                continue
            ready.append((result, joints))
        if ready:
            with torch.inference_mode():
                inputs = self.model.network_input([joints for _, joints in ready], self.window_frames, self.fps)
                probabilities = self.model.probabilities(inputs)
                z_mean, z_max = self.model.input_distance(inputs)
            bound = float(self.config.max_input_z)
            for (result, _), row, mean_z, max_z in zip(ready, probabilities, z_mean, z_max):
                result.valid, result.probabilities = True, row
                result.input_z_mean, result.input_z_max = float(mean_z), float(max_z)
                result.out_of_distribution = not math.isnan(max_z) and max_z > bound
                result.status = f"ok: {GAIT_EMOTIONS[int(np.argmax(row))]}" + (
                    f" (input {max_z:.1f} sigma from training data)" if result.out_of_distribution else "")
        return results
