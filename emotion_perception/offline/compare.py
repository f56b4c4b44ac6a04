"""A/B comparison of two runs over the same recordings: is the new version better than the one on the robots?

Recordings are paired by output folder name (a fleet run's OUT/NAME, or one output folder each). Per
recording and overall it says:

- where the stable labels differ: person-frames are paired by (frame stamp, track id), a label being the stable
  fused one or ``unknown`` when not valid; the share that differ, which label became which, and the time spans;
- how agreement with the ground truth changed (where both runs were scored), with a 95 % confidence interval
  from a **paired bootstrap over ground-truth people** (recording, person): frames of one person are not
  independent of each other, people are nearly so. Resamples use a fixed seed, so a comparison repeats exactly;
- each cue's valid share of the person-frames, and the speed (frames per second of a worker) of both runs.

**Regression** (exit code :data:`REGRESSION_EXIT`): agreement fell by more than ``max_drop`` and the whole
confidence interval lies below zero, i.e. a drop that matters and that resampling the people does not explain.
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..labels import UNKNOWN
from .report import CSV_FILE, SUMMARY_FILE
from .scoring import load_rows
from .fleet_report import measures, recording_counts, sum_counts

REGRESSION_EXIT = 3
"""Exit code of `emotion-perception compare` (and `bag process --compare-with`) when agreement regressed."""
COMPARE_FILES = ("compare.md", "compare.json")
MAX_SPANS = 20
"""Differing spans listed per recording in compare.md (compare.json has them all)."""


@dataclass(frozen=True)
class CompareSettings:
    max_drop: float = 0.02
    """Largest tolerated fall in agreement [share, 0.02 = 2 points]."""
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.max_drop < 1 and 0 < self.confidence < 1 and self.resamples >= 100):
            raise ValueError(f"compare needs 0 <= max drop < 1, 0 < confidence < 1 and resamples >= 100; got {self}")


def run_outputs(root: Path) -> dict[str, Path]:
    """{name: output folder} of a run: ``root`` itself when it is one recording's output, else its sub-folders
    that hold a summary.json and people.csv."""
    root = Path(root)
    if (root / SUMMARY_FILE).is_file():
        return {root.name: root}
    if not root.is_dir():
        raise ValueError(f"{root}: no such run output folder")
    found = {p.name: p for p in sorted(root.iterdir())
             if p.is_dir() and (p / SUMMARY_FILE).is_file() and (p / CSV_FILE).is_file()}
    if not found:
        raise ValueError(f"{root}: holds no recording output (folders with {SUMMARY_FILE} and {CSV_FILE})")
    return found


def _stable(row: dict[str, Any]) -> str:
    return row.get("fused_emotion", UNKNOWN) if row.get("fused_valid") else UNKNOWN


def label_differences(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the stable labels of two runs differ, over the person-frames both have (same stamp and track id):
    counts, which label became which, and the spans of consecutive frames of a track with the same change."""
    a = {(int(r["stamp_ns"]), int(r["track_id"])): r for r in rows_a}
    b = {(int(r["stamp_ns"]), int(r["track_id"])): r for r in rows_b}
    common = sorted(set(a) & set(b), key=lambda key: (key[1], key[0]))
    changes: collections.Counter[str] = collections.Counter()
    spans: list[dict[str, Any]] = []
    previous = None
    for key in common:
        change = (key[1], _stable(a[key]), _stable(b[key]))
        time_s = round(float(a[key].get("time_s", 0.0)), 3)
        if change[1] == change[2]:
            previous = None
            continue
        changes[f"{change[1]} -> {change[2]}"] += 1
        if change == previous:
            spans[-1].update(end_s=time_s, frames=spans[-1]["frames"] + 1)
        else:
            spans.append({"track_id": key[1], "start_s": time_s, "end_s": time_s, "a": change[1], "b": change[2],
                          "frames": 1})
        previous = change
    return {"paired_person_frames": len(common), "only_a": len(set(a) - set(b)), "only_b": len(set(b) - set(a)),
            "differing": sum(changes.values()), "differing_share": round(sum(changes.values()) / len(common), 4)
            if common else None, "changes": dict(changes.most_common()), "spans": spans}


def scored_people(folder: Path) -> dict[int, tuple[int, int]] | None:
    """{ground-truth person id: (correct, valid) fused person-frames} of a scored output; None if not scored."""
    scoring = json.loads((Path(folder) / SUMMARY_FILE).read_text()).get("scoring")
    if not scoring:
        return None
    return {int(p["id"]): (int(p["correct_frames"]), int(p["valid_frames"])) for p in scoring["people"]}


def _agreement(counts: np.ndarray) -> float:
    """Pooled agreement of (correct, valid) rows; NaN without valid frames."""
    valid = counts[..., 1].sum(axis=-1)
    return np.where(valid > 0, counts[..., 0].sum(axis=-1) / np.maximum(valid, 1), np.nan)


def agreement_change(people_a: np.ndarray, people_b: np.ndarray, settings: CompareSettings) -> dict[str, Any]:
    """Agreement of A and B and B − A with its paired-bootstrap confidence interval, from (P, 2) arrays of
    (correct, valid) per person, the same people in the same order."""
    if not len(people_a) or people_a[:, 1].sum() == 0 or people_b[:, 1].sum() == 0:
        return {"a": None, "b": None, "change": None, "ci": None, "people": len(people_a)}
    a, b = float(_agreement(people_a)), float(_agreement(people_b))
    rng = np.random.default_rng(settings.seed)
    picks = rng.integers(0, len(people_a), size=(settings.resamples, len(people_a)))
    changes = _agreement(people_b[picks]) - _agreement(people_a[picks])
    changes = changes[np.isfinite(changes)]
    tail = (1 - settings.confidence) / 2
    low, high = np.quantile(changes, [tail, 1 - tail])
    return {"a": round(a, 4), "b": round(b, 4), "change": round(b - a, 4), "ci": [round(float(low), 4), round(float(high), 4)],
            "people": len(people_a)}


def _paired_people(folder_a: Path, folder_b: Path) -> tuple[np.ndarray, np.ndarray] | None:
    scored_a, scored_b = scored_people(folder_a), scored_people(folder_b)
    if scored_a is None or scored_b is None:
        return None
    ids = sorted(set(scored_a) | set(scored_b))
    return (np.array([scored_a.get(i, (0, 0)) for i in ids], dtype=np.int64).reshape(-1, 2),
            np.array([scored_b.get(i, (0, 0)) for i in ids], dtype=np.int64).reshape(-1, 2))


def _side(counts: dict[str, Any]) -> dict[str, Any]:
    shown = measures(counts)
    return {"valid_share": shown["valid_share"], "frames_per_second": shown["frames_per_second"],
            "label_share": shown["label_share"], "label_flips_per_minute": shown["label_flips_per_minute"]}


def compare_runs(root_a: Path, root_b: Path, settings: CompareSettings = CompareSettings()) -> dict[str, Any]:
    """The comparison of run B against run A as a JSON-serialisable dict (see the module docstring); its
    ``regression`` says whether B's agreement regressed."""
    outputs_a, outputs_b = run_outputs(root_a), run_outputs(root_b)
    if len(outputs_a) == 1 and len(outputs_b) == 1:  # one output folder each: the same recording, whatever its name
        outputs_b = {next(iter(outputs_a)): next(iter(outputs_b.values()))}
    names = [name for name in outputs_a if name in outputs_b]
    if not names:
        raise ValueError(f"{root_a} and {root_b} share no recording (paired by output folder name)")
    recordings, pooled_a, pooled_b, counts_a, counts_b = [], [], [], [], []
    for name in names:
        folder_a, folder_b = outputs_a[name], outputs_b[name]
        side_a, side_b = recording_counts(folder_a), recording_counts(folder_b)
        counts_a.append(side_a)
        counts_b.append(side_b)
        people = _paired_people(folder_a, folder_b)
        if people is not None:
            pooled_a.append(people[0])
            pooled_b.append(people[1])
        speed_a, speed_b = _side(side_a)["frames_per_second"], _side(side_b)["frames_per_second"]
        recordings.append({
            "name": name, "a": _side(side_a), "b": _side(side_b),
            "labels": label_differences(load_rows(folder_a / CSV_FILE), load_rows(folder_b / CSV_FILE)),
            "agreement": agreement_change(*people, settings) if people is not None else None,
            "speed_ratio": round(speed_b / speed_a, 3) if speed_a and speed_b else None})
    overall_a, overall_b = sum_counts(counts_a), sum_counts(counts_b)
    agreement = (agreement_change(np.concatenate(pooled_a), np.concatenate(pooled_b), settings)
                 if pooled_a else {"a": None, "b": None, "change": None, "ci": None, "people": 0})
    differing = sum(r["labels"]["differing"] for r in recordings)
    paired = sum(r["labels"]["paired_person_frames"] for r in recordings)
    speed_a, speed_b = _side(overall_a)["frames_per_second"], _side(overall_b)["frames_per_second"]
    regression = bool(agreement["change"] is not None and agreement["change"] < -settings.max_drop
                      and agreement["ci"][1] < 0)
    return {
        "a": str(root_a), "b": str(root_b), "settings": {**settings.__dict__},
        "only_in_a": sorted(set(outputs_a) - set(names)), "only_in_b": sorted(set(outputs_b) - set(names)),
        "overall": {"agreement": agreement, "a": _side(overall_a), "b": _side(overall_b),
                    "paired_person_frames": paired, "differing": differing,
                    "differing_share": round(differing / paired, 4) if paired else None,
                    "speed_ratio": round(speed_b / speed_a, 3) if speed_a and speed_b else None},
        "recordings": recordings,
        "regression": regression,
    }


def _cell(value: Any, percent: bool = False, signed: bool = False) -> str:
    if value is None:
        return "–"
    if percent:
        return f"{100 * value:+.1f} pts" if signed else f"{100 * value:.1f}%"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _agreement_cells(agreement: dict[str, Any] | None) -> list[str]:
    if not agreement or agreement["change"] is None:
        return ["–", "–", "–", "–"]
    low, high = agreement["ci"]
    return [_cell(agreement["a"], True), _cell(agreement["b"], True), _cell(agreement["change"], True, True),
            f"[{100 * low:+.1f}, {100 * high:+.1f}]"]


def markdown(report: dict[str, Any]) -> str:
    settings, overall = report["settings"], report["overall"]
    cues = list(dict.fromkeys(cue for r in report["recordings"] for side in ("a", "b") for cue in r[side]["valid_share"]))
    verdict = ("**REGRESSION**: agreement fell by more than the tolerated "
               f"{100 * settings['max_drop']:g} points and the whole interval lies below zero"
               if report["regression"] else "no regression in agreement "
               f"(tolerated drop {100 * settings['max_drop']:g} points, or an interval reaching zero)")
    header = ["recording", "agreement A", "agreement B", "change", f"{100 * settings['confidence']:g}% interval",
              "labels differ", *(f"{cue} valid A → B" for cue in cues), "frames/s A → B"]

    def line(name: str, entry: dict[str, Any], labels: dict[str, Any]) -> str:
        cells = [name, *_agreement_cells(entry.get("agreement")),
                 f"{_cell(labels['differing_share'], True)} of {labels['paired_person_frames']}",
                 *(f"{_cell(entry['a']['valid_share'].get(cue), True)} → {_cell(entry['b']['valid_share'].get(cue), True)}"
                   for cue in cues),
                 f"{_cell(entry['a']['frames_per_second'])} → {_cell(entry['b']['frames_per_second'])}"]
        return "| " + " | ".join(cells) + " |"

    lines = ["# A/B comparison", "", f"A: `{report['a']}`  ", f"B: `{report['b']}`", "", verdict + ".", "",
             "Agreement: correct over valid fused person-frames against the ground truth; the interval is a paired "
             f"bootstrap over ground-truth people ({settings['resamples']} resamples, seed {settings['seed']}). "
             "Labels are compared on the person-frames both runs have (same frame stamp and track id).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [line(r["name"], r, r["labels"]) for r in report["recordings"]]
    lines.append(line("**all**", overall, {"differing_share": overall["differing_share"],
                                           "paired_person_frames": overall["paired_person_frames"]}))
    for side, key in (("A", "only_in_a"), ("B", "only_in_b")):
        if report[key]:
            lines += ["", f"Only in {side} (not compared): {', '.join(report[key])}."]
    lines += ["", "## Where the labels differ", ""]
    for r in report["recordings"]:
        labels = r["labels"]
        if not labels["differing"]:
            lines.append(f"- `{r['name']}`: the same stable label on every paired person-frame")
            continue
        changes = ", ".join(f"{change} ({count})" for change, count in labels["changes"].items())
        lines.append(f"- `{r['name']}`: {labels['differing']} person-frames: {changes}")
        for span in labels["spans"][:MAX_SPANS]:
            lines.append(f"  - track {span['track_id']}, {span['start_s']:g}–{span['end_s']:g} s "
                         f"({span['frames']} frames): {span['a']} → {span['b']}")
        if len(labels["spans"]) > MAX_SPANS:
            lines.append(f"  - … {len(labels['spans']) - MAX_SPANS} more spans in compare.json")
    return "\n".join(lines) + "\n"


def write_comparison(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """compare.md and compare.json in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = (out_dir / name for name in COMPARE_FILES)
    md.write_text(markdown(report))
    js.write_text(json.dumps(report, indent=2) + "\n")
    return [md, js]
