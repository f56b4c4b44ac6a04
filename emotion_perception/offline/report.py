"""What a run over a recording leaves behind for analysis: one CSV row per person per frame, and a summary.

The columns (documented in the README, "Analysis files"): the frame stamp and the time since the first
frame, the track id, the box, the 3D position and ground velocity, the fused estimate (stable label,
confidence, coverage, valence, arousal, one probability per fused label, seconds the label has held), and
for every running cue: valid, status, label, confidence, summary and one probability (or score) per label
of its vocabulary. Offline bag processing and ``emotion-perception run`` write the same files.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..labels import EMOTIONS
from ..types import CueResult, FrameResult

if TYPE_CHECKING:
    from ..pipeline import Pipeline

CSV_FILE = "people.csv"
SUMMARY_FILE = "summary.json"


def csv_columns(cues: dict[str, type[CueResult]]) -> list[str]:
    """The CSV header for running cues {name: result class}."""
    columns = ["stamp_ns", "time_s", "track_id", "box_x_min", "box_y_min", "box_x_max", "box_y_max",
               "has_position", "position_source", "x_m", "y_m", "z_m", "distance_m", "position_uncertainty_m",
               "has_velocity", "vx_mps", "vz_mps",
               "fused_valid", "fused_emotion", "fused_confidence", "fused_coverage", "fused_valence", "fused_arousal",
               *(f"fused_p_{label}" for label in EMOTIONS), "fused_held_s"]
    for name, result_class in cues.items():
        columns += [f"{name}_valid", f"{name}_status", f"{name}_label", f"{name}_confidence", f"{name}_summary",
                    *(f"{name}_{field}" for field in result_class.csv_fields),
                    *(f"{name}_p_{label}" for label in result_class.labels)]
    return columns


def frame_rows(result: FrameResult, start_ns: int) -> list[dict[str, Any]]:
    """One row per person of a frame (see the module docstring); ``start_ns`` is the first frame's stamp."""
    rows = []
    for person in result.people:
        fused, position = person.fused, person.position
        row: dict[str, Any] = {
            "stamp_ns": result.stamp_ns, "time_s": round((result.stamp_ns - start_ns) * 1e-9, 6),
            "track_id": person.track_id, **{key: round(float(v), 2) for key, v in
                                            zip(("box_x_min", "box_y_min", "box_x_max", "box_y_max"), person.box)},
            "has_position": int(position.valid), "has_velocity": int(position.velocity_valid),
            "fused_valid": int(fused.valid), "fused_emotion": fused.emotion,
            "fused_confidence": round(fused.confidence, 6), "fused_coverage": round(fused.coverage, 6),
            "fused_valence": round(fused.valence, 6), "fused_arousal": round(fused.arousal, 6),
            "fused_held_s": round((result.stamp_ns - fused.label_since_ns) * 1e-9, 6) if fused.valid else "",
        }
        if position.valid:
            row.update(position_source=position.source.name.lower(),
                       x_m=round(float(position.point[0]), 4), y_m=round(float(position.point[1]), 4),
                       z_m=round(float(position.point[2]), 4), distance_m=round(position.distance, 4),
                       position_uncertainty_m=round(position.uncertainty_m, 4))
        if position.velocity_valid:
            row.update(vx_mps=round(float(position.velocity[0]), 4), vz_mps=round(float(position.velocity[2]), 4))
        if fused.valid and fused.probabilities is not None:
            row.update({f"fused_p_{label}": round(float(p), 6) for label, p in zip(EMOTIONS, fused.probabilities)})
        for name, cue in person.cues.items():
            row.update({f"{name}_valid": int(cue.valid), f"{name}_status": cue.status, f"{name}_label": cue.label,
                        f"{name}_confidence": round(cue.confidence, 6), f"{name}_summary": cue.summary(),
                        **{f"{name}_{field}": _csv_value(getattr(cue, field)) for field in cue.csv_fields}})
            values = cue.label_values()
            if values is not None:
                row.update({f"{name}_p_{label}": round(float(p), 6) for label, p in zip(cue.labels, values)})
        rows.append(row)
    return rows


def _csv_value(value: Any) -> Any:
    """A result field as a CSV cell: booleans as 0/1, floats rounded, NaN as an empty cell."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else round(float(value), 6)
    return value


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def people_summary(rows: list[dict[str, Any]], cue_names: list[str]) -> dict[str, Any]:
    """Per track id: frames seen, the share of frames with a valid result per cue and fused, the stable
    labels' shares of the valid frames, the label it ended with, and flips of the stable label per minute."""
    people: dict[str, Any] = {}
    by_track: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in rows:
        by_track[row["track_id"]].append(row)
    for track_id, track_rows in sorted(by_track.items()):
        valid = [row for row in track_rows if row["fused_valid"]]
        labels = [row["fused_emotion"] for row in valid]
        flips = sum(1 for a, b in zip(labels, labels[1:]) if a != b)
        seconds = (track_rows[-1]["stamp_ns"] - track_rows[0]["stamp_ns"]) * 1e-9
        people[str(track_id)] = {
            "frames": len(track_rows), "seconds": round(seconds, 3),
            "valid_share": {**{name: round(sum(row.get(f"{name}_valid", 0) for row in track_rows) / len(track_rows), 4)
                               for name in cue_names}, "fused": round(len(valid) / len(track_rows), 4)},
            "label_share": {label: round(labels.count(label) / len(labels), 4) for label in sorted(set(labels))},
            "final_label": labels[-1] if labels else "unknown",
            "label_flips": flips,
            "label_flips_per_minute": round(flips / (seconds / 60.0), 3) if seconds > 0 else 0.0,
        }
    return people


def pipeline_summary(pipeline: Pipeline, counts: collections.Counter[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary of a run over a recording: frame counts, where people came from, which cues ran, latency
    percentiles and the per-person summary (bag process and run add what is theirs)."""
    return {"frames": dict(counts),
            "people_source": pipeline.people_status().status,
            "cues": {name: {"active": c.available, "configured": c.configured, "status": c.status}
                     for name, c in pipeline.cue_status().items()},
            "latency_ms": {stage: dict(zip(("p50", "p95", "p99"), values))
                           for stage, values in pipeline.timings.percentiles_ms().items()},
            "people": people_summary(rows, [cue.name for cue in pipeline.running_cues()])}


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    """``folder``/summary.json (sorted keys, indented)."""
    path = Path(folder) / SUMMARY_FILE
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return path


class RunRecord:
    """What a run over a recording collects (bag process and run alike): frame counts by outcome, the
    processed frames' stamps and the CSV rows; written as summary.json and people.csv."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.rows: list[dict[str, Any]] = []
        self.stamps_ns: list[int] = []

    def add(self, result: FrameResult) -> None:
        self.counts["processed"] += 1
        self.counts["time_jumps"] += bool(result.time_jump)
        self.counts.update(reason for reason, _ in result.set_aside)
        self.stamps_ns.append(result.stamp_ns)
        self.rows.extend(frame_rows(result, self.stamps_ns[0]))

    def summary(self, pipeline: Pipeline) -> dict[str, Any]:
        return pipeline_summary(pipeline, self.counts, self.rows)

    def write(self, folder: Path, summary: dict[str, Any], pipeline: Pipeline) -> None:
        write_summary(folder, summary)
        write_csv(folder / CSV_FILE, self.rows, csv_columns({cue.name: cue.result_class for cue in pipeline.running_cues()}))


@contextlib.contextmanager
def atomic_output_dir(out: Path, replace: bool = False) -> Iterator[Path]:
    """A staging path with ``out``'s name (not yet created) that becomes ``out`` only when the block succeeds.

    A run that fails half way leaves nothing behind to block the next one; files named after their folder
    (a bag's storage file) get the final name. With ``replace``, an existing ``out`` (an outdated result)
    is swapped for the new one when the block succeeds, and kept when it fails.
    """
    out = Path(out)
    if out.exists() and not replace:
        raise ValueError(f"{out} exists; choose a new output path")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging / out.name
        if out.exists():
            out.rename(staging / f"{out.name}.replaced")  # removed with the staging folder
        (staging / out.name).rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def summary_text(summary: dict[str, Any]) -> str:
    """Two lines for the terminal: frames by outcome, and tracks with their final labels (summary.json has all)."""
    frames = summary["frames"]
    others = ", ".join(f"{reason} {count}" for reason, count in sorted(frames.items())
                       if count and reason not in ("images", "processed"))
    finals = collections.Counter(person["final_label"] for person in summary["people"].values())
    labels = ", ".join(f"{label} {count}" for label, count in finals.most_common())
    processed = f"frames: {frames.get('processed', 0)} of {frames.get('images', 0)} processed"
    return (processed + (f" ({others})" if others else "")
            + f"\npeople: {len(summary['people'])} tracks" + (f"; final labels: {labels}" if labels else ""))
