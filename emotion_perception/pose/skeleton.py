"""COCO-17 keypoints to the 16-joint gait skeleton, and the camera-to-gait axis change.

The gait skeleton is STEP's (labels.GAIT_JOINTS): root, spine and neck are derived (hip midpoint,
midpoint of hips and shoulders, shoulder midpoint), the head is the confidence-weighted mean of the
visible face keypoints (nose, eyes, ears), hands are COCO wrists and feet are COCO ankles. Left and right
are the person's own sides in both vocabularies, so no mirroring is involved.
"""

from __future__ import annotations

import numpy as np

from ..labels import COCO_KEYPOINTS, GAIT_JOINTS

_COCO = {name: index for index, name in enumerate(COCO_KEYPOINTS)}

COCO_FOR_GAIT_JOINT: dict[str, str] = {
    "right_shoulder": "right_shoulder", "right_elbow": "right_elbow", "right_hand": "right_wrist",
    "left_shoulder": "left_shoulder", "left_elbow": "left_elbow", "left_hand": "left_wrist",
    "right_hip": "right_hip", "right_knee": "right_knee", "right_foot": "right_ankle",
    "left_hip": "left_hip", "left_knee": "left_knee", "left_foot": "left_ankle",
}
"""Gait joints that are one COCO keypoint each (the others are derived, see the module docstring)."""

_FACE = [_COCO[name] for name in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
_HIPS = [_COCO["left_hip"], _COCO["right_hip"]]
_SHOULDERS = [_COCO["left_shoulder"], _COCO["right_shoulder"]]


def coco_to_gait(keypoints_coco: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map (..., 17, 3) COCO keypoints (x, y px, confidence) to (..., 16, 2) joints and (..., 16) confidences.

    A derived joint's confidence is the smallest of the keypoints it is made of (the head's: the largest
    face confidence); a joint whose sources all have confidence 0 has position 0 and confidence 0.
    """
    keypoints = np.asarray(keypoints_coco, dtype=np.float32)
    if keypoints.ndim < 2 or keypoints.shape[-2:] != (17, 3):
        raise ValueError(f"COCO keypoints must have shape (..., 17, 3), got {keypoints.shape}")
    if not np.all(np.isfinite(keypoints)):
        raise ValueError("COCO keypoints contain NaN or infinite values")
    xy = keypoints[..., :2]
    conf = np.clip(keypoints[..., 2], 0.0, 1.0)
    joints = np.zeros(keypoints.shape[:-2] + (16, 2), dtype=np.float32)
    confidence = np.zeros(keypoints.shape[:-2] + (16,), dtype=np.float32)

    def set_joint(name: str, position: np.ndarray, joint_conf: np.ndarray) -> None:
        index = GAIT_JOINTS.index(name)
        joints[..., index, :] = position
        confidence[..., index] = joint_conf

    hip_mid = xy[..., _HIPS, :].mean(axis=-2)
    shoulder_mid = xy[..., _SHOULDERS, :].mean(axis=-2)
    hip_conf = conf[..., _HIPS].min(axis=-1)
    shoulder_conf = conf[..., _SHOULDERS].min(axis=-1)
    set_joint("root", hip_mid, hip_conf)
    set_joint("spine", (hip_mid + shoulder_mid) / 2, np.minimum(hip_conf, shoulder_conf))
    set_joint("neck", shoulder_mid, shoulder_conf)
    face_conf = conf[..., _FACE]
    face_weight = face_conf.sum(axis=-1, keepdims=True)
    head = (xy[..., _FACE, :] * face_conf[..., None]).sum(axis=-2) / np.maximum(face_weight, 1e-12)
    set_joint("head", np.where(face_weight > 0, head, 0.0), face_conf.max(axis=-1))
    for gait_name, coco_name in COCO_FOR_GAIT_JOINT.items():
        set_joint(gait_name, xy[..., _COCO[coco_name], :], conf[..., _COCO[coco_name]])
    joints[confidence <= 0] = 0.0
    return joints, confidence


def optical_to_gait(points: np.ndarray) -> np.ndarray:
    """Camera optical frame (x right, y down, z forward) to the gait frame (x right, y up, z towards camera)."""
    points = np.asarray(points, dtype=np.float32)
    if points.shape[-1:] != (3,):
        raise ValueError(f"points must have shape (..., 3), got {points.shape}")
    return points * np.array([1.0, -1.0, -1.0], dtype=np.float32)


MIN_CONFIDENT_JOINTS = 6
"""Fewest confident joints (root among them) for a skeleton to describe a body at all."""
MIN_BODY_EXTENT_M = 0.2
"""Smallest spread of a 3D skeleton's confident joints [m]; below it the joints are collapsed (a tracker fault)."""
MIN_BODY_EXTENT_PX = 4.0
"""Smallest spread of a 2D skeleton's confident joints [px]."""


def skeleton_problem(joints_2d: np.ndarray, confidence: np.ndarray, joints_3d: np.ndarray | None,
                     min_confidence: float) -> str:
    """Why a skeleton cannot describe a body ("" when it can): wrong shape, non-finite, too few or collapsed joints.

    Emotion cues must never label a person from such input; the reason becomes their status.
    """
    joints_2d, confidence = np.asarray(joints_2d), np.asarray(confidence)
    if joints_2d.shape != (len(GAIT_JOINTS), 2) or confidence.shape != (len(GAIT_JOINTS),):
        return f"malformed skeleton: joints {joints_2d.shape}, confidence {confidence.shape}"
    if joints_3d is not None and np.shape(joints_3d) != (len(GAIT_JOINTS), 3):
        return f"malformed skeleton: 3D joints {np.shape(joints_3d)}"
    if not np.isfinite(confidence).all():
        return "skeleton has non-finite confidences"
    confident = confidence >= min_confidence
    points = np.asarray(joints_3d if joints_3d is not None else joints_2d, dtype=np.float64)
    finite = np.isfinite(points).all(axis=1)
    if (confident & ~finite).any():
        return f"skeleton has NaN/inf positions in {int((confident & ~finite).sum())} confident joints"
    usable = confident & finite
    if usable.sum() < MIN_CONFIDENT_JOINTS or not usable[GAIT_JOINTS.index("root")]:
        return f"too few confident joints ({int(usable.sum())} of {len(GAIT_JOINTS)}, root {'seen' if usable[0] else 'unseen'})"
    seen = points[usable]
    extent = float(np.linalg.norm(seen.max(axis=0) - seen.min(axis=0)))
    minimum, unit = (MIN_BODY_EXTENT_M, "m") if joints_3d is not None else (MIN_BODY_EXTENT_PX, "px")
    if extent < minimum:
        return f"collapsed skeleton: confident joints span {extent:.3g} {unit} (< {minimum:g} {unit})"
    return ""
