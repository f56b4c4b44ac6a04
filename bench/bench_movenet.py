"""MoveNet MultiPose per frame by input size on real footage: time against people found (vtest.avi).

For each long side (detector input size) the detector letterboxes vtest.avi frames (768x576, pedestrians)
and reports the wall time per frame (p50, p95), the process CPU time per frame (less sensitive to other load
on a shared machine), the split between network and decoding (torch only: onnxruntime runs both as one
graph), and the people found per frame at score >=
--score. The counts on frames 100 / 400 / 600 compare with counts made by eye (about 7 / 3 / 6; MoveNet
stops at 6). Precision as pipeline.precision (fp16: autocast on CUDA).
Usage: python bench/bench_movenet.py [--weights DIR] [--device cuda] [--sizes 256 384 512 640 768]
       [--frames 12] [--batch 1] [--threads 2] [--precision fp32] [--runtime auto|torch|onnxruntime]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from emotion_perception.detection.movenet_detector import (
    RUNTIMES, build_movenet_detector, letterbox, letterbox_shape)
from emotion_perception.detection.movenet_weights import movenet_weights_dir
from emotion_perception.runtime.device import PRECISIONS, apply_precision, inference_context
from timing import Timer, Timing

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
EYE_COUNTS = {100: 7, 400: 3, 600: 6}
"""People visible on these vtest frames, counted by eye (issue 20)."""


def read_frames(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """RGB frames of the video at ``indices``."""
    capture, frames, index = cv2.VideoCapture(str(path)), {}, 0
    wanted = set(indices)
    while wanted - frames.keys():
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames[index] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        index += 1
    capture.release()
    return frames


def measure(detector, frames: list[np.ndarray], batch: int, precision: str,
            score: float) -> tuple[Timing, float, float]:
    """Per-frame time (wall and CPU), the network's share of the wall p50 (torch only), people per frame."""
    device, model = detector.device, detector.model
    frame_timer, network_timer, people = Timer(device, warmup=1), Timer(device), []
    with inference_context(device, precision, part="detector"):
        with frame_timer:
            detector.detect(frames[:batch])  # warm-up
        for start in range(0, len(frames) - batch + 1, batch):
            images = frames[start:start + batch]
            with frame_timer:
                found = detector.detect(images)
            people.extend(sum(p.score >= score for p in image_people) for image_people in found)
            if detector.runtime != "torch":
                continue
            with torch.inference_mode():  # the network alone on the same input: the rest is letterbox + decoding
                pixels = letterbox(torch.from_numpy(np.stack(images)).to(device), detector.input_size)
                with network_timer:
                    model.network(pixels.permute(0, 3, 1, 2))
    per_frame = frame_timer.timing().per(batch)
    network_share = (network_timer.timing().per(batch).p50 / per_frame.p50 if detector.runtime == "torch"
                     else float("nan"))
    return per_frame, network_share, float(np.mean(people))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=movenet_weights_dir(),
                        help="the graph model's folder (default: the fetched one)")
    parser.add_argument("--video", type=Path, default=VTEST)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 320, 384, 448, 512, 640, 768])
    parser.add_argument("--frames", type=int, default=12, help="timed frames per size, spread over the video")
    parser.add_argument("--batch", type=int, default=1, help="frames per detect() call")
    parser.add_argument("--score", type=float, default=0.2, help="least person score counted as found")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="as pipeline.precision")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto", help="as detector.movenet_runtime")
    args = parser.parse_args()
    if not args.video.is_file():
        raise SystemExit(f"{args.video} not found (Debian's opencv-doc ships it; scripts/setup.sh installs it)")
    torch.set_num_threads(args.threads)
    apply_precision(args.precision)
    timed = [int(i) for i in np.linspace(0, 790, args.frames)]
    frames = read_frames(args.video, timed + list(EYE_COUNTS))
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {args.threads} threads"
    print(f"MoveNet MultiPose on {args.video.name} ({len(timed)} frames, 768x576), batch {args.batch}, "
          f"{device_name}, precision {args.precision}, torch {torch.__version__}")
    eye = " / ".join(str(n) for n in EYE_COUNTS.values())
    print(f"{'input':>9s} {'p50 ms':>8s} {'p95 ms':>8s} {'cpu ms':>8s} {'network':>8s} "
          f"{'people/frame':>13s}  frames {'/'.join(map(str, EYE_COUNTS))} (eye: {eye})")
    for size in args.sizes:
        detector = build_movenet_detector(args.weights, args.device, input_size=size, score_threshold=args.score,
                                          runtime=args.runtime)
        if not detector.available:
            raise SystemExit(detector.status)
        if size == args.sizes[0]:
            print(f"runtime: {detector.status.split('; runs in ', 1)[-1]}")
        timing, network_share, people = measure(detector, [frames[i] for i in timed], args.batch, args.precision,
                                                args.score)
        counts = [len(detector.detect([frames[i]])[0]) for i in EYE_COUNTS]
        _, _, height, width = letterbox_shape(*frames[timed[0]].shape[:2], size)
        print(f"{f'{width}x{height}':>9s} {timing.cells((50, 95), '8.1f', ' ')} {timing.cpu_p50:8.1f} "
              f"{network_share:8.0%} {people:13.1f}  {' / '.join(map(str, counts))}", flush=True)


if __name__ == "__main__":
    main()
