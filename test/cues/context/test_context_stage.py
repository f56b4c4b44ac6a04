"""The context stage: batched inference over the people of a frame, borders, tiny boxes, weights handling."""

import numpy as np
import pytest
import torch

from emotion_perception.cues.context import ContextConfig, ContextEmotion, EmoticPreprocessing, emotic_resnet18
from emotion_perception.cues.context.preprocessing import clip_box
from emotion_perception.cues.context.labels import EMOTIC_CATEGORIES
from emotion_perception.runtime.weights import WeightsPassport, save_checkpoint

SMALL = EmoticPreprocessing(context_size=64, body_size=48)


def _random_model(seed: int = 0):
    torch.manual_seed(seed)
    model = emotic_resnet18()
    with torch.no_grad():  # non-trivial running statistics so that eval-mode BatchNorm matters
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def stage():
    thresholds = np.linspace(0.0, 0.5, 26, dtype=np.float32)
    return ContextEmotion.from_model(_random_model(), thresholds, SMALL, name="random-test-weights")


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)


def test_without_weights_the_stage_is_off_and_says_how_to_get_weights(image):
    stage = ContextEmotion(ContextConfig())
    assert not stage.available
    assert "train-context" in stage.status and "import-context" in stage.status
    results = stage(image, np.array([[10, 10, 50, 90]], dtype=np.float32))
    assert len(results) == 1 and not results[0].valid and results[0].status == stage.status
    assert results[0].active_categories == []


def test_missing_weights_file_is_reported_not_raised(tmp_path):
    stage = ContextEmotion(ContextConfig(weights=str(tmp_path / "nothing.pt")))
    assert not stage.available and "nothing" in stage.status


def test_batched_results_equal_per_person_results(stage, image):
    boxes = np.array([[10, 10, 60, 110], [70, 5, 150, 100], [30, 40, 90, 80]], dtype=np.float32)
    batched = stage(image, boxes)
    assert [r.valid for r in batched] == [True, True, True]
    for box, together in zip(boxes, batched):
        (alone,) = stage(image, box[None])
        np.testing.assert_allclose(together.scores, alone.scores, atol=1e-5)
        np.testing.assert_allclose(together.vad, alone.vad, atol=1e-5)
    assert batched[0].scores.shape == (26,) and batched[0].vad.shape == (3,)
    assert not np.allclose(batched[0].scores, batched[1].scores)  # different people, different answers


def test_result_is_the_network_output_on_the_device_crops(stage, image):
    box = np.array([20, 30, 68, 100])
    (result,) = stage(image, box[None].astype(np.float32))
    scene, body = SMALL.device_inputs(torch.from_numpy(image), torch.from_numpy(box[None]))
    with torch.inference_mode():
        scores, scaled_vad = stage.model(scene, body)
    np.testing.assert_allclose(result.scores, scores[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(result.vad, scaled_vad[0].numpy() * 10.0, atol=1e-5)
    np.testing.assert_array_equal(result.thresholds, np.linspace(0.0, 0.5, 26, dtype=np.float32))
    expected_active = [EMOTIC_CATEGORIES[i] for i in np.argsort(-result.scores, kind="stable")
                       if result.scores[i] >= result.thresholds[i]]
    assert result.active_categories == expected_active


def test_result_is_close_to_the_network_output_on_opencv_crops(stage, image):
    # The OpenCV path (the reference's, and our training data's) is the oracle: the device crops differ from it
    # by at most one pixel level, which moves scores by ~1e-3 on this noise image; a half-pixel misalignment of
    # the crop moves them by ~0.2 (docs/context.md).
    boxes = np.array([[20, 30, 68, 100], [100.5, 10.2, 150.7, 118.9]], dtype=np.float32)
    results = stage(image, boxes)
    scene, bodies = SMALL.opencv_inputs(image, [clip_box(box, 160, 120) for box in boxes])
    with torch.inference_mode():
        scores, scaled_vad = stage.model(scene, bodies, torch.zeros(2, dtype=torch.long))
    for row, result in enumerate(results):
        np.testing.assert_allclose(result.scores, scores[row].numpy(), atol=0.02)
        np.testing.assert_allclose(result.vad, scaled_vad[row].numpy() * 10.0, atol=0.2)


def test_the_stage_runs_on_the_device_it_is_given(tmp_path, stage, image):
    path = save_checkpoint(stage.model.state_dict(), _passport({**SMALL.to_config(), "thresholds": [0.1] * 26}),
                           tmp_path / "emotic")
    on_cpu = ContextEmotion(ContextConfig(weights=str(path)), device=torch.device("cpu"))
    assert on_cpu.available and on_cpu.device == torch.device("cpu") and "cpu" in on_cpu.status
    box = np.array([[10, 10, 60, 110]], np.float32)
    here = on_cpu(image, box)[0]
    assert here.valid
    if torch.cuda.is_available():
        on_cuda = ContextEmotion(ContextConfig(weights=str(path)), device=torch.device("cuda"))
        assert on_cuda.available and on_cuda.device.type == "cuda"
        there = on_cuda(image, box)[0]
        np.testing.assert_allclose(there.scores, here.scores, atol=1e-3)  # crops within one grey level
    else:
        off = ContextEmotion(ContextConfig(weights=str(path)), device="cuda")
        assert not off.available and "CUDA" in off.status


def test_boxes_over_the_border_are_clipped(stage, image):
    outside, inside = stage(image, np.array([[-30, -20, 40, 60], [0, 0, 40, 60]], dtype=np.float32))
    assert outside.valid and inside.valid
    np.testing.assert_allclose(outside.scores, inside.scores, atol=1e-5)
    over, clipped = stage(image, np.array([[120, 80, 400, 300], [120, 80, 160, 120]], dtype=np.float32))
    np.testing.assert_allclose(over.scores, clipped.scores, atol=1e-5)


def test_tiny_empty_and_broken_boxes_give_invalid_results(stage, image):
    boxes = np.array([[10, 10, 12, 40], [200, 10, 260, 90], [50, 50, 40, 40], [np.nan, 0, 10, 10],
                      [10, 10, 60, 110]], dtype=np.float32)
    results = stage(image, boxes)
    assert [r.valid for r in results] == [False, False, False, False, True]
    assert all("px" in r.status for r in results[:4])
    assert stage(image, np.zeros((0, 4), np.float32)) == []


def test_bad_input_raises_clear_errors(stage, image):
    with pytest.raises(ValueError, match="uint8"):
        stage(image.astype(np.float32), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="uint8"):
        stage(image[..., 0], np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        stage(image, np.zeros((2, 3)))


def _passport(config):
    return WeightsPassport(name="test-emotic", architecture="emotic", labels=EMOTIC_CATEGORIES, config=config)


def test_checkpoint_loads_into_an_available_stage(tmp_path, stage, image):
    thresholds = np.linspace(0.0, 0.5, 26, dtype=np.float32)
    path = save_checkpoint(stage.model.state_dict(),
                           _passport({**SMALL.to_config(), "thresholds": thresholds.tolist(), "vad_scale": 10.0}),
                           tmp_path / "emotic")
    loaded = ContextEmotion(ContextConfig(weights=str(path)))
    assert loaded.available and "test-emotic" in loaded.status
    boxes = np.array([[10, 10, 60, 110], [70, 5, 150, 100]], dtype=np.float32)
    for mine, theirs in zip(loaded(image, boxes), stage(image, boxes)):
        np.testing.assert_allclose(mine.scores, theirs.scores, atol=1e-5)
        assert mine.model == "test-emotic"


def test_checkpoint_without_thresholds_is_refused_with_advice(tmp_path, stage):
    path = save_checkpoint(stage.model.state_dict(), _passport(SMALL.to_config()), tmp_path / "emotic")
    loaded = ContextEmotion(ContextConfig(weights=str(path)))
    assert not loaded.available and "--save-thresholds" in loaded.status
