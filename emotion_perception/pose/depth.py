"""2D joints + an aligned depth image + pinhole intrinsics → 3D joints in the camera optical frame.

Each joint's depth is the median of the valid depth pixels in a small square patch around it (valid:
finite and inside [min_depth_m, max_depth_m]); a joint without valid depth is placed on its viewing ray at
the median depth of the person's other joints and its confidence is scaled down. When no joint of a
person has valid depth there is no 3D at all: the skeleton keeps its 2D joints, ``joints_3d`` is None
and ``position_source`` is NONE (the joint history then falls back to a flagged planar sequence).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..types import CameraIntrinsics, PositionSource, Skeleton
from .skeleton import coco_to_gait

DEPTH_ENCODINGS: dict[str, tuple[type, float]] = {"16UC1": (np.uint16, 0.001), "32FC1": (np.float32, 1.0)}
"""sensor_msgs/Image depth encodings we read: numpy dtype and the factor to metres (16UC1 is millimetres)."""


@dataclass
class DepthConfig:
    """How depth is read and turned into 3D joints."""

    patch_radius: int = field(default=2, metadata={"help": "half size of the square depth patch around a joint [px]"})
    min_depth_m: float = field(default=0.1, metadata={"help": "depth below this is treated as no measurement [m]"})
    max_depth_m: float = field(default=10.0, metadata={"help": "depth above this is treated as no measurement [m]"})
    no_depth_confidence_scale: float = field(
        default=0.3, metadata={"help": "factor on a joint's confidence when its depth is borrowed from the body [1]"})


def depth_to_metres(array: np.ndarray, encoding: str, min_depth_m: float = 0.0,
                    max_depth_m: float = float("inf")) -> np.ndarray:
    """A raw depth image (16UC1 millimetres or 32FC1 metres) as float32 metres, NaN where invalid.

    Invalid: 0, NaN, infinite, or outside [min_depth_m, max_depth_m] (0 is never valid).
    """
    if encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"unsupported depth encoding {encoding!r}; expected one of {sorted(DEPTH_ENCODINGS)}")
    dtype, to_metres = DEPTH_ENCODINGS[encoding]
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"a depth image must be 2-D (H, W), got shape {array.shape}")
    if array.dtype != dtype:
        raise ValueError(f"{encoding} depth must be {np.dtype(dtype).name}, got {array.dtype}")
    metres = array.astype(np.float32) * np.float32(to_metres)
    with np.errstate(invalid="ignore"):
        invalid = ~np.isfinite(metres) | (metres <= 0) | (metres < min_depth_m) | (metres > max_depth_m)
    metres[invalid] = np.nan
    return metres


def joint_depths(joints_2d: np.ndarray, confidence: np.ndarray, depth: np.ndarray,
                 config: DepthConfig) -> np.ndarray:
    """(16,) robust depth per joint [m]: patch median of valid pixels; NaN without any (or confidence 0)."""
    height, width = depth.shape
    radius = max(int(config.patch_radius), 0)
    result = np.full(len(joints_2d), np.nan, dtype=np.float32)
    for index, ((u, v), conf) in enumerate(zip(joints_2d, confidence)):
        col, row = int(np.rint(u)), int(np.rint(v))
        if conf <= 0 or not (0 <= col < width and 0 <= row < height):
            continue
        patch = depth[max(row - radius, 0):row + radius + 1, max(col - radius, 0):col + radius + 1]
        with np.errstate(invalid="ignore"):
            valid = patch[np.isfinite(patch) & (patch >= config.min_depth_m) & (patch <= config.max_depth_m)]
        if valid.size:
            result[index] = np.median(valid)
    return result


def backproject(joints_2d: np.ndarray, confidence: np.ndarray, depth: np.ndarray,
                intrinsics: CameraIntrinsics, config: DepthConfig | None = None) -> Skeleton:
    """3D joints (camera optical frame, metres) from 2D joints and an aligned depth image in metres.

    ``depth`` is (H, W) float32 metres with NaN where invalid (see depth_to_metres), aligned to the image
    that ``intrinsics`` describe. A joint at (x, y) px reads the patch centred on pixel (round(x), round(y)).
    """
    config = config or DepthConfig()
    joints_2d = np.asarray(joints_2d, dtype=np.float32)
    confidence = np.asarray(confidence, dtype=np.float32)
    depth = np.asarray(depth)
    if joints_2d.shape != (16, 2) or confidence.shape != (16,):
        raise ValueError(f"expected joints (16, 2) and confidence (16,), got {joints_2d.shape} and {confidence.shape}")
    if depth.ndim != 2:
        raise ValueError(f"depth must be 2-D (H, W) metres, got shape {depth.shape}")
    if intrinsics.width > 0 and intrinsics.height > 0 and depth.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(f"depth {depth.shape[1]}x{depth.shape[0]} is not aligned with the "
                         f"{intrinsics.width}x{intrinsics.height} camera")
    z = joint_depths(joints_2d, confidence, depth, config)
    measured = np.isfinite(z)
    if not measured.any():
        return Skeleton(joints_2d.copy(), confidence.copy(), None, PositionSource.NONE)
    z_filled = np.where(measured, z, np.median(z[measured])).astype(np.float32)
    x = (joints_2d[:, 0] - intrinsics.cx) * z_filled / intrinsics.fx
    y = (joints_2d[:, 1] - intrinsics.cy) * z_filled / intrinsics.fy
    joints_3d = np.stack([x, y, z_filled], axis=1).astype(np.float32)
    lowered = np.where(measured, confidence, confidence * config.no_depth_confidence_scale).astype(np.float32)
    return Skeleton(joints_2d.copy(), lowered, joints_3d, PositionSource.DEPTH)


def make_skeleton(keypoints_coco: np.ndarray, depth: np.ndarray | None = None,
                  intrinsics: CameraIntrinsics | None = None, config: DepthConfig | None = None) -> Skeleton:
    """One person's gait skeleton from COCO keypoints: 3D from depth when both depth and intrinsics exist.

    Without depth or intrinsics the skeleton is 2D only (joints_3d None, position_source NONE).
    """
    joints_2d, confidence = coco_to_gait(keypoints_coco)
    if depth is None or intrinsics is None:
        return Skeleton(joints_2d, confidence, None, PositionSource.NONE)
    return backproject(joints_2d, confidence, depth, intrinsics, config)
