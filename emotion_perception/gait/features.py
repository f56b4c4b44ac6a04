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


def _angle(a: np.ndarray, vertex: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame angle a-vertex-b in degrees."""
    u, v = a - vertex, b - vertex
    cos = (u * v).sum(-1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _area(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=-1)


def _mean_derivative_norm(positions: np.ndarray, order: int, fps: float) -> float:
    derivative = positions
    for _ in range(order):
        derivative = np.diff(derivative, axis=0) * fps
    return float(np.linalg.norm(derivative, axis=-1).mean()) if len(derivative) else 0.0


def affective_features(joints: np.ndarray, fps: float = 30.0, with_cycle: bool = False) -> np.ndarray:
    """(T, 16, 3) → (27,) float64 features (29 with ``with_cycle``); see the module table."""
    j = check_sequence(joints)
    extent = j.max(axis=1) - j.min(axis=1)
    posture = [
        np.prod(extent, axis=-1) / 1000,
        _angle(j[:, 4], j[:, 2], j[:, 7]),
        _angle(j[:, 2], j[:, 4], j[:, 7]),
        _angle(j[:, 2], j[:, 7], j[:, 4]),
        _angle(j[:, 3] - j[:, 0], np.zeros(3), np.array([0.0, 1.0, 0.0])),
        _angle(j[:, 3], j[:, 2], j[:, 1]),
        *(np.linalg.norm(j[:, k] - j[:, 0], axis=-1) / 10 for k in (6, 9, 12, 15)),
        _area(j[:, 9], j[:, 2], j[:, 6]) / 100,
        _area(j[:, 15], j[:, 0], j[:, 12]) / 100,
    ]
    values = [float(np.mean(p)) for p in posture]
    for order in (1, 2, 3):
        values += [_mean_derivative_norm(j[:, k], order, fps) / 10 for k in _MOVING_JOINTS]
    if with_cycle:
        values += list(stride_and_cycle(j, fps))
    return np.asarray(values)


def stride_and_cycle(joints: np.ndarray, fps: float) -> tuple[float, float]:
    """Stride length [m] (2 × the largest horizontal foot separation) and gait-cycle time [s] (0 if unknown)."""
    separation = np.linalg.norm((joints[:, 12] - joints[:, 15])[:, [0, 2]], axis=-1)
    stride = 2.0 * float(separation.max())
    peaks = [t for t in range(1, len(separation) - 1)
             if separation[t] >= separation[t - 1] and separation[t] > separation[t + 1]]
    cycle = 2.0 * float(np.mean(np.diff(peaks))) / fps if len(peaks) > 1 else 0.0
    return stride, cycle
