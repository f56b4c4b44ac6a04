"""The aggregate report of a fleet run: fleet.json, fleet.md and plots beside the recordings' output folders.

Per recording and over all of them: agreement with the ground truth where a recording has one (the correct
over the valid fused person-frames of its scoring, pooled over recordings), the stable labels' shares of the
valid person-frames, stable-label flips per person-minute, the share of person-frames with a valid result per
cue and fused, frames processed per second of a worker's time, and the recordings that failed with their error.
Everything is read back from each folder's summary.json and people.csv, so skipped recordings count too.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

from ..labels import EMOTIONS
from .report import CSV_FILE, SUMMARY_FILE
from .scoring import LABEL_COLOURS, cue_names, load_rows

REPORT_FILES = {"markdown": "fleet.md", "json": "fleet.json", "agreement": "fleet_agreement.png",
                "labels": "fleet_labels.png"}


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def recording_counts(folder: Path) -> dict[str, Any]:
    """The additive counts of one recording's output (summed over recordings for the overall figures)."""
    summary = json.loads((folder / SUMMARY_FILE).read_text())
    rows = load_rows(folder / CSV_FILE)
    cues = [*cue_names(rows), "fused"]
    valid = [row for row in rows if row.get("fused_valid")]
    people = summary.get("people", {}).values()
    scoring = summary.get("scoring")
    fleet = summary.get("fleet", {})
    return {
        "frames": summary.get("frames", {}).get("images", 0), "processed_frames": summary.get("frames", {}).get("processed", 0),
        "seconds": fleet.get("seconds"), "people": len(summary.get("people", {})), "person_frames": len(rows),
        "valid": {cue: sum(bool(row.get(f"{cue}_valid")) for row in rows) for cue in cues},
        "labels": dict(collections.Counter(row["fused_emotion"] for row in valid)),
        "label_flips": sum(person["label_flips"] for person in people),
        "person_seconds": sum(person["seconds"] for person in people),
        "scored_valid_frames": scoring["overall"]["valid_frames"] if scoring else None,
        "scored_correct_frames": sum(person["correct_frames"] for person in scoring["people"]) if scoring else None,
    }


def measures(counts: dict[str, Any]) -> dict[str, Any]:
    """Shares and rates from counts (:func:`recording_counts`, or their sum)."""
    valid_labels = sum(counts["labels"].values())
    seconds = counts["seconds"]
    return {
        "agreement": _share(counts["scored_correct_frames"] or 0, counts["scored_valid_frames"] or 0),
        "scored_valid_frames": counts["scored_valid_frames"],
        "label_share": {label: _share(counts["labels"].get(label, 0), valid_labels)
                        for label in [*EMOTIONS, *sorted(set(counts["labels"]) - set(EMOTIONS))]
                        if counts["labels"].get(label)},
        "label_flips_per_minute": round(counts["label_flips"] / (counts["person_seconds"] / 60.0), 3)
        if counts["person_seconds"] else None,
        "valid_share": {cue: _share(n, counts["person_frames"]) for cue, n in counts["valid"].items()},
        "frames_per_second": round(counts["processed_frames"] / seconds, 3) if seconds else None,
    }


def sum_counts(all_counts: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"valid": collections.Counter(), "labels": collections.Counter()}
    for counts in all_counts:
        for key, value in counts.items():
            if isinstance(value, dict):
                total[key].update(value)
            elif value is not None:
                total[key] = total.get(key, 0) + value
    for key in ("scored_valid_frames", "scored_correct_frames", "seconds"):
        total.setdefault(key, None)
    return {key: dict(value) if isinstance(value, collections.Counter) else value for key, value in total.items()}


def fleet_report(out_root: Path, results: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    """The report as a JSON-serialisable dict: ``run``, ``overall``, ``recordings`` (one entry per recording, in
    the given order) and ``failures``."""
    entries, all_counts = [], []
    for result in results:
        entry = {key: result[key] for key in ("name", "path", "kind", "status", "out")}
        if result["status"] != "failed":
            counts = recording_counts(Path(result["out"]))
            all_counts.append(counts)
            entry.update(counts=counts, **measures(counts))
        else:
            entry["error"] = result["error"]
        entries.append(entry)
    overall = sum_counts(all_counts) if all_counts else None
    return {"run": run, "overall": {"counts": overall, **measures(overall)} if overall else None, "recordings": entries,
            "failures": [{"name": e["name"], "path": e["path"], "error": e["error"]} for e in entries if e["status"] == "failed"]}


def _cell(value: Any, percent: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}%" if percent else f"{value:g}" if isinstance(value, float) else str(value)


def _labels_cell(shares: dict[str, float]) -> str:
    return " · ".join(f"{label} {_cell(share, True)}" for label, share in shares.items()) or "–"


def markdown(report: dict[str, Any], images: list[str]) -> str:
    run, overall = report["run"], report["overall"]
    done = [e for e in report["recordings"] if e["status"] != "failed"]
    cues = list(dict.fromkeys(cue for e in done for cue in e["valid_share"]))
    engine = (f"Ray ({_cell(run.get('cluster_cpus'))} CPUs, {_cell(run.get('task_cpus'))} CPU and "
              f"{_cell(run.get('task_gpus'))} GPU per recording)" if run["engine"] == "ray"
              else f"{run.get('jobs', 0)} local worker processes")
    lines = ["# Fleet run", "",
             f"{run['recordings']} recordings: {run['processed']} processed, {run['skipped']} skipped (already processed "
             f"with the same settings, models and version), {run['failed']} failed; {run['wall_seconds']:g} s on "
             f"{engine}.", "",
             "Agreement: correct over valid fused person-frames against the recording's ground truth (where it has "
             "one), pooled. Shares are of person-frames; flips are of the stable label per person-minute; frames per "
             "second are per worker.", ""]
    header = ["recording", "kind", "status", "frames", "frames/s", "people", "person-frames", "agreement (valid)",
              *(f"{cue} valid" for cue in cues), "flips/min", "labels"]

    def row(name: str, kind: str, status: str, e: dict[str, Any]) -> str:
        counts = e["counts"]
        agreement = (f"{_cell(e['agreement'], True)} ({counts['scored_valid_frames']})"
                     if counts["scored_valid_frames"] is not None else "–")
        cells = [name, kind, status, counts["frames"], _cell(e["frames_per_second"]), counts["people"],
                 counts["person_frames"], agreement, *(_cell(e["valid_share"].get(cue), True) for cue in cues),
                 _cell(e["label_flips_per_minute"]), _labels_cell(e["label_share"])]
        return "| " + " | ".join(str(cell) for cell in cells) + " |"

    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += [row(e["name"], e["kind"], e["status"], e) for e in done]
    if overall:
        table.append(row("**all**", "", "", overall))
    lines += ["## Recordings", "", *table, ""]
    if report["failures"]:
        lines += ["## Failures", "", *(f"- `{f['name']}` ({f['path']}): {f['error']}" for f in report["failures"]), ""]
    lines += [f"![{image}]({image})" for image in images]
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_agreement(report: dict[str, Any], path: Path) -> Path:
    """Per recording: agreement (where scored) and each cue's valid share, as grouped bars."""
    plt = _pyplot()
    done = [e for e in report["recordings"] if e["status"] != "failed"]
    series = {"agreement": [e["agreement"] for e in done]}
    for cue in dict.fromkeys(cue for e in done for cue in e["valid_share"]):
        series[f"{cue} valid"] = [e["valid_share"].get(cue) for e in done]
    figure, axes = plt.subplots(figsize=(max(5.0, 0.9 * len(done) * len(series) / 2 + 2), 3.6))
    width = 0.8 / len(series)
    for index, (name, values) in enumerate(series.items()):
        axes.bar([i + index * width for i in range(len(done))], [v if v is not None else 0.0 for v in values],
                 width, label=name)
    axes.set_xticks([i + 0.4 - width / 2 for i in range(len(done))], [e["name"] for e in done], rotation=30,
                    ha="right", fontsize=8)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("share")
    axes.legend(fontsize=7, ncol=len(series), loc="upper center", bbox_to_anchor=(0.5, 1.18), frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def plot_labels(report: dict[str, Any], path: Path) -> Path:
    """Per recording: the stable labels' shares of the valid person-frames, stacked."""
    plt = _pyplot()
    done = [e for e in report["recordings"] if e["status"] != "failed"]
    seen = {label for e in done for label in e["label_share"]}
    labels = [label for label in EMOTIONS if label in seen] + sorted(seen - set(EMOTIONS))
    figure, axes = plt.subplots(figsize=(max(5.0, 0.6 * len(done) + 2), 3.4))
    bottom = [0.0] * len(done)
    for label in labels:
        values = [e["label_share"].get(label) or 0.0 for e in done]
        axes.bar(range(len(done)), values, bottom=bottom, label=label, color=LABEL_COLOURS.get(label))
        bottom = [b + v for b, v in zip(bottom, values)]
    axes.set_xticks(range(len(done)), [e["name"] for e in done], rotation=30, ha="right", fontsize=8)
    axes.set_ylim(0, 1.0)
    axes.set_ylabel("share of valid person-frames")
    axes.legend(fontsize=7, ncol=max(1, len(labels)), loc="upper center", bbox_to_anchor=(0.5, 1.16), frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def write_fleet_report(out_root: Path, results: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    """fleet.json, fleet.md and the plots in ``out_root``; returns the report (:func:`fleet_report`)."""
    out_root = Path(out_root)
    report = fleet_report(out_root, results, run)
    images = []
    if any(e["status"] != "failed" for e in report["recordings"]):
        images = [plot_agreement(report, out_root / REPORT_FILES["agreement"]).name,
                  plot_labels(report, out_root / REPORT_FILES["labels"]).name]
    report["files"] = [REPORT_FILES["markdown"], REPORT_FILES["json"], *images]
    (out_root / REPORT_FILES["markdown"]).write_text(markdown(report, images))
    (out_root / REPORT_FILES["json"]).write_text(json.dumps(report, indent=2) + "\n")
    return report
