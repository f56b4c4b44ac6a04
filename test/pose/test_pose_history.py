"""Per-track joint history: resampling, gait frame, planar fallback, gaps and memory bounds."""

import numpy as np
import pytest

from emotion_perception.labels import GAIT_JOINTS
from emotion_perception.pose import HistoryConfig, JointHistory
from emotion_perception.types import PositionSource, Skeleton

SECOND = 1_000_000_000
FPS = 30.0
BASE = np.random.default_rng(3).uniform(-0.4, 0.4, (16, 3)).astype(np.float32) + [0.0, 0.0, 3.0]
VELOCITY = np.array([0.6, 0.1, -0.3], dtype=np.float32)  # metres per second, optical frame


def skeleton_at(t: float, with_3d: bool = True, confidence: np.ndarray | None = None) -> Skeleton:
    """A rigid body moving at VELOCITY; its 2D joints are a simple projection (500 px per metre)."""
    joints_3d = (BASE + VELOCITY * t).astype(np.float32)
    joints_2d = (joints_3d[:, :2] * 500 + 300).astype(np.float32)
    confidence = np.ones(16, np.float32) if confidence is None else confidence
    if with_3d:
        return Skeleton(joints_2d, confidence, joints_3d, PositionSource.DEPTH)
    return Skeleton(joints_2d, confidence, None, PositionSource.NONE)


def feed(history: JointHistory, track_id: int, times: np.ndarray, **kwargs) -> None:
    for t in times:
        assert history.add(track_id, int(round(t * SECOND)), skeleton_at(t, **kwargs))


def test_sequence_is_resampled_to_the_configured_rate_in_the_gait_frame():
    history = JointHistory(HistoryConfig())
    times = np.arange(0, 1.0, 1 / 12)  # a 12 Hz camera
    feed(history, 7, times)
    sequence = history.sequence(7, 20, FPS)
    assert sequence.joints.shape == (20, 16, 3) and sequence.joints.dtype == np.float32
    assert sequence.fps == 30.0 and sequence.track_id == 7 and sequence.frames_observed == len(times)
    assert sequence.position_source is PositionSource.DEPTH
    sample_times = times[-1] - np.arange(19, -1, -1) / 30.0
    expected = np.stack([skeleton_at(t).joints_3d for t in sample_times]) * [1, -1, -1]
    np.testing.assert_allclose(sequence.joints, expected, atol=1e-5)


def test_sequence_is_none_until_the_history_covers_the_window():
    history = JointHistory()
    feed(history, 1, np.arange(10) / 30)
    assert history.sequence(1, 11, FPS) is None
    assert history.sequence(1, 10, FPS) is not None
    assert history.sequence(99, 2, FPS) is None
    with pytest.raises(ValueError):
        history.sequence(1, 0, FPS)


def test_without_3d_the_sequence_is_the_flagged_planar_fallback():
    config = HistoryConfig(planar_torso_length_m=0.5)
    history = JointHistory(config)
    feed(history, 1, np.arange(30) / 30, with_3d=False)
    sequence = history.sequence(1, 30, FPS)
    assert sequence.position_source is PositionSource.NONE
    np.testing.assert_array_equal(sequence.joints[..., 2], 0.0)
    root, neck = GAIT_JOINTS.index("root"), GAIT_JOINTS.index("neck")
    np.testing.assert_allclose(sequence.joints[0, root], 0.0, atol=1e-6)
    torso = np.linalg.norm(sequence.joints[:, neck] - sequence.joints[:, root], axis=1)
    np.testing.assert_allclose(torso, 0.5, rtol=1e-5)
    # image y grows downwards, the gait frame's y upwards
    first_2d, last_2d = skeleton_at(0.0).joints_2d, skeleton_at(29 / 30).joints_2d
    assert np.sign(sequence.joints[-1, root, 1] - sequence.joints[0, root, 1]) == -np.sign(
        last_2d[root, 1] - first_2d[root, 1])


def test_one_frame_without_3d_turns_the_whole_window_planar():
    history = JointHistory()
    times = np.arange(20) / 30
    for index, t in enumerate(times):
        history.add(1, int(round(t * SECOND)), skeleton_at(t, with_3d=index != 10))
    assert history.sequence(1, 20, FPS).position_source is PositionSource.NONE
    assert history.sequence(1, 9, FPS).position_source is PositionSource.DEPTH


def test_low_confidence_joints_are_interpolated_and_unseen_joints_take_their_parent():
    history = JointHistory(HistoryConfig())
    hand, elbow = GAIT_JOINTS.index("right_hand"), GAIT_JOINTS.index("right_elbow")
    times = np.arange(10) / 30
    for index, t in enumerate(times):
        confidence = np.ones(16, np.float32)
        if index in (4, 5):
            confidence[hand] = 0.0
        confidence[GAIT_JOINTS.index("left_foot")] = 0.0
        skeleton = skeleton_at(t, confidence=confidence)
        if index in (4, 5):
            skeleton.joints_3d[hand] = 100.0  # garbage where unseen
        history.add(1, int(round(t * SECOND)), skeleton)
    joints = history.sequence(1, 10, FPS).joints
    np.testing.assert_allclose(joints[:, hand], np.stack([skeleton_at(t).joints_3d[hand] for t in times]) * [1, -1, -1],
                               atol=1e-5)
    np.testing.assert_allclose(joints[:, GAIT_JOINTS.index("left_foot")], joints[:, GAIT_JOINTS.index("left_knee")])
    assert not np.allclose(joints[:, elbow], joints[:, hand])


def test_a_long_gap_restarts_the_history_but_not_the_observation_count():
    history = JointHistory(HistoryConfig(max_gap_seconds=0.5))
    feed(history, 1, np.arange(30) / 30)
    feed(history, 1, 2.0 + np.arange(5) / 30)
    assert history.frames_observed(1) == 35 and history.frames_buffered(1) == 5
    assert history.sequence(1, 6, FPS) is None and history.sequence(1, 5, FPS) is not None


def test_stale_or_non_finite_observations_are_dropped_and_counted():
    history = JointHistory()
    assert history.add(1, 2 * SECOND, skeleton_at(0.0))
    assert not history.add(1, 2 * SECOND, skeleton_at(0.1))
    assert not history.add(1, 1 * SECOND, skeleton_at(0.1))
    broken = skeleton_at(0.2)
    broken.joints_3d[3] = np.nan
    assert not history.add(1, 3 * SECOND, broken)
    assert history.dropped == 3 and history.frames_observed(1) == 1
    with pytest.raises(ValueError):
        history.add(1, 4 * SECOND, Skeleton(np.zeros((17, 2)), np.zeros(17)))


def test_memory_stays_bounded_whatever_the_input():
    config = HistoryConfig(max_frames=50, max_tracks=8, max_age_seconds=2.0, max_gap_seconds=1.0)
    history = JointHistory(config)
    for frame in range(400):
        stamp = frame * SECOND // 30
        history.add(0, stamp, skeleton_at(frame / 30))  # one long-lived track
        history.add(1000 + frame, stamp, skeleton_at(frame / 30))  # a new track every frame
    assert len(history.track_ids) <= 8
    assert history.frames_buffered(0) == 50 and history.frames_observed(0) == 400
    assert 0 in history.track_ids  # the most recently seen survive
    # a track unseen for longer than max_age is dropped as soon as newer data arrives
    history.add(5, 400 * SECOND // 30 + 3 * SECOND, skeleton_at(0.0))
    assert history.track_ids == [5]


def test_prune_forgets_tracks_that_died():
    history = JointHistory()
    for track_id in (1, 2, 3):
        history.add(track_id, SECOND, skeleton_at(0.0))
    assert sorted(history.prune([2, 42])) == [1, 3]
    assert history.track_ids == [2] and history.frames_observed(1) == 0


def test_available_frames_tells_the_longest_window_a_faster_camera_can_fill():
    history = JointHistory(HistoryConfig())
    feed(history, 1, np.arange(31) / 60)  # 0.5 s at 60 Hz
    assert history.frames_buffered(1) == 31 and history.available_frames(1, FPS) == 16
    assert history.sequence(1, 16, FPS) is not None and history.sequence(1, 17, FPS) is None
    assert history.available_frames(2, FPS) == 0


def test_time_going_back_further_than_max_age_clears_the_history():
    history = JointHistory(HistoryConfig(max_age_seconds=2.0))
    feed(history, 1, 100 + np.arange(10) / 30)
    assert history.add(1, SECOND, skeleton_at(0.0))  # the bag starts over, same track id
    assert history.time_jumps == 1 and history.frames_buffered(1) == 1 and history.frames_observed(1) == 1
