"""Person detectors on real footage (the hand-checked vtest clip of data/vtest_ground_truth): people found
against time per frame by input size, the score calibration measured there, and the tracker's MOT scores
with and without it.

- size table: on every ``--every``-th frame of the clip, per input size, ms per frame (p50/p90, the detector
  alone, ``--threads`` torch threads) and people found: ground-truth people matched (box IoU >= 0.5) by a
  detection scoring >= 0.2 on the backend's own scale, against the people annotated (don't-care boxes aside);
  false: detections >= 0.2 matching nobody.
- calibration (``--size``, every frame): for each detection, whether it matched a person; the share that did,
  as a non-decreasing function of the raw score (pool-adjacent-violators), read off at knots: the map
  onto the tracker's scale (the chance that a detection is a person, which Keypoint R-CNN's scores
  approximate and the tracker's thresholds were tuned on). Paste it into the backend's SCORE_CALIBRATION.
- tracking: the default tracker over the clip's detections, as the pipeline feeds it (pipeline.tracker_input),
  with the identity, the declared and the freshly measured calibration: MOTA, IDF1, ID switches, false
  positives, misses and the time from a person entering to their track being reported.

Usage: bench/bench_front_end.py [--model movenet_multipose] [--weights DEFAULT] [--size 512]
       [--sizes 256 384 512 640 768] [--every 10] [--threads 2] [--truth DIR] [--video vtest.avi] [--cache FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from emotion_perception.offline.box_truth import VTEST_VIDEO, BoxTruth, format_scores, load_box_truth, mot_scores
from emotion_perception.detection import IDENTITY, DetectorConfig, ScoreCalibration, backend_module, build_detector
from emotion_perception.pipeline import tracker_input
from emotion_perception.settings import Settings
from emotion_perception.tracking import ByteTracker, box_iou
from emotion_perception.types import Detection
from timing import Timer, Timing

FOUND_SCORE = 0.2
KNOTS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
FRAME_NS = 100_000_000


def clip_frames(video, truth: BoxTruth) -> dict[int, np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, truth.first_frame)
    frames = {}
    for index in truth.frames:
        ok, image = capture.read()
        if not ok:
            raise SystemExit(f"{video}: cannot read frame {index}")
        frames[index] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return frames


def matches(truth: BoxTruth, frame: int, detections: list[Detection]) -> np.ndarray:
    """Per detection, whether it is one-to-one matched (IoU >= 0.5, Hungarian) to an annotated person;
    -1 where it matches nobody but lies in a don't-care box."""
    people = np.array(list(truth.people.get(frame, {}).values()), np.float64).reshape(-1, 4)
    boxes = np.array([d.box for d in detections], np.float64).reshape(-1, 4)
    iou = box_iou(people, boxes)
    matched = np.zeros(len(detections), int)
    rows, cols = linear_sum_assignment(-iou)
    matched[[c for r, c in zip(rows, cols) if iou[r, c] >= 0.5]] = 1
    dont_care = truth.dont_care.get(frame)
    if dont_care is not None:
        inside = box_iou(boxes, dont_care).max(axis=1) > 0.2
        matched[(matched == 0) & inside] = -1
    return matched


def detect_clip(config: DetectorConfig, frames: dict[int, np.ndarray]) -> tuple[dict[int, list[Detection]], Timing]:
    detector = build_detector(config)
    if not detector.available:
        raise SystemExit(f"detector unavailable: {detector.status}")
    timer, found = Timer(detector.device, warmup=1), {}
    with timer:
        detector.detect([next(iter(frames.values()))])  # warm-up
    for index, image in frames.items():
        with timer:
            found[index] = detector.detect([image])[0]
    return found, timer.timing()


def cached_detections(path: Path, compute) -> dict[int, list[Detection]]:
    """The clip's detections from ``path`` (an npz this bench wrote), else ``compute()`` saved there."""
    if path.is_file():
        data = np.load(path)
        found: dict[int, list[Detection]] = {int(frame): [] for frame in data["frames"]}
        for frame, box, score, points in zip(data["frame"], data["box"], data["score"], data["keypoints"]):
            found[int(frame)].append(Detection(box, float(score), points))
        return found
    found = compute()
    rows = [(frame, d) for frame, people in found.items() for d in people]
    np.savez_compressed(path, frames=np.array(list(found)), frame=np.array([f for f, _ in rows]),
                        box=np.array([d.box for _, d in rows]).reshape(-1, 4),
                        score=np.array([d.score for _, d in rows]),
                        keypoints=np.array([d.keypoints for _, d in rows]).reshape(-1, 17, 3))
    return found


def fit_calibration(truth: BoxTruth, found: dict[int, list[Detection]]) -> ScoreCalibration:
    """Pool-adjacent-violators fit of P(matched | score), read off at KNOTS."""
    pairs = sorted((d.score, m) for frame, people in found.items()
                   for d, m in zip(people, matches(truth, frame, people)) if m >= 0)
    scores, hits = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs], float)
    blocks = [[hit, 1.0] for hit in hits]  # [sum, count], merged while a block's mean falls below its left's
    merged: list[list[float]] = []
    for block in blocks:
        merged.append(block)
        while len(merged) > 1 and merged[-2][0] / merged[-2][1] > merged[-1][0] / merged[-1][1]:
            total, count = merged.pop()
            merged[-1][0] += total
            merged[-1][1] += count
    fitted = np.concatenate([np.full(int(count), total / count) for total, count in merged])
    knots = [k for k in KNOTS if scores.min() <= k <= scores.max()]
    values = [float(np.interp(k, scores, fitted)) for k in knots]
    values = [float(v) for v in np.maximum.accumulate(np.round(values, 2))]
    return ScoreCalibration(tuple(knots), tuple(values), f"measured: {len(pairs)} detections on the vtest clip")


def track(truth: BoxTruth, found: dict[int, list[Detection]], calibration: ScoreCalibration) -> dict:
    settings = Settings()
    tracker = ByteTracker(settings.tracker)
    reported = {}
    for frame in truth.frames:
        people = tracker.update(tracker_input(found[frame], calibration, settings.pipeline.max_people),
                                frame * FRAME_NS)
        reported[frame] = [(p.track_id, p.box) for p in people]
    return mot_scores(truth, reported)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="movenet_multipose")
    parser.add_argument("--weights", default="DEFAULT")
    parser.add_argument("--size", type=int, default=DetectorConfig.input_size, help="input size of the calibration "
                                                                                   "and tracking runs")
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 384, 512, 640, 768])
    parser.add_argument("--every", type=int, default=10, help="frame step of the size table")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--truth", default=None, help="ground-truth folder (default: the installed vtest one)")
    parser.add_argument("--video", default=str(VTEST_VIDEO))
    parser.add_argument("--cache", type=Path, help="npz keeping the calibration run's detections between runs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    truth = load_box_truth(args.truth)
    frames = clip_frames(args.video, truth)
    base = DetectorConfig(model=args.model, weights=args.weights, movenet_score_threshold=0.05,
                          onnx_score_threshold=0.05, score_threshold=0.05)
    print(f"{args.model} on {truth.video} frames {truth.first_frame}-{truth.last_frame}, {args.threads} threads")
    if args.sizes:
        print(f"\n{'input':>6s} {'ms p50':>7s} {'ms p90':>7s} {'found':>11s} {'false':>6s}   "
              f"(every {args.every}th frame, score >= {FOUND_SCORE})")
        chosen = {i: image for i, image in frames.items() if (i - truth.first_frame) % args.every == 0}
        for size in args.sizes:
            found, timing = detect_clip(dataclasses.replace(base, input_size=size), chosen)
            hits = [matches(truth, i, [d for d in people if d.score >= FOUND_SCORE]) for i, people in found.items()]
            annotated = sum(truth.count(i) for i in chosen)
            found_people, false = sum(int((h == 1).sum()) for h in hits), sum(int((h == 0).sum()) for h in hits)
            print(f"{size:6d} {timing.cells((50, 90), '7.0f', ' ')} "
                  f"{found_people:4d} of {annotated:4d} {false:6d}")
    timings: list[Timing] = []

    def detect_all() -> dict[int, list[Detection]]:
        found, timing = detect_clip(dataclasses.replace(base, input_size=args.size), frames)
        timings.append(timing)
        return found

    found = cached_detections(args.cache, detect_all) if args.cache else detect_all()
    print(f"\ncalibration and tracking at input {args.size}: {len(frames)} frames"
          + (f", detector p50 {timings[0].p50:.0f} ms" if timings else f" (detections from {args.cache})"))
    measured = fit_calibration(truth, found)
    print(f"measured calibration: raw {measured.raw} -> {measured.calibrated} ({measured.source})")
    declared = backend_module(args.model).SCORE_CALIBRATION
    for name, calibration in (("identity", IDENTITY), ("declared", declared), ("measured", measured)):
        print(f"  {name:9s} {format_scores(track(truth, found, calibration))}")
    middle = (truth.first_frame + truth.last_frame) // 2
    halves = (dataclasses.replace(truth, last_frame=middle), dataclasses.replace(truth, first_frame=middle + 1))
    print("held out: calibration measured on one half of the clip, tracking scored on the other")
    for fit, scored in (halves, halves[::-1]):
        calibration = fit_calibration(fit, {f: found[f] for f in fit.frames})
        print(f"  fit {fit.first_frame}-{fit.last_frame} {calibration.calibrated}, scored {scored.first_frame}-"
              f"{scored.last_frame}: {format_scores(track(scored, found, calibration))}")


if __name__ == "__main__":
    main()
