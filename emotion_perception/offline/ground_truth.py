"""Ground truth for replay testing: who is where in each frame of a recording, and how they feel.

A JSON file names each person once, with the emotion they show (one of labels.EMOTIONS) and, per frame
stamp, their image box [px] and, where known, their 3D position [m] in the camera optical frame
(docs/replay_testing.md has the format). Scoring (scoring.py) matches the output's tracks to these people
frame by frame. The synthetic scene knows its truth exactly: :func:`ground_truth_from_scene` builds it with
the pipeline's own projection and body point, so a perfect tracker scores a perfect match.

The older sample format (``{"emotions_by_track_id": {"1": "happy"}}``) is still read: its people have no
frames and are matched by track id.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..labels import EMOTIONS
from ..pipeline import person_from_external
from ..pose import HistoryConfig, body_point
from .synthetic_scene import SceneFrame
from ..types import CameraIntrinsics

FORMAT_VERSION = 1


class GroundTruthError(ValueError):
    """A ground-truth file that cannot be used; the message names the file and the offending entry."""


@dataclass(frozen=True)
class GroundTruthFrame:
    """Where one person is in one frame."""

    stamp_ns: int
    """The image's header stamp [ns]."""
    box: tuple[float, float, float, float] | None = None
    """(x_min, y_min, x_max, y_max) [px] in the image; None when not annotated."""
    position: tuple[float, float, float] | None = None
    """(x, y, z) [m] in the camera optical frame (x right, y down, z forward); None when not known."""


@dataclass
class GroundTruthPerson:
    """One person of the recording: an id, the emotion they show, and where they are frame by frame."""

    id: int
    emotion: str
    """One of labels.EMOTIONS."""
    frames: list[GroundTruthFrame] = field(default_factory=list)
    """In stamp order; empty when only the emotion is known (then output track ``id`` is this person)."""


@dataclass
class GroundTruth:
    people: list[GroundTruthPerson]
    metadata: dict[str, Any] = field(default_factory=dict)
    """Anything else the file says at its top level (a note, the scene that made it), kept as it is."""

    def person(self, person_id: int) -> GroundTruthPerson:
        return next(person for person in self.people if person.id == person_id)


# --- reading and writing ------------------------------------------------------------------------------------
def _numbers(value: Any, count: int, where: str) -> tuple[float, ...]:
    if (not isinstance(value, list) or len(value) != count
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise GroundTruthError(f"{where}: expected a list of {count} finite numbers, got {value!r}")
    return tuple(float(v) for v in value)


def _integer(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise GroundTruthError(f"{where}: expected an integer, got {value!r}")
    return value


def _emotion(value: Any, where: str) -> str:
    if value not in EMOTIONS:
        raise GroundTruthError(f"{where}: expected one of {', '.join(EMOTIONS)}, got {value!r}")
    return value


def _frame(entry: Any, where: str) -> GroundTruthFrame:
    if not isinstance(entry, dict):
        raise GroundTruthError(f"{where}: expected an object with stamp_ns, box and/or position, got {entry!r}")
    unknown = set(entry) - {"stamp_ns", "box", "position"}
    if unknown:
        raise GroundTruthError(f"{where}: unknown keys {sorted(unknown)}; a frame has stamp_ns, box, position")
    if "stamp_ns" not in entry:
        raise GroundTruthError(f"{where}: stamp_ns is missing")
    box = entry.get("box")
    position = entry.get("position")
    if box is None and position is None:
        raise GroundTruthError(f"{where}: a frame needs a box or a position (or both)")
    if box is not None:
        box = _numbers(box, 4, f"{where}.box")
        if box[2] < box[0] or box[3] < box[1]:
            raise GroundTruthError(f"{where}.box: expected [x_min, y_min, x_max, y_max] with min <= max, "
                                   f"got {list(box)}")
    return GroundTruthFrame(stamp_ns=_integer(entry["stamp_ns"], f"{where}.stamp_ns"), box=box,
                            position=None if position is None else _numbers(position, 3, f"{where}.position"))


def _person(entry: Any, where: str) -> GroundTruthPerson:
    if not isinstance(entry, dict):
        raise GroundTruthError(f"{where}: expected an object with id, emotion and frames, got {entry!r}")
    for key in ("id", "emotion"):
        if key not in entry:
            raise GroundTruthError(f"{where}: {key} is missing")
    frames_entry = entry.get("frames", [])
    if not isinstance(frames_entry, list):
        raise GroundTruthError(f"{where}.frames: expected a list, got {type(frames_entry).__name__}")
    frames = sorted((_frame(f, f"{where}.frames[{i}]") for i, f in enumerate(frames_entry)), key=lambda f: f.stamp_ns)
    repeated = sorted({a.stamp_ns for a, b in zip(frames, frames[1:]) if a.stamp_ns == b.stamp_ns})
    if repeated:
        raise GroundTruthError(f"{where}.frames: stamp_ns {repeated[0]} appears more than once")
    return GroundTruthPerson(id=_integer(entry["id"], f"{where}.id"),
                             emotion=_emotion(entry["emotion"], f"{where}.emotion"), frames=frames)


def ground_truth_from_dict(data: Any, source: str = "ground truth") -> GroundTruth:
    """The ground truth in ``data`` (a parsed JSON document; ``source`` names it in errors)."""
    if not isinstance(data, dict):
        raise GroundTruthError(f"{source}: expected a JSON object, got {type(data).__name__}")
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise GroundTruthError(f"{source}: format version {version!r} is not supported "
                               f"(this reader knows {FORMAT_VERSION})")
    metadata = {k: v for k, v in data.items() if k not in ("people", "emotions_by_track_id", "version")}
    if "people" in data:
        if not isinstance(data["people"], list):
            raise GroundTruthError(f"{source}: people: expected a list, got {type(data['people']).__name__}")
        people = [_person(entry, f"{source}: people[{i}]") for i, entry in enumerate(data["people"])]
    elif "emotions_by_track_id" in data:  # the older sample format: emotions only, matched by track id
        by_track = data["emotions_by_track_id"]
        if not isinstance(by_track, dict):
            raise GroundTruthError(f"{source}: emotions_by_track_id: expected an object, got {by_track!r}")
        people = []
        for key, emotion in by_track.items():
            if not str(key).lstrip("-").isdigit():
                raise GroundTruthError(f"{source}: emotions_by_track_id: key {key!r} is not a track id")
            people.append(GroundTruthPerson(int(key), _emotion(emotion, f"{source}: emotions_by_track_id[{key!r}]")))
    else:
        raise GroundTruthError(f"{source}: has neither 'people' nor 'emotions_by_track_id' "
                               "(see docs/replay_testing.md for the format)")
    ids = [person.id for person in people]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise GroundTruthError(f"{source}: person id {repeated[0]} appears more than once")
    return GroundTruth(people=people, metadata=metadata)


def load_ground_truth(path: str | Path) -> GroundTruth:
    """Read a ground-truth JSON file (this format or the older ``emotions_by_track_id`` one)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise GroundTruthError(f"{path}: cannot read the ground truth ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise GroundTruthError(f"{path}: not valid JSON ({exc})") from exc
    return ground_truth_from_dict(data, str(path))


def ground_truth_to_dict(truth: GroundTruth) -> dict[str, Any]:
    """The JSON document of ``truth`` (what :func:`save_ground_truth` writes)."""

    def frame(f: GroundTruthFrame) -> dict[str, Any]:
        entry: dict[str, Any] = {"stamp_ns": f.stamp_ns}
        if f.box is not None:
            entry["box"] = [round(v, 2) for v in f.box]
        if f.position is not None:
            entry["position"] = [round(v, 4) for v in f.position]
        return entry

    return {**truth.metadata, "version": FORMAT_VERSION,
            "people": [{"id": p.id, "emotion": p.emotion, "frames": [frame(f) for f in p.frames]}
                       for p in truth.people]}


def save_ground_truth(truth: GroundTruth, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(ground_truth_to_dict(truth), indent=1) + "\n")
    return path


# --- the synthetic scene's truth ------------------------------------------------------------------------
def ground_truth_from_scene(intrinsics: CameraIntrinsics, frames: list[SceneFrame],
                            metadata: dict[str, Any] | None = None) -> GroundTruth:
    """The truth behind ``synthetic_scene.render_scene``'s frames: per track id, the walk's emotion and per frame
    the box and body point the pipeline derives from that skeleton (``pipeline.person_from_external``,
    ``pose.body_point``), so the skeleton-fed pipeline's own boxes match it exactly."""
    min_confidence = HistoryConfig().min_confidence
    people: dict[int, GroundTruthPerson] = {}
    for scene_frame in frames:
        for skeleton in scene_frame.skeletons:
            person = people.setdefault(skeleton.track_id, GroundTruthPerson(
                skeleton.track_id, scene_frame.emotions[skeleton.track_id]))
            tracked = person_from_external(skeleton, intrinsics)
            point = body_point(tracked.skeleton, min_confidence)
            box = tuple(float(v) for v in tracked.box) if tracked.box.any() else None  # zeros: nothing projectable
            if box is not None or point is not None:
                person.frames.append(GroundTruthFrame(
                    stamp_ns=scene_frame.stamp_ns, box=box,
                    position=None if point is None else tuple(float(v) for v in point)))
    return GroundTruth(people=[people[k] for k in sorted(people)], metadata=dict(metadata or {}))
