"""Hand-checked person boxes and identities on real footage, and the MOT scores of reported tracks on them.

The data (data/vtest_ground_truth/, installed with the package; its README says how it was made) is a
``boxes.csv`` with the columns ``frame, person, x_min, y_min, x_max, y_max`` (frame: index in the video,
person: identity >= 1, or 0 for a "don't care" box around someone too small or too hidden to ask a
detector for) and a ``clip.yaml`` naming the video, its rate and the frame range.

Scoring (CLEAR-MOT and IDF1 with motmetrics, a track matching a person at box IoU >= 0.5; motmetrics'
own distance helpers break on numpy 2, so the IoU matrix is ours as in test/support/tracking_scenes.py): reported
boxes that match nobody but lie mostly inside a don't-care box are left out rather than counted false.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..runtime.paths import share_dir
from ..tracking import box_iou

VTEST_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
"""OpenCV's pedestrian sample (768x576, 10 fps, 795 frames) where Debian's opencv-doc installs it."""
MATCH_IOU = 0.5
DONT_CARE_COVER = 0.5
"""A reported box with at least this share of its area inside a don't-care box is ignored when unmatched."""
MOT_METRICS = ("mota", "idf1", "num_switches", "num_false_positives", "num_misses", "num_objects")


@dataclass
class BoxTruth:
    """People's boxes per frame of one clip of a video."""

    video: str
    """The video's file name (e.g. vtest.avi); where it is installed is the caller's to know."""
    fps: float
    first_frame: int
    last_frame: int
    """Inclusive range of annotated frames (every frame in it is annotated, empty ones included)."""
    people: dict[int, dict[int, np.ndarray]]
    """Frame -> {person id: (4,) xyxy box [px]}."""
    dont_care: dict[int, np.ndarray]
    """Frame -> (K, 4) boxes of people not counted."""
    note: str = ""

    @property
    def frames(self) -> range:
        return range(self.first_frame, self.last_frame + 1)

    def count(self, frame: int) -> int:
        return len(self.people.get(frame, {}))


def default_box_truth_dir() -> Path:
    """The installed data/vtest_ground_truth."""
    return share_dir() / "data" / "vtest_ground_truth"


def load_box_truth(directory: str | Path | None = None) -> BoxTruth:
    """Read ``clip.yaml`` and ``boxes.csv`` of ``directory`` (default: the installed vtest ground truth)."""
    directory = Path(directory) if directory else default_box_truth_dir()
    clip = yaml.safe_load((directory / "clip.yaml").read_text())
    people: dict[int, dict[int, np.ndarray]] = {}
    dont_care: dict[int, list[np.ndarray]] = {}
    with open(directory / "boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            frame, person = int(row["frame"]), int(row["person"])
            box = np.array([float(row[k]) for k in ("x_min", "y_min", "x_max", "y_max")], np.float32)
            if person:
                people.setdefault(frame, {})[person] = box
            else:
                dont_care.setdefault(frame, []).append(box)
    return BoxTruth(video=clip["video"], fps=float(clip["fps"]), first_frame=int(clip["first_frame"]),
                    last_frame=int(clip["last_frame"]), people=people,
                    dont_care={frame: np.stack(boxes) for frame, boxes in dont_care.items()},
                    note=str(clip.get("note", "")))


def _covered(boxes: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Per box, whether DONT_CARE_COVER of its area lies inside one of ``regions``."""
    if len(boxes) == 0 or len(regions) == 0:
        return np.zeros(len(boxes), bool)
    top_left = np.maximum(boxes[:, None, :2], regions[None, :, :2])
    bottom_right = np.minimum(boxes[:, None, 2:], regions[None, :, 2:])
    inside = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area = np.maximum(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1), 1e-9)
    return (inside / area[:, None]).max(axis=1) >= DONT_CARE_COVER


def mot_scores(truth: BoxTruth, reported: dict[int, list[tuple[int, np.ndarray]]],
               frames: Iterable[int] | None = None) -> dict[str, Any]:
    """MOT metrics of ``reported`` (frame -> [(track id, xyxy box)], frames of the clip missing from it
    reported nobody) against ``truth`` over ``frames`` (default: every frame of the clip; a live node is
    scored over the frames it answered), and how long each person took to be reported after entering.

    ``seconds_to_report``: per person who entered after the clip's first frame, the time from their first
    annotated frame to the first frame a reported box matched them (None: never reported).
    """
    try:
        import motmetrics  # a test and bench requirement (requirements/test.txt), not the node's
    except ImportError as exc:
        raise RuntimeError("MOT scores need motmetrics: pip install motmetrics") from exc

    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    first_seen: dict[int, int] = {}
    first_reported: dict[int, int] = {}
    for frame in truth.frames if frames is None else sorted(set(frames) & set(truth.frames)):
        ids = list(truth.people.get(frame, {}))
        truth_boxes = np.array([truth.people[frame][i] for i in ids], np.float64).reshape(-1, 4)
        tracks = reported.get(frame, [])
        boxes = np.array([box for _, box in tracks], np.float64).reshape(-1, 4)
        iou = box_iou(truth_boxes, boxes)
        matched_any = (iou >= MATCH_IOU).any(axis=0)
        kept = matched_any | ~_covered(boxes, truth.dont_care.get(frame, np.zeros((0, 4))))
        iou = iou[:, kept]
        accumulator.update(ids, [track for (track, _), keep in zip(tracks, kept) if keep],
                           np.where(iou >= MATCH_IOU, 1.0 - iou, np.nan))
        for row, person in enumerate(ids):
            first_seen.setdefault(person, frame)
            if person not in first_reported and (iou[row] >= MATCH_IOU).any():
                first_reported[person] = frame
    summary = motmetrics.metrics.create().compute(accumulator, metrics=list(MOT_METRICS), name="clip")
    scores: dict[str, Any] = {name: float(summary.loc["clip", name]) for name in MOT_METRICS}
    entered = {person: frame for person, frame in first_seen.items() if frame > truth.first_frame}
    scores["seconds_to_report"] = {
        person: None if person not in first_reported else round((first_reported[person] - frame) / truth.fps, 2)
        for person, frame in sorted(entered.items())}
    delays = [delay for delay in scores["seconds_to_report"].values() if delay is not None]
    scores["median_seconds_to_report"] = float(np.median(delays)) if delays else None
    scores["people"] = len(first_seen)
    return scores


def format_scores(scores: dict[str, Any]) -> str:
    """One line of the scores, for the demo, the bench and the docs."""
    entered = scores["seconds_to_report"]
    never = sum(delay is None for delay in entered.values())
    median = scores["median_seconds_to_report"]
    return (f"MOTA {scores['mota']:.3f}  IDF1 {scores['idf1']:.3f}  ID switches {scores['num_switches']:.0f}  "
            f"FP {scores['num_false_positives']:.0f}  FN {scores['num_misses']:.0f} of {scores['num_objects']:.0f}  "
            f"entering->reported median {'-' if median is None else f'{median:.1f} s'} over {len(entered)} "
            f"people who entered ({never} never)")
