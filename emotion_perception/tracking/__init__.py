"""Multi-person tracking: ByteTrack-style association on a constant-velocity Kalman filter."""

from .byte_tracker import ByteTracker, TrackerConfig, TrackState, box_iou, match_by_iou
from .kalman import BoxKalmanFilter

__all__ = ["BoxKalmanFilter", "ByteTracker", "TrackState", "TrackerConfig", "box_iou", "match_by_iou"]
