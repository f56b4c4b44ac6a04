"""Gesture representation, ACCM network, data layout, generated task and the stage without weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion_perception.cues.gesture import GestureConfig, GestureEmotion, accm
from emotion_perception.cues.gesture.data import load_gesture_set, save_gesture_set
from emotion_perception.cues.gesture.representation import (
    FEATURES_PER_JOINT, GestureInputError, NUM_JOINTS, clean_sequence, joint_motion)
from emotion_perception.cues.gesture.synthetic import GESTURE_CLASSES, generate_gesture, synthetic_gestures
from emotion_perception.labels import GAIT_EDGES, GAIT_JOINTS
from emotion_perception.cues.gesture.labels import GESTURE_EMOTIONS
from emotion_perception.runtime.training import labels_in
from emotion_perception.types import JointSequence

WINDOW = 40


def moving_person(frames: int, fps: float = 30.0, hand_speed: float = 0.3) -> np.ndarray:
    """A person facing the camera whose right hand rises at a constant ``hand_speed`` [m/s] (linear in time)."""
    person = generate_gesture("neutral", 1, rng=np.random.default_rng(3))[0].astype(np.float64)
    person -= person[0] * np.array([1.0, 0.0, 1.0])
    sequence = np.repeat(person[None], frames, axis=0)
    sequence[:, GAIT_JOINTS.index("right_hand"), 1] += hand_speed * np.arange(frames) / fps
    return sequence


def turn(sequence: np.ndarray, yaw_deg: float) -> np.ndarray:
    yaw = np.deg2rad(yaw_deg)
    rotation = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    return sequence @ rotation.T


def test_representation_layout_is_joint_by_joint_positions_then_velocities():
    sequence = moving_person(WINDOW)
    motion = joint_motion(sequence, 30.0, 30.0, WINDOW)
    assert motion.shape == (NUM_JOINTS * FEATURES_PER_JOINT, WINDOW) and motion.dtype == np.float32
    per_joint = motion.reshape(NUM_JOINTS, FEATURES_PER_JOINT, WINDOW)
    torso = np.linalg.norm(sequence[0, 2] - sequence[0, 0])
    hand = GAIT_JOINTS.index("right_hand")
    assert np.allclose(per_joint[hand, 4], 0.3 / torso, atol=1e-4)  # vy of the rising hand [torso lengths/s]
    assert np.allclose(per_joint[hand, 1], (sequence[:, hand, 1] - sequence[:, 0, 1]) / torso, atol=1e-5)
    still = [j for j in range(1, NUM_JOINTS) if j != hand]
    assert np.abs(per_joint[still, 3:]).max() < 1e-5  # the other joints do not move
    assert np.abs(per_joint[0]).max() < 1e-5  # the root stays where it is


def test_representation_ignores_place_heading_and_body_size():
    sequence = moving_person(WINDOW)
    reference = joint_motion(sequence, 30.0, 30.0, WINDOW)
    moved = turn(sequence, 137.0) * 1.2 + np.array([1.5, -0.7, -3.0])
    assert np.allclose(joint_motion(moved, 30.0, 30.0, WINDOW), reference, atol=1e-4)


def test_missing_repeated_and_slower_frames_give_the_same_representation():
    sequence = moving_person(WINDOW)
    reference = joint_motion(sequence, 30.0, 30.0, WINDOW)
    damaged = sequence.copy()
    damaged[[5, 6, 20]] = np.nan
    damaged[11, 7, 2] = np.inf
    damaged[30] = damaged[29]  # a stalled tracker repeats a frame
    assert np.allclose(joint_motion(damaged, 30.0, 30.0, WINDOW), reference, atol=1e-4)
    half_rate = sequence[1::2]  # the same movement at 15 fps, ending on the same newest frame
    resampled = clean_sequence(half_rate, 15.0, 30.0)
    assert len(resampled) == WINDOW - 1
    assert np.allclose(resampled, sequence[1:], atol=1e-6)


def test_short_windows_hold_their_first_pose():
    sequence = moving_person(10)
    motion = joint_motion(sequence, 30.0, 30.0, WINDOW).reshape(NUM_JOINTS, FEATURES_PER_JOINT, WINDOW)
    hand = GAIT_JOINTS.index("right_hand")
    assert np.allclose(motion[hand, 1, :WINDOW - 10], motion[hand, 1, WINDOW - 10])
    assert np.allclose(motion[hand, 4, :WINDOW - 11], 0.0)


@pytest.mark.parametrize("joints, fps, match", [
    (np.zeros((10, 15, 3)), 30.0, "must be"),
    (np.zeros((10, 48)), 30.0, "must be"),
    (np.full((10, 16, 3), np.nan), 30.0, "0 distinct valid frames"),
    (np.ones((1, 16, 3)), 30.0, "1 distinct valid frames"),
    (np.ones((10, 16, 3)) + np.arange(10)[:, None, None] * 1e-3, 30.0, "degenerate skeleton"),
    (moving_person(10), 0.0, "frame rates must be positive"),
])
def test_bad_input_raises_a_clear_error(joints, fps, match):
    with pytest.raises(GestureInputError, match=match):
        joint_motion(joints, fps, 30.0, WINDOW)


def test_accm_is_channel_wise_with_one_attention_weight_per_joint():
    torch.manual_seed(0)
    network = accm().eval()
    conv = network.joint_convs[0][0]
    assert conv.groups == NUM_JOINTS and conv.in_channels == NUM_JOINTS * FEATURES_PER_JOINT
    for window in (2, 37, 90):
        x = torch.randn(3, NUM_JOINTS * FEATURES_PER_JOINT, window)
        assert network(x).shape == (3, len(GESTURE_EMOTIONS))
        weights = network.joint_weights(x)
        assert weights.shape == (3, NUM_JOINTS) and bool(((weights > 0) & (weights < 1)).all())
    # a joint's channels only reach its own group before the attention: zeroing joint 5 leaves group 2 unchanged
    x = torch.randn(1, NUM_JOINTS * FEATURES_PER_JOINT, 20)
    y = x.clone()
    y[:, 5 * FEATURES_PER_JOINT:6 * FEATURES_PER_JOINT] = 0
    grouped = lambda v: network.joint_convs(network.input_norm(v)).reshape(1, NUM_JOINTS, -1)  # noqa: E731
    assert torch.equal(grouped(x)[:, 2], grouped(y)[:, 2]) and not torch.equal(grouped(x)[:, 5], grouped(y)[:, 5])
    with pytest.raises(ValueError, match="ACCM expects"):
        network(torch.zeros(1, 48, 20))
    with pytest.raises(ValueError, match="unknown ACCM settings"):
        accm(depth=3)


def test_generated_gestures_are_plausible_bodies_with_their_pattern():
    rng = np.random.default_rng(0)
    hands = [GAIT_JOINTS.index("right_hand"), GAIT_JOINTS.index("left_hand")]
    for emotion in GESTURE_CLASSES:
        sequence = generate_gesture(emotion, 60, rng=rng)
        assert sequence.shape == (60, 16, 3) and sequence.dtype == np.float32 and np.isfinite(sequence).all()
        bones = np.stack([np.linalg.norm(sequence[:, a] - sequence[:, b], axis=-1) for a, b in GAIT_EDGES], axis=1)
        assert bones.std(axis=0).max() < 0.05  # rigid limbs, up to the 1 cm joint noise
        assert 1.2 < sequence[:, 3, 1].mean() - sequence[:, [12, 15], 1].mean() < 1.9  # head above the feet
    waving = np.stack([generate_gesture("happy", 60, rng=rng) for _ in range(10)])
    still = np.stack([generate_gesture("sad", 60, rng=rng) for _ in range(10)])
    # how far the busier hand moves about the neck [m]
    hand_travel = lambda s: (s[:, :, hands] - s[:, :, [2]]).std(axis=1).sum(axis=-1).max(axis=-1).mean()  # noqa: E731
    assert hand_travel(waving) > 3 * hand_travel(still)
    gappy = generate_gesture("angry", 200, rng=rng, missing_rate=0.1, repeat_rate=0.1)
    assert 5 < (~np.isfinite(gappy).all(axis=(1, 2))).sum() < 40
    sequences, labels = synthetic_gestures(3, 20, seed=1)
    assert sequences.shape == (12, 20, 16, 3) and np.bincount(labels).tolist() == [3, 3, 3, 3]
    with pytest.raises(ValueError, match="unknown gesture emotion"):
        generate_gesture("bored", 10)


def test_data_layout_round_trips_sequences_of_different_lengths(tmp_path):
    sequences = [moving_person(n) for n in (12, 30, 7)]
    sequences[1][4] = np.nan
    path = save_gesture_set(tmp_path / "gestures", sequences, np.array([2, -1, 0]), ("calm", "happy", "sad"), fps=25.0)
    assert path.name == "gestures.npz"
    loaded = load_gesture_set(path)
    assert loaded.fps == 25.0 and loaded.label_names == ("calm", "happy", "sad")
    assert [len(s) for s in loaded.sequences] == [12, 30, 7]
    assert np.allclose(loaded.sequences[0], sequences[0]) and np.isnan(loaded.sequences[1][4]).all()
    with pytest.raises(ValueError, match="labels must be"):
        save_gesture_set(tmp_path / "bad.npz", sequences, np.array([0, 1, 5]), ("a", "b"))
    np.savez(tmp_path / "other.npz", sequences=np.zeros((1, 5, 16, 3)))
    with pytest.raises(ValueError, match="missing arrays"):
        load_gesture_set(tmp_path / "other.npz")
    np.savez(tmp_path / "outside.npz", sequences=np.zeros((2, 5, 16, 3)), labels=np.array([0, 2]), label_names=["a", "b"])
    with pytest.raises(ValueError, match="outside.npz: labels must be"):
        load_gesture_set(tmp_path / "outside.npz")


def test_stage_without_weights_is_off_and_says_why():
    stage = GestureEmotion(GestureConfig(), device="cpu")
    assert not stage.available and "no weights" in stage.status and "train-gesture" in stage.status
    results = stage([JointSequence(1, moving_person(60), 30.0, 60), JointSequence(2, np.zeros((3, 2)), 30.0, 3)])
    assert [r.valid for r in results] == [False, False] and all(r.status == stage.status for r in results)
    assert results[0].label == "" and results[0].probabilities is None
    missing = GestureEmotion(GestureConfig(weights="/nonexistent/gesture.pt"))
    assert not missing.available and "off" in missing.status and "/nonexistent/gesture" in missing.status
    assert "bad settings" in GestureEmotion(GestureConfig(weights="x.pt", window_frames=10, min_frames=20)).status


def test_labels_map_onto_a_models_order_by_name():
    assert labels_in(GESTURE_EMOTIONS, np.array([2, -1, 0, 1]), ("calm", "happy", "sad")).tolist() == [
        GESTURE_EMOTIONS.index("sad"), -1, -1, GESTURE_EMOTIONS.index("happy")]
