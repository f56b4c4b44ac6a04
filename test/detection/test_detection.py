"""Keypoint R-CNN person detector: types and shapes with random weights, weights from files, failures."""

import dataclasses
import os
import re

import numpy as np
import pytest
import torch

from emotion_perception.detection import ARCHITECTURE, DetectorConfig, build_detector, load_detector_weights
from emotion_perception.pipeline import Pipeline
from emotion_perception.settings import Settings
from emotion_perception.types import Detection
from emotion_perception.runtime.weights import WeightsError, WeightsPassport, save_checkpoint

from support.marks import needs_cuda, without_cuda

# Small inputs keep the 59M-parameter network fast on a shared CPU; threshold 0 makes random weights
# report max_detections people.
SMALL = DetectorConfig(model="keypointrcnn", min_size=96, max_size=128, max_detections=3, score_threshold=0.0)


@pytest.fixture(scope="module")
def random_detector():
    torch.manual_seed(0)
    return build_detector(SMALL, random_weights=True)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), rng.integers(0, 256, (80, 100, 3), dtype=np.uint8)]


@pytest.fixture(scope="module")
def checkpoint(random_detector, tmp_path_factory):
    passport = WeightsPassport(name="kprcnn_test", architecture=ARCHITECTURE, labels=("person",))
    path = tmp_path_factory.mktemp("weights") / "kprcnn_test"
    return save_checkpoint(random_detector.model.state_dict(), passport, path)


def assert_same_detections(first: list[list[Detection]], second: list[list[Detection]]) -> None:
    assert [len(people) for people in first] == [len(people) for people in second]
    for a, b in zip(sum(first, []), sum(second, [])):
        np.testing.assert_allclose(a.box, b.box, atol=1e-3)
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
        assert a.score == pytest.approx(b.score, abs=1e-5)


def test_random_weights_run_on_cpu_and_give_the_documented_types(random_detector, images):
    assert random_detector.available and "RANDOM" in random_detector.status
    results = random_detector.detect(images)
    assert len(results) == 2
    for image, people in zip(images, results):
        assert 1 <= len(people) <= SMALL.max_detections
        scores = [person.score for person in people]
        assert scores == sorted(scores, reverse=True)
        height, width = image.shape[:2]
        for person in people:
            assert isinstance(person, Detection) and isinstance(person.score, float)
            assert person.box.shape == (4,) and person.box.dtype == np.float32
            assert 0 <= person.box[0] <= person.box[2] <= width and 0 <= person.box[1] <= person.box[3] <= height
            assert person.keypoints.shape == (17, 3) and person.keypoints.dtype == np.float32
            assert np.all((person.keypoints[:, 2] >= 0) & (person.keypoints[:, 2] <= 1))
            x, y = person.keypoints[:, 0], person.keypoints[:, 1]  # pixels, within the person's box
            assert np.all((x >= person.box[0] - 1) & (x <= person.box[2] + 1))
            assert np.all((y >= person.box[1] - 1) & (y <= person.box[3] + 1))
    assert random_detector.detect([]) == []


def test_a_batch_gives_the_same_people_as_one_image_at_a_time(random_detector, images):
    assert_same_detections(random_detector.detect(images), [random_detector.detect([im])[0] for im in images])


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 3), np.float32), np.zeros((10, 10), np.uint8),
                                 np.zeros((10, 10, 4), np.uint8), np.zeros((1, 10, 3), np.uint8), "image.png"])
def test_malformed_images_raise_naming_their_index(random_detector, images, bad):
    with pytest.raises(ValueError, match="image 1"):
        random_detector.detect([images[0], bad])


def test_without_weights_the_detector_is_unavailable_and_finds_nobody(images):
    detector = build_detector(DetectorConfig(weights=""))
    assert not detector.available and "DEFAULT" in detector.status
    assert detector.detect(images) == [[], []]


def test_default_weights_offline_and_not_cached_name_the_command_that_fetches_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # nothing cached; this machine has no internet
    assert DetectorConfig().weights == "DEFAULT", "people are seen out of the box"
    cache_only = build_detector(DetectorConfig(model="keypointrcnn"), download=False)
    assert not cache_only.available and "weights fetch keypointrcnn" in cache_only.status
    assert str(tmp_path) in cache_only.status


def test_weights_file_round_trip_with_and_without_passport(random_detector, images, checkpoint):
    expected = random_detector.detect(images)
    from_passport = build_detector(dataclasses.replace(SMALL, weights=str(checkpoint)))
    assert from_passport.available and "kprcnn_test" in from_passport.status
    assert_same_detections(from_passport.detect(images), expected)
    plain = checkpoint.parent / "plain_state_dict.pth"
    os.link(checkpoint, plain)  # the same bytes, but no passport beside it
    from_plain = build_detector(dataclasses.replace(SMALL, weights=str(plain)))
    assert from_plain.available
    assert_same_detections(from_plain.detect(images), expected)


def test_default_weights_come_from_the_torch_hub_cache(random_detector, images, checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / "keypointrcnn_resnet50_fpn_coco-fc266e95.pth"
    cached.parent.mkdir(parents=True)
    os.link(checkpoint, cached)
    detector = build_detector(dataclasses.replace(SMALL, weights="DEFAULT"))
    assert detector.available and "torchvision" in detector.status
    assert_same_detections(detector.detect(images), random_detector.detect(images))
    cached.unlink()
    cached.write_bytes(b"not a checkpoint")
    broken = build_detector(dataclasses.replace(SMALL, weights="DEFAULT"))
    assert not broken.available and str(cached) in broken.status


def test_missing_or_corrupt_weights_give_a_clear_error_naming_the_file(tmp_path):
    missing = tmp_path / "nowhere.pt"
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00garbage" * 100)
    for path in (missing, corrupt):
        with pytest.raises(WeightsError, match=re.escape(str(path))):
            load_detector_weights(str(path))
        detector = build_detector(dataclasses.replace(SMALL, weights=str(path)))
        assert not detector.available and str(path) in detector.status
        assert detector.detect([np.zeros((8, 8, 3), np.uint8)]) == [[]]


def test_weights_of_another_network_are_refused(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"layer.weight": torch.zeros(2, 2)}, foreign)
    detector = build_detector(dataclasses.replace(SMALL, weights=str(foreign)))
    assert not detector.available and str(foreign) in detector.status and "Keypoint R-CNN" in detector.status
    passported = save_checkpoint({"w": torch.zeros(1)}, WeightsPassport("gait", "stgcn", ("happy",)), tmp_path / "gait")
    detector = build_detector(dataclasses.replace(SMALL, weights=str(passported)))
    assert not detector.available and "stgcn" in detector.status


@pytest.mark.parametrize("overrides", [{"min_size": 0}, {"max_size": 50}, {"max_detections": 0},
                                       {"score_threshold": 1.5}])
def test_nonsense_settings_raise(overrides):
    with pytest.raises(ValueError):
        build_detector(dataclasses.replace(SMALL, **overrides), random_weights=True)


@without_cuda
def test_cuda_without_a_gpu_falls_back_to_the_cpu_with_a_note():
    settings = Settings.from_nested({"pipeline": {"device": "cuda"}, "detector": {"weights": ""}})
    notes = []
    pipeline = Pipeline(settings, log=notes.append, detector=build_detector(SMALL, "cpu", random_weights=True))
    assert pipeline.device == torch.device("cpu") and "CUDA is not available" in pipeline.device_note
    assert notes == [pipeline.device_note]


@needs_cuda
def test_cuda_fp16_gives_the_documented_types(random_detector, images):
    from emotion_perception.runtime.device import inference_context

    detector = build_detector(SMALL, "cuda", random_weights=True)
    detector.model.load_state_dict(random_detector.model.state_dict())
    with inference_context(torch.device("cuda"), "fp16"):
        found = detector.detect(images)
    for people in found:
        for person in people:
            assert person.box.dtype == np.float32 and person.keypoints.shape == (17, 3)


# --- the registry and the onnx backend ---------------------------------------------------------------------

class WhiteRectanglePose(torch.nn.Module):
    """A 'pose model' in the onnx backend's documented layout that finds the one white rectangle of its input:
    a person row boxing it (keypoints on its top-left corner), a near-duplicate the backend must suppress,
    and a candidate below the score threshold. Exported to ONNX by the tests."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        white = (image[0].amin(dim=0) > 0.9).float()  # (H, W)
        columns, rows = white.amax(dim=0), white.amax(dim=1)
        xs = torch.arange(white.shape[1], dtype=torch.float32)
        ys = torch.arange(white.shape[0], dtype=torch.float32)
        x_min, x_max = (xs + 1e6 * (1 - columns)).amin(), (xs * columns).amax() + 1
        y_min, y_max = (ys + 1e6 * (1 - rows)).amin(), (ys * rows).amax() + 1
        box = torch.stack([x_min, y_min, x_max, y_max])
        corner = torch.stack([x_min, y_min, torch.tensor(0.7)]).repeat(17)
        person = torch.cat([box, torch.tensor([0.9]), corner])
        duplicate = torch.cat([box + 2, torch.tensor([0.8]), corner])
        faint = torch.cat([torch.tensor([0.0, 0.0, 10.0, 10.0, 0.1]), corner])
        return torch.stack([person, duplicate, faint])[None]


def export_white_rectangle_pose(path, size=None):
    """The model as ONNX: a fixed (H, W) input if ``size``, else dynamic H and W."""
    height, width = size or (64, 96)
    dynamic = None if size else {"image": {2: "height", 3: "width"}}
    torch.onnx.export(WhiteRectanglePose(), (torch.zeros(1, 3, height, width),), str(path), input_names=["image"],
                      output_names=["people"], dynamic_axes=dynamic, opset_version=17, dynamo=False)
    return path


def white_rectangle(height=480, width=640, box=(200, 40, 400, 240)):
    image = np.zeros((height, width, 3), np.uint8)
    image[box[1]:box[3], box[0]:box[2]] = 255
    return image


@pytest.mark.parametrize("size", [None, (320, 320)], ids=["dynamic_input", "fixed_input"])
def test_onnx_backend_letterboxes_and_maps_people_back_to_image_pixels(tmp_path, size):
    pytest.importorskip("onnxruntime")
    model = export_white_rectangle_pose(tmp_path / "pose.onnx", size)
    detector = build_detector(DetectorConfig(model="onnx", weights=str(model), onnx_input_size=320))
    assert detector.available and str(model) in detector.status, detector.status
    # 640 x 480 into 320 x 256 (dynamic: long side 320, short side up to a multiple of 32) or 320 x 320: half
    # scale, grey bars above and below; a box off by the bars or the scale would miss by 16 px or more.
    assert detector.network_size(480, 640) == (size or (256, 320))
    (people,) = detector.detect([white_rectangle()])
    assert len(people) == 1, "the duplicate is suppressed and the faint candidate dropped"
    (person,) = people
    np.testing.assert_allclose(person.box, [200, 40, 400, 240], atol=2.5)
    assert person.score == pytest.approx(0.9) and person.keypoints.shape == (17, 3)
    np.testing.assert_allclose(person.keypoints[:, :2], np.tile([200, 40], (17, 1)), atol=2.5)
    np.testing.assert_allclose(person.keypoints[:, 2], 0.7, atol=1e-6)
    tall = white_rectangle(640, 360, (60, 300, 120, 600))  # portrait: bars left and right
    np.testing.assert_allclose(detector.detect([tall])[0][0].box, [60, 300, 120, 600], atol=2.5)


def test_onnx_backend_without_a_usable_file_is_unavailable_and_says_why(tmp_path):
    pytest.importorskip("onnxruntime")
    wrong = tmp_path / "wrong_layout.onnx"
    torch.onnx.export(torch.nn.Conv2d(3, 2, 1), (torch.zeros(1, 3, 32, 32),), str(wrong), dynamo=False)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not onnx")
    for weights, reason in [("DEFAULT", "has no DEFAULT"), ("", "has no DEFAULT"),
                            (str(tmp_path / "missing.onnx"), "no such ONNX file"),
                            (str(garbage), "not a pose model"), (str(wrong), "not a pose model")]:
        detector = build_detector(DetectorConfig(model="onnx", weights=weights))
        assert not detector.available and reason in detector.status, (weights, detector.status)
        assert detector.detect([np.zeros((8, 8, 3), np.uint8)]) == [[]]


def test_every_backend_is_selectable_and_satisfies_the_detector_protocol():
    from emotion_perception.detection import BACKENDS, PersonDetector

    for name in BACKENDS:
        detector = build_detector(DetectorConfig(model=name, weights=""))
        assert isinstance(detector, PersonDetector), name
        assert not detector.available and detector.detect([np.zeros((8, 8, 3), np.uint8)]) == [[]]
        assert detector.score_calibration(0.0) >= 0.0 and detector.score_calibration(1.0) <= 1.0
    with pytest.raises(ValueError, match="detector.model"):
        build_detector(DetectorConfig(model="yolo"))


def test_movenet_is_the_default_backend_and_its_default_weights_name_the_fetch_command(tmp_path, monkeypatch,
                                                                                        movenet_dir):
    monkeypatch.setenv("EMOTION_PERCEPTION_WEIGHTS_DIR", str(tmp_path))  # nothing fetched here
    assert DetectorConfig().model == "movenet_multipose" and DetectorConfig().weights == "DEFAULT"
    missing = build_detector(DetectorConfig())
    assert not missing.available and "weights fetch movenet_multipose" in missing.status
    assert str(tmp_path) in missing.status
    fetched = tmp_path / "movenet_multipose"
    fetched.mkdir()
    for name in ("movenet-multipose.json", "movenet-multipose.bin"):
        os.symlink(movenet_dir / name, fetched / name)
    detector = build_detector(DetectorConfig())
    assert detector.available and str(fetched) in detector.status
    assert detector.score_calibration(0.3) != 0.3, "MoveNet's scores are mapped onto the tracker's scale"


def test_score_calibration_is_monotone_and_maps_scores_onto_the_trackers_scale():
    from emotion_perception.detection import ScoreCalibration

    calibration = ScoreCalibration((0.1, 0.2, 0.4), (0.0, 0.5, 0.9), "test")
    people = [Detection(np.zeros(4, np.float32), score) for score in (0.05, 0.15, 0.3, 0.8)]
    assert [p.score for p in calibration.apply(people)] == pytest.approx([0.0, 0.25, 0.7, 0.9])
    for raw, calibrated in [((0.2, 0.1), (0.0, 1.0)), ((0.1, 0.2), (0.6, 0.5)), ((0.1, 0.2), (0.0, 1.5)),
                            ((0.1,), (0.5,))]:
        with pytest.raises(ValueError):
            ScoreCalibration(raw, calibrated, "bad")
