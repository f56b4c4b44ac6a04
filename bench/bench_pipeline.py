"""The whole pipeline, detector included, on a synthetic 640x480 scene with 1, 5 and 10 people: per-stage and
end-to-end latency (p50/p95/p99), fps and peak memory; batched against a per-person reference, the node's
two-thread overlap against sequential, cue results reused for min_interval_s against every frame.

What runs (docs/performance.md says why):
- people from the **detector** (``--sources detector``): torchvision's Keypoint R-CNN with random weights,
  score_threshold 0 and max_detections = people, so it reports that many people on every frame and its
  keypoint head carries the worst case. Random weights find nobody real, so the detections handed on to the
  tracker are the scene's true people (boxes and COCO keypoints projected from its exact 3D joints; eyes at
  least 10 px apart, so every face is big enough for the expression network): tracking, skeletons and the
  cues then see what a trained detector would give them. No depth image: the skeletons are 2D.
- people from **skeleton input** (``--sources skeletons``): the scene's 3D skeletons, as a body tracker
  publishes them (pipeline.pose_source skeletons); faces are then found by MTCNN.
- cues: gait = STEP's released ST-GCN, face = released MTCNN + mini-XCEPTION, context = EMOTIC and
  gesture = ACCM with random weights (written as checkpoints to a temporary folder and loaded the way
  trained ones are; speed does not depend on the values).

Modes, each on the same frames after the same warm-up (histories filled until every sequence cue judges):
- batched: the pipeline as the node runs it, every network once per frame for all people;
- per-person: the reference, each cue network called once per person: ``Pipeline.judge`` on the frame's
  judged people split one by one (fusion then also runs per person);
- overlapped: ``observe`` of frame t+1 on this thread while ``judge`` of frame t runs on another, as the node
  does with pipeline.overlap (frames are fed as fast as the pipeline takes them: fps is throughput, latency
  includes the wait for the cue thread);
- interval "0" (min_interval_s 0 for every cue: each network sees every person in every frame) or "default"
  (0.2 s: a track's result is reused in between, as the node runs).

Latency is the FrameResult's ``stage_seconds`` (end to end = from the start of ``observe`` to the end of
``judge``). Peak memory: torch.cuda.max_memory_allocated on CUDA, the process's peak RSS (reset before each
run) on the CPU. Ratios: per-person / batched end-to-end p50 (same run set); 10 people / 1 person per cue stage.
Also measured: decoding a 640x480 JPEG (OpenCV against torchvision on the device) and cutting the faces
(OpenCV per face against one batched op on the device).

Real footage (``--vtest FRAMES``): instead of the above, the default pipeline as a user gets it (the default
detector, MoveNet, and the cues with their installed weights; ``--set`` changes settings) on FRAMES frames of
vtest.avi from ``--vtest-start``, observe+judge in turn and overlapped: the frame rate it sustains against the video's 10 fps.

Usage: bench/bench_pipeline.py [--vtest 100 [--vtest-start 70] [--set detector.input_size=384]] [--device cpu|cuda] [--precision fp32|tf32|fp16|fp16_detector]
       [--accelerate eager|compile|tensorrt] [--detector-min-size 480]
       [--people 1 5 10] [--sources detector skeletons] [--frames 100] [--threads N] [--budget-s S] [--quick]
       [--json FILE]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

from emotion_perception.offline.box_truth import VTEST_VIDEO, load_box_truth
from emotion_perception.cues.context import emotic_resnet18
from emotion_perception.cues.context.model import ARCHITECTURE as EMOTIC_ARCHITECTURE
from emotion_perception.cues.base import SequenceCue
from emotion_perception.detection import DetectorConfig, build_detector
from emotion_perception.detection.keypoint_rcnn import KeypointRCNNDetector
from emotion_perception.runtime.device import PRECISIONS, resolve_device
from emotion_perception.runtime.handoff import FrameHandoff
from emotion_perception.cues.face.boxes import face_crop_square, grey_face_crop, grey_face_crops
from emotion_perception.cues.gesture.model import accm, accm_passport
from emotion_perception.runtime.image_codec import decode_compressed, decode_jpeg_torchvision
from emotion_perception.labels import COCO_KEYPOINTS, GAIT_JOINTS
from emotion_perception.cues.context.labels import EMOTIC_CATEGORIES
from emotion_perception.cues.gait.labels import GAIT_EMOTIONS
from emotion_perception.pipeline import Observation, Pipeline, person_from_external
from emotion_perception.pose.skeleton import COCO_FOR_GAIT_JOINT
from emotion_perception.settings import Settings
from emotion_perception.offline.sources import VideoFileSource
from emotion_perception.offline.synthetic_scene import SceneConfig, SceneFrame, render_scene
from emotion_perception.types import CameraIntrinsics, Detection, Frame, FrameResult
from emotion_perception.runtime.weights import WeightsPassport, save_checkpoint
from timing import Timing, synchronize, time_calls

FRONT_STAGES = ("detection", "tracking", "pose")
CUE_STAGES = ("gait", "context", "face", "gesture")
STAGES = (*FRONT_STAGES, *CUE_STAGES, "fusion", "total")
QUANTILES = (50, 95, 99)
EYE_SPAN_M, EAR_SPAN_M, MIN_EYE_SPAN_PX = 0.064, 0.15, 10.0


@dataclasses.dataclass(frozen=True)
class RunSpec:
    source: str
    """"detector" or "skeletons"."""
    people: int
    mode: str
    """"batched", "per-person" or "overlapped"."""
    interval: str
    """"0" (every frame) or "default" (each cue's min_interval_s)."""


@dataclasses.dataclass
class RunResult:
    spec: RunSpec
    frames: int
    fps: float
    stages_ms: dict[str, list[float]]
    """Per stage, p50/p95/p99 [ms] over the timed frames."""
    peak_mb: float
    valid_per_frame: dict[str, float]
    """Per cue, valid results per frame (mean over the timed frames): how much work the cue carried."""
    detected_per_frame: float | None = None
    """People the detector network reported per frame (max_detections when it carries the worst case)."""


# --- the scene and its people --------------------------------------------------------------------------------

def scene_detections(scene_frame: SceneFrame, intrinsics: CameraIntrinsics) -> list[Detection]:
    """The scene's people as a trained detector would report them: boxes and COCO-17 keypoints projected
    from the exact 3D joints, the face keypoints placed around the head joint (eyes 6.4 cm and ears 15 cm
    apart, eyes at least MIN_EYE_SPAN_PX apart so that every face box reaches the expression network)."""
    detections = []
    for skeleton in scene_frame.skeletons:
        person = person_from_external(skeleton, intrinsics)
        keypoints = np.zeros((len(COCO_KEYPOINTS), 3), dtype=np.float32)
        for gait_name, coco_name in COCO_FOR_GAIT_JOINT.items():
            joint = GAIT_JOINTS.index(gait_name)
            keypoints[COCO_KEYPOINTS.index(coco_name)] = (*person.skeleton.joints_2d[joint],
                                                          person.skeleton.confidence[joint])
        head_x, head_y, head_z = skeleton.joints_3d[GAIT_JOINTS.index("head")]
        centre = np.array([intrinsics.fx * head_x / head_z + intrinsics.cx,
                           intrinsics.fy * head_y / head_z + intrinsics.cy])
        eye_half = max(intrinsics.fx * EYE_SPAN_M / head_z, MIN_EYE_SPAN_PX) / 2
        ear_half = eye_half * EAR_SPAN_M / EYE_SPAN_M
        for name, offset in (("nose", 0.0), ("left_eye", eye_half), ("right_eye", -eye_half),
                             ("left_ear", ear_half), ("right_ear", -ear_half)):
            keypoints[COCO_KEYPOINTS.index(name)] = (centre[0] + offset, centre[1], 1.0)
        detections.append(Detection(person.box.astype(np.float32), 1.0, keypoints))
    return detections


class SceneDetector(KeypointRCNNDetector):
    """The random-weights Keypoint R-CNN at its full cost on every frame, reporting the scene's true people.

    ``people``: what to report for the next frame (set by the driver before ``observe``). ``run_network``:
    whether the network runs (off while the warm-up only fills the histories). ``precision``: the
    detector's own numerics (fp16 autocast on CUDA while the cue networks stay strict fp32), or None for
    the pipeline's. ``reported``: people the network reported, per call.
    """

    def __init__(self, detector: KeypointRCNNDetector) -> None:
        super().__init__(detector.config, detector.model, detector.status, detector.device)
        self.people: list[Detection] = []
        self.run_network = True
        self.reported: list[int] = []

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        if self.run_network:
            found = super().detect(images)
            self.reported.append(len(found[0]))
        return [list(self.people) for _ in images]


def random_cue_weights(folder: Path) -> dict[str, str]:
    """EMOTIC and ACCM checkpoints with random weights (and passports), by cue name; context thresholds 0.5."""
    torch.manual_seed(0)
    context = save_checkpoint(emotic_resnet18().state_dict(),
                              WeightsPassport("random_emotic", EMOTIC_ARCHITECTURE, EMOTIC_CATEGORIES,
                                              license="random weights (benchmark only)",
                                              config={"thresholds": [0.5] * len(EMOTIC_CATEGORIES)}),
                              folder / "random_emotic")
    gesture = save_checkpoint(accm().state_dict(), accm_passport(GAIT_EMOTIONS, {}, fps=30.0, window_frames=60,
                                                                 name="random_accm"), folder / "random_accm")
    return {"context": str(context), "gesture": str(gesture)}


def make_settings(args: argparse.Namespace, device: str, source: str, people: int, weights: dict[str, str],
                  interval: str) -> Settings:
    """The pipeline's settings for a run: defaults, but for the device, precision and network paths, the
    people source, the worst-case detector, the random-weights checkpoints and, with interval "0",
    min_interval_s 0 for every cue."""
    detector_min_size = args.detector_min_size
    values = {"pipeline": {"device": device, "precision": args.precision, "accelerate": args.accelerate,
                           "pose_source": source, "max_people": people},
              "detector": {"model": "keypointrcnn", "score_threshold": 0.0, "max_detections": people,
                           "min_size": detector_min_size,
                           "max_size": max(DetectorConfig.max_size, detector_min_size)},
              "context": {"weights": weights["context"]}, "gesture": {"weights": weights["gesture"]}}
    if interval == "0":
        for name in CUE_STAGES:
            values.setdefault(name, {})["min_interval_s"] = 0.0
    return Settings.from_nested(values)


# --- driving the pipeline ------------------------------------------------------------------------------------

class Driver:
    """One pipeline over one scene: warm-up, then timed frames in one of the modes."""

    def __init__(self, pipeline: Pipeline, frames: list[SceneFrame], intrinsics: CameraIntrinsics,
                 detector: SceneDetector | None, warmup: int) -> None:
        self.pipeline, self.frames, self.intrinsics, self.detector = pipeline, frames, intrinsics, detector
        self.warmup = warmup
        self.detections = {id(scene_frame): scene_detections(scene_frame, intrinsics) for scene_frame in frames}
        """What the detector reports on each frame, made beforehand so that it costs no time in the runs."""

    def observe(self, scene_frame: SceneFrame) -> Observation:
        frame = Frame(scene_frame.image, scene_frame.stamp_ns, "camera", self.intrinsics)
        if self.detector is not None:
            self.detector.people = self.detections[id(scene_frame)]
            return self.pipeline.observe(frame)
        return self.pipeline.observe(frame, scene_frame.skeletons)

    def judge_per_person(self, observation: Observation) -> FrameResult:
        """Each cue network once per person: judge on the judged people one at a time; stage times summed."""
        if len(observation.judged) < 2:
            return self.pipeline.judge(observation)
        seconds = collections.Counter()
        unjudged = [person for person in observation.people if person.issue]
        people: list = []
        for index, person in enumerate(observation.judged):
            part = dataclasses.replace(
                observation, people=[person] + (unjudged if index == 0 else []), judged=[person],
                prepared={name: [items[index]] for name, items in observation.prepared.items()},
                time_jump=observation.time_jump if index == 0 else "", seconds=dict(observation.seconds))
            result = self.pipeline.judge(part)
            people += result.people
            seconds.update({stage: value for stage, value in result.stage_seconds.items()
                            if stage not in FRONT_STAGES and stage != "total"})
        return FrameResult(result.stamp_ns, result.frame_id, people,
                           {**observation.seconds, **seconds, "total": result.stage_seconds["total"]})

    def run(self, mode: str, timed: int) -> tuple[list[FrameResult], float]:
        """Warm up (histories filled; the last frames fully processed, untimed), then ``timed`` frames.
        Returns their results and the wall time [s] they took."""
        self.pipeline.reset()
        for index, scene_frame in enumerate(self.frames[:self.warmup]):
            full = index >= self.warmup - 3
            if self.detector is not None:
                self.detector.run_network = full
            observation = self.observe(scene_frame)
            if full:
                self.pipeline.judge(observation)
        if self.detector is not None:
            self.detector.run_network = True
            self.detector.reported.clear()
        frames = self.frames[self.warmup:self.warmup + timed]
        synchronize(self.pipeline.device)
        start = time.perf_counter()
        if mode == "overlapped":
            results = self._overlapped(frames)
        else:
            judge = self.judge_per_person if mode == "per-person" else self.pipeline.judge
            results = [judge(self.observe(scene_frame)) for scene_frame in frames]
        synchronize(self.pipeline.device)
        return results, time.perf_counter() - start

    def _overlapped(self, frames: list[SceneFrame]) -> list[FrameResult]:
        return run_overlapped(self.pipeline, [lambda f=f: self.observe(f) for f in frames])


def run_overlapped(pipeline: Pipeline, observations: list[Callable[[], Observation]]) -> list[FrameResult]:
    """Each ``observations`` call (an observe) on this thread, judge on a second one, frames passed on in order
    through the node's own hand-off (runtime/handoff.py, with overlap), as the node's two threads do."""
    handoff: FrameHandoff[None, Observation] = FrameHandoff(overlap=True)
    results: list[FrameResult] = []
    failures: list[BaseException] = []

    def judge_worker() -> None:
        while (observation := handoff.take_passed()) is not None:
            try:
                results.append(pipeline.judge(observation))
            except BaseException as exc:  # re-raised on the main thread
                failures.append(exc)

    worker = threading.Thread(target=judge_worker, name="bench_cues")
    worker.start()
    try:
        for observe in observations:
            handoff.pass_on(observe())
    finally:
        handoff.close()  # the cue worker still judges the observation passed last
        worker.join()
    if failures:
        raise failures[0]
    return results


def real_footage(video: Path, frames: int, start: int, device: torch.device, overrides: list[str]) -> list[str]:
    """The default pipeline (the default detector and the cues as installed, ``overrides`` applied) on ``frames``
    frames of a real video from frame ``start``, sequential and overlapped: the frame rate it keeps up with, the
    CPU time per frame of each half (observe: detection, tracking, pose, the cues' prepare; judge: the cues and
    fusion; measured sequentially, process CPU, so it holds however busy the machine is) and per stage."""
    settings = Settings().with_values({"pipeline.device": str(device),
                                       **{name: yaml.safe_load(value) for name, value in
                                          (item.split("=", 1) for item in overrides)}})
    pipeline = Pipeline(settings, log=lambda line: print(f"pipeline: {line}"))
    if not pipeline.people_status().available:
        return [f"real footage: no person detector ({pipeline.people_status().status})"]
    with VideoFileSource(video) as source:
        video_fps = source.fps
        lead = min(start, warmup_frames(pipeline, video_fps))
        images = [frame for index, frame in zip(range(start + frames), source) if index >= start - lead]
    lead_in, images = images[:lead], images[lead:]
    window = range(start, start + len(images))
    truth = load_box_truth() if video.name == VTEST_VIDEO.name else None
    annotated = (f", {np.mean([truth.count(i) for i in window]):.1f} people per frame annotated"
                 if truth and window[-1] <= truth.last_frame else "")
    lines = [f"\nReal footage: {video.name}, frames {window[0]}-{window[-1]} ({video_fps:g} fps{annotated}), "
             f"detector {settings.detector.model} at input {settings.detector.input_size} in "
             f"{getattr(pipeline.detector, 'runtime', 'torch')}, cues running: "
             f"{', '.join(cue.name for cue in pipeline.running_cues())}\n",
             "| mode | fps | end to end p50 / p95 ms | detection p50 ms | CPU ms per frame (observe + judge) | "
             "people per frame | valid per frame: gait / face | keeps up with the video |", "|---|---|---|---|---|---|---|---|"]
    for frame in images[:3]:  # warm-up: first calls allocate and pick kernels
        pipeline.judge(pipeline.observe(frame))
    if lead_in:
        lines[0] += (f"Before each mode, the {len(lead_in)} frames before the window run untimed, so that tracks are "
                     "confirmed and gait has its history when the window starts.\n")
    stage_lines = []
    for mode in ("batched", "overlapped"):
        pipeline.reset()
        for frame in lead_in:
            pipeline.judge(pipeline.observe(frame))
        halves = [0.0, 0.0]
        cpu_start = time.process_time()  # all threads: what the frames cost however busy the machine is
        begin = time.perf_counter()
        if mode == "overlapped":
            results = run_overlapped(pipeline, [lambda f=f: pipeline.observe(f) for f in images])
        else:
            results = []
            for frame in images:  # one half at a time: the process CPU of each is that half's
                mark = time.process_time()
                observation = pipeline.observe(frame)
                halves[0] += time.process_time() - mark
                mark = time.process_time()
                results.append(pipeline.judge(observation))
                halves[1] += time.process_time() - mark
        fps = len(results) / (time.perf_counter() - begin)
        cpu_ms = (time.process_time() - cpu_start) / len(results) * 1e3
        total = Timing.from_seconds([r.stage_seconds["total"] for r in results])
        detection = Timing.from_seconds([r.stage_seconds["detection"] for r in results])
        people = np.mean([len(r.people) for r in results])
        valid = " / ".join(f"{np.mean([sum(1 for p in r.people if name in p.cues and p.cues[name].valid) for r in results]):.1f}"
                           for name in ("gait", "face"))
        split = " (" + " + ".join(f"{half / len(results) * 1e3:.0f}" for half in halves) + ")" if any(halves) else ""
        lines.append(f"| {mode} | {fps:.1f} | {total.cells((50, 95), '.0f')} | {detection.p50:.0f} | {cpu_ms:.0f}{split} | "
                     f"{people:.1f} | {valid} | {'yes' if fps >= video_fps else 'no'} |")
        print(lines[-1], flush=True)
        stages = [stage for stage in STAGES[:-1] if any(stage in r.stage_seconds for r in results)]
        stage_lines.append(f"| {mode} | " + " | ".join(
            f"{Timing.from_seconds([r.stage_seconds[stage] for r in results if stage in r.stage_seconds]).p50:.1f}"
            for stage in stages) + " |")
    lines += ["", "Stages, p50 ms (wall):\n", "| mode | " + " | ".join(stages) + " |",
              "|---|" + "---|" * len(stages), *stage_lines]
    return lines


def warmup_frames(pipeline: Pipeline, scene_fps: float) -> int:
    """Frames until every running sequence cue has the history it needs (at the scene's rate), plus margin."""
    needed = [math.ceil(cue.frames_needed * scene_fps / cue.fps) for cue in pipeline.running_cues()
              if isinstance(cue, SequenceCue)]
    return max(needed, default=0) + 3


@contextmanager
def peak_memory(device: torch.device) -> Iterator[list[float]]:
    """Yields a list that holds the peak memory [MB] of the block once it ends (GPU memory, or the RSS)."""
    peak: list[float] = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        _reset_peak_rss()
    yield peak
    peak.append(torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else _peak_rss_mb())


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: resets VmHWM, the peak resident set size
    except OSError:
        pass  # elsewhere the peak since the process started is reported


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summarize(spec: RunSpec, results: list[FrameResult], wall: float, peak_mb: float,
              detector: SceneDetector | None) -> RunResult:
    stages = {}
    for stage in STAGES:
        values = [result.stage_seconds[stage] * 1e3 for result in results if stage in result.stage_seconds]
        if values:
            stages[stage] = Timing(np.asarray(values)).percentiles(QUANTILES)
    valid = {name: float(np.mean([sum(1 for person in result.people if name in person.cues and person.cues[name].valid)
                                  for result in results])) for name in CUE_STAGES}
    reported = float(np.mean(detector.reported)) if detector is not None and detector.reported else None
    return RunResult(spec, len(results), len(results) / wall, stages, peak_mb, valid, reported)


# --- the parts measured alone --------------------------------------------------------------------------------

def jpeg_rows(image: np.ndarray, device: torch.device, repeats: int) -> list[str]:
    """Decoding the scene's 640x480 frame as a JPEG (quality 90): OpenCV, and torchvision on the device."""
    data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].ravel()
    reference = decode_compressed(data)
    torchvision_image = decode_jpeg_torchvision(data, device)
    difference = np.abs(torchvision_image.astype(np.int16) - reference.astype(np.int16))
    opencv_ms = time_calls(lambda: decode_compressed(data), repeats, device).p50
    torchvision_ms = time_calls(lambda: decode_jpeg_torchvision(data, device), repeats, device).p50
    name = "nvJPEG" if device.type == "cuda" else "libjpeg-turbo"
    return [f"| JPEG 640x480 q90 ({data.size // 1024} kB) | OpenCV on the CPU | {opencv_ms:.2f} | |",
            f"| | torchvision ({name}) on {device}, image back on the host | {torchvision_ms:.2f} | "
            f"levels vs OpenCV: max {difference.max()}, mean {difference.mean():.3f} |"]


def crop_rows(image: np.ndarray, device: torch.device, repeats: int, counts: list[int]) -> list[str]:
    """Cutting 64x64 grey face crops (faces of 30-90 px spread over the frame): OpenCV per face, and the
    batched op on the device (one upload of the frame, crops back on the host)."""
    rng = np.random.default_rng(0)
    rows = []
    for count in counts:
        sides = rng.uniform(30, 90, count)
        centres = rng.uniform([40, 40], [600, 440], (count, 2))
        boxes = np.concatenate([centres - sides[:, None] / 2, centres + sides[:, None] / 2], axis=1)
        squares = torch.from_numpy(np.stack([face_crop_square(box, 0.1) for box in boxes]))

        def batched() -> np.ndarray:
            frame = torch.from_numpy(image).to(device)
            return grey_face_crops(frame, squares.to(device), 64).cpu().numpy()

        opencv_ms = time_calls(lambda: [grey_face_crop(image, box, 0.1, 64) for box in boxes], repeats, device).p50
        batched_ms = time_calls(batched, repeats, device).p50
        rows.append(f"| face crops, {count} faces | OpenCV per face / one batched op on {device} | "
                    f"{opencv_ms:.2f} / {batched_ms:.2f} | |")
    return rows


# --- tables --------------------------------------------------------------------------------------------------

def cell(values: list[float] | None) -> str:
    return " / ".join(f"{v:.1f}" for v in values) if values else ""


def end_to_end_table(runs: list[RunResult]) -> list[str]:
    by_spec = {run.spec: run for run in runs}
    lines = ["| source | people | mode | interval | fps | end to end p50 / p95 / p99 ms | peak MB | detected "
             "per frame | valid per frame: gait / context / face / gesture | per-person ÷ batched p50 | "
             "overlapped ÷ sequential fps |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        spec = run.spec
        batched = by_spec.get(dataclasses.replace(spec, mode="batched"))
        ratio = (f"{run.stages_ms['total'][0] / batched.stages_ms['total'][0]:.2f}"
                 if spec.mode == "per-person" and batched else "")
        speedup = f"{run.fps / batched.fps:.2f}" if spec.mode == "overlapped" and batched else ""
        valid = " / ".join(f"{run.valid_per_frame[name]:.1f}" for name in CUE_STAGES)
        detected = "" if run.detected_per_frame is None else f"{run.detected_per_frame:.1f}"
        lines.append(f"| {spec.source} | {spec.people} | {spec.mode} | {spec.interval} | {run.fps:.1f} | "
                     f"{cell(run.stages_ms['total'])} | {run.peak_mb:.0f} | {detected} | {valid} | {ratio} | "
                     f"{speedup} |")
    return lines


def stage_table(runs: list[RunResult]) -> list[str]:
    shown = [stage for stage in STAGES[:-1] if any(stage in run.stages_ms for run in runs)]
    lines = ["| source | people | mode | interval | " + " | ".join(f"{stage} p50/p95/p99" for stage in shown) + " |",
             "|---|---|---|---|" + "---|" * len(shown)]
    for run in runs:
        spec = run.spec
        lines.append(f"| {spec.source} | {spec.people} | {spec.mode} | {spec.interval} | "
                     + " | ".join(cell(run.stages_ms.get(stage)) for stage in shown) + " |")
    return lines


def scaling_table(runs: list[RunResult]) -> list[str]:
    """Per cue stage: p50 with the most people over p50 with one (batched, sequential, every frame)."""
    lines = ["| source | stage | p50 ms, 1 person | p50 ms, most people | most ÷ 1 (target <= 1.5) | "
             "per-person ÷ batched at most people |", "|---|---|---|---|---|---|"]
    for source in dict.fromkeys(run.spec.source for run in runs):
        batched = {run.spec.people: run for run in runs
                   if run.spec.source == source and run.spec.mode == "batched" and run.spec.interval == "0"}
        looped = {run.spec.people: run for run in runs
                  if run.spec.source == source and run.spec.mode == "per-person" and run.spec.interval == "0"}
        if len(batched) < 2 or 1 not in batched:
            continue
        most = max(batched)
        for stage in CUE_STAGES:
            one, many = batched[1].stages_ms.get(stage), batched[most].stages_ms.get(stage)
            if not one or not many:
                continue
            loop = looped.get(most)
            loop_ratio = f"{loop.stages_ms[stage][0] / many[0]:.2f}" if loop and stage in loop.stages_ms else ""
            lines.append(f"| {source} | {stage} | {one[0]:.2f} | {many[0]:.2f} ({most}) | {many[0] / one[0]:.2f} | "
                         f"{loop_ratio} |")
    return lines


# --- main ----------------------------------------------------------------------------------------------------

def run_specs(args: argparse.Namespace) -> list[RunSpec]:
    specs = []
    for source in args.sources:
        for people in args.people:
            specs.append(RunSpec(source, people, "batched", "0"))
            if not args.no_per_person and people > 1:
                specs.append(RunSpec(source, people, "per-person", "0"))
            if not args.no_overlap:
                specs.append(RunSpec(source, people, "overlapped", "0"))
            if not args.no_default_interval:
                specs.append(RunSpec(source, people, "batched", "default"))
                if not args.no_overlap:
                    specs.append(RunSpec(source, people, "overlapped", "default"))
    return specs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="pipeline.precision")
    parser.add_argument("--accelerate", choices=("eager", "compile", "tensorrt"), default="eager",
                        help="pipeline.accelerate: how the networks run (docs/acceleration.md)")
    parser.add_argument("--people", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--sources", nargs="+", choices=("detector", "skeletons"), default=["detector", "skeletons"])
    parser.add_argument("--frames", type=int, default=100, help="timed frames per run")
    parser.add_argument("--detector-min-size", type=int, default=DetectorConfig.min_size,
                        help="detector.min_size (the short side the detector resizes to; 480 = native for 640x480)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch and OpenCV CPU threads (default: torch's, one per core); on a machine shared "
                             "with other work fewer threads than cores avoid the collapse of oversubscription")
    parser.add_argument("--no-per-person", action="store_true")
    parser.add_argument("--no-overlap", action="store_true")
    parser.add_argument("--no-default-interval", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 and 2 people, 2 timed frames, detector at min_size 320")
    parser.add_argument("--budget-s", type=float, default=0.0,
                        help="start no run after this many seconds (the tables show the runs done); 0: no limit")
    parser.add_argument("--json", type=Path, help="also write every run's numbers here")
    parser.add_argument("--vtest", type=int, metavar="FRAMES", default=0,
                        help="only the default pipeline on FRAMES frames of real footage (--video)")
    parser.add_argument("--vtest-start", type=int, metavar="FRAME", default=0,
                        help="the first frame of --vtest; the frames before it (as many as gait needs) run "
                             "untimed first (vtest: MoveNet finds 3.2 people per frame in 0-29, 5.2 in 70-99 of "
                             "6.0 annotated)")
    parser.add_argument("--video", type=Path, default=VTEST_VIDEO, help="the real footage of --vtest")
    parser.add_argument("--set", action="append", default=[], metavar="GROUP.FIELD=VALUE",
                        help="a setting of the --vtest pipeline, e.g. detector.input_size=384")
    args = parser.parse_args()
    if args.quick:
        args.people, args.frames, args.detector_min_size = [1, 2], 2, 320
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    device, note = resolve_device(args.device)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({args.threads} threads)"
    detector_precision = "fp16" if args.precision in ("fp16", "fp16_detector") else args.precision
    setup = (f"precision {args.precision} (detector {detector_precision}), networks {args.accelerate}, detector "
             f"min_size {args.detector_min_size}")
    if args.vtest:
        print(f"# bench_pipeline: {device_name}, torch {torch.__version__}{'; ' + note if note else ''}", flush=True)
        print("\n".join(real_footage(args.video, args.vtest, args.vtest_start, device, args.set)), flush=True)
        return
    print(f"# bench_pipeline: {device_name}, torch {torch.__version__}, {setup}, {args.frames} timed frames per run"
          f"{'; ' + note if note else ''}\n", flush=True)

    runs: list[RunResult] = []
    skipped: list[RunSpec] = []
    first_image = None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as folder:
        weights = random_cue_weights(Path(folder))
        for people in args.people:
            scene_config = SceneConfig(people=people, width=640, height=480, seed=3, seconds=1.0)
            for source in args.sources:
                specs = [spec for spec in run_specs(args) if spec.source == source and spec.people == people]
                settings = {interval: make_settings(args, str(device), source, people, weights, interval)
                            for interval in {spec.interval for spec in specs}}
                base = settings[specs[0].interval]
                detector = None
                if source == "detector":
                    torch.manual_seed(0)
                    detector = SceneDetector(build_detector(base["detector"], device, random_weights=True))
                pipeline = Pipeline(base, log=lambda line: print(f"pipeline: {line}"), detector=detector)
                off = [f"{cue.name}: {cue.status}" for cue in pipeline.cues if not cue.available]
                if off:
                    print(f"note: cues off: {'; '.join(off)}")
                warmup = warmup_frames(pipeline, scene_config.fps)
                seconds = (warmup + args.frames + 1) / scene_config.fps
                intrinsics, frames = render_scene(dataclasses.replace(scene_config, seconds=seconds))
                first_image = frames[0].image
                driver = Driver(pipeline, frames, intrinsics, detector, warmup)
                for spec in specs:
                    if args.budget_s and time.monotonic() - started > args.budget_s:
                        skipped.append(spec)
                        continue
                    pipeline.update_settings(settings[spec.interval])
                    with peak_memory(device) as peak:
                        results, wall = driver.run(spec.mode, args.frames)
                    run = summarize(spec, results, wall, peak[0], detector)
                    runs.append(run)
                    print(f"{spec.source:9s} {spec.people:2d} people {spec.mode:10s} interval {spec.interval:7s}: "
                          f"{run.fps:6.1f} fps, end to end p50 {run.stages_ms['total'][0]:8.1f} ms", flush=True)
                del pipeline, driver, detector
                if device.type == "cuda":
                    torch.cuda.empty_cache()

    lines = [f"\n## {device_name}, {setup}\n", "End to end (observe start to judge end):\n",
             *end_to_end_table(runs), "", "Stages, ms:\n", *stage_table(runs), "",
             "Batching across people (batched, sequential, every frame):\n", *scaling_table(runs), ""]
    if skipped:
        lines += [f"Not run (over --budget-s {args.budget_s:g}): " + ", ".join(
            f"{spec.source} {spec.people} {spec.mode} {spec.interval}" for spec in skipped), ""]
    repeats = 5 if args.quick else 50
    lines += ["Input decoding and face crops (p50 ms):\n", "| part | path | p50 ms | note |", "|---|---|---|---|",
              *jpeg_rows(first_image, device, repeats), *crop_rows(first_image, device, repeats, [1, 5, 10]), ""]
    print("\n".join(lines), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "device": device_name, "torch": torch.__version__, "precision": args.precision,
            "detector_precision": detector_precision, "accelerate": args.accelerate,
            "detector_min_size": args.detector_min_size,
            "frames": args.frames, "runs": [dataclasses.asdict(run) for run in runs]}, indent=1))


if __name__ == "__main__":
    main()
