"""The pipeline: frame -> people -> cues -> fused emotions, composed from the stages.

It owns the device and precision (one setting each for every network), batching (every person of a frame
goes through each network in one call), time (stamps that jump reset every stage that keeps state) and
per-stage timings. It runs the same way in the node, in offline bag processing and in the benchmarks.
"""

from __future__ import annotations

import collections
import threading
import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .cues.base import Cue, CueStage, PeopleWithHistory, PreparedPeople
from .cues.registry import cue_classes
from .detection import PersonDetector, ScoreCalibration, build_detector
from .runtime.device import apply_precision, inference_context, own_stream, release_memory, resolve_device
from .fusion import TemporalFusion, invalid_estimate
from .pose import JointHistory, PositionTracker, body_point, make_skeleton, skeleton_problem
from .pose.lifting.stage import LiftingStage
from .pose.plausibility import MotionCheck, body_problem, checked_confidence, detection_problem, intrinsics_problem
from .settings import Settings
from .tracking import ByteTracker
from .types import (CameraIntrinsics, CueResult, Detection, ExternalSkeleton, Frame, FrameResult, PersonEmotion,
                    PositionSource, Skeleton, TrackedPerson)


class FrameRejected(ValueError):
    """A frame that cannot be used; ``reason`` is the short counter name, the message the detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


class StageTimings:
    """Durations of the last ``window`` runs of each stage, for latency percentiles.

    Workers add while a diagnostics timer reads, so both hold a lock (iterating a deque or a dict that
    another thread grows raises).
    """

    def __init__(self, window: int = 500):
        self._seconds: dict[str, collections.deque[float]] = collections.defaultdict(lambda: collections.deque(maxlen=window))
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._seconds[stage].append(seconds)

    def percentiles_ms(self, quantiles: tuple[float, ...] = (50, 95, 99)) -> dict[str, tuple[float, ...]]:
        with self._lock:
            durations = {stage: np.asarray(values) for stage, values in self._seconds.items() if values}
        return {stage: tuple(float(v) for v in np.percentile(seconds * 1e3, quantiles))
                for stage, seconds in durations.items()}


class StampGuard:
    """Tells, for each frame stamp, whether time went on, slipped back a little, or jumped.

    A stamp older than the last processed one by at most ``tolerance_ns`` is out of order (dropped); older
    than that, time jumped back (a bag replayed, a clock reset); newer by more than ``forward_jump_ns``,
    time jumped forward beyond anything a stage keeps. A jump resets every stage; nothing stops for good.
    """

    def __init__(self, tolerance_ns: int, forward_jump_ns: int):
        self.tolerance_ns = tolerance_ns
        self.forward_jump_ns = forward_jump_ns
        self.last_ns: int | None = None
        self.jumps = 0

    def classify(self, stamp_ns: int) -> str:
        """"" (time goes on), "out_of_order", "back" or "forward"."""
        if self.last_ns is None:
            return ""
        if stamp_ns <= self.last_ns:
            return "out_of_order" if self.last_ns - stamp_ns <= self.tolerance_ns else "back"
        return "forward" if stamp_ns - self.last_ns > self.forward_jump_ns else ""


@dataclasses.dataclass
class Observation:
    """A frame as the front end left it for the cues (see :meth:`Pipeline.observe`)."""

    frame: Frame
    people: list[TrackedPerson]
    judged: list[TrackedPerson]
    """The people the cues may judge (no issue)."""
    prepared: dict[str, list]
    """Per running cue, what it took for each judged person (Cue.prepare)."""
    time_jump: str
    alive: set[int]
    """Track ids the front end still keeps (per-track state of others can go)."""
    seconds: dict[str, float]
    started: float
    set_aside: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    """(counter, detail) of each person or detection the front end set aside (FrameResult.set_aside)."""


@dataclasses.dataclass
class ComponentStatus:
    """Whether one part of the pipeline runs, whether the settings ask for it, and why (not)."""

    available: bool
    configured: bool
    status: str


class Pipeline:
    """Composes detection, tracking, skeletons, the cues and fusion for one camera."""

    def __init__(self, settings: Settings | None = None, log: Callable[[str], None] = print, *,
                 detector: PersonDetector | None = None, cues: dict[str, Cue] | None = None,
                 download_weights: bool = True):
        """Build every stage from ``settings``; tests and benchmarks may pass ready stages instead.

        ``detector``: a ready person detector; None builds the one ``detector.*`` names. Either is used only
        when ``pipeline.pose_source`` is "detector" (with "skeletons" people come from an external tracker).
        ``cues``: ready cue objects by name, replacing those the settings would build.
        ``download_weights``: whether DEFAULT detector weights may be downloaded (else only the cache).
        """
        self.settings = settings = settings or Settings()
        config = settings.pipeline
        self.device, self.device_note = resolve_device(config.device, log)
        self.home_device = self.device
        """Where the networks run while working (``device`` differs while the node parks them on the CPU)."""
        apply_precision(config.precision)
        if config.cpu_threads:
            torch.set_num_threads(config.cpu_threads)  # process-wide in torch, like the precision switches
        self.detector: PersonDetector | None = None
        if config.pose_source == "detector":
            self.detector = detector or build_detector(settings.detector, self.device, download=download_weights)
        self.tracker = ByteTracker(settings.tracker)
        self.history = JointHistory(settings.history)
        self.lifting = LiftingStage(settings.lifter, self.device)
        self.positions = PositionTracker(settings.history.min_confidence)
        self.motion = MotionCheck()
        """External tracks' body points, for the speed bound (pose/plausibility.py)."""
        given = cues or {}
        self.cues: list[Cue] = [given.get(cue.name) or cue(settings[cue.name], self.device) for cue in cue_classes()]
        self.acceleration: dict[str, str] = {}
        """Per network stage, what pipeline.accelerate made of it (acceleration.py); a fallback is also logged."""
        if config.accelerate != "eager":  # compiled paths, warmed up now rather than on the first frames
            stages: dict[str, PersonDetector | CueStage | None] = {
                "detector": self.detector, **{cue.name: cue.stage for cue in self.cues}}
            for name, stage in stages.items():
                if stage is not None:
                    note = self.acceleration[name] = stage.accelerate(config.accelerate, config.precision)
                    if note.endswith(": eager"):
                        log(f"{name}: {note}")
        self.fusion = TemporalFusion(settings.fusion)
        self.stamps = StampGuard(int(config.reorder_tolerance_s * 1e9),
                                 int(max(settings.history.max_age_seconds, settings.tracker.max_lost_seconds) * 1e9))
        self.timings = StageTimings()
        self._streams: dict[str, torch.cuda.Stream] = {}
        """One CUDA stream for the front end and one for the cues, so the two can overlap on a GPU."""
        self._recent: dict[tuple[str, int], tuple[int, CueResult]] = {}
        """(cue, track) -> (stamp, its last valid result), reused within the cue's min_interval_s."""
        self._jump_to_judge = ""
        """A time jump the front end has reset for and the cues' half has not yet seen."""

    # --- state of the parts ------------------------------------------------------------------------------
    def people_status(self) -> ComponentStatus:
        """Where people come from, and whether that works."""
        if self.detector is None:
            return ComponentStatus(True, True, "tracked skeletons from the 'skeletons' topic")
        return ComponentStatus(self.detector.available, True, f"{self.detector.status}; 3D without depth: "
                                                              f"{self.lifting.status}")

    def cue_status(self) -> dict[str, ComponentStatus]:
        return {cue.name: ComponentStatus(cue.available, cue.configured, cue.status) for cue in self.cues}

    def running_cues(self) -> list[Cue]:
        return [cue for cue in self.cues if cue.available]

    def update_settings(self, settings: Settings) -> None:
        """Apply settings that may change at run time (fusion, cue weights) without rebuilding anything."""
        self.settings = settings
        self.fusion.config = settings.fusion
        for cue in self.cues:
            cue.update_config(settings[cue.name])

    def to(self, device: torch.device | str) -> None:
        """Move every network to ``device`` (the node parks them on the CPU while inactive, freeing GPU memory)."""
        previous = self.device
        self.device = torch.device(device)
        if self.detector is not None:
            self.detector.to(self.device)
        self.lifting.to(self.device)
        for cue in self.cues:
            cue.to(self.device)
        if previous != self.device:
            release_memory(previous)

    def reset(self) -> None:
        """Forget everything kept over time: tracks, histories, positions, filters (time jumped)."""
        self._reset_front()
        self._reset_back()
        self.stamps.last_ns = None
        self._jump_to_judge = ""

    def _reset_front(self) -> None:
        self.tracker.reset()
        self.history.clear()
        self.motion.reset()

    def _reset_back(self) -> None:
        self.positions.reset()
        self.fusion.reset()
        self._recent.clear()

    # --- one frame -----------------------------------------------------------------------------------------
    @contextmanager
    def _networks(self, part: str) -> Iterator[None]:
        """Where and how the networks of one half of a frame ("detector" or "cues") run: that half's CUDA
        stream, no autograd, the configured precision for that half."""
        precision = self.settings.pipeline.precision
        with own_stream(self.device, self._streams, part), inference_context(self.device, precision, part):
            yield

    @contextmanager
    def _timed(self, stage: str, seconds: dict[str, float]) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds[stage] = time.perf_counter() - start
            self.timings.add(stage, seconds[stage])

    def process(self, frame: Frame, skeletons: list[ExternalSkeleton] | None = None) -> FrameResult:
        """Everything about the people in one frame. Raises FrameRejected for frames it cannot use."""
        return self.judge(self.observe(frame, skeletons))

    def observe(self, frame: Frame, skeletons: list[ExternalSkeleton] | None = None) -> Observation:
        """The front end's half of a frame: people found, tracked and checked, their joints added to the
        histories, and what each cue needs from those histories taken now. Raises FrameRejected.

        A node may run :meth:`judge` for this frame on another thread while this runs for the next one;
        frames must reach judge in the order they left observe.
        """
        start = time.perf_counter()
        height, width = frame.image.shape[:2]
        minimum = self.settings.pipeline.min_image_size
        if height < minimum or width < minimum:
            raise FrameRejected("too_small", f"image {width}x{height} is smaller than pipeline.min_image_size={minimum}")
        jump = self.stamps.classify(frame.stamp_ns)
        if jump == "out_of_order":
            raise FrameRejected("out_of_order", f"stamp {frame.stamp_ns} ns is older than the last processed "
                                                f"{self.stamps.last_ns} ns (within pipeline.reorder_tolerance_s)")
        if jump:
            self._reset_front()
            self.stamps.jumps += 1
            self._jump_to_judge = jump
        self.stamps.last_ns = frame.stamp_ns
        seconds: dict[str, float] = {}
        set_aside: list[tuple[str, str]] = []
        camera = frame.intrinsics
        problem = camera and intrinsics_problem(camera.fx, camera.fy, camera.cx, camera.cy, width, height)
        if problem:  # what the node and bag process refuse on arrival, for any other caller
            set_aside.append(("ignored_camera_info", f"{problem}; the frame goes on without intrinsics"))
            frame = dataclasses.replace(frame, intrinsics=None)
        with self._networks("detector"):
            people = self._people(frame, skeletons, seconds, set_aside)
        # A frame rejected in _people carries no Observation: its jump goes with the next one that gets to judge.
        jump, self._jump_to_judge = self._jump_to_judge, ""
        judged = [person for person in people if not person.issue]
        inputs = PeopleWithHistory(frame, judged, self.history)
        prepared = {cue.name: cue.prepare(inputs) for cue in self.running_cues()}
        alive = {person.track_id for person in people}
        if self.detector is not None:  # histories live as long as the tracker keeps their track
            alive |= set(self.tracker.live_ids)
            self.history.prune(alive)
        alive |= set(self.history.track_ids)  # external tracks: until the history lets them go (max_age_seconds)
        return Observation(frame, people, judged, prepared, jump, alive, seconds, start, set_aside)

    def judge(self, observation: Observation) -> FrameResult:
        """The cues' half of a frame: every cue on the judged people (each network once, all people batched),
        then fusion over time and positions."""
        frame, seconds = observation.frame, observation.seconds
        if observation.time_jump:
            self._reset_back()
        running = [cue for cue in self.running_cues() if cue.name in observation.prepared]
        verdicts: dict[str, list[CueResult]] = {}
        with self._networks("cues"):
            for cue in running:
                with self._timed(cue.name, seconds):
                    verdicts[cue.name] = self._run_cue(cue, frame, observation.judged, observation.prepared[cue.name])
        by_person = {id(person): {name: results[index] for name, results in verdicts.items()}
                     for index, person in enumerate(observation.judged)}
        with self._timed("fusion", seconds):
            results = [self._person_result(person, frame.stamp_ns, running, by_person.get(id(person)))
                       for person in observation.people]
        self._forget_ended_tracks(observation.alive)
        total = time.perf_counter() - observation.started
        self.timings.add("total", total)
        return FrameResult(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id, people=results,
                           stage_seconds={**seconds, "total": total}, time_jump=observation.time_jump,
                           set_aside=observation.set_aside)

    def _run_cue(self, cue: Cue, frame: Frame, people: list[TrackedPerson], prepared: list) -> list[CueResult]:
        """The cue's results for ``people``: decided ones as prepared, a track's recent valid result again
        within the cue's ``min_interval_s``, the rest from one batched call."""
        interval_ns = int(getattr(cue.config, "min_interval_s", 0.0) * 1e9)
        results: list[CueResult | None] = []
        due: list[int] = []
        for index, (person, item) in enumerate(zip(people, prepared)):
            recent = self._recent.get((cue.name, person.track_id))
            if isinstance(item, CueResult):
                results.append(item)
            elif recent is not None and 0 <= frame.stamp_ns - recent[0] < interval_ns:
                results.append(recent[1])
            else:
                results.append(None)
                due.append(index)
        if due:
            fresh = cue(PreparedPeople(frame, [people[i] for i in due], [prepared[i] for i in due]))
            for index, result in zip(due, fresh):
                results[index] = result
                if result.valid:
                    self._recent[(cue.name, people[index].track_id)] = (frame.stamp_ns, result)
        return results

    def _person_result(self, person: TrackedPerson, stamp_ns: int, running: list[Cue],
                       verdicts: dict[str, CueResult] | None) -> PersonEmotion:
        result = PersonEmotion(track_id=person.track_id, box=person.box, detection_score=person.score,
                               skeleton=person.skeleton)
        if person.issue:
            result.cues = {cue.name: cue.invalid(person.issue) for cue in running}
            result.fused = invalid_estimate([cue.name for cue in running])
            return result
        result.cues = {cue.name: verdicts[cue.name] for cue in running}
        result.position = self.positions.update(person.track_id, stamp_ns, person.skeleton)
        result.fused = self.fusion.update(
            person.track_id, stamp_ns, {name: verdict.evidence() for name, verdict in result.cues.items()},
            {cue.name: cue.config.fusion_weight for cue in running})
        return result

    def _people(self, frame: Frame, skeletons: list[ExternalSkeleton] | None, seconds: dict[str, float],
                set_aside: list[tuple[str, str]]) -> list[TrackedPerson]:
        """Tracked people with checked skeletons, their joints added to the per-track history; what could not
        be a person is noted in ``set_aside``."""
        max_people = self.settings.pipeline.max_people
        if self.detector is None:
            with self._timed("pose", seconds):
                people = [person_from_external(s, frame.intrinsics) for s in (skeletons or [])[:max_people]]
        else:
            with self._timed("detection", seconds):
                detections = self.detector.detect([frame.image])[0] if self.detector.available else []
            height, width = frame.image.shape[:2]
            problems = [detection_problem(d.box, d.keypoints, width, height) for d in detections]
            set_aside += [("ignored_implausible_detection", problem) for problem in problems if problem]
            detections = [d for d, problem in zip(detections, problems) if not problem]
            with self._timed("tracking", seconds):
                people = self.tracker.update(tracker_input(detections, self.detector.score_calibration, max_people),
                                             frame.stamp_ns)
            with self._timed("pose", seconds):
                for person in people:
                    if person.keypoints_coco is not None:
                        person.skeleton = make_skeleton(person.keypoints_coco, frame.depth, frame.intrinsics)
                lifted = self.lifting.lift([person.skeleton for person in people], frame.intrinsics)
                for person, skeleton in zip(people, lifted):
                    person.skeleton = skeleton
        counts = collections.Counter(person.track_id for person in people)
        self.history.start_frame(frame.stamp_ns, frame.input_gap_s)
        min_confidence = self.settings.history.min_confidence
        for person in people:
            if person.issue:  # an external skeleton no body could produce (person_from_external)
                set_aside.append(("ignored_implausible_skeleton", f"track {person.track_id}: {person.issue}"))
                continue
            if counts[person.track_id] > 1:
                person.issue = f"duplicate track id {person.track_id} in this frame: input ignored"
                continue
            skeleton = person.skeleton
            if skeleton is None:
                continue
            problem = skeleton_problem(skeleton.joints_2d, skeleton.confidence, skeleton.joints_3d, min_confidence)
            if problem:
                person.skeleton, person.skeleton_issue = None, problem
                continue
            if self.detector is None:  # an external tracker's body may also jump faster than anyone runs
                point = body_point(skeleton, min_confidence)
                person.issue = self.motion.problem(person.track_id, frame.stamp_ns, point)
                if person.issue:
                    person.skeleton, person.box = None, np.zeros(4, dtype=np.float32)
                    set_aside.append(("ignored_implausible_skeleton", f"track {person.track_id}: {person.issue}"))
                    continue
            self.history.add(person.track_id, frame.stamp_ns, skeleton)
        return people

    def _forget_ended_tracks(self, alive: set[int]) -> None:
        """Drop the cues' and fusion's per-track state of tracks the front end no longer keeps."""
        ended = [track_id for track_id in self.fusion.track_ids if track_id not in alive]
        if ended:
            self.fusion.forget(ended)
            self.positions.forget(ended)
            self.motion.forget(ended)
            for key in [key for key in self._recent if key[1] in ended]:
                del self._recent[key]


def tracker_input(detections: list[Detection], calibration: ScoreCalibration, max_people: int) -> list[Detection]:
    """A detector's people as the tracker takes them: scores on the tracker's scale (the backend's measured
    calibration), the ``max_people`` largest boxes (the nearest people)."""
    detections = sorted(calibration.apply(detections),
                        key=lambda d: -float((d.box[2] - d.box[0]) * (d.box[3] - d.box[1])))
    return detections[:max_people]


def person_from_external(skeleton: ExternalSkeleton, intrinsics: CameraIntrinsics | None) -> TrackedPerson:
    """A tracked person from an external tracker's skeleton: joints projected into the image for the box.

    Joints with confidence 0 or non-finite positions are unseen (confidence 0, position 0). Without
    intrinsics the joints cannot be placed in the image: the box and 2D joints are then zero, and the
    image-based cues (context, face) get nothing useful from this person. A skeleton of the wrong shape or
    beyond a body's bounds (pose/plausibility.py) gives a person with that ``issue`` and nothing else.
    """
    joints = np.asarray(skeleton.joints_3d, dtype=np.float64)
    confidence = np.asarray(skeleton.confidence, dtype=np.float64)
    nobody = TrackedPerson(track_id=skeleton.track_id, box=np.zeros(4, dtype=np.float32), score=0.0)
    if joints.shape != (16, 3) or confidence.shape != (16,):
        nobody.issue = (f"malformed skeleton: joints {joints.shape} and confidence {confidence.shape}, "
                        "expected (16, 3) and (16,)")
        return nobody
    confidence, nobody.issue = checked_confidence(confidence)
    with np.errstate(invalid="ignore"):
        visible = (confidence > 0) & np.isfinite(joints).all(axis=1) & (joints[:, 2] > 1e-3)
    nobody.issue = nobody.issue or body_problem(joints, visible)
    if nobody.issue:
        return nobody
    joints_2d = np.zeros((len(joints), 2), dtype=np.float32)
    box = np.zeros(4, dtype=np.float32)
    if intrinsics is not None and visible.any():
        z = joints[visible, 2]
        joints_2d[visible, 0] = intrinsics.fx * joints[visible, 0] / z + intrinsics.cx
        joints_2d[visible, 1] = intrinsics.fy * joints[visible, 1] / z + intrinsics.cy
        low, high = joints_2d[visible].min(axis=0), joints_2d[visible].max(axis=0)
        margin = 0.1 * (high - low) + 4.0
        box = np.concatenate([low - margin, high + margin]).astype(np.float32)
    confidence[~visible] = 0.0
    return TrackedPerson(track_id=skeleton.track_id, box=box, score=1.0,
                         skeleton=Skeleton(joints_2d=joints_2d, confidence=confidence.astype(np.float32),
                                           joints_3d=np.where(visible[:, None], joints, 0.0).astype(np.float32),
                                           position_source=PositionSource.SKELETON_INPUT))
