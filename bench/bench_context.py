"""Latency and fidelity of the context (EMOTIC) stage.

Latency (always): a 640x480 frame with 1, 5 and 10 people, random weights (speed does not depend on them),
reference input sizes (scene 224, body 128). p50/p95/p99 of
- the crop path alone: OpenCV on the host + float tensors copied to the device (the stage's former path,
  still the reference for training data) against the device path (uint8 frame copied once, one grid_sample);
- the whole stage: batched with the device path, batched with the OpenCV path, and a naive loop calling
  the stage once per person.

Fidelity (``--fidelity IMAGE ...``): on real images with person-like boxes (heights 60 px to the image's,
aspect 1.5-3.5, seeded), the device path against the OpenCV path: pixel levels of the scene and body
inputs, the network's category scores (also relative to their spread over people) and VAD, and how many
active-category decisions flip at per-category median thresholds. Random weights: no EMOTIC weights ship.

Usage: bench/bench_context.py [--device cpu|cuda] [--frames 30] [--threads 1] [--people 1 5 10]
                              [--fidelity IMAGE ...] [--boxes 50]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch

from emotion_perception.cues.context import ContextEmotion, EmoticPreprocessing, emotic_resnet18
from emotion_perception.cues.context.model import VAD_SCALE
from emotion_perception.cues.context.preprocessing import clip_box, crop
from emotion_perception.cues.context.labels import EMOTIC_CATEGORIES
from timing import time_interleaved


class OpenCVPathStage(ContextEmotion):
    """The stage with its former crop path: OpenCV on the host, normalised floats copied to the device."""

    def _forward(self, image: np.ndarray, pixel_boxes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        scene, bodies = self.preprocessing.opencv_inputs(image, pixel_boxes)
        with torch.inference_mode():
            scores, scaled_vad = self.model(scene.to(self.device), bodies.to(self.device),
                                            torch.zeros(len(pixel_boxes), dtype=torch.long, device=self.device))
        return scores.float().cpu().numpy(), scaled_vad.float().cpu().numpy() * np.float32(self.vad_scale)


def _random_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return emotic_resnet18().eval()


def person_boxes(rng: np.random.Generator, count: int, width: int, height: int) -> np.ndarray:
    """Person-like float boxes inside the image: heights 60 px up to the image's, aspect 1.5-3.5."""
    heights = rng.uniform(60, height, count)
    widths = np.minimum(heights / rng.uniform(1.5, 3.5, count), width)
    x0 = rng.uniform(0, width - widths)
    y0 = rng.uniform(0, height - heights)
    return np.stack([x0, y0, x0 + widths, y0 + heights], axis=1).astype(np.float32)


def latency(args: argparse.Namespace, device: torch.device) -> None:
    model = _random_model()
    thresholds = np.full(len(EMOTIC_CATEGORIES), 0.1, np.float32)
    stage = ContextEmotion.from_model(model, thresholds, name="random (benchmark only)", device=device)
    old_stage = OpenCVPathStage.from_model(model, thresholds, name="random (benchmark only)", device=device)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    pre = stage.preprocessing
    print(f"context stage, 640x480 frame, device {device}, {args.threads} CPU threads, {args.frames} frames; "
          "milliseconds p50 / p95 / p99")
    print(f"{'people':>6} | {'crops: OpenCV':>20} {'device':>20} | {'stage: device path':>20} "
          f"{'OpenCV path':>20} {'per-person loop':>20} | {'OpenCV/device':>13} {'loop/batched':>12}")
    for count in args.people:
        boxes = person_boxes(rng, count, 640, 480)
        pixel_boxes = [clip_box(box, 640, 480) for box in boxes]

        def opencv_crops():
            scene, bodies = pre.opencv_inputs(image, pixel_boxes)
            return scene.to(device), bodies.to(device)

        def device_crops():
            frame = torch.from_numpy(image).to(device)
            return pre.device_inputs(frame, torch.from_numpy(np.stack(pixel_boxes)).to(device))

        with torch.inference_mode():
            crops = time_interleaved({"opencv": opencv_crops, "device": device_crops}, args.frames, device)
        stages = time_interleaved({"device": lambda: stage(image, boxes), "opencv": lambda: old_stage(image, boxes),
                        "loop": lambda: [stage(image, box[None]) for box in boxes]}, args.frames, device)
        cells = " ".join(f"{timing.cells():>20}"
                         for timing in (crops["opencv"], crops["device"], stages["device"], stages["opencv"],
                                        stages["loop"]))
        print(f"{count:>6} | {cells} | {stages['opencv'].p50 / stages['device'].p50:>12.3f}x "
              f"{stages['loop'].p50 / stages['device'].p50:>11.2f}x")


def _exact_opencv_inputs(pre, image: np.ndarray, pixel_boxes: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """The OpenCV path with cv2.INTER_LINEAR_EXACT: OpenCV's other bilinear, the yardstick for 'one level off'."""
    def resize(part: np.ndarray, size: int) -> np.ndarray:
        return cv2.resize(np.ascontiguousarray(part), (size, size), interpolation=cv2.INTER_LINEAR_EXACT)

    return (pre.context_tensor(resize(image, pre.context_size)[None]),
            pre.body_tensor(np.stack([resize(crop(image, box), pre.body_size) for box in pixel_boxes])))


def _levels(inputs: tuple[torch.Tensor, torch.Tensor], pre) -> list[np.ndarray]:
    """Normalised scene and body tensors back to integer pixel levels."""
    out = []
    for tensor, (mean, std) in zip(inputs, ((pre.context_mean, pre.context_std), (pre.body_mean, pre.body_std))):
        values = tensor.cpu() * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
        out.append(np.rint(values.numpy() * 255.0).astype(np.int32))
    return out


def fidelity(args: argparse.Namespace, device: torch.device) -> None:
    model = _random_model().to(device)
    pre = EmoticPreprocessing()
    rng = np.random.default_rng(0)
    print(f"against the OpenCV path (cv2.INTER_LINEAR), {args.boxes} person-like boxes per image, random weights, "
          f"device {device}; |dL| = difference in pixel levels (0-255)")
    print(f"{'image':>16} {'size':>9} {'path':>13} | {'scene |dL|max':>13} {'exact':>6} | {'body |dL|max':>12} "
          f"{'exact':>6} {'mean':>6} | {'input max':>9} | {'score max':>9} {'/spread':>7} | {'VAD max':>8} | flips")
    for path in args.fidelity:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"cannot read {path}")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        height, width = image.shape[:2]
        pixel_boxes = [clip_box(box, width, height) for box in person_boxes(rng, args.boxes, width, height)]
        with torch.inference_mode():
            frame = torch.from_numpy(image).to(device)
            paths = {"OpenCV": pre.opencv_inputs(image, pixel_boxes),
                     "device": pre.device_inputs(frame, torch.from_numpy(np.stack(pixel_boxes)).to(device)),
                     "OpenCV exact": _exact_opencv_inputs(pre, image, pixel_boxes)}
            index = torch.zeros(len(pixel_boxes), dtype=torch.long, device=device)
            outputs = {name: [o.cpu().numpy() for o in model(scene.to(device), bodies.to(device), index)]
                       for name, (scene, bodies) in paths.items()}
        ref_levels = _levels(paths["OpenCV"], pre)
        ref_scores, ref_vad = outputs["OpenCV"]
        median = np.median(ref_scores, axis=0)
        spread = float(ref_scores.std(axis=0).mean())
        for name in ("device", "OpenCV exact"):
            scene_dl, body_dl = (np.abs(a - b) for a, b in zip(_levels(paths[name], pre), ref_levels))
            inputs = max(float((a.cpu() - b).abs().max()) for a, b in zip(paths[name], paths["OpenCV"]))
            scores, vad = outputs[name]
            score_max = float(np.abs(scores - ref_scores).max())
            vad_max = float(np.abs(vad - ref_vad).max()) * VAD_SCALE
            flips = int(((scores >= median) != (ref_scores >= median)).sum())
            print(f"{path.rsplit('/', 1)[-1][-16:]:>16} {width:>4}x{height:<4} {name:>13} | {scene_dl.max():>13d} "
                  f"{100 * (scene_dl == 0).mean():>5.1f}% | {body_dl.max():>12d} {100 * (body_dl == 0).mean():>5.1f}% "
                  f"{body_dl.mean():>6.3f} | {inputs:>9.4f} | {score_max:>9.2e} {score_max / spread:>7.4f} | "
                  f"{vad_max:>8.2e} | {flips}/{ref_scores.size}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV CPU threads")
    parser.add_argument("--people", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--fidelity", nargs="+", default=[], metavar="IMAGE",
                        help="real images to compare the device path with the OpenCV path on (skips latency)")
    parser.add_argument("--boxes", type=int, default=50, help="person-like boxes per fidelity image")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    device = torch.device(args.device)
    if args.fidelity:
        fidelity(args, device)
    else:
        latency(args, device)


if __name__ == "__main__":
    main()
