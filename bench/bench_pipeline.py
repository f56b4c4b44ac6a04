"""The whole pipeline over the sample scene with 1, 5 and 10 people: per-stage latency, fps, peak memory,
and the ratio to a naive per-person loop (one network call per person, as the reference scripts do).

People come from the scene's skeletons (no detector weights can be downloaded here); the gait branch runs
STEP's released weights, the context branch random weights (speed does not depend on the values).
Peak RSS is the process high-water mark so far. Detector latency: bench/bench_detector.py.
Usage: bench/bench_pipeline.py [--device cpu|cuda] [--seconds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import time

import numpy as np
import torch

from emotion_perception.context import ContextConfig, ContextEmotion, emotic_resnet18
from emotion_perception.gait import GaitEmotion
from emotion_perception.pipeline import Pipeline
from emotion_perception.settings import Settings
from emotion_perception.synthetic_scene import SceneConfig, render_scene
from emotion_perception.types import Frame


class PerPersonGait:
    """The gait stage called once per track (the naive loop)."""

    def __init__(self, stage: GaitEmotion):
        self.stage, self.available, self.status = stage, stage.available, stage.status
        self.window_frames, self.config = stage.window_frames, stage.config

    def __call__(self, sequences):
        return [self.stage([sequence])[0] for sequence in sequences]


class PerPersonContext:
    """The context stage called once per person (the naive loop)."""

    def __init__(self, stage: ContextEmotion):
        self.stage, self.available, self.status = stage, stage.available, stage.status

    def __call__(self, image, boxes):
        return [self.stage(image, box[None])[0] for box in boxes]


def build(device: str, naive: bool) -> Pipeline:
    settings = Settings.from_nested({"pipeline": {"pose_source": "skeletons", "device": device}})
    context = ContextEmotion.from_model(emotic_resnet18().eval(), np.full(26, 0.5, dtype=np.float32),
                                        config=ContextConfig(device=device))
    gait = GaitEmotion(dataclasses.replace(settings.gait, device=device))
    if naive:
        return Pipeline(settings, gait=PerPersonGait(gait), context=PerPersonContext(context))
    return Pipeline(settings, gait=gait, context=context)


STAGES = ("pose", "gait", "context", "fusion", "wall")
"""Stages timed in skeleton mode (no detection/tracking stage: people come from the scene's skeletons)."""


def run(pipeline: Pipeline, frames, intrinsics) -> list[dict[str, float]]:
    """Per-frame stage times [s] (and the wall time of the whole call) of the pipeline over the scene."""
    times = []
    for scene_frame in frames:
        start = time.perf_counter()
        result = pipeline.process(Frame(scene_frame.image, scene_frame.stamp_ns, "camera", intrinsics), scene_frame.skeletons)
        if pipeline.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append({**result.stage_seconds, "wall": time.perf_counter() - start})
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"device {args.device}, torch threads {args.threads}; milliseconds over the frames with gait results (steady state)")
    print(f"{'people':>6} {'mode':>8} {'fps':>6} {'peak RSS MB':>11}  " + "  ".join(f"{stage + ' p50/p95/p99':>24}" for stage in STAGES))
    for people in (1, 5, 10):
        intrinsics, frames = render_scene(SceneConfig(people=people, seconds=args.seconds, width=640, height=480))
        wall_p50 = {}
        for mode in ("batched", "naive"):
            pipeline = build(args.device, naive=mode == "naive")
            steady = run(pipeline, frames, intrinsics)[pipeline.gait.config.min_frames:]  # frames with gait results
            cells = []
            for stage in STAGES:
                p50, p95, p99 = np.percentile([t[stage] * 1e3 for t in steady], [50, 95, 99])
                cells.append(f"{p50:8.1f}/{p95:7.1f}/{p99:7.1f}")
            wall_p50[mode] = float(np.percentile([t["wall"] for t in steady], 50))
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            fps = len(steady) / sum(t["wall"] for t in steady)
            print(f"{people:>6} {mode:>8} {fps:6.1f} {peak:11.0f}  " + "  ".join(cells))
        print(f"{people:>6} naive/batched wall p50 ratio: {wall_p50['naive'] / wall_p50['batched']:.2f}")

if __name__ == "__main__":
    main()
