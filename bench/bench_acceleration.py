"""Eager against a compiled path (pipeline.accelerate) per network: latency p50/p95 at batch 1/5/10 and compile time.

Each network is built as its stage builds it and accelerated by the stage's own ``accelerate`` (the compile
time includes the warm-up and the check against eager); eager and compiled are then timed on the same
inputs (the seeded examples of the cues' export entries), in the pipeline's inference context, alternating call by call so
that both see the same machine load. The detector is timed end to end on one 640 x 480 frame, its only batch
in the pipeline. Released weights where they exist, random ones for EMOTIC, ACCM and Keypoint R-CNN (their
speed does not depend on the values).

    .venv/bin/python bench/bench_acceleration.py                          # CPU, fp32, compile
    .venv/bin/python bench/bench_acceleration.py --device cuda --precision fp16
    .venv/bin/python bench/bench_acceleration.py --device cuda --mode tensorrt --networks stgcn face_expression
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emotion_perception.runtime.acceleration import largest_difference
from emotion_perception.runtime.device import apply_precision, inference_context
from emotion_perception.cues.registry import exportable_networks
from timing import time_interleaved


@dataclass(frozen=True)
class Bench:
    """One network: its stage, the module the stage runs, and its inputs for a number of people."""

    stage: Callable[[torch.device, Path], object]
    network: Callable[[object], Callable]
    inputs: Callable[[int], tuple[torch.Tensor, ...]]
    per_frame: bool = False
    """Timed once per frame (batch 1) rather than per number of people."""


def _gait(model: str, weights: str) -> Callable[[torch.device, Path], object]:
    def build(device: torch.device, _: Path):
        from emotion_perception.cues.gait.stage import GaitConfig, GaitEmotion

        return GaitEmotion(GaitConfig(model=model, weights=weights), device)

    return build


def _context(device: torch.device, _: Path):
    from emotion_perception.cues.context.model import emotic_resnet18
    from emotion_perception.cues.context.stage import ContextEmotion

    return ContextEmotion.from_model(emotic_resnet18().eval(), np.zeros(26), name="random EMOTIC", device=device)


def _face(device: torch.device, _: Path):
    from emotion_perception.cues.face import FaceConfig, FaceExpression

    return FaceExpression(FaceConfig(detector=False), device)


def _gesture(device: torch.device, folder: Path):
    from emotion_perception.cues.gesture.model import accm, accm_passport
    from emotion_perception.cues.gesture.stage import GestureConfig, GestureEmotion
    from emotion_perception.cues.gesture.labels import GESTURE_EMOTIONS
    from emotion_perception.runtime.weights import save_checkpoint

    config = GestureConfig()
    path = save_checkpoint(accm().state_dict(), accm_passport(GESTURE_EMOTIONS, {}, 30.0, config.window_frames,
                                                              name="random ACCM"), folder / "accm")
    return GestureEmotion(GestureConfig(weights=str(path)), device)


def _detector(device: torch.device, _: Path):
    from emotion_perception.detection import DetectorConfig, build_detector

    return build_detector(DetectorConfig(model="keypointrcnn", weights=""), device, random_weights=True)


NETWORKS = exportable_networks()
"""The cues' ONNX export entries by name: their example inputs are the benches' inputs."""


def _examples(name: str, views: int = 1) -> Callable[[int], tuple[torch.Tensor, ...]]:
    return lambda people: NETWORKS[name].example_inputs({"batch": people * views})


def _faces(people: int) -> tuple[torch.Tensor, ...]:
    (faces,) = NETWORKS["face_expression"].example_inputs({"batch": people})
    return (faces.contiguous(memory_format=torch.channels_last),)  # as the classifier feeds its network


def _frame(_: int) -> tuple[np.ndarray, ...]:
    return (np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8),)


BENCHES: dict[str, Bench] = {
    "stgcn": Bench(_gait("stgcn", "step_stgcn_epoch395"), lambda stage: stage.model.network, _examples("stgcn")),
    "vsgcnn": Bench(_gait("vsgcnn", "proxemo_vsgcnn_epoch134"), lambda stage: stage.model.network,
                    _examples("vsgcnn", views=4)),  # four views of each walk
    "emotic": Bench(_context, lambda stage: stage.model,
                    lambda people: NETWORKS["emotic"].example_inputs({"scenes": 1, "people": people})),
    "face_expression": Bench(_face, lambda stage: stage.classifier.network, _faces),
    "gesture_accm": Bench(_gesture, lambda stage: stage.network, _examples("gesture_accm")),
    "keypointrcnn": Bench(_detector, lambda stage: lambda image: stage.detect([image]), _frame, per_frame=True),
}


def _on(device: torch.device, inputs: tuple) -> tuple:
    return tuple(x.to(device) if isinstance(x, torch.Tensor) else x for x in inputs)


def bench(name: str, args: argparse.Namespace, folder: Path) -> list[str]:
    """Markdown rows for one network: per batch, eager and compiled p50/p95 [ms], the ratio, the difference."""
    device, spec = torch.device(args.device), BENCHES[name]
    stage = spec.stage(device, folder)
    eager = spec.network(stage)
    start = time.perf_counter()
    note = stage.accelerate(args.mode, args.precision)
    compile_s = time.perf_counter() - start
    compiled = spec.network(stage)
    print(f"{name}: {note} ({compile_s:.1f} s)", flush=True)
    rows = []
    for people in ((1,) if spec.per_frame else args.batches):
        with inference_context(device, args.precision):  # inputs made in it too, as in the pipeline
            inputs = _on(device, spec.inputs(people))
            # after one untimed call of each (allocations, a CUDA graph's recording)
            timed = time_interleaved({"eager": lambda: eager(*inputs), "compiled": lambda: compiled(*inputs)},
                                     args.repeats, device)
            difference = ""
            if not spec.per_frame:  # the detector's outputs are lists of dicts: checked in the tests, not here
                change, scale = largest_difference(compiled(*inputs), eager(*inputs))
                difference = f"{change / max(1.0, scale):.1e}"
        eager_ms, compiled_ms = timed["eager"], timed["compiled"]
        rows.append(f"| {name} | {people} | {eager_ms.cells((50, 95), sep=' | ')} | "
                    f"{compiled_ms.cells((50, 95), sep=' | ')} | {eager_ms.p50 / compiled_ms.p50:.2f} | "
                    f"{difference} | {compile_s:.0f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "tf32", "fp16"))
    parser.add_argument("--mode", default="compile", choices=("compile", "tensorrt"))
    parser.add_argument("--networks", nargs="+", default=list(BENCHES), choices=list(BENCHES))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 5, 10], help="people per call")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per path and batch")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    apply_precision(args.precision)
    header = ["| network | people | eager p50 [ms] | eager p95 | compiled p50 | compiled p95 | eager / compiled "
              "| max diff (rel.) | compile [s] |", "|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(header), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.networks:
            rows += bench(name, args, Path(folder))
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else f"{args.threads} thread(s)"
    print(f"\n{args.mode} on {args.device} ({where}), {args.precision}, torch {torch.__version__}:")
    print("\n".join(header + rows))


if __name__ == "__main__":
    main()
