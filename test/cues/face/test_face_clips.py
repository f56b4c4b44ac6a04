"""Face clips: cutting videos into clips, the super image, the two models' shapes, data layout, generated task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion_perception.cues.face.clip_model import (
    VideoInputError, build_clip_network, frame_bag, load_clip_model, sistcm_tlstm, video_clips)
from emotion_perception.cues.face.clip_train import (
    SYNTHETIC_CLASSES, ClipTrainConfig, load_face_clips, save_face_clips, synthetic_face_videos)
from emotion_perception.cues.face.labels import FACE_EXPRESSIONS
from emotion_perception.runtime.weights import WeightsError


def numbered_video(frames: int, size: int = 8) -> np.ndarray:
    """(1, frames, size, size) uint8 video whose frame i is filled with the value i."""
    return np.repeat(np.arange(frames, dtype=np.uint8), size * size).reshape(1, frames, size, size)


def test_video_clips_keep_the_newest_frames_in_order():
    clips = video_clips(numbered_video(11), clip_frames=4, channels=1)
    assert clips.shape == (1, 2, 4, 1, 8, 8) and clips.dtype == torch.uint8
    assert clips[0, :, :, 0, 0, 0].tolist() == [[3, 4, 5, 6], [7, 8, 9, 10]]  # the 3 oldest frames dropped
    rgb = video_clips(np.zeros((2, 9, 8, 8, 3), np.float64), clip_frames=9, channels=3)
    assert rgb.shape == (2, 1, 9, 3, 8, 8) and rgb.dtype == torch.float32
    with pytest.raises(VideoInputError, match="a clip needs 4"):
        video_clips(numbered_video(3), 4, 1)
    with pytest.raises(VideoInputError, match="must be"):
        video_clips(np.zeros((2, 9, 8, 8, 3), np.uint8), 9, 1)
    with pytest.raises(VideoInputError, match="non-finite"):
        video_clips(np.full((1, 4, 8, 8), np.nan), 4, 1)


def test_super_image_tiles_the_frames_of_a_clip_in_reading_order():
    network = sistcm_tlstm(clip_frames=5, grid_rows=2)  # 2 x 3 grid, last tile empty
    clip = video_clips(numbered_video(5, size=4) + 1, 5, 1)[:, 0]
    image = network.sistcm.super_image(clip)
    assert image.shape == (1, 1, 8, 12)
    tiles = image[0, 0, ::4, ::4].tolist()
    assert tiles == [[1, 2, 3], [4, 5, 0]]


def test_models_give_class_logits_and_only_the_baseline_ignores_frame_order():
    torch.manual_seed(0)
    videos = video_clips(np.random.default_rng(0).integers(0, 256, (3, 16, 16, 16), dtype=np.uint8), 4, 1)
    reversed_videos = video_clips(np.ascontiguousarray(videos.numpy()[:, :, :, 0].reshape(3, 16, 16, 16)[:, ::-1]), 4, 1)
    model = sistcm_tlstm(clip_frames=4, grid_rows=2, widths=[8, 16], feature_dim=16, hidden=16).eval()
    streams = model.streams(videos)
    assert streams.fused.shape == (3, len(FACE_EXPRESSIONS)) and streams.clips.shape == (3, 4, len(FACE_EXPRESSIONS))
    assert torch.allclose(streams.fused, streams.feature + streams.emotion)
    assert not torch.allclose(model(videos), model(reversed_videos), atol=1e-4)
    baseline = frame_bag(widths=[8, 16], feature_dim=16).eval()
    assert baseline(videos).shape == (3, len(FACE_EXPRESSIONS))
    assert torch.allclose(baseline(videos), baseline(reversed_videos), atol=1e-5)
    with pytest.raises(ValueError, match="expected"):
        model(video_clips(np.zeros((1, 9, 16, 16), np.uint8), 9, 1))
    with pytest.raises(ValueError, match="unknown face-clip architecture"):
        build_clip_network("c3d", 7)
    with pytest.raises(ValueError, match="unknown sistcm_tlstm settings"):
        sistcm_tlstm(depth=3)


def test_train_config_builds_each_architectures_arguments():
    assert ClipTrainConfig(widths="8,16").model_arguments(3)["widths"] == [8, 16]
    assert set(ClipTrainConfig(architecture="frame_bag").model_arguments(1)) == {"channels", "widths", "feature_dim", "dropout"}
    with pytest.raises(ValueError, match="comma-separated"):
        ClipTrainConfig(widths="8;16").model_arguments(1)


def test_data_layout_round_trips_grey_and_rgb(tmp_path):
    grey = np.random.default_rng(1).integers(0, 256, (4, 6, 10, 10), dtype=np.uint8)
    path = save_face_clips(tmp_path / "grey", grey, np.array([0, 3, -1, 6]), fps=25.0)
    loaded = load_face_clips(path)
    assert path.suffix == ".npz" and loaded.videos.shape == (4, 6, 10, 10, 1) and loaded.channels == 1
    assert np.array_equal(loaded.videos[..., 0], grey) and loaded.fps == 25.0 and loaded.label_names == FACE_EXPRESSIONS
    rgb = np.zeros((2, 3, 10, 10, 3), np.uint8)
    assert load_face_clips(save_face_clips(tmp_path / "rgb.npz", rgb, np.array([1, 2]))).channels == 3
    with pytest.raises(ValueError, match="uint8"):
        save_face_clips(tmp_path / "bad", grey.astype(np.float32), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="labels must be"):
        save_face_clips(tmp_path / "bad", grey, np.array([0, 1, 2, 7]))


def test_generated_task_is_balanced_and_repeatable():
    data = synthetic_face_videos(2, frames=12, size=16, seed=4)
    assert data.videos.shape == (10, 12, 16, 16, 1) and data.videos.dtype == np.uint8
    assert sorted(data.label_names[i] for i in data.labels) == sorted(list(SYNTHETIC_CLASSES) * 2)
    assert np.array_equal(data.videos, synthetic_face_videos(2, frames=12, size=16, seed=4).videos)
    frames = data.videos[..., 0].astype(float)
    # something changes over time in every class but neutral (noise aside)
    change = np.abs(frames[:, -3:].mean(axis=1) - frames[:, :3].mean(axis=1)).max(axis=(1, 2))
    moving = np.array([SYNTHETIC_CLASSES[data.label_names[i]][0] != "" for i in data.labels])
    assert change[moving].min() > change[~moving].max()


def test_loading_refuses_weights_of_another_kind(tmp_path):
    from emotion_perception.cues.gesture import accm
    from emotion_perception.cues.gesture.model import accm_passport
    from emotion_perception.runtime.training import save_model

    path = save_model(accm(), accm_passport(("a", "b", "c", "d"), {}, 30.0, 60), tmp_path / "gesture.pt")
    with pytest.raises(WeightsError, match="not a face-clip model"):
        load_clip_model(path)
    with pytest.raises(WeightsError, match="no passport"):
        load_clip_model(tmp_path / "absent.pt")
