"""ByteTracker: per-update latency for 1, 10 and 50 people, and MOTA / IDF1 / ID switches per scene kind.

Latency: people walking in a grid, detected with jitter, 5% missed, every frame; p50/p95/p99 of
``update`` after a warm-up. Identity: the synthetic scene suite of test/tracking_scenes.py (7 kinds, one
scene per seed and kind; seeds 0-4 are the ones test/test_tracking_scenes.py pins), scored with
motmetrics (a test requirement: pip install -r requirements/test.txt).
Usage: bench/bench_tracking.py [--seeds 5] [--first-seed 0] [--frames 300] [--set min_hits=2 ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from emotion_perception.settings import apply_overrides
from emotion_perception.tracking import ByteTracker, TrackerConfig
from emotion_perception.types import Detection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
import tracking_scenes  # noqa: E402

FRAME_NS = 1_000_000_000 // 30


def walking_grid(people: int, frames: int, rng: np.random.Generator) -> list[list[Detection]]:
    """Detections of ``people`` 40x100 px walkers in a grid (1280 px wide), each with its own velocity."""
    columns = int(np.ceil(np.sqrt(people * 2)))
    start = np.array([[60 + 1200 * (i % columns) / columns, 60 + 110 * (i // columns)] for i in range(people)])
    velocity = rng.uniform(-2, 2, (people, 2)) * [1.0, 0.2]
    sequence = []
    for frame in range(frames):
        centre = start + velocity * frame
        boxes = np.concatenate([centre - [20, 50], centre + [20, 50]], axis=1) + rng.normal(0, 1.5, (people, 4))
        kept = rng.random(people) >= 0.05
        sequence.append([Detection(box.astype(np.float32), float(score))
                         for box, score in zip(boxes[kept], rng.uniform(0.3, 0.98, people)[kept])])
    return sequence


def latency_ms(config: TrackerConfig, people: int, frames: int) -> np.ndarray:
    sequence = walking_grid(people, frames, np.random.default_rng(people))
    tracker = ByteTracker(config)
    samples = []
    for frame, detections in enumerate(sequence):
        start = time.perf_counter()
        tracker.update(detections, frame * FRAME_NS)
        samples.append(time.perf_counter() - start)
    return np.asarray(samples[30:]) * 1000  # the first second fills the tracker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="scenes per kind")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=300, help="updates timed per people count")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a TrackerConfig override (YAML value), e.g. min_hits=2 or fuse_score=false")
    args = parser.parse_args()
    overrides = {name: yaml.safe_load(value) for name, value in (item.split("=", 1) for item in args.set)}
    config = apply_overrides(TrackerConfig(), overrides, "tracker")
    print(f"tracker settings changed: {overrides or 'none'}")
    print("update latency [ms]  (people walking, 5% missed)")
    for people in (1, 10, 50):
        samples = latency_ms(config, people, args.frames)
        p50, p95, p99 = np.percentile(samples, [50, 95, 99])
        print(f"  {people:3d} people: p50 {p50:6.3f}  p95 {p95:6.3f}  p99 {p99:6.3f}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"\nscene suite: {len(tracking_scenes.SCENE_KINDS)} kinds x seeds {seeds.start}-{seeds.stop - 1}")
    scenes = tracking_scenes.scene_suite(seeds)
    print(tracking_scenes.format_table(tracking_scenes.mot_table(scenes, lambda: ByteTracker(config))))


if __name__ == "__main__":
    main()
