"""Gait branch latency on this machine: per-batch p50/p95 for 1, 5, 10 tracks per model, batched vs per-track loop.

Run after setup (released weights fetched):  .venv/bin/python bench/bench_gait.py [--repeats 20] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from emotion_perception.gait import GaitConfig, GaitEmotion
from emotion_perception.gait.synthetic import generate_gait
from emotion_perception.labels import GAIT_EMOTIONS
from emotion_perception.types import JointSequence

MODELS = {"stgcn": "step_stgcn_epoch395", "vsgcnn": "proxemo_vsgcnn_epoch134"}


def timings(call, repeats: int) -> np.ndarray:
    call()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return np.asarray(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    tracks = [JointSequence(i, generate_gait(GAIT_EMOTIONS[i % 4], 75, rng=rng), 30.0, 75) for i in range(10)]
    print(f"device {args.device}, {args.threads} thread(s), window 75 frames, {args.repeats} repeats")
    for model, weights in MODELS.items():
        stage = GaitEmotion(GaitConfig(model=model, weights=weights, device=args.device))
        if not stage.available:
            print(f"{model}: {stage.status}")
            continue
        for count in (1, 5, 10):
            batch = tracks[:count]
            batched = timings(lambda: stage(batch), args.repeats)
            looped = timings(lambda: [stage([t]) for t in batch], max(3, args.repeats // 4))
            print(f"{model:7s} {count:2d} tracks: batch p50 {np.percentile(batched, 50):8.1f} ms  "
                  f"p95 {np.percentile(batched, 95):8.1f} ms  | per-track loop p50 {np.percentile(looped, 50):8.1f} ms  "
                  f"loop/batch {np.percentile(looped, 50) / np.percentile(batched, 50):4.2f}")


if __name__ == "__main__":
    main()
