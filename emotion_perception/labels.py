"""The core's vocabulary: the fused emotions, their colours and circumplex places, and the skeletons.

Each cue's own label vocabulary (and how it maps onto the fused emotions) lives in its folder
(``cues/<cue>/labels.py``) and reaches everything else through the cue registry (a cue's ``labels``).
Models keep their own index orders in their weight passports and map to these tuples explicitly; messages
carry the names as strings, so that no subscriber ever needs an index table.
"""

EMOTIONS: tuple[str, ...] = ("happy", "sad", "angry", "neutral")
"""The fused vocabulary a behaviour acts on: every cue expresses itself over these four, in this order."""

UNKNOWN = "unknown"
"""The fused label of a person no cue has said anything about yet."""

LABEL_COLOURS: dict[str, tuple[int, int, int]] = {
    "happy": (230, 161, 0), "sad": (57, 105, 172), "angry": (211, 52, 79), "neutral": (111, 158, 76),
    UNKNOWN: (200, 200, 200),
}
"""RGB (0-255) of each fused label: the one table the debug image, the RViz markers and the report's plots use.
A label's colour means that label everywhere; nothing else (a track's identity) is shown in these colours."""


def label_colour(label: str) -> tuple[int, int, int]:
    """RGB of a fused label (UNKNOWN's for anything outside the table)."""
    return LABEL_COLOURS.get(label, LABEL_COLOURS[UNKNOWN])


def label_colour_hex(label: str) -> str:
    """``label_colour`` as "#rrggbb" (matplotlib)."""
    return "#{:02x}{:02x}{:02x}".format(*label_colour(label))

EMOTION_CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "happy": (0.8, 0.5),
    "sad": (-0.7, -0.5),
    "angry": (-0.6, 0.8),
    "neutral": (0.0, 0.0),
}
"""(valence, arousal) of each emotion on Russell's circumplex, both in [-1, 1]."""

GAIT_JOINTS: tuple[str, ...] = (
    "root", "spine", "neck", "head",
    "right_shoulder", "right_elbow", "right_hand",
    "left_shoulder", "left_elbow", "left_hand",
    "right_hip", "right_knee", "right_foot",
    "left_hip", "left_knee", "left_foot",
)
"""The 16-joint skeleton of the gait networks (STEP's joint order and left/right naming)."""

GAIT_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 10), (0, 13), (1, 2), (2, 3), (2, 4), (2, 7), (4, 5), (5, 6), (7, 8), (8, 9),
    (10, 11), (11, 12), (13, 14), (14, 15),
)
"""Bones of the gait skeleton as (joint, joint) index pairs into GAIT_JOINTS."""

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
"""The 17 COCO person keypoints, in the order COCO-trained detectors (Keypoint R-CNN) output them."""
