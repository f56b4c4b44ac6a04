"""Gait branch measurements: latency (batched vs per-track loop) and where live ST-GCN inputs lie.

Run after setup (released weights fetched):
    .venv/bin/python bench/bench_gait.py latency [--repeats 20] [--device cpu|cuda] [--models stgcn vsgcnn]
    .venv/bin/python bench/bench_gait.py distribution

latency: per-batch p50/p95 for 1, 5, 10 tracks (--tracks) per model, one batched call vs one call per track, the two
interleaved so that a busy machine slows both alike; "per track" = p50 / tracks.

distribution: STEP's released weights, their input BatchNorm statistics as the training distribution.
Windows are (a) realistic walks seen by a camera and passed through the joint history as the pipeline does
(synthetic.camera_walks: heights 1.5-1.95 m, 2-6 m away, 5 walking directions, 4 emotion styles) and (b)
synthetic_dataset(15 per emotion). Each alignment is scored by z = (window mean input - training mean) /
training std per channel: per-window mean |z| and max |z|, and the population's mean input (the mean over
all windows) against the training mean; and by how often the network's label equals the walk's style
(not an accuracy: the synthetic styles are not validated).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from emotion_perception.cues.gait import GaitConfig, GaitEmotion
from emotion_perception.cues.gait.distribution import align_windows, input_distance, umeyama
from emotion_perception.cues.gait.preprocessing import newest_windows, to_stgcn_input
from emotion_perception.cues.gait.synthetic import camera_walks, generate_gait, live_sequences, synthetic_dataset
from emotion_perception.cues.gait.labels import GAIT_EMOTIONS
from emotion_perception.types import JointSequence
from timing import time_interleaved

MODELS = {"stgcn": "step_stgcn_epoch395", "vsgcnn": "proxemo_vsgcnn_epoch134"}


def latency(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    rng = np.random.default_rng(0)
    tracks = [JointSequence(i, generate_gait(GAIT_EMOTIONS[i % 4], 75, rng=rng), 30.0, 75) for i in range(max(args.tracks))]
    print(f"device {device}, {torch.get_num_threads()} CPU thread(s), window 75 frames, {args.repeats} repeats; ms")
    print("| model | tracks | batched p50 / p95 | loop p50 / p95 | batched per track | loop per track | loop ÷ batched |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        stage = GaitEmotion(GaitConfig(model=model, weights=MODELS[model]), device=device)
        if not stage.available:
            print(f"{model}: {stage.status}")
            continue
        for count in args.tracks:
            batch = tracks[:count]
            timed = time_interleaved({"batched": lambda: stage(batch), "loop": lambda: [stage([t]) for t in batch]},
                                     args.repeats, device)
            batched, loop = timed["batched"], timed["loop"]
            print(f"| {model} | {count} | {batched.cells((50, 95))} | {loop.cells((50, 95))} "
                  f"| {batched.p50 / count:.1f} | {loop.p50 / count:.1f} | {loop.p50 / batched.p50:.2f} |")


def plain_alignment(windows: np.ndarray, target: np.ndarray, frame0: bool) -> np.ndarray:
    """Alternatives to the stage's rule: root-centre, then map each window's frame 0 (the earlier live rule) or its
    mean pose onto ``target`` by an unweighted least-squares similarity."""
    centred = windows.astype(np.float64) - windows[:, :, :1]
    source = centred[:, 0] if frame0 else centred.mean(axis=1)
    scale, rotation, translation = umeyama(source, target - target[:1] if frame0 else target)
    return scale[:, None, None, None] * np.einsum("ncd,ntpd->ntpc", rotation, centred) + translation[:, None, None]


def distribution(args: argparse.Namespace) -> None:
    stage = GaitEmotion(GaitConfig(), device="cpu")
    if not stage.available:
        raise SystemExit(stage.status)
    model, statistics, window = stage.model, stage.model.statistics, stage.window_frames
    standing = generate_gait("neutral", 1, hip_swing_deg=0, knee_flex_deg=0, arm_swing_deg=0, elbow_bend_deg=0,
                             trunk_lean_deg=0, cadence_hz=0.0, heading_deg=-90.0)[0].astype(np.float64)
    alignments = {
        "before: frame 0 onto a standing 1.70 m pose": lambda w: plain_alignment(w, standing, frame0=True),
        "frame 0 onto the training mean pose": lambda w: plain_alignment(w, statistics.mean_pose, frame0=True),
        "window mean pose onto the training mean, unweighted": lambda w: plain_alignment(w, statistics.mean_pose,
                                                                                         frame0=False),
        "now: window mean pose onto the training mean, in std units": lambda w: align_windows(w, statistics),
    }
    walks, walk_labels, _ = camera_walks(window + 15, seed=args.seed)
    dataset, dataset_labels = synthetic_dataset(15, window, seed=args.seed)
    sets = {f"realistic live walks ({len(walks)})": (np.stack([sequence.joints for sequence in live_sequences(walks, window, stage.fps)]), walk_labels),
            "synthetic_dataset, 15 per emotion": (newest_windows(list(dataset), window), dataset_labels)}
    print("| windows | alignment | per window: mean of mean \\|z\\| | per window: max \\|z\\| p50 / max "
          "| population mean input: mean / max \\|z\\| | label = style | predicted, per style (rows "
          f"{'/'.join(GAIT_EMOTIONS)}; columns likewise) |")
    print("|---|---|---|---|---|---|---|")
    for set_name, (windows, labels) in sets.items():
        for name, align in alignments.items():
            aligned = align(windows)
            z_mean, z_max = input_distance(aligned.mean(axis=1), statistics)
            population = np.abs((aligned.mean(axis=(0, 1)) - statistics.mean) / statistics.std)
            with torch.inference_mode():
                predicted = model.probabilities((to_stgcn_input(aligned),)).argmax(axis=1)
            confusion = np.zeros((len(GAIT_EMOTIONS),) * 2, dtype=int)
            np.add.at(confusion, (labels, predicted), 1)
            print(f"| {set_name} | {name} | {z_mean.mean():.2f} | {np.median(z_max):.2f} / {z_max.max():.2f} "
                  f"| {population.mean():.2f} / {population.max():.2f} | {np.mean(predicted == labels):.0%} "
                  f"| {' / '.join(','.join(str(v) for v in row) for row in confusion)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    commands = parser.add_subparsers(dest="command", required=True)
    timing = commands.add_parser("latency", help="batched vs per-track latency")
    timing.add_argument("--repeats", type=int, default=20)
    timing.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    timing.add_argument("--models", nargs="+", choices=tuple(MODELS), default=list(MODELS))
    timing.add_argument("--tracks", nargs="+", type=int, default=[1, 5, 10], help="batch sizes [tracks]")
    timing.set_defaults(func=latency)
    spread = commands.add_parser("distribution", help="live ST-GCN inputs against the training distribution")
    spread.add_argument("--seed", type=int, default=0)
    spread.set_defaults(func=distribution)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.func(args)


if __name__ == "__main__":
    main()
