"""Per-frame latency of the Keypoint R-CNN person detector (random weights) at 640x480.

Random weights give the network's cost, not its accuracy. The score threshold is 0, so every frame yields
``max_detections`` people and the keypoint head runs at the setting's worst case. Prints p50/p95 per
setting and the ratio to the first row. Precision as the pipeline's ``pipeline.precision`` (fp16: autocast on CUDA).
Usage: python bench/bench_detector.py [--device cuda] [--precision fp32|tf32|fp16] [--frames 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from emotion_perception.detection import DetectorConfig, build_detector
from emotion_perception.runtime.device import PRECISIONS, apply_precision, inference_context
from timing import Timer, Timing

SETTINGS: tuple[tuple[str, dict], ...] = (
    ("default (800/1333, 20 people)", {}),
    ("reduced input (480/640, 20 people)", {"min_size": 480, "max_size": 640}),
    ("reduced input (480/640, 5 people)", {"min_size": 480, "max_size": 640, "max_detections": 5}),
    ("small input (320/427, 5 people)", {"min_size": 320, "max_size": 427, "max_detections": 5}),
)


def measure(config: DetectorConfig, device: str, precision: str, frames: int, warmup: int,
            batch: int) -> tuple[Timing, float]:
    """Time per frame over ``frames`` timed calls of ``batch`` images each, and mean people per frame."""
    detector = build_detector(config, device, random_weights=True)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(batch)]
    timer, people = Timer(detector.device, warmup), []
    for _ in range(warmup + frames):
        with timer, inference_context(detector.device, precision, part="detector"):
            results = detector.detect(images)
        people.append(np.mean([len(r) for r in results]))
    return timer.timing().per(batch), float(np.mean(people[warmup:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=8, help="timed frames per setting")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1, help="images per detect() call")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="as pipeline.precision")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    apply_precision(args.precision)
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {args.threads} threads"
    print(f"Keypoint R-CNN R50-FPN, random weights, 640x480 input, batch {args.batch}, {device_name}, "
          f"precision {args.precision}, torch {torch.__version__}")
    print(f"{'setting':38s} {'p50 ms':>9s} {'p95 ms':>9s} {'people':>7s} {'x p50':>6s}")
    reference = None
    for name, overrides in SETTINGS:
        config = dataclasses.replace(DetectorConfig(model="keypointrcnn", score_threshold=0.0), **overrides)
        timing, people = measure(config, args.device, args.precision, args.frames, args.warmup, args.batch)
        reference = reference or timing.p50
        print(f"{name:38s} {timing.cells((50, 95), '9.1f', ' ')} {people:7.1f} {timing.p50 / reference:6.2f}",
              flush=True)


if __name__ == "__main__":
    main()
