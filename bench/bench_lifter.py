"""The 2D→3D lifter, measured: its cost per person, whether gait says the same from lifted 2D as from true 3D,
the monocular distance error on the bundled sample's scene, and what it does to real footage's gait windows.

    .venv/bin/python bench/bench_lifter.py cost [--device cpu|cuda] [--repeats 200]
    .venv/bin/python bench/bench_lifter.py gait          # STEP labels from lifted 2D vs true 3D, held-out walks
    .venv/bin/python bench/bench_lifter.py distance      # data/sample_walk's scene: distance error by distance
    .venv/bin/python bench/bench_lifter.py footage OUT_LIFTED OUT_PLANAR   # two `run` outputs on the same video

cost: one batched call for 1, 5 and 10 people, p50 / p95 over --repeats after a warm-up.
gait: synthetic.camera_walks(seed 11: walkers, distances 2-6 m, 5 directions, 4 styles; none were in the lifter's
training) seen by two camera mountings (1.2 m pitched 10° down; 0.6 m pitched 5° up); the 2D joints get 1 % of
the person's image height of noise; the joint history gives each track's newest window; STEP's released weights
judge the window of true 3D (as from depth), of lifted 2D and of the planar fallback (2D only). Agreement = same label; out-of-distribution share
(gait.max_input_z) for both.
distance: the sample's ground-truth skeletons projected with its intrinsics and lifted; |lifted distance − true|
over true distance, per metre of distance.
footage: the share of valid gait windows out of distribution in two people.csv files (e.g. `run vtest.avi` with
the lifter and with `--set lifter.weights=`).
"""

from __future__ import annotations

import argparse
import csv

import numpy as np
import torch

from emotion_perception.cues.gait import GaitConfig, GaitEmotion
from emotion_perception.cues.gait.synthetic import camera_view, camera_walks
from emotion_perception.pose import JointHistory
from emotion_perception.pose.lifting import load_lifter, SHIPPED_WEIGHTS
from emotion_perception.pose.lifting.stage import LifterConfig, LiftingStage
from emotion_perception.types import CameraIntrinsics, PositionSource, Skeleton
from timing import time_calls

CAMERA = CameraIntrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=640, height=480)
MOUNTINGS = ((1.2, 10.0), (0.6, -5.0))


def _pixels(optical: np.ndarray, intrinsics: CameraIntrinsics) -> np.ndarray:
    return (optical[..., :2] / optical[..., 2:] * [intrinsics.fx, intrinsics.fy] + [intrinsics.cx, intrinsics.cy])


def cost(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    lifter = load_lifter(SHIPPED_WEIGHTS, device)
    rng = np.random.default_rng(0)
    print(f"device {device}, {torch.get_num_threads()} CPU thread(s), {args.repeats} repeats; ms per call")
    print("| people | p50 | p95 | per person (p50) |\n|---|---|---|---|")
    for people in (1, 5, 10):
        joints = rng.uniform(200, 400, (people, 16, 2))
        confidence = np.ones((people, 16))
        camera = np.array([CAMERA.fx, CAMERA.fy, CAMERA.cx, CAMERA.cy])
        timing = time_calls(lambda: lifter.lift(joints, confidence, camera), args.repeats, device, warmup=10)
        print(f"| {people} | {timing.cells((50, 95), '.2f', ' | ')} | {timing.p50 / people:.3f} |")


def gait(args: argparse.Namespace) -> None:
    stage = LiftingStage(LifterConfig())
    gait_stage = GaitEmotion(GaitConfig())
    walks, labels, descriptions = camera_walks(90, seed=11)
    rng = np.random.default_rng(5)
    verdicts = {"true 3D": [], "lifted 2D": [], "planar 2D (no lifter)": []}
    for track, walk in enumerate(walks):
        height, pitch = MOUNTINGS[track % 2]
        optical = camera_view(walk, height, pitch)
        pixels = _pixels(optical, CAMERA)
        pixels += rng.normal(0, 0.01, pixels.shape) * np.ptp(pixels[..., 1], axis=1)[:, None, None]
        histories = {name: JointHistory() for name in verdicts}
        for frame in range(len(walk)):
            stamp = int(frame * 1e9 / 30)
            confidence = np.full(16, 0.9, np.float32)
            two_d = Skeleton(pixels[frame].astype(np.float32), confidence)
            histories["true 3D"].add(track, stamp, Skeleton(two_d.joints_2d, confidence, optical[frame], PositionSource.DEPTH))
            histories["lifted 2D"].add(track, stamp, stage.lift([two_d], CAMERA)[0])
            histories["planar 2D (no lifter)"].add(track, stamp, two_d)
        for name, history in histories.items():
            sequence = history.sequence(track, gait_stage.window_frames, gait_stage.fps)
            verdicts[name].append(gait_stage([sequence])[0])
    print(f"{len(walks)} held-out walks, two camera mountings, 1 % 2D noise; STEP's released weights")
    for name in ("lifted 2D", "planar 2D (no lifter)"):
        same = [a.label == b.label for a, b in zip(verdicts["true 3D"], verdicts[name]) if a.valid and b.valid]
        print(f"gait label from {name} equals the label from true 3D: {100 * np.mean(same):.1f} % of {len(same)}")
    for name, results in verdicts.items():
        valid = [r for r in results if r.valid]
        print(f"{name}: out of distribution {100 * np.mean([r.out_of_distribution for r in valid]):.1f} %, "
              f"max |z| median {np.median([r.input_z_max for r in valid]):.2f}; label = the walk's style "
              f"{100 * np.mean([r.label == d.split()[0] for r, d in zip(results, descriptions) if r.valid]):.0f} %")


def distance(args: argparse.Namespace) -> None:
    from emotion_perception.pose import body_point
    from emotion_perception.offline.synthetic_scene import SAMPLE_SCENE, render_scene

    intrinsics, frames = render_scene(SAMPLE_SCENE)
    stage = LiftingStage(LifterConfig())
    rows = []
    for frame in frames:
        if frame.photo:
            continue
        for person in frame.skeletons:
            truth = body_point(Skeleton(np.zeros((16, 2), np.float32), person.confidence, person.joints_3d), 0.05)
            two_d = Skeleton(_pixels(person.joints_3d, intrinsics).astype(np.float32), person.confidence)
            inside = ((two_d.joints_2d >= 0) & (two_d.joints_2d < [intrinsics.width, intrinsics.height])).all(axis=1)
            two_d.confidence = np.where(inside, two_d.confidence, 0.0).astype(np.float32)
            lifted = stage.lift([two_d], intrinsics)[0]
            if lifted.joints_3d is None:
                continue
            estimate = body_point(lifted, 0.05)
            true_distance = float(np.linalg.norm(truth))
            rows.append((true_distance, abs(float(np.linalg.norm(estimate)) - true_distance) / true_distance))
    rows = np.array(rows)
    print(f"data/sample_walk's scene ({len(rows)} person-frames lifted from exact 2D): relative distance error")
    print("| true distance | person-frames | median | p90 |\n|---|---|---|---|")
    for low in range(1, 8):
        chosen = rows[(rows[:, 0] >= low) & (rows[:, 0] < low + 1)]
        if len(chosen):
            print(f"| {low}-{low + 1} m | {len(chosen)} | {100 * np.median(chosen[:, 1]):.1f} % | "
                  f"{100 * np.percentile(chosen[:, 1], 90):.1f} % |")
    print(f"| all | {len(rows)} | {100 * np.median(rows[:, 1]):.1f} % | {100 * np.percentile(rows[:, 1], 90):.1f} % |")


def footage(args: argparse.Namespace) -> None:
    print("| run | person-frames | with a position | lifted | valid gait windows | out of distribution |")
    print("|---|---|---|---|---|---|")
    for folder in args.outputs:
        with open(f"{folder}/people.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        valid = [r for r in rows if r.get("gait_valid") == "1"]
        ood = [r for r in valid if r.get("gait_out_of_distribution") == "1"]
        lifted = [r for r in rows if r.get("position_source") == "lifted"]
        positioned = [r for r in rows if r.get("has_position") == "1"]
        share = 100 * len(ood) / max(len(valid), 1)
        print(f"| {folder} | {len(rows)} | {len(positioned)} | {len(lifted)} | {len(valid)} | {len(ood)} ({share:.1f} %) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("cost")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=200)
    p.set_defaults(func=cost)
    sub.add_parser("gait").set_defaults(func=gait)
    sub.add_parser("distance").set_defaults(func=distance)
    p = sub.add_parser("footage")
    p.add_argument("outputs", nargs="+")
    p.set_defaults(func=footage)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.func(args)


if __name__ == "__main__":
    main()
