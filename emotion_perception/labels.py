"""The one label vocabulary of the package.

Every list of names a model or a message uses lives here. Models keep their own index orders in their
weight passports and map to these tuples explicitly; messages carry these names as strings, so that
no subscriber ever needs an index table.
"""

GAIT_EMOTIONS: tuple[str, ...] = ("happy", "sad", "angry", "neutral")
"""Gait emotion labels, in the order our code and messages use."""

EMOTIC_CATEGORIES: tuple[str, ...] = (
    "Affection", "Anger", "Annoyance", "Anticipation", "Aversion", "Confidence", "Disapproval",
    "Disconnection", "Disquietment", "Doubt/Confusion", "Embarrassment", "Engagement", "Esteem",
    "Excitement", "Fatigue", "Fear", "Happiness", "Pain", "Peace", "Pleasure", "Sadness",
    "Sensitivity", "Suffering", "Surprise", "Sympathy", "Yearning",
)
"""The 26 discrete EMOTIC categories, in the data set's (and our messages') order."""

VAD_DIMENSIONS: tuple[str, ...] = ("valence", "arousal", "dominance")
"""EMOTIC's continuous dimensions, each on a 1-10 scale."""

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
