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

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .labels import EMOTION_CIRCUMPLEX, EMOTIONS, UNKNOWN


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
    input_gap_s: float | None = None
    """Largest stamp gap between frames *received* since the previous processed frame (frames skipped under
    load count as seen); None when every received frame is processed (offline), so gaps are stamp differences."""


def checked_boxes(image: np.ndarray, boxes: np.ndarray, what: str = "boxes") -> np.ndarray:
    """``boxes`` as an (N, 4) float32 array; ValueError unless ``image`` is an (H, W, 3) uint8 RGB array and
    ``boxes`` (N, 4) x_min, y_min, x_max, y_max (what the image cues take)."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got "
                         f"{getattr(image, 'shape', type(image))} {getattr(image, 'dtype', '')}")
    boxes = np.asarray(boxes, dtype=np.float32)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{what} must be an (N, 4) array of x_min, y_min, x_max, y_max, got {boxes.shape}")
    return boxes


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
    position_uncertainty_m: float = 0.0
    """One-sigma uncertainty of where the 3D joints are placed [m] (lifted skeletons: along the viewing ray);
    0 for measured 3D."""


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
    issue: str = ""
    """Why no cue may judge this person this frame (e.g. a track id used twice in one frame); "" if none."""
    skeleton_issue: str = ""
    """Why this frame's skeleton was set aside (NaN, collapsed, too few joints); skeleton cues then say so."""


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


CIRCUMPLEX = np.array([EMOTION_CIRCUMPLEX[emotion] for emotion in EMOTIONS], dtype=np.float64)


@dataclass
class Evidence:
    """What one cue says about one person, in the fused vocabulary."""

    distribution: np.ndarray
    """(4,) over labels.EMOTIONS, summing to 1."""
    valence: float
    """[-1, 1]."""
    arousal: float
    """[-1, 1]."""
    reliability: float = 1.0
    """[0, 1]; scales the cue's fusion weight for this result (e.g. gait input far from its training data)."""

    @classmethod
    def from_distribution(cls, distribution: np.ndarray, reliability: float = 1.0) -> Evidence:
        """Evidence whose valence/arousal is the probability-weighted circumplex position of each emotion."""
        distribution = np.asarray(distribution, dtype=np.float64)
        valence, arousal = distribution @ CIRCUMPLEX
        return cls(distribution, float(valence), float(arousal), reliability)


class CueResult:
    """Mixin of every cue's per-person result dataclass (which has at least ``valid``, ``status``, ``model``).

    Results with a probability vector name it ``probabilities`` (over ``labels``); others override
    ``label``/``confidence``. A result expresses itself to fusion with :meth:`evidence`, to CSV and the debug
    image with :meth:`summary`, and to its typed message with :meth:`message_fields`.
    """

    labels: ClassVar[tuple[str, ...]] = ()
    """The result's label vocabulary (the order of its probabilities)."""
    csv_fields: ClassVar[tuple[str, ...]] = ()
    """Further fields of the result written to people.csv, as ``<cue>_<field>`` columns."""

    def label_values(self) -> np.ndarray | None:
        """What each of ``labels`` got, for messages and CSV: the probabilities, or a multi-label cue's
        independent scores; None when not valid."""
        if not self.valid:
            return None
        values = getattr(self, "probabilities", None)
        return getattr(self, "scores", None) if values is None else values

    def _probabilities(self) -> np.ndarray | None:
        probabilities = getattr(self, "probabilities", None)
        return probabilities if self.valid and probabilities is not None and len(probabilities) else None

    @property
    def label(self) -> str:
        """The most probable label, "" when not valid."""
        probabilities = self._probabilities()
        return "" if probabilities is None else self.labels[int(np.argmax(probabilities))]

    @property
    def confidence(self) -> float:
        """Probability of ``label`` (0 when not valid)."""
        probabilities = self._probabilities()
        return 0.0 if probabilities is None else float(np.max(probabilities))

    def evidence(self) -> Evidence | None:
        """This result in the fused vocabulary; None when it has nothing to say."""
        return None

    def summary(self) -> str:
        """One short line for the CSV and the debug image."""
        return f"{self.label} {self.confidence:.2f}" if self.label else self.status

    def message_fields(self) -> dict[str, Any]:
        """Values for the cue's typed message, by field name (fields the message lacks are ignored)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {**values, "labels": list(self.labels), "label": self.label, "confidence": self.confidence}


@dataclass
class FusedEstimate:
    """One estimate per person from the cues, filtered over time (see fusion.py for the rule)."""

    valid: bool
    emotion: str = UNKNOWN
    """The stable label (hysteresis over the filtered distribution); labels.UNKNOWN when not valid."""
    confidence: float = 0.0
    """Probability of ``emotion`` in the filtered distribution over the cues present [0, 1]."""
    probabilities: np.ndarray | None = None
    """(4,) over labels.EMOTIONS, the filtered fused distribution; None when not valid."""
    valence: float = 0.0
    """[-1, 1]."""
    arousal: float = 0.0
    """[-1, 1]."""
    coverage: float = 0.0
    """Share of the running cues' fusion weight that stood behind this estimate [0, 1]."""
    label_since_ns: int = 0
    """Stamp since which ``emotion`` has been the stable label (0 when not valid)."""
    cues: list[str] = field(default_factory=list)
    """Cues valid in this frame."""
    missing_cues: list[str] = field(default_factory=list)
    """Running cues without a valid result in this frame."""


@dataclass
class PersonPosition:
    """Where a tracked person is: a robust 3D point of their body and its planar velocity."""

    valid: bool = False
    """False for people seen in 2D only (no depth, no 3D skeleton)."""
    point: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.float32))
    """(3,) [m] camera optical frame (x right, y down, z forward): the median of the torso's 3D joints."""
    distance: float = 0.0
    """Euclidean distance from the camera's optical centre [m]."""
    velocity_valid: bool = False
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.float32))
    """(3,) [m/s] in the optical frame, on the ground plane (x, z; y = 0), fitted over the last half second."""
    source: PositionSource = PositionSource.NONE
    """Where the 3D point comes from: measured (DEPTH, SKELETON_INPUT) or LIFTED from 2D."""
    uncertainty_m: float = 0.0
    """One-sigma uncertainty of ``point`` [m]: 0 for measured 3D, distance × the lifter's measured error when lifted."""


@dataclass
class PersonEmotion:
    """Everything the package knows about one tracked person in one frame."""

    track_id: int
    box: np.ndarray
    detection_score: float
    skeleton: Skeleton | None = None
    position: PersonPosition = field(default_factory=PersonPosition)
    cues: dict[str, CueResult] = field(default_factory=dict)
    """Each running cue's result for this person, by cue name."""
    fused: FusedEstimate = field(default_factory=lambda: FusedEstimate(False))
    body_id: str = ""
    """REP-155 body id (human_ids.HumanIds), set by the ROS layer with output.hri or output.tf; "" otherwise."""
    face_id: str = ""
    """REP-155 face id, once the face cue has found this person's face (same condition); "" otherwise."""


@dataclass
class FrameResult:
    """The pipeline's output for one frame: the source's stamp and frame_id, and every person."""

    stamp_ns: int
    frame_id: str
    people: list[PersonEmotion] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    time_jump: str = ""
    """Set when this frame's stamp jumped (backwards, or far forwards) and every stage reset its state."""
    set_aside: list[tuple[str, str]] = field(default_factory=list)
    """(counter, detail) of each input the pipeline set aside in this frame: a skeleton or detection no person
    could produce (pose/plausibility.py). Consumers count and log them; everyone else's result is unaffected."""
