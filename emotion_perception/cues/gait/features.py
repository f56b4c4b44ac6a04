"""STEP's 27 affective gait features (posture and movement), plus optional stride length and cycle time.

Joint indices are labels.GAIT_JOINTS (STEP order). Posture features are averaged over frames; movement
features are means over frames of the norm of finite differences (· fps) of a joint's position. The
divisors (/1000, /10, /100) are STEP's, which keep the features of a metre-scale skeleton near 0-10.

==== =============================================================================================
f0   volume of the axis-aligned bounding box of all joints / 1000
f1   angle at the neck between the shoulders, ∠(4, 2, 7) [deg]
f2   angle at the right shoulder between neck and left shoulder, ∠(2, 4, 7) [deg]
f3   angle at the left shoulder between neck and right shoulder, ∠(2, 7, 4) [deg]
f4   angle between head − root and the vertical (0, 1, 0) [deg] (posture slump, head tilt)
f5   angle at the neck between head and spine, ∠(3, 2, 1) [deg]
f6   distance right hand – root / 10
f7   distance left hand – root / 10
f8   distance right foot – root / 10
f9   distance left foot – root / 10
f10  area of the triangle left hand, neck, right hand (9, 2, 6) / 100
f11  area of the triangle left foot, root, right foot (15, 0, 12) / 100
f12–f16  mean speed of right hand, left hand, head, right foot, left foot (6, 9, 3, 12, 15) / 10
f17–f21  mean acceleration magnitude of the same joints / 10
f22–f26  mean jerk magnitude of the same joints / 10
==== =============================================================================================

Optional (``with_cycle=True``): f27 stride length [m] (largest horizontal distance between the feet
over the sequence · 2 / 10, STEP's scaling) and f28 gait-cycle time [s] (twice the mean time between
successive maxima of the feet's horizontal distance).
"""

from __future__ import annotations

import numpy as np
import torch

from .preprocessing import check_sequence

FEATURE_NAMES: tuple[str, ...] = (
    "bbox_volume", "angle_neck_shoulders", "angle_rshoulder", "angle_lshoulder", "head_vs_vertical",
    "angle_neck_head_spine", "dist_rhand_root", "dist_lhand_root", "dist_rfoot_root", "dist_lfoot_root",
    "area_hands_neck", "area_feet_root",
    "speed_rhand", "speed_lhand", "speed_head", "speed_rfoot", "speed_lfoot",
    "acc_rhand", "acc_lhand", "acc_head", "acc_rfoot", "acc_lfoot",
    "jerk_rhand", "jerk_lhand", "jerk_head", "jerk_rfoot", "jerk_lfoot",
)
CYCLE_FEATURE_NAMES: tuple[str, ...] = ("stride_length", "cycle_time")
_MOVING_JOINTS = (6, 9, 3, 12, 15)


def affective_features_batch(joints: torch.Tensor, fps: float = 30.0, cos_margin: float = 0.0) -> torch.Tensor:
    """(N, T, 16, 3) -> (N, 27): the features of a batch, differentiable (STEP-Gen's push-pull terms need
    gradients). ``cos_margin`` keeps arccos away from +-1, where its gradient is infinite."""

    def angle(a: torch.Tensor, vertex: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        u, v = a - vertex, b - vertex
        cos = (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1)).clamp_min(1e-12)
        return torch.rad2deg(torch.acos(cos.clamp(-1.0 + cos_margin, 1.0 - cos_margin)))

    def area(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.linalg.cross(b - a, c - a).norm(dim=-1)

    j = joints
    vertical = torch.zeros_like(j[:, :, 0])
    vertical[..., 1] = 1.0
    posture = [
        (j.amax(dim=2) - j.amin(dim=2)).prod(dim=-1) / 1000,
        angle(j[:, :, 4], j[:, :, 2], j[:, :, 7]),
        angle(j[:, :, 2], j[:, :, 4], j[:, :, 7]),
        angle(j[:, :, 2], j[:, :, 7], j[:, :, 4]),
        angle(j[:, :, 3] - j[:, :, 0], torch.zeros_like(vertical), vertical),
        angle(j[:, :, 3], j[:, :, 2], j[:, :, 1]),
        *((j[:, :, k] - j[:, :, 0]).norm(dim=-1) / 10 for k in (6, 9, 12, 15)),
        area(j[:, :, 9], j[:, :, 2], j[:, :, 6]) / 100,
        area(j[:, :, 15], j[:, :, 0], j[:, :, 12]) / 100,
    ]
    values = [p.mean(dim=1) for p in posture]
    derivative = j[:, :, list(_MOVING_JOINTS)]
    for _ in range(3):  # speed, acceleration, jerk: finite differences at fps; 0 when the gait is too short
        derivative = torch.diff(derivative, dim=1) * fps
        norms = derivative.norm(dim=-1)
        mean = norms.mean(dim=1) if norms.shape[1] else norms.sum(dim=1)
        values += list((mean / 10).unbind(dim=1))
    return torch.stack(values, dim=1)


def affective_features(joints: np.ndarray, fps: float = 30.0, with_cycle: bool = False) -> np.ndarray:
    """(T, 16, 3) -> (27,) float64 features (29 with ``with_cycle``); see the module table."""
    j = check_sequence(joints)
    values = affective_features_batch(torch.from_numpy(np.asarray(j, dtype=np.float64))[None], fps)[0].numpy()
    if with_cycle:
        values = np.concatenate([values, stride_and_cycle(j, fps)])
    return values


def stride_and_cycle(joints: np.ndarray, fps: float) -> tuple[float, float]:
    """Stride length [m] (2 × the largest horizontal foot separation) and gait-cycle time [s] (0 if unknown)."""
    separation = np.linalg.norm((joints[:, 12] - joints[:, 15])[:, [0, 2]], axis=-1)
    stride = 2.0 * float(separation.max())
    peaks = [t for t in range(1, len(separation) - 1)
             if separation[t] >= separation[t - 1] and separation[t] > separation[t + 1]]
    cycle = 2.0 * float(np.mean(np.diff(peaks))) / fps if len(peaks) > 1 else 0.0
    return stride, cycle
