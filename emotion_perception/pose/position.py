"""Where each tracked person is: a robust 3D point of the body, its distance and its velocity on the ground.

The point is the median of the torso's confident 3D joints (root, spine, neck, hips, shoulders; all
confident joints when no torso joint is), so one joint misplaced by a depth edge does not move it. The
velocity is a least-squares line through the track's points of the last ``VELOCITY_WINDOW_S``, on the
ground plane of the optical frame (x right, z forward; y, the vertical, is left out), once the points span
at least ``MIN_VELOCITY_SPAN_S``. People seen in 2D only have no position, and say so.
"""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np

from ..labels import GAIT_JOINTS
from ..types import PersonPosition, Skeleton

TORSO_JOINTS = tuple(GAIT_JOINTS.index(name) for name in (
    "root", "spine", "neck", "right_hip", "left_hip", "right_shoulder", "left_shoulder"))
VELOCITY_WINDOW_S = 0.5
MIN_VELOCITY_SPAN_S = 0.2
MAX_TRACKS = 1024


def body_point(skeleton: Skeleton | None, min_confidence: float) -> np.ndarray | None:
    """The median of the torso's confident 3D joints (or of all confident ones); None without 3D."""
    if skeleton is None or skeleton.joints_3d is None:
        return None
    joints = np.asarray(skeleton.joints_3d, dtype=np.float64)
    usable = (np.asarray(skeleton.confidence) >= min_confidence) & np.isfinite(joints).all(axis=1)
    torso = np.zeros_like(usable)
    torso[list(TORSO_JOINTS)] = True
    chosen = usable & torso if (usable & torso).any() else usable
    if not chosen.any():
        return None
    return np.median(joints[chosen], axis=0)


class PositionTracker:
    """Per-track body points over time: position, distance and planar velocity for each frame."""

    def __init__(self, min_confidence: float = 0.05) -> None:
        self.min_confidence = min_confidence
        self._points: OrderedDict[int, deque[tuple[float, np.ndarray]]] = OrderedDict()

    def update(self, track_id: int, stamp_ns: int, skeleton: Skeleton | None) -> PersonPosition:
        point = body_point(skeleton, self.min_confidence)
        if point is None:
            return PersonPosition()
        seconds = stamp_ns * 1e-9
        points = self._points.get(track_id)
        if points is None:
            while len(self._points) >= MAX_TRACKS:
                self._points.popitem(last=False)
            points = self._points[track_id] = deque()
        self._points.move_to_end(track_id)
        if points and seconds <= points[-1][0]:
            points.clear()  # time went backwards for this track: its old points mean nothing now
        points.append((seconds, point))
        while points and points[0][0] < seconds - VELOCITY_WINDOW_S:
            points.popleft()
        position = PersonPosition(valid=True, point=point.astype(np.float32), distance=float(np.linalg.norm(point)),
                                  source=skeleton.position_source, uncertainty_m=skeleton.position_uncertainty_m)
        times = np.array([t for t, _ in points])
        if times[-1] - times[0] >= MIN_VELOCITY_SPAN_S:
            xyz = np.stack([p for _, p in points])
            slope = np.polyfit(times - times[-1], xyz[:, [0, 2]], 1)[0]
            position.velocity = np.array([slope[0], 0.0, slope[1]], dtype=np.float32)
            position.velocity_valid = True
        return position

    def forget(self, track_ids) -> None:
        for track_id in track_ids:
            self._points.pop(track_id, None)

    def reset(self) -> None:
        self._points.clear()
