"""The pipeline's context stage: every person in a frame through the EMOTIC network in one forward pass.

The frame goes to the network's device once, as uint8; the scene and all body crops are cut and resized
there in one sampling pass (preprocessing.device_inputs), so no per-person copies cross to the device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...runtime.acceleration import accelerate_network
from ...runtime.loading import stage_load_problem
from ...configuration import setting
from ..base import fusion_weight_setting, interval_setting
from ...types import checked_boxes
from ...runtime.weights import WeightsError
from .model import VAD_SCALE, EmoticNet, load_emotic
from .labels import EMOTIC_CATEGORIES
from .preprocessing import EmoticPreprocessing, clip_box
from .results import ContextResult

GET_WEIGHTS_HINT = ("train with `emotion-perception train-context`, or convert the reference EMOTIC models with "
                    "`emotion-perception import-context` (docs/context.md), and set context.weights to the .pt")


@dataclass
class ContextConfig:
    """Settings of the context (EMOTIC) stage."""

    weights: str = setting("", "EMOTIC checkpoint NAME.pt with its passport NAME.json beside it; empty switches the "
                               "stage off")
    min_box_size: float = setting(4.0, "boxes narrower or lower than this after clipping to the image get no "
                                       "result [px]", min=0.0)
    fusion_weight: float = fusion_weight_setting(0.4)
    min_interval_s: float = interval_setting(0.2)


class ContextEmotion:
    """Body crops and the scene -> 26 category scores with thresholds and VAD (1-10) per person.

    Without weights it is unavailable: ``available`` is False, ``status`` says why and what to do, and
    every call returns invalid results carrying that status.
    """

    def __init__(self, config: ContextConfig | None = None, device: torch.device | str = "cpu") -> None:
        self.config = config or ContextConfig()
        self.device = torch.device(device)
        self.model: EmoticNet | None = None
        self.thresholds = np.full(len(EMOTIC_CATEGORIES), np.inf, dtype=np.float32)
        self.preprocessing = EmoticPreprocessing()
        self.vad_scale = VAD_SCALE
        self.name = ""
        self.status = ""
        problem = stage_load_problem(self.config, "context", self.device, f"no weights configured; {GET_WEIGHTS_HINT}")
        if problem:
            self.status = f"context branch off: {problem}"
            return
        try:
            self._load(self.config.weights)
        except (WeightsError, RuntimeError, ValueError) as exc:
            self.model = None
            self.status = f"context branch off: {exc}"

    def _load(self, path: str) -> None:
        model, passport = load_emotic(path)
        thresholds = np.asarray(passport.config.get("thresholds", []), dtype=np.float32)
        if thresholds.shape != (len(EMOTIC_CATEGORIES),):
            raise WeightsError(f"{path}: passport config needs 26 'thresholds' (got {thresholds.shape}); run "
                               "`emotion-perception eval-context --split val --save-thresholds`")
        self._use(model, thresholds, EmoticPreprocessing.from_config(passport.config),
                  float(passport.config.get("vad_scale", VAD_SCALE)), passport.name)

    def _use(self, model: EmoticNet, thresholds: np.ndarray, preprocessing: EmoticPreprocessing,
             vad_scale: float, name: str) -> None:
        device = self.device
        self.model = model.to(device).eval()
        self.thresholds = np.asarray(thresholds, dtype=np.float32).reshape(len(EMOTIC_CATEGORIES))
        self.preprocessing = preprocessing
        self.vad_scale = vad_scale
        self.name = name
        self.status = f"ok: {name} on {device}"

    @classmethod
    def from_model(cls, model: EmoticNet, thresholds: np.ndarray, preprocessing: EmoticPreprocessing | None = None,
                   config: ContextConfig | None = None, name: str = "in-memory model",
                   device: torch.device | str = "cpu") -> ContextEmotion:
        """A stage around a model object the caller vouches for (tests, benchmarks, freshly trained nets)."""
        stage = cls(config, device)
        stage._use(model, thresholds, preprocessing or EmoticPreprocessing(), VAD_SCALE, name)
        return stage

    @property
    def available(self) -> bool:
        return self.model is not None

    def to(self, device: torch.device | str) -> None:
        """Move the network (the node parks it on the CPU while inactive)."""
        self.device = torch.device(device)
        if self.model is not None:
            self.model.to(device)

    def accelerate(self, mode: str, precision: str) -> str:
        """Run the network on the path ``mode`` names (acceleration.py: eager, compile, tensorrt); a note for the log.

        Its inputs are fixed apart from the number of bodies (one scene, crops at the preprocessing's sizes),
        so on CUDA it may replay CUDA graphs.
        """
        if self.model is None:
            return f"{mode}: no context network ({self.status})"
        device, dtype = self.device, next(self.model.parameters()).dtype
        scene, body = self.preprocessing.context_size, self.preprocessing.body_size

        def crops(people: int) -> tuple[torch.Tensor, ...]:
            return (torch.randn(1, 3, scene, scene, device=device, dtype=dtype),
                    torch.randn(people, 3, body, body, device=device, dtype=dtype),
                    torch.zeros(people, dtype=torch.long, device=device))

        self.model, note = accelerate_network(self.model, crops, device, precision, mode,
                                              name=f"context network ({self.name})", cuda_graphs=True)
        return note

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> list[ContextResult]:
        """One result per box, in order. ``image`` (H, W, 3) uint8 RGB; ``boxes`` (N, 4) xyxy pixels."""
        boxes = checked_boxes(image, boxes)
        if self.model is None:
            return [ContextResult(False, self.status) for _ in boxes]
        height, width = image.shape[:2]
        pixel_boxes = [clip_box(box, width, height) for box in boxes]
        minimum = self.config.min_box_size
        usable = [i for i, box in enumerate(pixel_boxes)
                  if box is not None and box[2] - box[0] >= minimum and box[3] - box[1] >= minimum]
        results = [ContextResult(False, f"box {box.tolist()} is empty or under {minimum:g} px after clipping "
                                        f"to the {width}x{height} image", model=self.name) for box in boxes]
        if not usable:
            return results
        scores, vad = self._forward(image, [pixel_boxes[i] for i in usable])
        for row, index in enumerate(usable):
            results[index] = ContextResult(True, "ok", scores=scores[row], thresholds=self.thresholds.copy(),
                                           vad=vad[row], model=self.name)
        return results

    def _forward(self, image: np.ndarray, pixel_boxes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        device = self.device
        dtype = next(self.model.parameters()).dtype
        with torch.inference_mode():
            frame = torch.from_numpy(np.ascontiguousarray(image)).to(device)
            boxes = torch.from_numpy(np.stack(pixel_boxes)).to(device)
            scene, bodies = self.preprocessing.device_inputs(frame, boxes)
            scores, scaled_vad = self.model(scene.to(dtype), bodies.to(dtype),
                                            torch.zeros(len(pixel_boxes), dtype=torch.long, device=device))
            outputs = torch.cat((scores, scaled_vad), dim=1).float().cpu().numpy()
        categories = len(EMOTIC_CATEGORIES)
        return outputs[:, :categories].copy(), outputs[:, categories:] * np.float32(self.vad_scale)
