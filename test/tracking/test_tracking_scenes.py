"""The tracker on the synthetic scene suite (tracking_scenes.py): MOTA, IDF1 and ID switches pinned per kind.

"overall" spans all twelve kinds. The five harder kinds (dense crowds, long occlusions, people at the
borders, a weak detector, a hand-held camera) are pinned with a wider margin: they move most when the tracker
changes, so a change that moves them should be re-measured (bench/bench_tracking.py, which also runs the open
ByteTrack ports on the same detections) and pinned up.

Scenes and tracker are deterministic, so these numbers move only when the tracker's behaviour changes (or
the scene generator, or numpy's random streams: then re-measure with bench/bench_tracking.py and pin
again). The floors sit ``MARGIN`` below the values measured with the fixes in; ID switches may not exceed
the measured counts. Re-pinned (MOTA up on every kind) with confirmation after two hits, births from 0.4 away
from lost tracks, lost tracks recovered on low-score detections and the filtered box reported. Undoing any
one of these fails here, as does undoing an earlier fix (measured on the suite): confirming after three hits
costs 0.008 MOTA overall (0.020 on edges); reporting the detection's box instead 0.007 MOTA overall (0.017
on the weak detector); no recovery of lost tracks on low-score detections 0.007 MOTA overall (0.017 on
dense crowds); births over lost tracks treated like any other 42 ID switches overall (0.021 IDF1 on
pillars); no lost-box size hold 0.008 IDF1 overall (0.021 on crowds and frame drops); no score fusion 8 ID
switches overall.
"""

from __future__ import annotations


import numpy as np
import pytest

from emotion_perception.tracking import ByteTracker, TrackerConfig

from support import tracking_scenes
from support.tracking_scenes import SCENE_KINDS

MEASURED = {  # kind: (MOTA, IDF1, ID switches) with the default TrackerConfig, seeds 0-4
    "crossing": (0.9005, 0.9400, 4),
    "group": (0.8953, 0.9438, 7),
    "pillar": (0.8357, 0.6958, 19),
    "pan": (0.8840, 0.8087, 14),
    "frame_drop": (0.8818, 0.9088, 10),
    "crowd": (0.8385, 0.8414, 47),
    "enter_leave": (0.8961, 0.9323, 2),
    # The harder kinds: floors NEW_KIND_MARGIN below the measured values, ID switches up to 10% more.
    "dense_crowd": (0.7461, 0.7434, 161),
    "long_occlusion": (0.7366, 0.5958, 22),
    "edge": (0.7986, 0.4377, 66),
    "weak_detector": (0.7655, 0.7997, 47),
    "shaky_camera": (0.8649, 0.8598, 9),
    "overall": (0.8163, 0.7989, 408),
}
MARGIN = 0.002
NEW_KIND_MARGIN = 0.01
NEW_KINDS = ("dense_crowd", "long_occlusion", "edge", "weak_detector", "shaky_camera")


@pytest.fixture(scope="module")
def suite() -> list[tracking_scenes.Scene]:
    return tracking_scenes.scene_suite()


@pytest.fixture(scope="module")
def table(suite) -> dict[str, dict]:
    return tracking_scenes.mot_table(suite)


@pytest.mark.parametrize("kind", [*SCENE_KINDS, "overall"])
def test_identity_through_occlusion_does_not_regress(table, kind):
    mota, idf1, switches = MEASURED[kind]
    margin, spare_switches = (NEW_KIND_MARGIN, int(0.1 * switches)) if kind in NEW_KINDS else (MARGIN, 0)
    row = table[kind]
    assert row["mota"] >= mota - margin, tracking_scenes.format_table(table)
    assert row["idf1"] >= idf1 - margin, tracking_scenes.format_table(table)
    assert row["num_switches"] <= switches + spare_switches, tracking_scenes.format_table(table)


def test_lost_tracks_hold_a_plausible_size_in_every_scene(suite):
    """While lost, a track's box keeps its size, within a factor 2 of the last detection it was matched to."""
    checked = 0
    for scene in suite:
        tracker = ByteTracker(TrackerConfig(unproven_hits=1))  # every matched track reported: unreported = lost
        matched_size, held_size = {}, {}
        for frame in scene.frames:
            # A reported person carries the filtered box and the matched detection's score (unique in a scene).
            by_score = {d.score: d.box for d in frame.detections}
            reported = {p.track_id: by_score[p.score] for p in tracker.update(frame.detections, frame.stamp_ns)}
            for track_id, box in tracker.live_boxes.items():
                size = box[2:] - box[:2]
                if track_id in reported:
                    matched_size[track_id] = reported[track_id][2:] - reported[track_id][:2]
                    held_size.pop(track_id, None)
                    continue
                # atol: float32 corners near x = 1300 px resolve 1.2e-4 px (an 8 px wide box at the border)
                np.testing.assert_allclose(size, held_size.setdefault(track_id, size), rtol=1e-5, atol=1e-3)
                ratio = size / matched_size[track_id]
                assert np.all((ratio > 0.4999) & (ratio < 2.0001)), (scene.kind, scene.seed, track_id, ratio)
                checked += 1
    assert checked > 1000


@pytest.mark.slow
def test_the_birth_age_trades_false_tracks_for_late_ones(suite):
    """Each hit fewer to confirm reports people sooner (fewer misses) and confirms more false tracks; the default,
    2, scores best (on the seven kinds seen by a good detector, as byte_tracker.py's docstring measures)."""
    scenes = [scene for scene in suite if scene.kind not in NEW_KINDS]
    rows = {hits: tracking_scenes.mot_table(scenes, lambda: ByteTracker(TrackerConfig(min_hits=hits)))["overall"]
            for hits in (1, 2, 3)}
    assert rows[1]["num_misses"] < rows[2]["num_misses"] < rows[3]["num_misses"]
    assert rows[1]["num_false_positives"] > 2 * rows[2]["num_false_positives"] > 2 * rows[3]["num_false_positives"]
    assert rows[2]["mota"] > max(rows[1]["mota"], rows[3]["mota"])


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
    # Dense crowds: 25-40 people in view at once.
    peaks = [max(sum(v > 0 for v in f.visibility.values()) for f in scene.frames) for scene in by_kind["dense_crowd"]]
    assert all(25 <= peak <= 40 for peak in peaks), peaks
    # Long occlusions: most hiding spells last 40-80 frames, longer than a lost track lives (30 frames).
    gaps = []
    for scene in by_kind["long_occlusion"]:
        for person in {int(i) for f in scene.frames for i in f.truth_ids}:
            detected = np.array([person in f.detection_person for f in scene.frames])
            seen = np.flatnonzero(detected)
            gaps += [g for g in _runs(~detected[seen[0]:seen[-1] + 1]) if g >= 5]
    assert sum(35 <= g <= 85 for g in gaps) >= 0.6 * len(gaps) and len(gaps) >= 15, gaps
    # Edges: a quarter of the ground truth is cut by the image border (people lingering half outside).
    cut = [float(np.any((f.truth_boxes[:, [0, 1]] <= 0) | (f.truth_boxes[:, [2, 3]] >= [1280, 720]), axis=1).mean())
           for scene in by_kind["edge"] for f in scene.frames if len(f.truth_ids)]
    assert np.mean(cut) > 0.2, np.mean(cut)
    # Weak detector: people's scores mostly 0.2-0.7, and runs of several frames where a fully seen person is missed.
    scores, bursts = [], []
    for scene in by_kind["weak_detector"]:
        for frame in scene.frames:
            scores += [d.score for d, owner in zip(frame.detections, frame.detection_person) if owner >= 0]
        for person in {int(i) for f in scene.frames for i in f.truth_ids}:
            missed = np.array([f.visibility.get(person, 0) > 0.9 and person not in f.detection_person
                               for f in scene.frames])
            bursts += _runs(missed)
    assert np.mean((np.array(scores) >= 0.2) & (np.array(scores) <= 0.7)) > 0.8
    assert sum(b >= 3 for b in bursts) >= 50
    # Shaky camera: standing and walking people alike jump up and down between frames.
    for scene in by_kind["shaky_camera"]:
        jumps = [np.median(np.abs(b.truth_boxes[:, 3] - a.truth_boxes[:, 3]))
                 for a, b in zip(scene.frames, scene.frames[1:]) if np.array_equal(a.truth_ids, b.truth_ids)]
        assert max(jumps) > 4
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
