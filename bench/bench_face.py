"""Face stage latency: 1, 5 and 10 faces in a 1280x720 frame, batched vs one person at a time.

The frame tiles a real photograph (skimage's astronaut, upper body, face about 80 px) into a 5 x 2 grid of
person boxes on grey. Four paths, each timed per frame (p50/p95/p99) and per face (p50):
- crops: cutting the 64x64 grey face crops, one batched op on the device (boxes.grey_face_crops, one upload
  of the frame, crops back on the host) vs OpenCV one face at a time (boxes.grey_face_crop); the stage picks
  by device (FaceExpression.batched_crops: the batched op on CUDA only) because this row says so;
- expression: the mini-XCEPTION alone on 64x64 grey crops, one batch vs one call per face;
- keypoints: the stage with head keypoints given (face box from keypoints, crop, expression);
- detector: the stage without keypoints (MTCNN once on the people's union, then expression) vs the
  stage called per person (MTCNN on each person's box, expression one face at a time).
Run after setup (face weights fetched):  .venv/bin/python bench/bench_face.py [--device cpu] [--threads 2]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import skimage.data
import torch

from emotion_perception.cues.face import FaceConfig, FaceExpression
from emotion_perception.cues.face.boxes import face_crop_square, grey_face_crop, grey_face_crops
from timing import Timing, time_calls

FRAME_SIZE = (720, 1280)
GRID = (2, 5)
# The astronaut photo's head keypoints (COCO nose, left eye, right eye, left ear, right ear), picked by hand.
ASTRONAUT_HEAD = np.array([[224, 126, 0.95], [247, 103, 0.97], [202, 101, 0.97], [271, 122, 0.8], [183, 122, 0.8]],
                          dtype=np.float32)
UPPER_BODY = (60, 0, 420, 500)  # x0, y0, x1, y1 of the part of the photo tiled as one person


def crowd(count: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """A frame with ``count`` people, their boxes and their head keypoints."""
    frame = np.full((*FRAME_SIZE, 3), 128, dtype=np.uint8)
    cell_h, cell_w = FRAME_SIZE[0] // GRID[0], FRAME_SIZE[1] // GRID[1]
    x0, y0, x1, y1 = UPPER_BODY
    scale = min(cell_w / (x1 - x0), cell_h / (y1 - y0))
    person = cv2.resize(skimage.data.astronaut()[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    boxes, heads = [], []
    for index in range(count):
        top, left = (index // GRID[1]) * cell_h, (index % GRID[1]) * cell_w
        frame[top:top + person.shape[0], left:left + person.shape[1]] = person
        boxes.append([left, top, left + person.shape[1], top + person.shape[0]])
        head = ASTRONAUT_HEAD.copy()
        head[:, :2] = (head[:, :2] - [x0, y0]) * scale + [left, top]
        heads.append(head)
    return frame, np.array(boxes, dtype=np.float32), heads


def row(path: str, count: int, batched: Timing, looped: Timing) -> str:
    return (f"{count:>5} {path:>10} | {batched.cells(fmt='8.2f', sep=' ')} {batched.p50 / count:8.2f} | "
            f"{looped.cells(fmt='8.2f', sep=' ')} {looped.p50 / count:8.2f} | {looped.p50 / batched.p50:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--faces", type=int, nargs="+", default=[1, 5, 10])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stage = FaceExpression(FaceConfig(), device=args.device)
    if not stage.available:
        raise SystemExit(f"bench_face: {stage.status}")
    classifier = stage.classifier
    print(f"face stage, {FRAME_SIZE[1]}x{FRAME_SIZE[0]} frame, device {args.device}, {args.threads} CPU threads, "
          f"{args.repeats} repeats; milliseconds")
    print(f"{'faces':>5} {'path':>10} | {'batch p50':>8} {'p95':>8} {'p99':>8} {'per face':>8} | "
          f"{'loop p50':>8} {'p95':>8} {'p99':>8} {'per face':>8} | loop/batch")
    for count in args.faces:
        frame, boxes, heads = crowd(count)
        found = stage(frame, boxes, [None] * count)
        if sum(r.valid for r in found) != count:
            print(f"note: {sum(r.valid for r in found)} of {count} faces found by the detector")
        crops = np.stack([cv2.resize(cv2.cvtColor(frame[int(b[1]):int(b[3]), int(b[0]):int(b[2])], cv2.COLOR_RGB2GRAY),
                                     (classifier.input_size,) * 2, interpolation=cv2.INTER_AREA) for b in boxes])
        faces = [result.face_box for result in stage(frame, boxes, heads)]
        margin, side = classifier.face_margin, classifier.input_size
        squares = torch.from_numpy(np.stack([face_crop_square(face, margin) for face in faces]))

        def batched_crops() -> np.ndarray:
            return grey_face_crops(torch.from_numpy(frame).to(args.device), squares.to(args.device), side).cpu().numpy()

        paths = {
            "crops": (batched_crops, lambda: [grey_face_crop(frame, face, margin, side) for face in faces]),
            "expression": (lambda: classifier.predict(crops), lambda: [classifier.predict(c[None]) for c in crops]),
            "keypoints": (lambda: stage(frame, boxes, heads),
                          lambda: [stage(frame, b[None], [h]) for b, h in zip(boxes, heads)]),
            "detector": (lambda: stage(frame, boxes, [None] * count),
                         lambda: [stage(frame, b[None], [None]) for b in boxes]),
        }
        for path, (batched, looped) in paths.items():
            repeats = args.repeats if path != "detector" else max(5, args.repeats // 3)
            print(row(path, count, time_calls(batched, repeats, args.device), time_calls(looped, repeats, args.device)))


if __name__ == "__main__":
    main()
