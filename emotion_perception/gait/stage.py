"""The gait pipeline stage: per-track joint histories → gait emotion probabilities, all tracks in one batch."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..labels import GAIT_EMOTIONS
from ..types import GaitResult, JointSequence
from ..weights import PUBLISHED, WeightsError
from .models import GaitModel, load_gait_model
from .preprocessing import GaitInputError, check_sequence


@dataclass
class GaitConfig:
    """Settings of the gait branch (each becomes a ROS parameter)."""

    model: str = field(default="stgcn", metadata={"help": "gait network: stgcn (STEP), stgcn_affective (STEP hybrid) or vsgcnn (ProxEmo)"})
    weights: str = field(default="step_stgcn_epoch395", metadata={"help": "released weights name, path to our NAME.pt checkpoint, or empty to disable the branch"})
    device: str = field(default="cpu", metadata={"help": "torch device for the gait network: cpu or cuda"})
    window_frames: int = field(default=75, metadata={"help": "frames per classification window [frames] (STEP: 75 = 2.5 s at 30 fps)"})
    fps: float = field(default=30.0, metadata={"help": "rate the network expects [Hz]; sequences at another rate are resampled"})
    min_frames: int = field(default=45, metadata={"help": "fewest frames [frames] before a first result; shorter windows are tiled (wrapped)"})


def resample(joints: np.ndarray, from_fps: float, to_fps: float) -> np.ndarray:
    """Linear resampling of a (T, 16, 3) sequence in time, keeping its newest frame."""
    if len(joints) < 2 or abs(from_fps - to_fps) < 1e-6:
        return joints
    duration = (len(joints) - 1) / from_fps
    times = duration - np.arange(int(np.floor(duration * to_fps)) + 1)[::-1] / to_fps
    source = np.arange(len(joints)) / from_fps
    flat = joints.reshape(len(joints), -1)
    return np.stack([np.interp(times, source, flat[:, k]) for k in range(flat.shape[1])], axis=1).reshape(-1, *joints.shape[1:])


class GaitEmotion:
    """Classifies tracks' walks; reports itself unavailable (never guesses) without usable weights."""

    def __init__(self, config: GaitConfig | None = None) -> None:
        self.config = config or GaitConfig()
        self.window_frames = int(self.config.window_frames)
        self.fps = float(self.config.fps)
        self.dropped = 0
        """Sequences refused as malformed since start (NaN joints, wrong shape)."""
        self.model: GaitModel | None = None
        self.available, self.status = self._load()

    def _load(self) -> tuple[bool, str]:
        cfg = self.config
        if not cfg.weights:
            return False, ("gait branch disabled: no weights configured; set weights to "
                           f"{' or '.join(PUBLISHED)} or to a checkpoint trained with `emotion-perception train-gait`")
        if cfg.min_frames < 1 or cfg.window_frames < 1 or cfg.fps <= 0:
            return False, f"gait branch disabled: bad settings (window_frames={cfg.window_frames}, min_frames={cfg.min_frames}, fps={cfg.fps})"
        if cfg.device.startswith("cuda") and not torch.cuda.is_available():
            return False, f"gait branch disabled: device {cfg.device!r} requested but CUDA is not available; set device to cpu"
        try:
            self.model = load_gait_model(cfg.weights, cfg.model).to(cfg.device)
        except (WeightsError, OSError, ValueError) as exc:
            return False, f"gait branch disabled: {exc}"
        notes = f" ({'; '.join(self.model.notes)})" if self.model.notes else ""
        return True, f"ready: {cfg.model} with {cfg.weights}{notes}"

    def __call__(self, sequences: list[JointSequence]) -> list[GaitResult]:
        """One result per sequence, in order; all ready sequences go through the network in one batch."""
        name = self.config.model
        if not self.available or self.model is None:
            return [GaitResult(False, self.status, frames_observed=s.frames_observed, model=name) for s in sequences]
        results: list[GaitResult] = []
        ready: list[tuple[int, np.ndarray]] = []
        for sequence in sequences:
            try:
                joints = check_sequence(sequence.joints)
            except GaitInputError as exc:
                self.dropped += 1
                results.append(GaitResult(False, f"bad input: {exc}", frames_observed=sequence.frames_observed, model=name))
                continue
            joints = resample(joints, sequence.fps, self.fps)[-self.window_frames:]
            if len(joints) < self.config.min_frames:
                results.append(GaitResult(False, f"collecting: {len(joints)}/{self.config.min_frames} frames",
                                          frames_observed=sequence.frames_observed, frames_used=len(joints), model=name))
                continue
            ready.append((len(results), joints))
            results.append(GaitResult(False, "", frames_observed=sequence.frames_observed, frames_used=len(joints), model=name))
        if ready:
            with torch.inference_mode():
                inputs = self.model.network_input([j for _, j in ready], self.window_frames, self.fps)
                probabilities = self.model.probabilities(inputs)
            for (index, _), row in zip(ready, probabilities):
                result = results[index]
                result.valid, result.probabilities = True, row
                result.status = f"ok: {GAIT_EMOTIONS[int(np.argmax(row))]}"
        return results
