"""ByteTracker: per-update latency for 1, 10 and 50 people, and MOTA / IDF1 / ID switches per scene kind.

Latency: people walking in a grid, detected with jitter, 5% missed, every frame; p50/p95/p99 of
``update`` after a warm-up. Identity: the synthetic scene suite of test/support/tracking_scenes.py (12 kinds, one
scene per seed and kind; seeds 0-4 are the ones test/tracking/test_tracking_scenes.py pins), scored with
motmetrics (a test requirement: pip install -r requirements/test.txt).
Peers (optional): the same scenes through open ByteTrack ports run on the same detections, each with its
own defaults: ``bytetracker`` (kadirnar's packaging of the official code), ``cjm-byte-track`` and ``ioutrack``
(Rust). None is a requirement; install them apart, e.g. ``pip install --no-deps --target /tmp/peers
bytetracker cjm-byte-track ioutrack lapx`` and run with ``PYTHONPATH=/tmp/peers``; a peer not installed is
skipped with a note. They count frames, not time, so on the frame-drop scenes they see every delivered frame
as one frame period.
Usage: bench/bench_tracking.py [--seeds 5] [--first-seed 0] [--frames 300] [--set min_hits=2 ...] [--no-peers]
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from emotion_perception.settings import apply_overrides
from emotion_perception.tracking import ByteTracker, TrackerConfig
from emotion_perception.types import Detection
from timing import Timer, Timing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
from support import tracking_scenes  # noqa: E402

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


def latency_ms(config: TrackerConfig, people: int, frames: int) -> Timing:
    sequence = walking_grid(people, frames, np.random.default_rng(people))
    tracker = ByteTracker(config)
    timer = Timer(warmup=30)  # the first second fills the tracker
    for frame, detections in enumerate(sequence):
        with timer:
            tracker.update(detections, frame * FRAME_NS)
    return timer.timing()


@dataclass
class PeerTrack:
    """A peer's reported track, shaped as tracking_scenes.accumulate reads a TrackedPerson."""

    track_id: int
    box: np.ndarray


class PeerTracker:
    """An open ByteTrack port behind ByteTracker's ``update(detections, stamp_ns)``; its reported boxes are
    its own (Kalman) boxes, as the port returns them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.module = importlib.import_module(PEERS[name])
        if name in ("bytetracker", "cjm-byte-track"):
            self.tracker = self.module.BYTETracker(frame_rate=30)
        else:
            self.tracker = self.module.ByteTrack()

    def update(self, detections: list[Detection], stamp_ns: int) -> list[PeerTrack]:
        rows = np.asarray([[*d.box, d.score] for d in detections], dtype=np.float32).reshape(-1, 5)
        if self.name == "bytetracker":
            import torch
            dets = torch.from_numpy(np.concatenate([rows, np.zeros((len(rows), 1), np.float32)], axis=1))
            out = self.tracker.update(dets, None)
            return [PeerTrack(int(r[4]), np.asarray(r[:4], np.float64)) for r in np.asarray(out).reshape(-1, 7)]
        if self.name == "cjm-byte-track":
            tracks = self.tracker.update(rows, (tracking_scenes.HEIGHT, tracking_scenes.WIDTH),
                                         (tracking_scenes.HEIGHT, tracking_scenes.WIDTH))
            return [PeerTrack(int(t.track_id), np.asarray(t.tlbr, np.float64)) for t in tracks]
        out = self.tracker.update(rows.astype(np.float64))
        return [PeerTrack(int(r[4]), np.asarray(r[:4], np.float64)) for r in np.asarray(out).reshape(-1, 5)]


PEERS = {"bytetracker": "bytetracker", "cjm-byte-track": "cjm_byte_track.byte_tracker", "ioutrack": "ioutrack"}


def peer_tables(scenes: list) -> None:
    """Each installed peer's table on ``scenes``; a note for each one missing."""
    for name, module in PEERS.items():
        try:
            importlib.import_module(module)
        except ImportError as exc:
            print(f"\npeer {name}: not installed, skipped ({exc})")
            continue
        print(f"\npeer {name} (its defaults):")
        print(tracking_scenes.format_table(tracking_scenes.mot_table(scenes, lambda: PeerTracker(name))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="scenes per kind")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=300, help="updates timed per people count")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a TrackerConfig override (YAML value), e.g. min_hits=2 or fuse_score=false")
    parser.add_argument("--no-peers", action="store_true", help="skip the open ByteTrack ports")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency table")
    args = parser.parse_args()
    overrides = {name: yaml.safe_load(value) for name, value in (item.split("=", 1) for item in args.set)}
    config = apply_overrides(TrackerConfig(), overrides, "tracker")
    print(f"tracker settings changed: {overrides or 'none'}")
    if not args.no_latency:
        print("update latency [ms]  (people walking, 5% missed)")
        for people in (1, 10, 50):
            samples = latency_ms(config, people, args.frames)
            p50, p95, p99 = samples.percentiles()
            print(f"  {people:3d} people: p50 {p50:6.3f}  p95 {p95:6.3f}  p99 {p99:6.3f}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"\nscene suite: {len(tracking_scenes.SCENE_KINDS)} kinds x seeds {seeds.start}-{seeds.stop - 1}")
    scenes = tracking_scenes.scene_suite(seeds)
    print(tracking_scenes.format_table(tracking_scenes.mot_table(scenes, lambda: ByteTracker(config))))
    if not args.no_peers:
        peer_tables(scenes)


if __name__ == "__main__":
    main()
