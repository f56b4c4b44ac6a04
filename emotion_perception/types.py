"""Typed records that the stages pass to one another (never ROS messages, never dicts).

Conventions shared by every stage:
- images are numpy arrays, H x W x 3, uint8, **RGB** channel order;
- pixel coordinates are (x = column, y = row) in pixels, origin at the top-left corner;
- boxes are float32 (x_min, y_min, x_max, y_max) in pixels;
- 3D points in the camera frame use the optical convention (x right, y down, z forward) in metres;
- stamps are integer nanoseconds (ROS time of the source image);
- gait joint sequences use the **gait frame**: metres, x right, y up, z towards the camera (the camera
  optical frame turned 180 degrees about x: x_g = x, y_g = -y, z_g = -z), joints in labels.GAIT_JOINTS order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of the (rectified) image, from sensor_msgs/CameraInfo's K matrix."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int


@dataclass
class Frame:
    """One camera image and what came with it."""

    image: np.ndarray
    """H x W x 3 uint8, RGB."""
    stamp_ns: int
    frame_id: str
    intrinsics: CameraIntrinsics | None = None
    depth: np.ndarray | None = None
    """H x W float32 metres, aligned to image; NaN where there is no measurement."""


@dataclass
class Detection:
    """One person found by a detector in one frame."""

    box: np.ndarray
    """(4,) float32 x_min, y_min, x_max, y_max [px]."""
    score: float
    keypoints: np.ndarray | None = None
    """(17, 3) float32 COCO keypoints: x, y [px] and confidence [0, 1]; None if the detector gives none."""


class PositionSource(enum.IntEnum):
    """Where a skeleton's 3D joint positions come from (values equal PersonEmotion.POSITION_*)."""

    NONE = 0
    DEPTH = 1
    SKELETON_INPUT = 2
    LIFTED = 3


@dataclass
class Skeleton:
    """One person's 16 gait-skeleton joints (labels.GAIT_JOINTS order) in one frame."""

    joints_2d: np.ndarray
    """(16, 2) float32 image positions [px]; rows with confidence 0 are meaningless."""
    confidence: np.ndarray
    """(16,) float32 in [0, 1]."""
    joints_3d: np.ndarray | None = None
    """(16, 3) float32 camera optical frame [m], or None when there is no 3D (see position_source)."""
    position_source: PositionSource = PositionSource.NONE


@dataclass
class ExternalSkeleton:
    """One person from an external body tracker (pose_source: skeletons)."""

    track_id: int
    joints_3d: np.ndarray
    """(16, 3) float32 [m] in the camera optical frame, labels.GAIT_JOINTS order."""
    confidence: np.ndarray
    """(16,) float32 in [0, 1]; 0 = joint not tracked."""


@dataclass
class TrackedPerson:
    """A confirmed track in the current frame: a stable id, its box and (when known) its skeleton."""

    track_id: int
    box: np.ndarray
    score: float
    skeleton: Skeleton | None = None
    keypoints_coco: np.ndarray | None = None
    """(17, 3) COCO keypoints of the matched detection, when there was one this frame."""


@dataclass
class JointSequence:
    """A track's recent 3D skeletons, resampled to a fixed rate, ready for a gait network."""

    track_id: int
    joints: np.ndarray
    """(T, 16, 3) float32 in the gait frame [m], oldest first, labels.GAIT_JOINTS order."""
    fps: float
    frames_observed: int
    """Frames this track has contributed since it was born (not only the T in the window)."""
    position_source: PositionSource = PositionSource.NONE


@dataclass
class GaitResult:
    """The gait branch's verdict on one track in one frame."""

    valid: bool
    status: str
    probabilities: np.ndarray | None = None
    """(4,) float32 over labels.GAIT_EMOTIONS, summing to 1; None when not valid."""
    frames_observed: int = 0
    frames_used: int = 0
    model: str = ""

    @property
    def label(self) -> str:
        from .labels import GAIT_EMOTIONS

        if not self.valid or self.probabilities is None:
            return ""
        return GAIT_EMOTIONS[int(np.argmax(self.probabilities))]


@dataclass
class ContextResult:
    """The context branch's verdict on one person in one frame."""

    valid: bool
    status: str
    scores: np.ndarray | None = None
    """(26,) float32 over labels.EMOTIC_CATEGORIES."""
    thresholds: np.ndarray | None = None
    """(26,) float32 per-category thresholds."""
    vad: np.ndarray | None = None
    """(3,) float32 valence, arousal, dominance on the 1-10 scale."""
    model: str = ""

    @property
    def active(self) -> np.ndarray:
        if not self.valid or self.scores is None or self.thresholds is None:
            return np.zeros(0, dtype=bool)
        return self.scores >= self.thresholds

    @property
    def active_categories(self) -> list[str]:
        """Names of the active categories, highest score first."""
        from .labels import EMOTIC_CATEGORIES

        active = self.active
        if active.size == 0:
            return []
        order = np.argsort(-self.scores, kind="stable")
        return [EMOTIC_CATEGORIES[i] for i in order if active[i]]


@dataclass
class FusedEstimate:
    """One estimate per person from the valid cues (see fusion.py for the rule)."""

    valid: bool
    emotion: str = "unknown"
    confidence: float = 0.0
    valence: float = 0.0
    """[-1, 1]."""
    arousal: float = 0.0
    """[-1, 1]."""
    cues: list[str] = field(default_factory=list)
    missing_cues: list[str] = field(default_factory=list)


@dataclass
class PersonEmotion:
    """Everything the package knows about one tracked person in one frame."""

    track_id: int
    box: np.ndarray
    detection_score: float
    skeleton: Skeleton | None = None
    gait: GaitResult = field(default_factory=lambda: GaitResult(False, "no gait branch"))
    context: ContextResult = field(default_factory=lambda: ContextResult(False, "no context branch"))
    fused: FusedEstimate = field(default_factory=lambda: FusedEstimate(False))


@dataclass
class FrameResult:
    """The pipeline's output for one frame: the source's stamp and frame_id, and every person."""

    stamp_ns: int
    frame_id: str
    people: list[PersonEmotion] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
