"""ByteTracker on synthetic scenes: ID switches and fragmentation counted against ground truth."""

from dataclasses import dataclass

import numpy as np
import pytest

from emotion_perception.tracking import ByteTracker, TrackerConfig, box_iou, match_by_iou
from emotion_perception.types import Detection

FRAME_NS = 1_000_000_000 // 30


@dataclass
class Walker:
    """A ground-truth person: a 60x150 px box moving at constant velocity during [start, end) frames."""

    x: float
    y: float
    vx: float
    vy: float = 0.0
    start: int = 0
    end: int = 10**9

    def box(self, frame: int) -> np.ndarray:
        cx, cy = self.x + self.vx * frame, self.y + self.vy * frame
        return np.array([cx - 30, cy - 75, cx + 30, cy + 75], dtype=np.float32)


def run_scene(walkers, frames, tracker=None, hidden=lambda person, frame, boxes: False, jitter=0.0,
              miss_rate=0.0, low_score_rate=0.0, seed=0):
    """Feed detections of the visible walkers at the given frame numbers (or range(frames)).

    Returns the id each walker was reported with per frame (0: not reported), the tracker, and the
    (frame, removed_ids) of every update that reported deaths.
    """
    rng = np.random.default_rng(seed)
    tracker = tracker or ByteTracker()
    frames = range(frames) if isinstance(frames, int) else list(frames)
    ids = np.zeros((len(walkers), max(frames) + 1), dtype=int)
    deaths = []
    for frame in frames:
        truth = {i: w.box(frame) for i, w in enumerate(walkers) if w.start <= frame < w.end}
        detections = []
        for person, box in truth.items():
            if hidden(person, frame, truth) or rng.random() < miss_rate:
                continue
            score = 0.3 if rng.random() < low_score_rate else 0.9
            noisy = box + rng.normal(0, jitter, 4).astype(np.float32)
            detections.append(Detection(noisy, score, np.full((17, 3), person, np.float32)))
        tracked = tracker.update(detections, frame * FRAME_NS)
        if tracker.removed_ids:
            deaths.append((frame, tracker.removed_ids))
        for person in tracked:
            # the tracker reports the matched detection's keypoints, which carry the walker's index
            ids[int(person.keypoints_coco[0, 0]), frame] = person.track_id
    return ids, tracker, deaths


def id_switches(track_ids: np.ndarray) -> int:
    """Changes of id between consecutive frames in which the person was reported."""
    seen = track_ids[track_ids > 0]
    return int(np.count_nonzero(np.diff(seen)))


def fragments(track_ids: np.ndarray) -> int:
    """Interruptions: times the person is reported again after unreported frames."""
    reported = track_ids > 0
    first = np.argmax(reported)
    return int(np.count_nonzero(reported[first + 1:] & ~reported[first:-1]))


def test_steady_people_keep_one_id_each_and_ids_start_at_one():
    walkers = [Walker(100 + 150 * i, 200, 1.5) for i in range(4)]
    ids, _, deaths = run_scene(walkers, 60)
    assert all(id_switches(row) == 0 and fragments(row) == 0 for row in ids)
    assert sorted(set(ids[:, -1])) == [1, 2, 3, 4] and deaths == []
    assert not ids[:, 0].any() and ids[:, 1].all()  # reported from the second frame (min_hits = 2)


def test_people_crossing_with_the_rear_one_occluded_keep_their_ids():
    walkers = [Walker(100, 200, 4.0), Walker(500, 205, -4.0)]

    def rear_hidden(person, frame, boxes):
        return person == 1 and len(boxes) == 2 and box_iou(boxes[0], boxes[1])[0, 0] > 0.2

    ids, _, _ = run_scene(walkers, 100, hidden=rear_hidden, jitter=1.0)
    assert ids[0, -1] != ids[1, -1]
    assert [id_switches(row) for row in ids] == [0, 0]
    assert fragments(ids[0]) == 0 and fragments(ids[1]) == 1  # the occluded one comes back with its id


@pytest.mark.parametrize("hidden_frames", [10, 25])
def test_occlusion_shorter_than_the_death_age_keeps_the_id(hidden_frames):
    ids, tracker, _ = run_scene([Walker(100, 200, 3.0)], 40 + hidden_frames,
                                hidden=lambda p, f, b: 10 <= f < 10 + hidden_frames)
    assert id_switches(ids[0]) == 0 and fragments(ids[0]) == 1
    assert tracker.live_ids == [1]


def test_occlusion_longer_than_the_death_age_gives_a_new_id_and_reports_the_death():
    ids, _, deaths = run_scene([Walker(100, 200, 1.0)], 80, tracker=ByteTracker(TrackerConfig(max_lost_seconds=0.5)),
                               hidden=lambda p, f, b: 10 <= f < 40)
    assert deaths == [(25, (1,))]  # last matched at frame 9, more than 0.5 s before frame 25
    assert id_switches(ids[0]) == 1 and set(ids[0][ids[0] > 0]) == {1, 2}


def test_people_entering_and_leaving_get_fresh_ids_and_their_deaths_are_reported():
    walkers = [Walker(100, 200, 2.0, start=0, end=30),     # leaves at x = 160
               Walker(400, 450, -2.0, start=20, end=90),   # another lane
               Walker(40, 200, 2.0, start=60, end=120)]    # enters at x = 160, where the first one left
    ids, _, deaths = run_scene(walkers, 120, tracker=ByteTracker(TrackerConfig(max_lost_seconds=0.5)))
    assert [set(row[row > 0]) for row in ids] == [{1}, {2}, {3}]
    assert deaths == [(45, (1,)), (105, (2,))]
    assert ids[0, 1] == 1 and ids[2, 60] == 0 and ids[2, 61] == 3


def test_jitter_missed_and_low_score_detections_cause_no_switches():
    walkers = [Walker(80 + 110 * i, 150 + 20 * i, 1.0 + 0.3 * i, 0.5) for i in range(5)]
    ids, _, _ = run_scene(walkers, 150, jitter=3.0, miss_rate=0.1, low_score_rate=0.3, seed=1)
    assert sum(id_switches(row) for row in ids) == 0
    assert all(len(set(row[row > 0])) == 1 for row in ids)
    # Missed detections interrupt reporting (a miss is never filled in), but low-score ones do not:
    # the second association stage matches them. Without it, every low-score frame is a miss as well.
    with_low = sum(fragments(row) for row in ids)
    only_high, _, _ = run_scene(walkers, 150, tracker=ByteTracker(TrackerConfig(low_threshold=0.5)),
                                jitter=3.0, miss_rate=0.1, low_score_rate=0.3, seed=1)
    assert with_low < sum(fragments(row) for row in only_high)


def test_dropped_frames_are_bridged_by_the_time_aware_motion_model():
    frames = list(range(10)) + list(range(15, 80, 5))  # then 60 px between calls, boxes 60 px wide
    ids, _, _ = run_scene([Walker(50, 200, 12.0)], frames)
    assert id_switches(ids[0]) == 0 and set(ids[0][ids[0] > 0]) == {1}
    assert ids[0, 75] == 1


def test_ids_are_never_reused_even_after_reset():
    tracker = ByteTracker(TrackerConfig(min_hits=1))
    first = tracker.update([Detection(np.array([0, 0, 50, 100], np.float32), 0.9)], FRAME_NS)
    tracker.reset()
    assert tracker.removed_ids == (1,)
    second = tracker.update([Detection(np.array([0, 0, 50, 100], np.float32), 0.9)], FRAME_NS)
    assert [p.track_id for p in first] == [1] and [p.track_id for p in second] == [2]


def test_malformed_detections_are_dropped_and_counted():
    tracker = ByteTracker(TrackerConfig(min_hits=1))
    bad = [Detection(np.array([10, 10, 5, 50], np.float32), 0.9),
           Detection(np.array([np.nan, 0, 5, 5], np.float32), 0.9),
           Detection(np.array([0, 0, 5, 5], np.float32), float("nan"))]
    good = Detection(np.array([100, 100, 150, 250], np.float32), 0.9)
    people = tracker.update(bad + [good], FRAME_NS)
    assert tracker.dropped_detections == 3 and len(people) == 1
    assert people[0].keypoints_coco is None and people[0].score == pytest.approx(0.9)
    np.testing.assert_array_equal(people[0].box, good.box)


def test_a_repeated_stamp_is_harmless_and_time_going_back_resets_the_tracker():
    walker = Walker(100, 200, 3.0)
    tracker = ByteTracker()
    for frame in range(10):
        tracker.update([Detection(walker.box(frame), 0.9)], frame * FRAME_NS)
    assert [p.track_id for p in tracker.update([Detection(walker.box(9), 0.9)], 9 * FRAME_NS)] == [1]
    assert tracker.time_jumps == 0
    assert tracker.update([Detection(walker.box(0), 0.9)], 0) == []  # the bag starts over
    assert tracker.time_jumps == 1 and tracker.removed_ids == (1,) and tracker.live_ids == []
    ids = [[p.track_id for p in tracker.update([Detection(walker.box(f), 0.9)], f * FRAME_NS)] for f in range(1, 3)]
    assert ids == [[2], [2]]  # born again at the jump (min_hits = 2 with it), with a fresh id


@pytest.mark.parametrize("overrides", [{"min_hits": 0}, {"max_lost_seconds": -1.0}, {"frame_rate": 0.0},
                                       {"max_lost_seconds": 2.0, "time_jump_seconds": 2.0}])
def test_nonsense_settings_raise(overrides):
    with pytest.raises(ValueError):
        ByteTracker(TrackerConfig(**overrides))


def test_births_beyond_max_tracks_are_refused_and_counted():
    tracker = ByteTracker(TrackerConfig(max_tracks=3, min_hits=1))
    detections = [Detection(np.array([100 * i, 0, 100 * i + 50, 100], np.float32), 0.9) for i in range(5)]
    assert len(tracker.update(detections, FRAME_NS)) == 3
    assert tracker.refused_births == 2


def lost_box_sizes(tracker, frames, detections_at):
    """Feed ``detections_at(frame)`` at the given frames; the (width, height) of track 1's box in every
    frame where it is lost (live but not reported)."""
    sizes = []
    for frame in frames:
        reported = [p.track_id for p in tracker.update(detections_at(frame), frame * FRAME_NS)]
        if 1 in tracker.live_ids and 1 not in reported:
            box = tracker.live_boxes[1]
            sizes.append((box[2] - box[0], box[3] - box[1]))
    return np.asarray(sizes)


@pytest.mark.parametrize("frames", [range(80), list(range(41)) + [56, 64, 68]],
                         ids=["every frame", "frames dropped"])
def test_a_lost_track_keeps_its_size(frames):
    # Walking behind a pillar from x = 230: from frame 34 the box shrinks to the part still in view (the
    # filter learns a negative size velocity), from frame 45 the person is hidden. Before the fix the lost
    # box went on shrinking, to 1 px wide within 10 frames, so the person would come back with a new id.
    # With frames dropped, 16 go missing as the person vanishes: that one prediction must not collapse it.
    walker = Walker(100, 200, 3.0)

    def seen_part(frame):
        box = walker.box(frame)
        box[2] = min(box[2], 230.0)
        return [Detection(box, 0.9)] if box[2] - box[0] > 25 else []

    sizes = lost_box_sizes(ByteTracker(), frames, seen_part)
    last_seen = max(f for f in frames if seen_part(f))
    last_width = 230.0 - walker.box(last_seen)[0]
    assert len(sizes) >= 3
    np.testing.assert_allclose(sizes, np.broadcast_to(sizes[0], sizes.shape), rtol=1e-6)  # held while lost
    assert last_width / 2 <= sizes[0, 0] <= last_width * 2 and 150 / 2 <= sizes[0, 1] <= 150 * 2


def test_a_hidden_person_stepping_out_keeps_the_id_when_a_clear_neighbour_overlaps_both_tracks():
    # Taken from a crossing in the scene suite: H was hidden behind N for a few frames (H's track is
    # lost); stepping out, H is detected doubtfully (0.55), boxed around what shows, a box that overlaps
    # N's track more than H's; N is detected clearly. The total IoU of the two pairings differs by 0.03 in
    # favour of the wrong one (N's clear detection on H's track); weighed by score the right one wins.
    hidden_box = np.array([582, 315, 665, 592], np.float32)
    front_box = np.array([567, 329, 663, 606], np.float32)
    front_now = Detection(np.array([565, 332, 665, 593], np.float32), 0.9)
    hidden_now = Detection(np.array([565, 330, 656, 588], np.float32), 0.55)

    def ids_at_step_out(fuse_score):
        tracker = ByteTracker(TrackerConfig(fuse_score=fuse_score))
        for frame in range(10):  # both proven (matched proven_hits = 8 times in a row): reported when matched
            tracker.update([Detection(hidden_box, 0.9), Detection(front_box, 0.9)], frame * FRAME_NS)
        for frame in range(10, 13):
            tracker.update([Detection(front_box, 0.9)], frame * FRAME_NS)
        assert tracker.live_ids == [1, 2]  # H lost, N tracked
        people = tracker.update([front_now, hidden_now], 13 * FRAME_NS)
        return {("hidden" if p.score < 0.7 else "front"): p.track_id for p in people}

    assert ids_at_step_out(fuse_score=True) == {"hidden": 1, "front": 2}
    assert ids_at_step_out(fuse_score=False) == {"hidden": 2, "front": 1}  # by IoU alone: swapped


def test_of_two_detections_on_one_track_the_surer_one_is_taken():
    track = np.array([[100, 100, 160, 250]], np.float32)
    detections = np.array([[103, 100, 163, 250], [99, 104, 161, 254]], np.float32)  # IoU 0.90 and 0.92
    assert match_by_iou(track, detections, 0.2) == [(0, 1)]
    assert match_by_iou(track, detections, 0.2, np.array([0.95, 0.6])) == [(0, 0)]


def test_a_track_past_its_death_age_cannot_match_again():
    tracker = ByteTracker(TrackerConfig(max_lost_seconds=0.5))
    box = np.array([100, 100, 160, 250], np.float32)
    for frame in range(5):
        tracker.update([Detection(box, 0.9)], frame * FRAME_NS)
    assert tracker.live_ids == [1]
    tracker.update([Detection(box, 0.9)], 4 * FRAME_NS + 600_000_000)  # 0.6 s later, same place
    assert tracker.removed_ids == (1,) and tracker.live_ids == [] and tracker.time_jumps == 0


def test_time_leaping_forward_resets_the_tracker():
    walker = Walker(100, 200, 3.0)
    tracker = ByteTracker(TrackerConfig(time_jump_seconds=5.0))
    for frame in range(10):
        tracker.update([Detection(walker.box(frame), 0.9)], frame * FRAME_NS)
    jump_ns = 9 * FRAME_NS + 3600 * 10**9  # a clock set an hour ahead
    assert tracker.update([Detection(walker.box(9), 0.9)], jump_ns) == []
    assert tracker.time_jumps == 1 and tracker.removed_ids == (1,) and tracker.live_ids == []
    ids = [[p.track_id for p in tracker.update([Detection(walker.box(9), 0.9)], jump_ns + f * FRAME_NS)]
           for f in (1, 2)]
    assert ids == [[2], [2]]  # born again at the jump (min_hits = 2 with it), with a fresh id
    tracker.update([Detection(walker.box(9), 0.9)], jump_ns + 2 * FRAME_NS + 4 * 10**9)  # 4 s gap: no jump
    assert tracker.time_jumps == 1 and tracker.removed_ids == (2,)


def test_an_object_the_detector_takes_for_a_person_now_and_then_is_not_reported_once_confirmed():
    # A coat stand detected in 4 frames in a row (so confirmed), then in every third frame: its track never
    # goes unmatched for max_lost_seconds, but it is never proven, so once it has missed it is reported only
    # while matched in 3 of the last 4 updates. A person detected in 2 of every 3 frames is reported in most.
    stand = Detection(np.array([600, 300, 680, 560], np.float32), 0.7)
    walker = Walker(100, 400, 2.0)

    def reported(config, detected):
        tracker, count = ByteTracker(config), 0
        for frame in range(90):
            seen = frame < 3 or detected(frame)
            box = stand if detected is STAND else Detection(walker.box(frame), 0.9)
            count += len(tracker.update([box] if seen else [], frame * FRAME_NS))
        return count

    STAND = lambda frame: frame % 3 == 0  # noqa: E731
    assert reported(TrackerConfig(), STAND) == 3  # from the confirming frame to its first miss only
    assert reported(TrackerConfig(unproven_hits=1), STAND) == 31  # without the check: every detection but the first
    assert reported(TrackerConfig(), lambda frame: frame % 3 != 2) >= 45  # of 60 detections


def test_a_weak_detectors_people_start_tracks_once_its_scores_are_known():
    # A weak pose model's doubtful person scores 0.25, below new_track_threshold (0.4). Once the tracker has
    # reported a person at 0.55 for 10 s, the running mean of its scores (0.56 < score_reference 0.75) lowers the
    # thresholds by the square of that ratio (0.4 x 0.56 = 0.22), and the person at 0.25 starts a track; with
    # fixed thresholds never.
    first, second = Walker(100, 200, 0.5), Walker(700, 200, -0.5, start=300)

    def second_reported(config):
        tracker, frames = ByteTracker(config), 0
        for frame in range(360):
            detections = [Detection(first.box(frame), 0.55)]
            if frame >= second.start:
                detections.append(Detection(second.box(frame), 0.25, np.zeros((17, 3), np.float32)))
            frames += sum(p.keypoints_coco is not None for p in tracker.update(detections, frame * FRAME_NS))
        return frames, tracker.threshold_scale

    frames, scale = second_reported(TrackerConfig())
    assert frames >= 55 and scale < 0.75 ** 2
    assert second_reported(TrackerConfig(score_reference=0.0)) == (0, 1.0)
