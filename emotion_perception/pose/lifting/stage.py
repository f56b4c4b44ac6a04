"""The lifting stage: skeletons with 2D joints only get lifted 3D joints (PositionSource.LIFTED), all people of
a frame in one batch, when there are intrinsics to turn pixels into rays. Without weights (``lifter.weights: ''``
or a file that does not load) the stage is off, says why, and the history's planar fallback remains."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...configuration import setting
from ...types import CameraIntrinsics, PositionSource, Skeleton
from ...runtime.loading import stage_load_problem
from ...runtime.weights import WeightsError


@dataclass
class LifterConfig:
    """2D → 3D lifting for cameras without depth (docs/lifting.md)."""

    weights: str = setting("DEFAULT", "'DEFAULT' the lifter shipped with the package (trained by train-lifter; "
                                      "passport beside it), a NAME.pt of ours, or '' for none (gait then runs on the "
                                      "planar 2D fallback and people without depth have no position)")
    prior_height_m: float = setting(1.70, "height a lifted person is assumed to have; it sets the lifted "
                                          "skeleton's metric scale and so their distance [m]", min=1.0, max=2.5)


class LiftingStage:
    """Lifts the frame's 2D-only skeletons in one batch; ``available`` False (with ``status``) when off."""

    def __init__(self, config: LifterConfig, device: torch.device | str = "cpu") -> None:
        from . import SHIPPED_WEIGHTS, load_lifter

        self.config = config
        self.lifter = None
        problem = stage_load_problem(config, "lifter", device, "lifter.weights is ''")
        if problem:
            self.status = f"off ({problem}): 2D-only people get the planar gait fallback and no position"
            return
        path = SHIPPED_WEIGHTS if config.weights == "DEFAULT" else Path(config.weights).expanduser()
        try:
            self.lifter = load_lifter(path, device)
        except (WeightsError, OSError, KeyError, ValueError, RuntimeError) as exc:
            self.status = f"off: {exc}".splitlines()[0] + " (2D-only people get the planar gait fallback)"
            return
        self.status = (f"lifting 2D skeletons to 3D ({path.name}; distance uncertainty "
                       f"{100 * self.lifter.relative_distance_error:.0f} % at one sigma)")

    @property
    def available(self) -> bool:
        return self.lifter is not None

    def to(self, device: torch.device | str) -> None:
        if self.lifter is not None:
            self.lifter.to(device)

    def lift(self, skeletons: list[Skeleton | None], intrinsics: CameraIntrinsics | None) -> list[Skeleton | None]:
        """The same list with every 2D-only skeleton that can be lifted replaced by its lifted version."""
        chosen = [i for i, s in enumerate(skeletons) if s is not None and s.joints_3d is None]
        if self.lifter is None or intrinsics is None or not chosen:
            return skeletons
        joints_2d = np.stack([skeletons[i].joints_2d for i in chosen])
        confidence = np.stack([skeletons[i].confidence for i in chosen])
        camera = np.array([intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy])
        joints_3d, liftable = self.lifter.lift(joints_2d, confidence, camera, self.config.prior_height_m)
        lifted = list(skeletons)
        for row, index in enumerate(chosen):
            if liftable[row]:
                distance = float(np.linalg.norm(np.nanmedian(joints_3d[row], axis=0)))
                lifted[index] = dataclasses.replace(
                    skeletons[index], joints_3d=joints_3d[row], position_source=PositionSource.LIFTED,
                    position_uncertainty_m=distance * self.lifter.relative_distance_error)
        return lifted
