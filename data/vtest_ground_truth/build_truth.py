"""Build boxes.csv of this folder from keyframes.yaml (hand-corrected boxes and identities on every 5th
frame), and draw check frames. Run from the repository root with the package's venv:

    .venv/bin/python data/vtest_ground_truth/build_truth.py [--draft] [--draw DIR --frames 0 10 20 ...]

``--draft`` writes the starting point of keyframes.yaml: proposals.csv (MoveNet on the key frames) linked
into identities by nearest box centre, with the Hungarian method. Every person's box is interpolated
linearly between their key frames. See README.md.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np
import yaml
from scipy.optimize import linear_sum_assignment

HERE = Path(__file__).resolve().parent
VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
LINK_DISTANCE = 0.7
"""Largest centre distance between key frames, as a share of the box height, for the same identity."""
KEY_STEP = 5
"""Frames from one key frame to the next; a don't-care box holds that long."""
MISSED_KEYS = 2
"""Key frames an identity may be missed in and still be linked (a walker hidden or not detected briefly)."""


def read_proposals() -> dict[int, list[np.ndarray]]:
    """Key frame -> proposal boxes (x_min, y_min, x_max, y_max, score)."""
    frames: dict[int, list[np.ndarray]] = {}
    with open(HERE / "proposals.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            frames.setdefault(int(row["frame"]), []).append(
                np.array([float(row[k]) for k in ("x_min", "y_min", "x_max", "y_max", "score")]))
    return frames


def box_centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def link(proposals: dict[int, list[np.ndarray]], min_score: float) -> dict[int, dict[int, np.ndarray]]:
    """Key frame -> {identity: box}, identities numbered in order of appearance."""
    linked: dict[int, dict[int, np.ndarray]] = {}
    keys = sorted(proposals)
    next_id = 1
    for position, frame in enumerate(keys):
        recent = keys[max(0, position - MISSED_KEYS - 1):position]
        previous = {person: box for key in recent for person, box in linked[key].items()}  # latest box wins
        boxes = [p[:4] for p in proposals[frame] if p[4] >= min_score]
        ids = list(previous)
        current: dict[int, np.ndarray] = {}
        if ids and boxes:
            cost = np.array([[np.linalg.norm(box_centre(previous[i]) - box_centre(b))
                              / (previous[i][3] - previous[i][1]) for b in boxes] for i in ids])
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] <= LINK_DISTANCE:
                    current[ids[r]] = boxes[c]
        for box in boxes:
            if not any(box is b for b in current.values()):
                current[next_id] = box
                next_id += 1
        linked[frame] = current
    return linked


def interpolate_track(keys: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Every frame from the first key to the last, linearly between consecutive keys."""
    frames = sorted(keys)
    boxes = {}
    for a, b in zip(frames, frames[1:]):
        for frame in range(a, b):
            t = (frame - a) / (b - a)
            boxes[frame] = (1 - t) * keys[a] + t * keys[b]
    boxes[frames[-1]] = keys[frames[-1]]
    return boxes


def read_keyframes() -> tuple[dict[int, dict[int, np.ndarray]], dict[int, list[np.ndarray]]]:
    """keyframes.yaml: frame -> {person: box} (person 0: a list of don't-care boxes)."""
    keys = yaml.safe_load((HERE / "keyframes.yaml").read_text())
    people = {int(f): {int(p): np.array(b, float) for p, b in entry.items() if int(p)} for f, entry in keys.items()}
    dont_care = {int(f): [np.array(b, float) for b in entry.get(0, [])] for f, entry in keys.items()}
    return people, dont_care


def write_draft(linked: dict[int, dict[int, np.ndarray]]) -> None:
    """keyframes.yaml from the linked proposals: the starting point of the hand correction."""
    with open(HERE / "keyframes.yaml", "w") as handle:
        for frame in sorted(linked):
            handle.write(f"{frame}:\n")
            for person, box in sorted(linked[frame].items()):
                handle.write(f"  {person}: [{', '.join(f'{v:.0f}' for v in box)}]\n")


def build(clip: dict) -> tuple[dict[int, dict[int, np.ndarray]], dict[int, list[np.ndarray]]]:
    """Every frame of the clip: each identity interpolated between its key frames; don't-care boxes held
    for KEY_STEP frames from their key frame."""
    keys, dont_care_keys = read_keyframes()
    tracks: dict[int, dict[int, np.ndarray]] = {}
    for frame, people in keys.items():
        for person, box in people.items():
            tracks.setdefault(person, {})[frame] = box
    people_by_frame: dict[int, dict[int, np.ndarray]] = {}
    for person, track in tracks.items():
        for frame, box in interpolate_track(track).items():
            if clip["first_frame"] <= frame <= clip["last_frame"]:
                people_by_frame.setdefault(frame, {})[person] = box
    dont_care = {}
    for frame in range(clip["first_frame"], clip["last_frame"] + 1):
        held = [k for k, boxes in dont_care_keys.items() if boxes and 0 <= frame - k < KEY_STEP]
        if held:
            dont_care[frame] = dont_care_keys[max(held)]
    return people_by_frame, dont_care


def write(people: dict[int, dict[int, np.ndarray]], dont_care: dict[int, list[np.ndarray]]) -> None:
    with open(HERE / "boxes.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "person", "x_min", "y_min", "x_max", "y_max"])
        for frame in sorted(set(people) | set(dont_care)):
            rows = [*sorted(people.get(frame, {}).items()), *((0, box) for box in dont_care.get(frame, []))]
            for person, box in rows:
                writer.writerow([frame, person, *(f"{v:.0f}" for v in box)])


def draw(people, dont_care, frames: list[int], out: Path) -> None:
    """Check frames at full size: identities in colour with their number, don't-care boxes in grey."""
    out.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(VIDEO))
    for index in range(max(frames) + 1):
        ok, image = capture.read()
        if not ok or index not in frames:
            continue
        for person, box in people.get(index, {}).items():
            colour = tuple(int(c) for c in np.random.default_rng(person).integers(60, 256, 3))
            cv2.rectangle(image, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), colour, 2)
            cv2.putText(image, str(person), (int(box[0]), int(box[1]) - 3), 0, 0.6, colour, 2)
        for box in dont_care.get(index, []):
            cv2.rectangle(image, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), (128, 128, 128), 1)
        for x in range(0, image.shape[1], 50):  # a 50 px grid to read coordinates off
            cv2.line(image, (x, 0), (x, 8), (255, 255, 255), 1)
            cv2.putText(image, str(x), (x + 1, 18), 0, 0.3, (255, 255, 255), 1)
        for y in range(0, image.shape[0], 50):
            cv2.line(image, (0, y), (8, y), (255, 255, 255), 1)
            cv2.putText(image, str(y), (10, y + 4), 0, 0.3, (255, 255, 255), 1)
        cv2.putText(image, f"frame {index}", (650, 410), 0, 0.6, (0, 0, 255), 2)
        cv2.imwrite(str(out / f"frame_{index:04d}.png"), image[:420])  # below, the lawn: nobody walks there


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draft", action="store_true", help="write keyframes.yaml from proposals.csv (overwrites "
                                                            "the hand corrections!)")
    parser.add_argument("--min-score", type=float, default=0.2, help="least proposal score in the draft")
    parser.add_argument("--draw", type=Path, help="folder for check frames")
    parser.add_argument("--frames", type=int, nargs="*", default=[], help="frames to draw")
    args = parser.parse_args()
    if args.draft:
        write_draft(link(read_proposals(), args.min_score))
    clip = yaml.safe_load((HERE / "clip.yaml").read_text())
    people, dont_care = build(clip)
    write(people, dont_care)
    counts = [len(people.get(f, {})) for f in range(clip["first_frame"], clip["last_frame"] + 1)]
    print(f"boxes.csv: {sum(counts)} person boxes, {len({p for f in people.values() for p in f})} identities, "
          f"{min(counts)}-{max(counts)} people per frame")
    if args.draw:
        draw(people, dont_care, args.frames, args.draw)


if __name__ == "__main__":
    main()
