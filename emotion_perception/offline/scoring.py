"""Did it get it right? A run's per-frame output (people.csv rows) scored against the recording's ground truth.

Output tracks are matched to ground-truth people frame by frame (Hungarian assignment on box IoU; where a
box is missing on either side, on the distance between 3D positions), and each track id is then assigned to
the person it matched most often: a behaviour node acts on track ids, so a track that switches people
carries its errors into its assigned person's score. Ground-truth people without per-frame data are matched
by track id. Per person and overall, the report gives label agreement over the frames with a valid fused
result, a confusion matrix (rows: truth, columns: the stable fused label or "unknown" when not valid), time
to the first valid (and first correct) result, stable-label flips per minute, the share of frames with a
valid result per cue, and the tracks and people that matched nothing. docs/replay_testing.md explains each.
"""

from __future__ import annotations

import collections
import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from .ground_truth import GroundTruth, GroundTruthFrame, GroundTruthPerson
from ..labels import EMOTIONS, UNKNOWN, label_colour_hex
from .report import people_summary
from ..tracking import box_iou

PREDICTED = (*EMOTIONS, UNKNOWN)
"""Confusion matrix columns: the stable fused label, or UNKNOWN when the fused result is not valid."""
BOX_COLUMNS = ("box_x_min", "box_y_min", "box_x_max", "box_y_max")
POSITION_COLUMNS = ("x_m", "y_m", "z_m")
LABEL_COLOURS = {label: label_colour_hex(label) for label in PREDICTED}
"""The plots' colour of each predicted label: labels.LABEL_COLOURS, as the debug image and the markers use."""
TOP_LABELS = 4
"""Labels plotted for a cue whose vocabulary is not the fused one (context's 26 categories): the highest on average."""


@dataclass(frozen=True)
class MatchConfig:
    min_iou: float = 0.3
    """Least box IoU of a match. Ground-truth boxes come from joints, not silhouettes, so a detector's box
    differs from them systematically; one-to-one assignment keeps a loose threshold from double counting."""
    max_distance_m: float = 0.75
    """Largest distance between 3D positions of a match, used where a box is missing [m]."""
    stamp_tolerance_s: float = 0.05
    """A frame uses each person's ground-truth entry nearest in stamp, when it is at most this far [s]."""

    def __post_init__(self) -> None:
        if not (0 < self.min_iou <= 1 and self.max_distance_m > 0 and self.stamp_tolerance_s >= 0):
            raise ValueError("match settings need 0 < min_iou <= 1, max_distance_m > 0 and stamp_tolerance_s >= 0; "
                             f"got {self}")


# --- rows --------------------------------------------------------------------------------------------------
def _column_type(name: str) -> type:
    if name in ("fused_emotion", "position_source") or name.endswith(("_status", "_label", "_summary")):
        return str
    if name in ("stamp_ns", "track_id") or name.startswith("has_") or name.endswith("_valid"):
        return int
    return float


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """people.csv read back as the rows ``report.frame_rows`` made: typed values, empty cells left out."""
    with open(path, newline="") as handle:
        return [{key: _column_type(key)(value) for key, value in row.items() if value != ""}
                for row in csv.DictReader(handle)]


def cue_names(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The cues the rows carry (``{cue}_valid`` columns), in column order."""
    names: dict[str, None] = {}
    for row in rows:
        names.update((key[: -len("_valid")], None) for key in row if key.endswith("_valid") and key != "fused_valid")
    return list(names)


def _row_box(row: dict[str, Any]) -> np.ndarray | None:
    values = [row.get(key) for key in BOX_COLUMNS]
    if any(v is None or v == "" for v in values):
        return None
    box = np.asarray(values, dtype=np.float64)
    return box if box[2] > box[0] and box[3] > box[1] else None  # a zero box: the person could not be placed


def _row_position(row: dict[str, Any]) -> np.ndarray | None:
    values = [row.get(key) for key in POSITION_COLUMNS]
    if not row.get("has_position") or any(v is None or v == "" for v in values):
        return None
    return np.asarray(values, dtype=np.float64)


# --- matching ----------------------------------------------------------------------------------------------
@dataclass
class Matching:
    """Which track is which person, and per person the one output row that speaks for them in each frame."""

    track_person: dict[int, int]
    """Track id -> the person it is assigned to (tracks that matched nobody are absent)."""
    votes: dict[int, collections.Counter]
    """Track id -> {person id: frames it was matched to that person}."""
    frames: dict[int, list[int]]
    """Person id -> the processed frames' stamps in which the person is in view (by ground truth)."""
    rows: dict[int, dict[int, dict[str, Any]]]
    """Person id -> {stamp: the row of one of their tracks} (frames where they were tracked)."""
    ious: dict[int, list[float]]
    """Person id -> box IoU of each frame where their row was matched to them by box."""
    track_frames: dict[int, int]
    """Track id -> rows it has."""


def _truth_at(person: GroundTruthPerson, stamps: np.ndarray, stamp_ns: int,
              tolerance_ns: int) -> GroundTruthFrame | None:
    """The person's entry nearest to ``stamp_ns``, if within the tolerance (``stamps``: their sorted stamps)."""
    index = int(np.searchsorted(stamps, stamp_ns))
    nearest = min((i for i in (index - 1, index) if 0 <= i < len(stamps)), key=lambda i: abs(int(stamps[i]) - stamp_ns))
    return person.frames[nearest] if abs(int(stamps[nearest]) - stamp_ns) <= tolerance_ns else None


def _match_frame(rows: list[dict[str, Any]], truths: list[GroundTruthFrame], config: MatchConfig
                 ) -> list[tuple[int, int, float | None]]:
    """(row index, truth index, IoU or None when matched by distance) of one frame's optimal matches."""
    similarity = np.zeros((len(rows), len(truths)))
    usable = np.zeros_like(similarity, dtype=bool)
    ious = np.full_like(similarity, np.nan)
    for r, row in enumerate(rows):
        box, position = _row_box(row), _row_position(row)
        for t, truth in enumerate(truths):
            if box is not None and truth.box is not None:
                ious[r, t] = similarity[r, t] = box_iou(box, np.asarray(truth.box))[0, 0]
                usable[r, t] = similarity[r, t] >= config.min_iou
            elif position is not None and truth.position is not None:
                distance = float(np.linalg.norm(position - np.asarray(truth.position)))
                usable[r, t] = distance <= config.max_distance_m
                similarity[r, t] = max(0.0, 1.0 - distance / config.max_distance_m)
    chosen_rows, chosen_truths = linear_sum_assignment(-np.where(usable, similarity, 0.0))
    return [(int(r), int(t), None if math.isnan(ious[r, t]) else float(ious[r, t]))
            for r, t in zip(chosen_rows, chosen_truths) if usable[r, t]]


def match_tracks(rows: Sequence[dict[str, Any]], truth: GroundTruth, processed_stamps_ns: Iterable[int] | None = None,
                 config: MatchConfig = MatchConfig()) -> Matching:
    """Match output rows to ground-truth people frame by frame and assign each track to one person.

    ``processed_stamps_ns``: the stamps of every frame the run processed (frames where nobody was detected
    leave no row, yet count as frames in which people in view were missed); the rows' stamps by default.
    """
    by_stamp: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in rows:
        by_stamp[int(row["stamp_ns"])].append(row)
    stamps = sorted(set(by_stamp) | set(() if processed_stamps_ns is None else map(int, processed_stamps_ns)))
    tolerance_ns = int(round(config.stamp_tolerance_s * 1e9))
    framed = [person for person in truth.people if person.frames]
    truth_stamps = {person.id: np.array([f.stamp_ns for f in person.frames], dtype=np.int64) for person in framed}
    votes: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
    frames: dict[int, list[int]] = {person.id: [] for person in truth.people}
    matched: dict[tuple[int, int], tuple[int, float | None]] = {}  # (stamp, track) -> (person, IoU)
    for stamp in stamps:
        in_view = [(person, entry) for person in framed
                   if (entry := _truth_at(person, truth_stamps[person.id], stamp, tolerance_ns)) is not None]
        for person, _ in in_view:
            frames[person.id].append(stamp)
        here = by_stamp.get(stamp, [])
        for r, t, iou in _match_frame(here, [entry for _, entry in in_view], config):
            track, person_id = int(here[r]["track_id"]), in_view[t][0].id
            votes[track][person_id] += 1
            matched[(stamp, track)] = (person_id, iou)
    track_frames = collections.Counter(int(row["track_id"]) for row in rows)
    track_person = {track: min(counts, key=lambda p: (-counts[p], p)) for track, counts in votes.items()}
    unframed = {person.id for person in truth.people if not person.frames}
    for track in sorted(track_frames):  # people known by emotion only are their own track id
        if track not in track_person and track in unframed:
            track_person[track] = track
            frames[track] = sorted(int(row["stamp_ns"]) for row in rows if int(row["track_id"]) == track)
    person_rows: dict[int, dict[int, dict[str, Any]]] = {person.id: {} for person in truth.people}
    ious: dict[int, list[float]] = {person.id: [] for person in truth.people}
    for person in truth.people:
        for stamp in frames[person.id]:
            candidates = [row for row in by_stamp.get(stamp, []) if track_person.get(int(row["track_id"])) == person.id]
            if not candidates:
                continue

            def preference(row: dict[str, Any]) -> tuple[bool, int]:
                """The row matched to this person in this very frame first, then the lowest track id."""
                return matched.get((stamp, int(row["track_id"])), (None, None))[0] != person.id, int(row["track_id"])

            row = min(candidates, key=preference)
            person_rows[person.id][stamp] = row
            person_id, iou = matched.get((stamp, int(row["track_id"])), (None, None))
            if person_id == person.id and iou is not None:
                ious[person.id].append(iou)
    return Matching(track_person=track_person, votes=dict(votes), frames=frames, rows=person_rows, ious=ious,
                    track_frames=dict(track_frames))


# --- scores ------------------------------------------------------------------------------------------------
def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _person_score(person: GroundTruthPerson, matching: Matching, cues: list[str]) -> dict[str, Any]:
    stamps = matching.frames[person.id]
    rows = matching.rows[person.id]
    tracked = [rows[stamp] for stamp in stamps if stamp in rows]
    valid = [row for row in tracked if row.get("fused_valid")]
    confusion = collections.Counter(row.get("fused_emotion", UNKNOWN) if row.get("fused_valid") else UNKNOWN
                                    for row in tracked)
    start = stamps[0] if stamps else 0

    def seconds_to_first(rows_: list[dict[str, Any]]) -> float | None:
        return round((int(rows_[0]["stamp_ns"]) - start) * 1e-9, 3) if rows_ else None

    labels = people_summary([{**row, "track_id": person.id} for row in tracked], cues).get(str(person.id), {})
    correct = [row for row in valid if row.get("fused_emotion") == person.emotion]
    iou = matching.ious[person.id]
    return {
        "id": person.id, "emotion": person.emotion,
        "tracks": sorted(track for track, p in matching.track_person.items() if p == person.id),
        "frames": len(stamps), "tracked_frames": len(tracked), "tracked_share": _share(len(tracked), len(stamps)),
        "valid_share": {**{cue: _share(sum(bool(row.get(f"{cue}_valid")) for row in tracked), len(stamps))
                           for cue in cues},
                        "fused": _share(len(valid), len(stamps))},
        "valid_frames": len(valid), "correct_frames": len(correct), "agreement": _share(len(correct), len(valid)),
        "confusion": {label: confusion[label] for label in PREDICTED},
        "seconds_to_first_valid": seconds_to_first(valid), "seconds_to_first_correct": seconds_to_first(correct),
        "tracked_seconds": labels.get("seconds", 0.0), "label_flips": labels.get("label_flips", 0),
        "label_flips_per_minute": labels.get("label_flips_per_minute", 0.0) if tracked else None,
        "final_label": labels.get("final_label", UNKNOWN),
        "mean_box_iou": round(float(np.mean(iou)), 4) if iou else None,
    }


def _score(matching: Matching, truth: GroundTruth, cues: list[str], config: MatchConfig) -> dict[str, Any]:
    people = [_person_score(person, matching, cues) for person in truth.people]
    tracked_rows = [row for person_rows in matching.rows.values() for row in person_rows.values()]
    matrix = np.zeros((len(EMOTIONS), len(PREDICTED)), dtype=np.int64)
    for entry in people:
        matrix[EMOTIONS.index(entry["emotion"])] += [entry["confusion"][label] for label in PREDICTED]
    frames = sum(p["frames"] for p in people)
    valid = sum(p["valid_frames"] for p in people)
    agreements = [p["agreement"] for p in people if p["agreement"] is not None]
    first_valid = [p["seconds_to_first_valid"] for p in people if p["seconds_to_first_valid"] is not None]
    tracked_seconds = sum(p["tracked_seconds"] for p in people)
    tracks = {str(track): {"person": matching.track_person.get(track), "frames": count,
                           "matched_frames": sum(matching.votes.get(track, {}).values()),
                           "purity": _share(matching.votes[track][matching.track_person[track]],
                                            sum(matching.votes[track].values())) if track in matching.votes else None}
              for track, count in sorted(matching.track_frames.items())}
    return {
        "match": asdict(config),
        "overall": {
            "people": len(people), "people_tracked": sum(1 for p in people if p["tracked_frames"]),
            "frames": frames, "tracked_share": _share(sum(p["tracked_frames"] for p in people), frames),
            "valid_share": {name: _share(sum(bool(row.get(f"{name}_valid")) for row in tracked_rows), frames)
                            for name in [*cues, "fused"]},
            "valid_frames": valid, "agreement": _share(sum(p["correct_frames"] for p in people), valid),
            "agreement_mean_over_people": round(float(np.mean(agreements)), 4) if agreements else None,
            "seconds_to_first_valid_median": round(float(np.median(first_valid)), 3) if first_valid else None,
            "people_never_valid": sum(1 for p in people if p["tracked_frames"] and p["valid_frames"] == 0),
            "label_flips": sum(p["label_flips"] for p in people),
            "label_flips_per_minute": round(sum(p["label_flips"] for p in people) / (tracked_seconds / 60.0), 3)
            if tracked_seconds > 0 else None,
        },
        "confusion": {"rows": list(EMOTIONS), "columns": list(PREDICTED), "counts": matrix.tolist()},
        "people": people,
        "tracks": tracks,
        "unmatched_tracks": [int(track) for track, entry in tracks.items() if entry["person"] is None],
        "unmatched_people": [p["id"] for p in people if p["tracked_frames"] == 0],
    }


def score(rows: Sequence[dict[str, Any]], truth: GroundTruth, processed_stamps_ns: Iterable[int] | None = None,
          config: MatchConfig = MatchConfig()) -> dict[str, Any]:
    """The scores of ``rows`` (``report.frame_rows`` output, or :func:`load_rows`) against ``truth``, as a plain,
    JSON-serialisable dict: ``overall``, ``confusion``, ``people`` (one entry per ground-truth person),
    ``tracks``, ``unmatched_tracks``, ``unmatched_people`` (see the module docstring and docs/replay_testing.md)."""
    return _score(match_tracks(rows, truth, processed_stamps_ns, config), truth, cue_names(rows), config)


# --- Markdown -----------------------------------------------------------------------------------------------
def _cell(value: Any, percent: bool = False) -> str:
    if value is None:
        return "–"
    if percent:
        return f"{100 * value:.1f}%"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _table(header: list[str], body: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in body)]


def people_source_text(source: str, detail: str) -> str:
    """Where the scored people came from, and what that means for the tracking columns: ``source`` is
    ``pipeline.pose_source`` ("detector" or "skeletons"); ``detail`` the detector's status or the skeleton topic."""
    if source == "skeletons":
        return (f"People came from the bag's tracked skeletons ({detail}), not from the person detector. Where that "
                "topic is what the ground truth was made from (as in the bundled sample), the tracks are the true "
                "people: tracked shares, track purity and a box IoU of 1.0 then say nothing about detection or "
                "tracking; only the cue, fused and label columns measure the pipeline.")
    if source == "detector":
        return (f"People came from the person detector ({detail}) and the tracker: the tracking columns measure "
                "them.")
    return "Where the people came from was not recorded."


def markdown(report: dict[str, Any], images: dict[str, str] | None = None) -> str:
    """The report as a Markdown page; ``images``: {caption: relative path} of plots to show at the end."""
    overall, match = report["overall"], report["match"]
    cues = [name for name in overall["valid_share"] if name != "fused"]
    people_from = report.get("people_source", {})
    lines = [
        "# Scores against the ground truth", "",
        people_source_text(people_from.get("source", ""), people_from.get("detail", "")), "",
        f"Tracks are matched to people per frame (box IoU ≥ {match['min_iou']:g}, else 3D distance ≤ "
        f"{match['max_distance_m']:g} m; ground truth within {match['stamp_tolerance_s']:g} s of the frame) and each "
        "track is assigned to the person it matched most often. Shares are of the frames each person is in view; "
        "agreement is over the frames with a valid fused result.", "", "## Overall", "",
        *_table(["people tracked", "frames tracked", "fused valid", *(f"{c} valid" for c in cues),
                 "label agreement (valid frames)", "mean over people", "first valid, median [s]", "flips/min"],
                [[f"{overall['people_tracked']} of {overall['people']}", _cell(overall["tracked_share"], True),
                  _cell(overall["valid_share"]["fused"], True), *(_cell(overall["valid_share"][c], True) for c in cues),
                  f"{_cell(overall['agreement'], True)} ({overall['valid_frames']})",
                  _cell(overall["agreement_mean_over_people"], True), _cell(overall["seconds_to_first_valid_median"]),
                  _cell(overall["label_flips_per_minute"])]]),
        "", "## People", "",
        *_table(["person", "truth", "tracks", "frames", "tracked", "fused valid", *(f"{c} valid" for c in cues),
                 "agreement", "first valid [s]", "first correct [s]", "flips/min", "final label", "box IoU"],
                [[p["id"], p["emotion"], ", ".join(map(str, p["tracks"])) or "–", p["frames"],
                  _cell(p["tracked_share"], True), _cell(p["valid_share"]["fused"], True),
                  *(_cell(p["valid_share"][c], True) for c in cues), _cell(p["agreement"], True),
                  _cell(p["seconds_to_first_valid"]), _cell(p["seconds_to_first_correct"]),
                  _cell(p["label_flips_per_minute"]), p["final_label"], _cell(p["mean_box_iou"])]
                 for p in report["people"]]),
        "", "## Confusion (rows: truth; columns: stable fused label, over the frames the person was tracked)", "",
        *_table(["truth \\ output", *report["confusion"]["columns"]],
                [[label, *counts]
                 for label, counts in zip(report["confusion"]["rows"], report["confusion"]["counts"])]),
        "", "## Tracks", "",
        *_table(["track", "person", "frames", "matched frames", "purity"],
                [[track, _cell(t["person"]), t["frames"], t["matched_frames"], _cell(t["purity"], True)]
                 for track, t in report["tracks"].items()]),
        "", f"Tracks that matched nobody: {', '.join(map(str, report['unmatched_tracks'])) or 'none'}. "
            f"People never tracked: {', '.join(map(str, report['unmatched_people'])) or 'none'}.",
    ]
    for caption, path in (images or {}).items():
        lines += ["", f"![{caption}]({path})"]
    return "\n".join(lines) + "\n"


# --- plots -------------------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _cue_labels(rows: list[dict[str, Any]], cue: str) -> list[str]:
    """The labels to plot for a cue: all when they are the fused vocabulary, else the TOP_LABELS highest on average."""
    prefix = f"{cue}_p_"
    labels = list(dict.fromkeys(key[len(prefix):] for row in rows for key in row if key.startswith(prefix)))
    if set(labels) <= set(EMOTIONS):
        return [label for label in EMOTIONS if label in labels]
    means = {label: np.mean([row[prefix + label] for row in rows if prefix + label in row]) for label in labels}
    return sorted(labels, key=lambda label: -means[label])[:TOP_LABELS]


def _band(axes, times: np.ndarray, labels: list[str | None], y: float) -> None:
    """Runs of equal labels as coloured bars at height ``y`` (None: no bar)."""
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1 / 30
    ends = np.append(times[1:], times[-1] + step)
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            if labels[start] is not None:
                axes.broken_barh([(times[start], ends[i - 1] - times[start])], (y - 0.4, 0.8),
                                 color=label_colour_hex(labels[start]))
            start = i


def plot_person_timeline(person: GroundTruthPerson, stamps: Sequence[int], rows: dict[int, dict[str, Any]],
                         cues: list[str], path: str | Path, start_ns: int | None = None) -> Path:
    """One person's timeline: each cue's probabilities, the fused ones, and the stable label against the truth.

    ``stamps``: the frames the person is in view; ``rows``: their row per tracked stamp (Matching.rows);
    ``start_ns``: time zero of the x axis (the recording's first frame; the person's first frame by default).
    """
    plt = _pyplot()
    stamps = list(stamps)
    if start_ns is None:
        start_ns = stamps[0] if stamps else 0
    times = (np.asarray(stamps, dtype=np.int64) - start_ns) * 1e-9
    tracked = [rows[s] for s in stamps if s in rows]
    plotted = [cue for cue in cues if _cue_labels(tracked, cue)] + ["fused"]
    figure, axes = plt.subplots(len(plotted) + 1, 1, figsize=(9, 1.9 * len(plotted) + 1.3), sharex=True,
                                gridspec_kw={"height_ratios": [3] * len(plotted) + [1.2]}, squeeze=False)
    axes = axes[:, 0]
    for ax, cue in zip(axes, plotted):
        for label in (list(EMOTIONS) if cue == "fused" else _cue_labels(tracked, cue)):
            key = f"{cue}_p_{label}"
            values = [float(rows[s][key]) if s in rows and key in rows[s] else np.nan for s in stamps]
            ax.plot(times, values, label=label, color=LABEL_COLOURS.get(label),
                    linewidth=2.2 if label == person.emotion else 1.2)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(cue)
        ax.legend(loc="upper left", fontsize=7, ncol=4, frameon=False)
    stable = [(rows[s].get("fused_emotion", UNKNOWN) if rows[s].get("fused_valid") else UNKNOWN) if s in rows else None
              for s in stamps]
    band = axes[-1]
    if len(times):
        _band(band, times, stable, 1.0)
        _band(band, times, [person.emotion] * len(times), 0.0)
    band.set_yticks([0.0, 1.0], ["truth", "stable"])
    band.set_ylim(-0.6, 1.6)
    band.set_xlabel("time [s]")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in LABEL_COLOURS.values()]
    band.legend(handles, list(LABEL_COLOURS), loc="upper center", bbox_to_anchor=(0.5, -0.9), ncol=5, fontsize=7,
                frameon=False)
    axes[0].set_title(f"person {person.id} (truth: {person.emotion}); probabilities over time, white = not tracked")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def plot_confusion(report: dict[str, Any], path: str | Path) -> Path:
    """The report's confusion matrix (shares per truth row as colour, counts as text)."""
    plt = _pyplot()
    confusion = report["confusion"]
    counts = np.asarray(confusion["counts"], dtype=np.float64)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(5.6, 4.2))
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(confusion["columns"])), confusion["columns"])
    axes.set_yticks(range(len(confusion["rows"])), confusion["rows"])
    axes.set_xlabel("stable fused label")
    axes.set_ylabel("truth")
    agreement = report["overall"]["agreement"]
    axes.set_title(f"agreement {_cell(agreement, True)} of {report['overall']['valid_frames']} valid frames")
    for (row, col), value in np.ndenumerate(counts):
        axes.text(col, row, str(int(value)), ha="center", va="center",
                  color="white" if shares[row, col] > 0.6 else "black")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_scoring(out_dir: str | Path, rows: Sequence[dict[str, Any]], truth: GroundTruth,
                  processed_stamps_ns: Iterable[int] | None = None,
                  config: MatchConfig = MatchConfig(), people_source: str = "", people_detail: str = "") -> dict[str, Any]:
    """Score ``rows`` against ``truth`` and write scoring.md, scoring_confusion.png and one
    scoring_person_{id}.png per person into ``out_dir``; returns the report (:func:`score`) with ``files`` and
    ``people_source`` (``pipeline.pose_source`` and its detail: see :func:`people_source_text`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamps = sorted({int(row["stamp_ns"]) for row in rows} | set(processed_stamps_ns or ()))
    matching = match_tracks(rows, truth, stamps, config)
    cues = cue_names(rows)
    report = _score(matching, truth, cues, config)
    report["people_source"] = {"source": people_source, "detail": people_detail}
    images = {"confusion matrix": plot_confusion(report, out_dir / "scoring_confusion.png").name}
    for person in truth.people:
        path = plot_person_timeline(person, matching.frames[person.id], matching.rows[person.id], cues,
                                    out_dir / f"scoring_person_{person.id}.png", stamps[0] if stamps else None)
        images[f"person {person.id}"] = path.name
    (out_dir / "scoring.md").write_text(markdown(report, images))
    report["files"] = ["scoring.md", *images.values()]
    return report
