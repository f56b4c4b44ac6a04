"""Per-frame latency of the context (EMOTIC) stage: 1, 5 and 10 people in a 640x480 frame.

Random weights (speed does not depend on them), reference input sizes (scene 224, body 128). Prints p50/p95
of the batched stage (one forward pass per frame) and of a naive loop calling the stage once per person,
and their ratio. Usage: bench/bench_context.py [--device cpu|cuda] [--frames 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from emotion_perception.context import ContextConfig, ContextEmotion, emotic_resnet18


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.array(seconds) * 1000.0, [50, 95])
    return float(p50), float(p95)


def _time(run, frames: int, device: str) -> list[float]:
    run()  # warm-up
    samples = []
    for _ in range(frames):
        start = time.perf_counter()
        run()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--people", type=int, nargs="+", default=[1, 5, 10])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    stage = ContextEmotion.from_model(emotic_resnet18(), np.full(26, 0.1, np.float32),
                                      config=ContextConfig(device=args.device), name="random (benchmark only)")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    print(f"context stage, 640x480 frame, device {args.device}, {args.threads} CPU threads, {args.frames} frames")
    print(f"{'people':>6} {'batched p50':>12} {'p95':>8} {'per-person p50':>15} {'p95':>8} {'naive/batched':>14}")
    for count in args.people:
        x0 = rng.uniform(0, 560, count)
        y0 = rng.uniform(0, 240, count)
        boxes = np.stack([x0, y0, x0 + rng.uniform(40, 80), y0 + rng.uniform(120, 240)], axis=1).astype(np.float32)
        batched = _time(lambda: stage(image, boxes), args.frames, args.device)
        naive = _time(lambda: [stage(image, box[None]) for box in boxes], args.frames, args.device)
        b50, b95 = _percentiles(batched)
        n50, n95 = _percentiles(naive)
        print(f"{count:>6} {b50:>10.1f}ms {b95:>6.1f}ms {n50:>13.1f}ms {n95:>6.1f}ms {n50 / b50:>13.2f}x")


if __name__ == "__main__":
    main()
