"""Skeletons: COCO-17 keypoints → 16-joint gait skeleton, depth → 3D joints, per-track joint history, positions."""

from .depth import DEPTH_ENCODINGS, DepthConfig, backproject, depth_to_metres, joint_depths, make_skeleton
from .history import HistoryConfig, JointHistory
from .position import PositionTracker, body_point
from .skeleton import COCO_FOR_GAIT_JOINT, coco_to_gait, optical_to_gait, skeleton_problem

__all__ = [
    "COCO_FOR_GAIT_JOINT", "DEPTH_ENCODINGS", "DepthConfig", "HistoryConfig", "JointHistory", "PositionTracker",
    "backproject", "body_point", "coco_to_gait", "depth_to_metres", "joint_depths", "make_skeleton",
    "optical_to_gait", "skeleton_problem",
]
