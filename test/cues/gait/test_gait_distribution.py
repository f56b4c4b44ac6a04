"""Live ST-GCN inputs come from the weights' own training distribution, and every result says how far it is."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from emotion_perception.cues.gait import GaitConfig, GaitEmotion
from emotion_perception.cues.gait.distribution import InputStatistics, fit_similarity
from emotion_perception.cues.gait.models import load_gait_model
from emotion_perception.cues.gait.synthetic import camera_walks, generate_gait, live_sequences
from emotion_perception.types import JointSequence, PositionSource

MAX_Z = 3.5


@pytest.fixture(scope="module")
def stage(step_weights) -> GaitEmotion:
    stage = GaitEmotion(GaitConfig(weights=step_weights), device="cpu")
    assert stage.available, stage.status
    return stage


def test_statistics_come_from_the_released_weights(step_weights, proxemo_weights):
    model = load_gait_model(step_weights)
    norm = model.network.data_bn
    statistics = model.statistics
    assert np.array_equal(statistics.mean.ravel(), norm.running_mean.double().numpy())
    assert np.allclose(statistics.std.ravel() ** 2, norm.running_var.double().numpy() + norm.eps)
    assert np.array_equal(statistics.mean_pose, statistics.mean)
    head, feet = statistics.mean_pose[3, 1], statistics.mean_pose[[12, 15], 1]
    assert 0.9 < head - feet.mean() < 1.1  # STEP's training poses are about 1 unit tall, root-centred
    assert load_gait_model(proxemo_weights).statistics is None


def test_similarity_fit_recovers_a_known_pose_and_is_optimal_in_normalised_units(step_weights):
    statistics = load_gait_model(step_weights).statistics
    angle = np.deg2rad(70.0)
    turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    exact = (statistics.mean_pose - [0.2, 0.1, 0.0]) @ turn / 1.7  # the mean pose turned, shrunk and moved
    noisy = exact + np.random.default_rng(0).normal(0, 0.02, exact.shape)
    scale, rotation, translation = fit_similarity(np.stack([exact, noisy]), statistics.mean_pose, statistics.std)

    def cost(s, r, t, source):
        return float((((s * source @ r.T + t - statistics.mean_pose) / statistics.std) ** 2).sum())

    assert cost(scale[0], rotation[0], translation[0], exact) < 1e-16
    assert scale[0] == pytest.approx(1.7) and np.allclose(rotation[0], turn, atol=1e-9)
    best = cost(scale[1], rotation[1], translation[1], noisy)
    rng = np.random.default_rng(1)
    for _ in range(20):  # no nearby similarity fits better
        delta = rng.normal(0, 1e-3, 7)
        turned = torch.linalg.matrix_exp(torch.tensor([[0, -delta[2], delta[1]], [delta[2], 0, -delta[0]],
                                                       [-delta[1], delta[0], 0]])).numpy() @ rotation[1]
        assert cost(scale[1] * np.exp(delta[3]), turned, translation[1] + delta[4:], noisy) >= best


def test_realistic_live_walks_stay_within_the_training_distribution(stage):
    walks, _, descriptions = camera_walks(90)  # heights 1.5-1.95 m, 2-6 m away, 5 directions, 4 emotions
    chosen = [i for i in range(len(walks)) if i % 4 == (i // 4) % 4]  # each place and direction, emotions in turn
    walks, descriptions = walks[chosen], [descriptions[i] for i in chosen]
    sequences = live_sequences(walks, stage.window_frames, stage.fps)
    results = stage(sequences)
    assert all(r.valid and r.measured_3d and r.frames_used == stage.window_frames for r in results)
    worst = int(np.argmax([r.input_z_max for r in results]))
    assert results[worst].input_z_max <= MAX_Z, f"{descriptions[worst]}: {results[worst].input_z_max:.2f} sigma"
    assert not any(r.out_of_distribution for r in results)
    assert all(0 < r.input_z_mean < r.input_z_max for r in results)


def test_results_far_from_the_training_data_are_flagged(stage, step_weights):
    walk = camera_walks(90, heights=(1.75,), distances=(3.0,), directions=("towards",), emotions=("neutral",))[0]
    sequence = live_sequences(walk, stage.window_frames, stage.fps)[0]
    normal = stage([sequence])[0]
    assert normal.valid and not normal.out_of_distribution and normal.status == f"ok: {normal.label}"
    strict = GaitEmotion(GaitConfig(weights=step_weights, max_input_z=0.5 * normal.input_z_max), device="cpu")
    flagged = strict([sequence])[0]
    assert flagged.valid and flagged.out_of_distribution and flagged.input_z_max == pytest.approx(normal.input_z_max)
    assert flagged.status == f"ok: {flagged.label} (input {flagged.input_z_max:.1f} sigma from training data)"
    arms_up = sequence.joints.copy()
    arms_up[:, [5, 6, 8, 9], 1] += 0.9  # elbows and hands raised above the head
    odd = stage([dataclasses.replace(sequence, joints=arms_up)])[0]
    assert odd.valid and odd.out_of_distribution and odd.input_z_max > MAX_Z


def test_planar_fallback_is_reported_as_not_measured(stage):
    gait = generate_gait("happy", 60, rng=np.random.default_rng(3))
    planar = gait.copy()
    planar[..., 2] = 0.0  # the history's no-depth fallback: z = 0 for every joint
    results = stage([JointSequence(0, gait, 30.0, 60, PositionSource.DEPTH),
                     JointSequence(1, planar, 30.0, 60, PositionSource.NONE),
                     JointSequence(2, gait[:10], 30.0, 10, PositionSource.SKELETON_INPUT)])
    assert [r.measured_3d for r in results] == [True, False, True]
    assert results[1].valid and math.isfinite(results[1].input_z_max)
    assert not results[2].valid and math.isnan(results[2].input_z_max) and not results[2].out_of_distribution


def test_stage_owns_window_minimum_and_rate_and_takes_its_device(step_weights):
    config = GaitConfig(weights=step_weights, window_frames=60, min_frames=40, fps=25.0)
    stage = GaitEmotion(config, device=torch.device("cpu"))
    assert stage.available, stage.status
    assert (stage.window_frames, stage.frames_needed, stage.fps) == (60, 40, 25.0)
    assert stage.model.device == torch.device("cpu")
    with pytest.raises(ValueError, match="min_frames"):
        GaitConfig(window_frames=30, min_frames=45).check()
    refused = GaitEmotion(GaitConfig(weights=step_weights, window_frames=30, min_frames=45))
    assert not refused.available and "bad settings: gait: min_frames" in refused.status, refused.status


def test_statistics_round_trip_through_a_passport_config(step_weights):
    statistics = load_gait_model(step_weights).statistics
    again = InputStatistics.from_config(statistics.to_config())
    assert all(np.array_equal(getattr(again, f), getattr(statistics, f)) for f in ("mean_pose", "mean", "std"))
    broken = {**statistics.to_config(), "std": np.zeros((16, 3)).tolist()}
    with pytest.raises(ValueError, match="positive"):
        InputStatistics.from_config(broken)
