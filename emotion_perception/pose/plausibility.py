"""Physical plausibility of what enters the pipeline from outside: tracked skeletons, detections, intrinsics.

A value can be finite and still impossible: an FLT_MAX sentinel for "no joint", a skeleton sent in millimetres
instead of metres, a confidence of 1e9, a focal length of 1e30 pixels. Such input must never be labelled and
never overflow what comes after it (projections, crops, drawing), so it is refused here, where it enters, with
a reason the pipeline reports and counts; one bad person or camera value leaves everyone else untouched.
The bounds are those of human bodies and cameras, not of the numbers' types.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from ..labels import COCO_KEYPOINTS

MAX_BODY_SPAN_M = 3.0
"""Largest extent of one person's joints along any axis [m]: the tallest people (2.5 m) with raised arms."""
MAX_DISTANCE_M = 100.0
"""Farthest a tracked joint may be from the camera [m]; no body tracker places a person's joints farther."""
MAX_SPEED_M_S = 12.0
"""Fastest a person's body point may move between two frames [m/s] (a sprinter)."""
POSITION_NOISE_M = 0.5
"""Jitter of a tracker's body point from one frame to the next [m], allowed on top of the speed bound."""
CONFIDENCE_TOLERANCE = 1e-3
"""How far above 1 a confidence may lie (float rounding) before it is refused rather than clipped."""
MIN_FIELD_OF_VIEW_DEG = 1.0
"""Narrowest field of view of a camera, along either image axis [degrees] (a long telephoto lens)."""
MAX_FIELD_OF_VIEW_DEG = 170.0
"""Widest field of view of a rectified pinhole image, along either image axis [degrees]."""
PRINCIPAL_POINT_MARGIN = 0.5
"""How far outside the image the principal point may lie, as a share of the image's width or height."""
IMAGE_MARGIN = 1.0
"""How far outside the image a detection's box or keypoints may reach, as a share of its width or height."""


def checked_confidence(confidence: np.ndarray) -> tuple[np.ndarray, str]:
    """Confidences clipped to [0, 1] (a NaN is 0: not seen) and why they cannot be used ("" when they can).

    A value beyond 1 by more than rounding means another scale (percent, a raw score): refused, not clipped.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        above = confidence > 1.0 + CONFIDENCE_TOLERANCE
    if above.any():
        return np.zeros_like(confidence), (f"joint confidence {confidence[above].max():.3g} outside [0, 1] "
                                           f"({int(above.sum())} joints): another scale")
    return np.clip(np.nan_to_num(confidence, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0), ""


def body_problem(joints_3d: np.ndarray, seen: np.ndarray) -> str:
    """Why 3D joints [m] (optical frame) cannot be one person's ("" when they can): too large, too far.

    ``seen``: the joints to judge (confident and finite); unseen ones carry no position.
    """
    points = np.asarray(joints_3d, dtype=np.float64)[np.asarray(seen, dtype=bool)]
    if not len(points):
        return ""
    distance = float(np.linalg.norm(points, axis=1).max())
    if distance > MAX_DISTANCE_M:
        return f"joints {distance:.3g} m from the camera (> {MAX_DISTANCE_M:g} m): a sentinel or another unit"
    span = float((points.max(axis=0) - points.min(axis=0)).max())
    if span > MAX_BODY_SPAN_M:
        return f"body spans {span:.3g} m (> {MAX_BODY_SPAN_M:g} m): not one person in metres"
    return ""


class MotionCheck:
    """Per track, whether its body point moved faster than a person can (MAX_SPEED_M_S) since its last frame.

    Each frame is compared with the track's previous *observed* point, refused or not: a tracker that swaps
    two ids costs one frame of each, not the rest of the track.
    """

    MAX_TRACKS = 1024

    def __init__(self) -> None:
        self._last: OrderedDict[int, tuple[int, np.ndarray]] = OrderedDict()

    def problem(self, track_id: int, stamp_ns: int, point: np.ndarray | None) -> str:
        """Why this body point [m] cannot follow the track's last one ("" when it can, or there is none)."""
        if point is None:
            return ""
        point = np.asarray(point, dtype=np.float64)
        last = self._last.pop(track_id, None)
        while len(self._last) >= self.MAX_TRACKS:
            self._last.popitem(last=False)
        self._last[track_id] = (stamp_ns, point)
        if last is None or stamp_ns <= last[0]:
            return ""
        seconds = (stamp_ns - last[0]) * 1e-9
        moved = float(np.linalg.norm(point - last[1]))
        if moved > MAX_SPEED_M_S * seconds + POSITION_NOISE_M:
            return (f"body moved {moved:.3g} m in {seconds:.3g} s (> {MAX_SPEED_M_S:g} m/s): "
                    "a tracker fault or another unit")
        return ""

    def forget(self, track_ids) -> None:
        for track_id in track_ids:
            self._last.pop(track_id, None)

    def reset(self) -> None:
        self._last.clear()


def detection_problem(box: np.ndarray, keypoints: np.ndarray | None, width: int, height: int) -> str:
    """Why a detector's box and COCO keypoints (x, y px, confidence) cannot be a person in a ``width`` x
    ``height`` image ("" when they can): non-finite, far outside the image, confidences beyond [0, 1]."""
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (4,) or not np.isfinite(box).all():
        return f"detection box {box.tolist()} is not four finite numbers"
    low = np.array([-IMAGE_MARGIN * width, -IMAGE_MARGIN * height])
    high = np.array([(1 + IMAGE_MARGIN) * width, (1 + IMAGE_MARGIN) * height])
    if (box[:2] < low).any() or (box[2:] > high).any() or (box[2:] < box[:2]).any():
        return f"detection box {np.round(box, 1).tolist()} does not fit a {width}x{height} image"
    if keypoints is None:
        return ""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape != (len(COCO_KEYPOINTS), 3) or not np.isfinite(keypoints).all():
        return f"detection keypoints of shape {keypoints.shape} are not {len(COCO_KEYPOINTS)} finite (x, y, confidence)"
    if (keypoints[:, :2] < low).any() or (keypoints[:, :2] > high).any():
        return f"detection keypoints lie far outside the {width}x{height} image"
    return checked_confidence(keypoints[:, 2])[1]


def intrinsics_problem(fx: float, fy: float, cx: float, cy: float, width: int, height: int) -> str:
    """Why pinhole intrinsics cannot be a camera's for a ``width`` x ``height`` image ("" when they can).

    Focal lengths must give a field of view between MIN_ and MAX_FIELD_OF_VIEW_DEG along each axis, and the
    principal point must lie in the image or within PRINCIPAL_POINT_MARGIN of it. Without a size (0) only
    finite, positive values are required.
    """
    values = (fx, fy, cx, cy)
    if not all(math.isfinite(v) for v in values) or fx <= 0 or fy <= 0:
        return f"intrinsics need finite values and positive focal lengths (fx={fx:g}, fy={fy:g}, cx={cx:g}, cy={cy:g})"
    if width <= 0 or height <= 0:
        return ""
    for axis, focal, size, centre in (("horizontal", fx, width, cx), ("vertical", fy, height, cy)):
        view = math.degrees(2.0 * math.atan2(size / 2.0, focal))
        if not MIN_FIELD_OF_VIEW_DEG <= view <= MAX_FIELD_OF_VIEW_DEG:
            return (f"focal length {focal:.4g} px gives a {axis} field of view of {view:.3g} degrees over "
                    f"{size} px (a camera has {MIN_FIELD_OF_VIEW_DEG:g}-{MAX_FIELD_OF_VIEW_DEG:g})")
        if not -PRINCIPAL_POINT_MARGIN * size <= centre <= (1 + PRINCIPAL_POINT_MARGIN) * size:
            name = "cx" if axis == "horizontal" else "cy"
            return f"principal point {name}={centre:.4g} px lies far outside {size} px"
    return ""
