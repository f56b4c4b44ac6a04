"""The tracker on the synthetic scene suite (tracking_scenes.py): MOTA, IDF1 and ID switches pinned per kind.

Scenes and tracker are deterministic, so these numbers move only when the tracker's behaviour changes (or
the scene generator, or numpy's random streams: then re-measure with bench/bench_tracking.py and pin
again). The floors sit ``MARGIN`` below the values measured with the fixes in; ID switches may not exceed
the measured counts. Measured when pinning: undoing the lost-box size hold costs 0.010 IDF1 overall, 0.061
on pillars, 0.008-0.014 on crowds, frame drops and entering/leaving; undoing score fusion costs 0.0025
IDF1 on crowds and one ID switch on groups. Each fails here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from emotion_perception.tracking import ByteTracker, TrackerConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tracking_scenes  # noqa: E402
from tracking_scenes import SCENE_KINDS  # noqa: E402

MEASURED = {  # kind: (MOTA, IDF1, ID switches) with the default TrackerConfig, seeds 0-4
    "crossing": (0.8846, 0.9238, 4),
    "group": (0.8659, 0.9284, 8),
    "pillar": (0.7810, 0.6907, 16),
    "pan": (0.8575, 0.7972, 15),
    "frame_drop": (0.8437, 0.8911, 9),
    "crowd": (0.8042, 0.8443, 32),
    "enter_leave": (0.8640, 0.9284, 0),
    "overall": (0.8385, 0.8641, 84),
}
MARGIN = 0.002


@pytest.fixture(scope="module")
def suite() -> list[tracking_scenes.Scene]:
    return tracking_scenes.scene_suite()


@pytest.fixture(scope="module")
def table(suite) -> dict[str, dict]:
    return tracking_scenes.mot_table(suite)


@pytest.mark.parametrize("kind", [*SCENE_KINDS, "overall"])
def test_identity_through_occlusion_does_not_regress(table, kind):
    mota, idf1, switches = MEASURED[kind]
    row = table[kind]
    assert row["mota"] >= mota - MARGIN, tracking_scenes.format_table(table)
    assert row["idf1"] >= idf1 - MARGIN, tracking_scenes.format_table(table)
    assert row["num_switches"] <= switches, tracking_scenes.format_table(table)


def test_lost_tracks_hold_a_plausible_size_in_every_scene(suite):
    """While lost, a track's box keeps its size, within a factor 2 of the last box it was matched to."""
    checked = 0
    for scene in suite:
        tracker = ByteTracker()
        matched_size, held_size = {}, {}
        for frame in scene.frames:
            reported = {p.track_id: p.box for p in tracker.update(frame.detections, frame.stamp_ns)}
            for track_id, box in tracker.live_boxes.items():
                size = box[2:] - box[:2]
                if track_id in reported:
                    matched_size[track_id] = reported[track_id][2:] - reported[track_id][:2]
                    held_size.pop(track_id, None)
                    continue
                np.testing.assert_allclose(size, held_size.setdefault(track_id, size), rtol=1e-5)
                ratio = size / matched_size[track_id]
                assert np.all((ratio > 0.4999) & (ratio < 2.0001)), (scene.kind, scene.seed, track_id, ratio)
                checked += 1
    assert checked > 1000


@pytest.mark.slow
def test_the_birth_age_trades_false_tracks_for_late_ones(suite, table):
    """min_hits = 2 reports people sooner (fewer misses) and confirms more false tracks than 3; 4 the reverse."""
    rows = {hits: tracking_scenes.mot_table(suite, lambda: ByteTracker(TrackerConfig(min_hits=hits)))["overall"]
            for hits in (2, 4)}
    rows[3] = table["overall"]
    assert rows[2]["num_misses"] < rows[3]["num_misses"] < rows[4]["num_misses"]
    assert rows[2]["num_false_positives"] > 1.5 * rows[3]["num_false_positives"]
    assert rows[4]["num_false_positives"] < rows[3]["num_false_positives"]
    assert rows[3]["mota"] > rows[2]["mota"]  # the default, 3: clutter costs more than the frame of delay


def test_scenes_are_reproducible_and_seeds_differ():
    first, again, other = (tracking_scenes.make_scene("crossing", seed) for seed in (0, 0, 1))

    def fingerprint(scene):
        return [(f.stamp_ns, f.truth_ids.tolist(), f.truth_boxes.tolist(), [d.box.tolist() for d in f.detections],
                 [d.score for d in f.detections]) for f in scene.frames]

    assert fingerprint(first) == fingerprint(again) != fingerprint(other)


def _runs(flags: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a boolean sequence."""
    edges = np.diff(np.concatenate([[0], flags.astype(int), [0]]))
    return (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).tolist()


def test_each_kind_of_scene_holds_what_it_is_named_for(suite):
    by_kind = {kind: [s for s in suite if s.kind == kind] for kind in SCENE_KINDS}
    # Pillars: people go undetected for 10-40 frames between detections.
    gaps = []
    for scene in by_kind["pillar"]:
        for person in {int(i) for f in scene.frames for i in f.truth_ids}:
            detected = np.array([person in f.detection_person for f in scene.frames])
            seen = np.flatnonzero(detected)
            gaps += [g for g in _runs(~detected[seen[0]:seen[-1] + 1]) if g >= 5]
    assert sum(10 <= g <= 40 for g in gaps) >= 0.6 * len(gaps) and len(gaps) >= 15
    # Crowds: 10-20 people in view at once.
    peaks = [max(sum(v > 0 for v in f.visibility.values()) for f in scene.frames) for scene in by_kind["crowd"]]
    assert all(10 <= peak <= 20 for peak in peaks)
    # Frame drops: irregular stamps, often several frame periods apart.
    steps = np.concatenate([np.diff([f.stamp_ns for f in s.frames]) for s in by_kind["frame_drop"]]) * 30e-9
    assert np.median(steps) >= 2 and steps.max() >= 8 and len(np.unique(steps)) > 100
    # Pan: everybody's box moves, standing people too: the median shift of the truth boxes is large.
    pan = by_kind["pan"][0]
    shifts = [np.median(np.abs(b.truth_boxes[:, 0] - a.truth_boxes[:, 0]))
              for a, b in zip(pan.frames, pan.frames[1:]) if np.array_equal(a.truth_ids, b.truth_ids)]
    assert max(shifts) > 8
    # Entering and leaving: people appear after the start and disappear before the end.
    for scene in by_kind["enter_leave"]:
        first_seen = {int(i): n for n, f in reversed(list(enumerate(scene.frames))) for i in f.truth_ids}
        assert max(first_seen.values()) > 30
    # Everywhere: false positives, and people partly hidden score lower than people in full view.
    for scene in suite:
        owners = np.concatenate([f.detection_person for f in scene.frames])
        assert (owners < 0).any()
    scores = {True: [], False: []}
    for scene in by_kind["crossing"] + by_kind["group"]:
        for frame in scene.frames:
            for detection, owner in zip(frame.detections, frame.detection_person):
                if owner >= 0:
                    scores[frame.visibility[int(owner)] > 0.95].append(detection.score)
    assert np.mean(scores[False]) < np.mean(scores[True]) - 0.1
