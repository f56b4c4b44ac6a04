"""The pipeline: frame -> people -> cues -> fused emotions, composed from the stages.

It owns the device (one setting for every network), batching (every person of a frame goes through each
network in one call) and per-stage timings. It runs the same way in the node, in offline bag processing
and in the benchmarks.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .context import ContextEmotion
from .detection import build_detector
from .fusion import fuse
from .gait import GaitEmotion
from .pose import JointHistory, make_skeleton
from .settings import Settings
from .tracking import ByteTracker
from .types import (CameraIntrinsics, ContextResult, ExternalSkeleton, Frame, FrameResult, GaitResult, PersonEmotion,
                    PositionSource, Skeleton, TrackedPerson)

class FrameRejected(ValueError):
    """A frame the pipeline cannot use (too small, ...); the caller drops it and counts it."""


class StageTimings:
    """Durations of the last ``window`` runs of each stage, for latency percentiles."""

    def __init__(self, window: int = 500):
        self._seconds: dict[str, collections.deque[float]] = collections.defaultdict(lambda: collections.deque(maxlen=window))

    def add(self, stage: str, seconds: float) -> None:
        self._seconds[stage].append(seconds)

    def percentiles_ms(self, quantiles: tuple[float, ...] = (50, 95, 99)) -> dict[str, tuple[float, ...]]:
        return {stage: tuple(float(v) for v in np.percentile(np.asarray(values) * 1e3, quantiles))
                for stage, values in self._seconds.items() if values}


def resolve_device(requested: str, log: Callable[[str], None]) -> str:
    """The device to use: the requested one, or cpu (with a warning) when CUDA is not available."""
    if requested.startswith("cuda") and not torch.cuda.is_available():
        log(f"device {requested!r} requested but CUDA is not available; running on cpu")
        return "cpu"
    return requested


class Pipeline:
    """Composes detection, tracking, skeletons, gait, context and fusion for one camera."""

    def __init__(self, settings: Settings | None = None, log: Callable[[str], None] = print, *,
                 detector=None, gait: GaitEmotion | None = None, context: ContextEmotion | None = None):
        """Build every stage from ``settings``; tests and benchmarks may pass ready stages instead."""
        self.settings = settings = settings or Settings()
        config = settings.pipeline
        if config.pose_source not in ("detector", "skeletons"):
            raise ValueError(f"pipeline.pose_source must be 'detector' or 'skeletons', not {config.pose_source!r}")
        self.device = resolve_device(config.device, log)

        def on_device(stage_config):
            return dataclasses.replace(stage_config, device=self.device)

        self.detector = None
        if config.pose_source == "detector":
            self.detector = detector or build_detector(on_device(settings.detector))
        self.tracker = ByteTracker(settings.tracker)
        self.history = JointHistory(settings.history)
        self.gait = gait or GaitEmotion(on_device(settings.gait))
        self.context = context or ContextEmotion(on_device(settings.context))
        self.timings = StageTimings()
        self._stage_seconds: dict[str, float] = {}

    def branch_status(self) -> dict[str, tuple[bool, str]]:
        """Which branches run, and why not where one does not."""
        if self.detector is not None:
            people = (self.detector.available, self.detector.status)
        else:
            people = (True, "tracked skeletons from the 'skeletons' topic")
        return {"people": people, "gait": (self.gait.available, self.gait.status),
                "context": (self.context.available, self.context.status), "face": (False, "no face branch yet")}

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self._stage_seconds[stage] = time.perf_counter() - start
            self.timings.add(stage, self._stage_seconds[stage])

    def process(self, frame: Frame, skeletons: list[ExternalSkeleton] | None = None) -> FrameResult:
        """Everything about the people in one frame. Raises FrameRejected for frames it cannot use."""
        height, width = frame.image.shape[:2]
        minimum = self.settings.pipeline.min_image_size
        if height < minimum or width < minimum:
            raise FrameRejected(f"image {width}x{height} is smaller than pipeline.min_image_size={minimum}")
        self._stage_seconds = {}
        start = time.perf_counter()
        with torch.inference_mode():
            people = self._people(frame, skeletons)
            with self._timed("gait"):
                gait_results = self._gait(people)
            with self._timed("context"):
                context_results = self._context(frame, people)
            with self._timed("fusion"):
                results = [PersonEmotion(track_id=person.track_id, box=person.box, detection_score=person.score,
                                         skeleton=person.skeleton, gait=gait, context=context,
                                         fused=fuse(gait, context, self.settings.fusion))
                           for person, gait, context in zip(people, gait_results, context_results)]
        self.timings.add("total", time.perf_counter() - start)
        return FrameResult(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id, people=results,
                           stage_seconds={**self._stage_seconds, "total": time.perf_counter() - start})

    def _people(self, frame: Frame, skeletons: list[ExternalSkeleton] | None) -> list[TrackedPerson]:
        """Tracked people with skeletons, their joints added to the per-track history."""
        max_people = self.settings.pipeline.max_people
        if self.detector is None:
            with self._timed("pose"):
                people = [person_from_external(s, frame.intrinsics) for s in (skeletons or [])][:max_people]
            alive = {person.track_id for person in people}
        else:
            with self._timed("detection"):
                detections = self.detector.detect([frame.image])[0] if self.detector.available else []
            detections = sorted(detections, key=lambda d: -float((d.box[2] - d.box[0]) * (d.box[3] - d.box[1])))
            with self._timed("tracking"):
                people = self.tracker.update(detections[:max_people], frame.stamp_ns)
            alive = self.tracker.live_ids
            with self._timed("pose"):
                for person in people:
                    if person.keypoints_coco is not None:
                        person.skeleton = make_skeleton(person.keypoints_coco, frame.depth, frame.intrinsics)
        for person in people:
            if person.skeleton is not None:
                self.history.add(person.track_id, frame.stamp_ns, person.skeleton)
        self.history.prune(alive)
        return people

    def _gait(self, people: list[TrackedPerson]) -> list[GaitResult]:
        """One batched gait call for every track with at least min_frames of history (up to a full window)."""
        min_frames = self.gait.config.min_frames
        sequences = []
        for person in people:
            frames = min(self.gait.window_frames, self.history.available_frames(person.track_id))
            sequences.append(self.history.sequence(person.track_id, frames)
                             if self.gait.available and frames >= min_frames else None)
        ready = [sequence for sequence in sequences if sequence is not None]
        verdicts = iter(self.gait(ready) if ready else [])
        results = []
        for person, sequence in zip(people, sequences):
            if sequence is not None:
                results.append(next(verdicts))
            else:
                observed = self.history.frames_observed(person.track_id)
                status = (f"collecting: {observed}/{min_frames} frames" if self.gait.available
                          else self.gait.status)
                results.append(GaitResult(valid=False, status=status, frames_observed=observed))
        return results

    def _context(self, frame: Frame, people: list[TrackedPerson]) -> list[ContextResult]:
        if not people:
            return []
        if not self.context.available:
            return [ContextResult(valid=False, status=self.context.status) for _ in people]
        boxes = np.stack([person.box for person in people]).astype(np.float32)
        return self.context(frame.image, boxes)


def person_from_external(skeleton: ExternalSkeleton, intrinsics: CameraIntrinsics | None) -> TrackedPerson:
    """A tracked person from an external tracker's skeleton: joints projected into the image for the box.

    Without intrinsics the joints cannot be placed in the image: the box and 2D joints are then zero, and
    the context branch (which needs a body crop) gets nothing useful from this person.
    """
    joints = np.asarray(skeleton.joints_3d, dtype=np.float32)
    confidence = np.asarray(skeleton.confidence, dtype=np.float32).copy()
    visible = (confidence > 0) & np.isfinite(joints).all(axis=1) & (joints[:, 2] > 1e-3)
    joints_2d = np.zeros((len(joints), 2), dtype=np.float32)
    if intrinsics is not None and visible.any():
        z = joints[visible, 2]
        joints_2d[visible, 0] = intrinsics.fx * joints[visible, 0] / z + intrinsics.cx
        joints_2d[visible, 1] = intrinsics.fy * joints[visible, 1] / z + intrinsics.cy
        low, high = joints_2d[visible].min(axis=0), joints_2d[visible].max(axis=0)
        margin = 0.1 * (high - low) + 4.0
        box = np.concatenate([low - margin, high + margin]).astype(np.float32)
    else:
        box = np.zeros(4, dtype=np.float32)
    confidence[~visible] = 0.0
    return TrackedPerson(track_id=skeleton.track_id, box=box, score=1.0,
                         skeleton=Skeleton(joints_2d=joints_2d, confidence=confidence,
                                           joints_3d=np.where(visible[:, None], joints, 0.0).astype(np.float32),
                                           position_source=PositionSource.SKELETON_INPUT))
