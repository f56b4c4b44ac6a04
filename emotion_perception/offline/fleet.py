"""Many recordings at once: ``emotion-perception bag process`` over a folder, a glob or a list of bags and videos.

Each recording goes through the single-recording path (a bag: ``ros.bags.process.process_bag``, handed in by the ROS
command line so that this module stays ROS-free; a video: :func:`emotion_perception.offline.run.run_source`, as
``emotion-perception run`` without the annotated video) in a worker: local processes (spawned, torch threads
shared out) by default, or one Ray task per recording with the CPUs and GPUs its settings need.

Each output folder appears atomically. Its summary.json carries a **fingerprint** of what made it (settings,
the model weights' sha256, the package and torch versions, the recording and its ground truth): a re-run skips
every recording whose output has the same fingerprint and replaces outdated ones. A recording that fails is
reported (and left without output) while the others go on; :mod:`.fleet_report` then writes fleet.md/.json.
"""

from __future__ import annotations

import glob
import hashlib
import json
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from .report import SUMMARY_FILE, atomic_output_dir, write_summary
from ..settings import Settings

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")
"""Files taken as videos when a folder or a glob is searched for recordings."""
GROUND_TRUTH_FILE = "ground_truth.json"
"""A bag's ground truth, scored against when it lies in the bag's folder (docs/replay_testing.md)."""
FLEET_KEY = "fleet"
"""The summary.json entry with the fingerprint and the processing time."""
RAY_INSTALL = "pip install 'emotion_perception[fleet]' (or: pip install -r requirements/fleet.txt)"
LIST_SEPARATOR = "__"
"""Joins the folders of a recording's path into its output name when plain names would collide."""

ProcessBag = Callable[..., dict[str, Any]]
"""``process_bag(bag, out, settings, topics, progress=..., log=..., ground_truth=...)`` (ros.bags.process.process_bag)."""


class MissingExtraError(RuntimeError):
    """An optional dependency (the ``fleet`` extra) is not installed; the message says how to install it."""


# --- which recordings --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recording:
    path: Path
    kind: str
    """"bag" (a rosbag2 folder) or "video"."""
    name: str
    """Its output folder's name under the fleet's output folder."""


def is_bag(path: Path) -> bool:
    return (Path(path) / "metadata.yaml").is_file()


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def _expand(spec: str, base: Path | None = None, lists: bool = True) -> list[Path]:
    """The recordings one argument names: a bag, a video, a folder of them, a glob, or (``lists``) a list file
    with one such argument per line (# comments; relative paths from the list's folder)."""
    path = Path(spec) if base is None or Path(spec).is_absolute() else base / spec
    if glob.has_magic(str(path)):
        found = [Path(p) for p in sorted(glob.glob(str(path), recursive=True))]
        found = [p for p in found if is_bag(p) or _is_video(p)]
        if not found:
            raise ValueError(f"{spec}: the pattern matches no bag (folder with metadata.yaml) and no video "
                             f"({', '.join(VIDEO_SUFFIXES)})")
        return found
    if is_bag(path) or _is_video(path):
        return [path]
    if path.is_dir():
        found = [p for p in sorted(path.iterdir()) if is_bag(p) or _is_video(p)]
        if not found:
            raise ValueError(f"{path}: holds no bag (folder with metadata.yaml) and no video ({', '.join(VIDEO_SUFFIXES)})")
        return found
    if path.is_file() and lists:
        lines = [line.strip() for line in path.read_text().splitlines()]
        entries = [line for line in lines if line and not line.startswith("#")]
        if not entries:
            raise ValueError(f"{path}: the list names no recording")
        return [found for entry in entries for found in _expand(entry, path.parent, lists=False)]
    raise ValueError(f"{spec}: no such bag, video, folder{', glob or list file' if lists else ' or glob'}")


def find_recordings(specs: Iterable[str]) -> list[Recording]:
    """The recordings the arguments name (see :func:`_expand`), each once, with distinct output names: the
    bag folder's or the video's name, or where two would collide, their paths from the common folder."""
    paths = list({p.resolve(): p for spec in specs for p in _expand(str(spec))})
    if not paths:
        raise ValueError("no recordings given")
    kinds = ["bag" if is_bag(p) else "video" for p in paths]
    names = [p.name if kind == "bag" else p.stem for p, kind in zip(paths, kinds)]
    if len(set(names)) < len(names):
        root = Path(os.path.commonpath([p.parent for p in paths]))
        names = [LIST_SEPARATOR.join(p.relative_to(root).parts if kind == "bag" else p.relative_to(root).with_suffix("").parts)
                 for p, kind in zip(paths, kinds)]
        clashes = sorted({name for name in names if names.count(name) > 1})
        if clashes:
            raise ValueError(f"several recordings would write to {', '.join(clashes)}; rename one")
    return [Recording(p, kind, name) for p, kind, name in zip(paths, kinds, names)]


# --- fingerprints ------------------------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    from ..runtime.weights import sha256_of

    return sha256_of(path)


def model_fingerprints(settings: Settings) -> dict[str, str]:
    """{setting: what its weights are} for every ``*weights`` setting: ``sha256:...`` of a file, or of the released
    weights it names (every part of a set, e.g. MTCNN's), ``off`` when empty, else ``name:...`` (torchvision's
    DEFAULT download, whose file name carries its hash and version)."""
    from ..cues.registry import released_weights

    models = {}
    for key, value in sorted(settings.flat().items()):
        if not key.endswith("weights") or not isinstance(value, str):
            continue
        released = [passport.sha256 for name, passport in sorted(released_weights().items())
                    if passport.sha256 and (name == value or name.startswith(f"{value}_"))]
        if not value:
            models[key] = "off"
        elif Path(value).expanduser().is_file():
            models[key] = "sha256:" + _sha256(Path(value).expanduser())
        elif released:
            models[key] = "sha256:" + ",".join(released)
        else:
            models[key] = f"name:{value}"
    return models


def settings_fingerprint(settings: Settings, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """What makes a run's outputs what they are, and its sha256 (``sha256``): the settings, the models, the package
    and torch versions and the processing ``options`` (e.g. the topics chosen)."""
    import torch

    parts = {"version": __version__, "torch": torch.__version__, "models": model_fingerprints(settings),
             "settings": settings.flat(), "options": options or {}}
    text = json.dumps(parts, sort_keys=True, default=str)
    return {"sha256": hashlib.sha256(text.encode()).hexdigest(), "version": __version__, "torch": torch.__version__,
            "models": parts["models"]}


def _recording_fingerprint(settings_sha256: str, recording: Recording, ground_truth: Path | None) -> str:
    parts = [settings_sha256, str(recording.path.resolve()), _sha256(ground_truth) if ground_truth else ""]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def done_fingerprint(out: Path) -> str | None:
    """The fingerprint a recording's existing output was made with (None: no output, or not by a fleet run)."""
    try:
        return json.loads((out / SUMMARY_FILE).read_text()).get(FLEET_KEY, {}).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


# --- one recording -----------------------------------------------------------------------------------------------
@dataclass
class RecordingTask:
    """Everything a worker needs to process one recording (picklable: it crosses processes and machines)."""

    recording: Recording
    out: Path
    settings: Settings
    fingerprint: str
    settings_fingerprint: dict[str, Any]
    process_bag: ProcessBag | None
    topics: dict[str, str | None] = field(default_factory=dict)
    ground_truth: Path | None = None


@dataclass
class RecordingResult:
    name: str
    path: str
    kind: str
    status: str
    """"processed", "skipped" (output up to date) or "failed"."""
    out: str
    error: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _result(task: RecordingTask, status: str, **values: Any) -> RecordingResult:
    recording = task.recording
    return RecordingResult(recording.name, str(recording.path), recording.kind, status, str(task.out), **values)


def process_recording(task: RecordingTask) -> RecordingResult:
    """Process one recording into ``task.out`` (replacing an outdated output only on success); never raises for
    a recording that cannot be processed: the result says why."""
    notes: list[str] = []
    started = time.perf_counter()
    try:
        with atomic_output_dir(task.out, replace=True) as partial:
            if task.recording.kind == "bag":
                if task.process_bag is None:
                    raise ValueError("bags need the ROS side (emotion-perception bag process)")
                summary = task.process_bag(task.recording.path, partial, task.settings, task.topics, progress=False,
                                           log=notes.append, ground_truth=task.ground_truth)
            else:
                from .run import run_source
                from .sources import open_source

                with open_source(task.recording.path) as source:
                    summary = run_source(source, partial, task.settings, video=False, progress=False, log=notes.append)
            seconds = time.perf_counter() - started
            processed = summary.get("frames", {}).get("processed", 0)
            summary[FLEET_KEY] = {
                "fingerprint": task.fingerprint, "settings": task.settings_fingerprint,
                "recording": str(task.recording.path), "kind": task.recording.kind,
                "ground_truth": str(task.ground_truth) if task.ground_truth else None,
                "seconds": round(seconds, 3), "frames_per_second": round(processed / seconds, 3) if seconds > 0 else None,
                "host": socket.gethostname(), "notes": notes}
            write_summary(partial, summary)
    except Exception as exc:  # one recording's failure, whatever it is, must not stop the others
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return _result(task, "failed", error=message, seconds=round(time.perf_counter() - started, 3), notes=notes)
    return _result(task, "processed", seconds=round(seconds, 3), notes=notes)


# --- many recordings ---------------------------------------------------------------------------------------------
@dataclass
class FleetOptions:
    """How a fleet run spreads its recordings."""

    jobs: int = 1
    """Local worker processes (without ``ray``)."""
    ray: bool = False
    ray_address: str | None = None
    """Ray cluster to join (None: RAY_ADDRESS, else a cluster already initialised here, else a new local one)."""
    task_cpus: float = 1.0
    """CPUs Ray reserves per recording (its torch threads: the whole number of them, one at least)."""
    task_gpus: float | None = None
    """GPUs Ray reserves per recording; None: 1 when the settings run the networks on CUDA, else 0."""
    topics: dict[str, str | None] = field(default_factory=dict)
    progress: bool = True

    def gpus(self, settings: Settings) -> float:
        if self.task_gpus is not None:
            return self.task_gpus
        return 1.0 if settings.pipeline.device.startswith("cuda") else 0.0


def require_ray():
    """The ray module, or MissingExtraError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise MissingExtraError(f"--ray needs Ray, which is not installed ({exc}): {RAY_INSTALL}") from None
    return ray


def _set_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(threads)))


def _ray_task(task: RecordingTask, threads: int) -> RecordingResult:
    _set_torch_threads(threads)
    return process_recording(task)


def _run_local(tasks: list[RecordingTask], jobs: int, done: Callable[[RecordingResult], None]) -> None:
    """Spawned worker processes (spawn: no forked torch or DDS state), each with its share of the CPU cores."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context, initializer=_set_torch_threads,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(process_recording, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                done(future.result())
            except Exception as exc:  # the worker process itself died (e.g. out of memory)
                done(_result(futures[future], "failed", error=f"worker process ended: {type(exc).__name__}: {exc}"))


def _run_ray(tasks: list[RecordingTask], options: FleetOptions, settings: Settings,
             done: Callable[[RecordingResult], None]) -> dict[str, Any]:
    """One Ray task per recording; joins (or starts) the cluster unless this process is already connected."""
    ray = require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=options.ray_address, log_to_driver=False, include_dashboard=False)
    try:
        gpus = options.gpus(settings)
        remote = ray.remote(num_cpus=options.task_cpus, num_gpus=gpus, max_retries=0)(_ray_task)
        pending = {remote.remote(task, max(1, int(options.task_cpus))): task for task in tasks}
        waiting = list(pending)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            for ref in ready:
                try:
                    done(ray.get(ref))
                except Exception as exc:  # the task's worker died or the cluster lost it
                    done(_result(pending[ref], "failed", error=f"ray task ended: {type(exc).__name__}: {exc}".splitlines()[0]))
        resources = ray.cluster_resources()
        return {"cluster_cpus": resources.get("CPU"), "cluster_gpus": resources.get("GPU", 0.0),
                "task_cpus": options.task_cpus, "task_gpus": gpus}
    finally:
        if started_here:
            ray.shutdown()


def plan(recordings: list[Recording], out_root: Path, settings: Settings, process_bag: ProcessBag | None,
         options: FleetOptions) -> tuple[list[RecordingTask], list[RecordingResult]]:
    """(the tasks to run, the results of the recordings already processed with the same fingerprint)."""
    fingerprint = settings_fingerprint(settings, {"topics": options.topics})
    tasks, skipped = [], []
    for recording in recordings:
        truth = recording.path / GROUND_TRUTH_FILE if recording.kind == "bag" else None
        truth = truth if truth is not None and truth.is_file() else None
        task = RecordingTask(recording, Path(out_root) / recording.name, settings,
                             _recording_fingerprint(fingerprint["sha256"], recording, truth), fingerprint,
                             process_bag, dict(options.topics), truth)
        if done_fingerprint(task.out) == task.fingerprint:
            skipped.append(_result(task, "skipped"))
        else:
            tasks.append(task)
    return tasks, skipped


def process_fleet(recordings: list[Recording], out_root: Path, settings: Settings, process_bag: ProcessBag | None,
                  options: FleetOptions, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Process every recording not yet done into ``out_root``/NAME, then write the aggregate report there
    (:func:`.fleet_report.write_fleet_report`); returns the report."""
    from tqdm import tqdm

    from .fleet_report import write_fleet_report

    log = log or (lambda text: print(f"note: {text}", file=sys.stderr))
    if options.ray:
        require_ray()
    if not options.ray and options.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, not {options.jobs}")
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    tasks, results = plan(recordings, out_root, settings, process_bag, options)
    if results:
        log(f"{len(results)} of {len(recordings)} recordings already processed with these settings, models and "
            "version: skipped")
    said: set[str] = set()
    started = time.perf_counter()
    with tqdm(total=len(tasks), unit="recording", desc="recordings", disable=not options.progress or not tasks,
              smoothing=0.0) as bar:

        def done(result: RecordingResult) -> None:
            results.append(result)
            for note in result.notes:
                if note not in said:
                    said.add(note)
                    bar.write(f"note: {note}")
            if result.status == "failed":
                bar.write(f"failed: {result.name}: {result.error}")
            bar.update(1)
            bar.set_postfix(failed=sum(r.status == "failed" for r in results))

        engine: dict[str, Any] = {"engine": "ray" if options.ray else "local"}
        if tasks and options.ray:
            engine.update(_run_ray(tasks, options, settings, done))
        elif tasks:
            engine["jobs"] = options.jobs
            _run_local(tasks, options.jobs, done)
    order = {recording.name: index for index, recording in enumerate(recordings)}
    results.sort(key=lambda result: order[result.name])
    run = {**engine, "wall_seconds": round(time.perf_counter() - started, 3), "recordings": len(recordings),
           **{status: sum(r.status == status for r in results) for status in ("processed", "skipped", "failed")}}
    return write_fleet_report(out_root, [asdict(result) for result in results], run)
