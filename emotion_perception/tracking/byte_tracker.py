"""Multi-person tracking in the ByteTrack manner (Zhang et al., 2022), on boxes only.

Each update: every track's Kalman filter predicts to the new stamp; confirmed and lost tracks are
matched to high-score detections (Hungarian assignment on IoU x detection score, see below); confirmed
tracks still unmatched, then lost ones, get a second chance against the low-score detections at a stricter
IoU (people partly occluded or blurred score low, and so does a hidden person coming back into view);
tentative tracks are matched to the remaining detections (high or low score); detections left over that
reach the birth threshold start tentative tracks. A tentative track is confirmed after ``min_hits``
consecutive matches (and only then receives an id); it dies at its first miss. A confirmed track that misses
becomes lost, holds its box size (a hidden person does not shrink; see kalman.py) and dies after
``max_lost_seconds`` without a match; one lost longer may not match any more. Ids start at 1 and are never
reused within a tracker's life. A reported person carries the track's filtered box (steadier than one
detection's, and whole where a partly hidden person's detection boxes only what is visible) with the matched
detection's score and keypoints.

Births next to a lost track: a detection overlapping a lost track's box is more likely that hidden person
reappearing, boxed badly, than somebody new. Such a detection starts a track only if it scores at least
``high_threshold`` (anywhere else ``new_track_threshold`` is enough), and that track needs one hit more to be
confirmed, which gives the lost track a frame to claim it. Treating these births like any other costs 42
ID switches on the scene suite below (0.021 IDF1 on the pillar scenes).

Score fusion (``fuse_score``, as ByteTrack does outside MOT20): the first association maximises the sum
of IoU x score rather than of IoU. A partly hidden person's detection is both doubtful and badly boxed
(it covers what is visible), so its overlaps count for less than a clear detection's; by IoU alone, such
a box could push a clear neighbour's detection onto the hidden person's track. A pair still needs
IoU >= ``match_iou``.

Birth age (``min_hits``) trades false tracks against late ones. On the 35 synthetic sequences of
test/support/tracking_scenes.py seen by a good detector (with clutter, and objects a detector keeps taking for
a person): 1 hit misses 4% fewer people than 2 but reports 2.2 times the false positives (MOTA 0.855 against
0.870); 3 hits report 15% fewer false positives for 8% more misses (MOTA 0.864). The default is 2 (over all
twelve kinds: MOTA 0.807 / 0.816 / 0.808 for 1 / 2 / 3). It counts frames, so a slow camera pays more time
per hit.

Intermittent tracks (``proven_hits``, ``unproven_hits``, ``unproven_window``): a static object that a detector
takes for a person in a third of the frames (a coat stand) eventually gets ``min_hits`` matches in a row, and
once confirmed it never stays unmatched for ``max_lost_seconds``, so it would be reported for the rest of
the scene. A track is *proven* once it has been matched ``proven_hits`` times in a row; until then, once it
has missed a frame, it is reported only in updates where it was matched in ``unproven_hits`` of the last
``unproven_window`` (a person seen by the detector passes at once, the intermittent object rarely). A
track that has not missed since its birth is reported, so the rule does not delay confirmation. On the scene
suite this halved the false positives (1326 -> 665) for 0.6% more misses, with no kind worse on MOTA, IDF1
or ID switches.

Thresholds that follow the detector (``score_reference``): the score thresholds are set for a detector whose
matched person detections score about ``score_reference`` on average. The tracker keeps a running mean of
the scores it reports (``SCORE_LEVEL_RATE`` per detection); while that mean is lower (a weak pose model
whose people score 0.2-0.7), ``high_threshold`` and ``new_track_threshold`` scale down by the square of the
ratio, so its people can still start and keep tracks. The square, because the thresholds sit below the
mean and a weak detector's doubtful detections fall further below it: by the ratio alone the weak-detector
scenes' thresholds came to 0.40 / 0.44 with its people's mean at 0.60 (MOTA 0.713, IDF1 0.727, 42 ID
switches); squared, 0.32 / 0.35 (0.735, 0.783, 35); cubed, more ID switches (59) (measured with births from
0.55). A good detector's mean stays above the reference and nothing changes. The running mean starts at the
reference (the configured thresholds) and survives ``reset()``.

Against the open ByteTrack ports (bench/bench_tracking.py, the same detections; docs/front_end.md has the
tables), on the scene suite's seeds 0-4 and on seeds 5-14 it was not tuned on: MOTA 0.816 / 0.827, IDF1
0.799 / 0.803, 408 / 878 ID switches, against the best port's (cjm-byte-track) 0.806 / 0.818, 0.786 / 0.792,
582 / 1180.

Detections from a source without scores (external skeletons) can carry score 1.0.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..configuration import setting, validate_config
from ..types import Detection, TrackedPerson
from .kalman import BoxKalmanFilter

SCORE_LEVEL_RATE = 0.01
"""Weight of each reported detection's score in the running mean that scales the thresholds."""


@dataclass
class TrackerConfig:
    """ByteTrack settings."""

    high_threshold: float = setting(0.5, "detections scoring at least this are matched first [0-1]", min=0.0, max=1.0)
    low_threshold: float = setting(0.1, "detections below are ignored; from here to high they only extend tracks "
                                        "[0-1]", min=0.0, max=1.0)
    new_track_threshold: float = setting(0.4, "an unmatched detection scoring at least this starts a track; one "
                                              "scoring below high_threshold only where it overlaps no lost track [0-1]",
                                         min=0.0, max=1.0)
    match_iou: float = setting(0.2, "least IoU to match a confirmed/lost track to a high-score detection [0-1]",
                               min=0.0, max=1.0)
    low_match_iou: float = setting(0.5, "least IoU to match a confirmed or lost track to a low-score detection [0-1]",
                                   min=0.0, max=1.0)
    tentative_match_iou: float = setting(0.3, "least IoU to match a tentative track [0-1]", min=0.0, max=1.0)
    min_hits: int = setting(2, "birth age: consecutive matched frames before a track is confirmed, one more for a "
                               "track born over a lost one; fewer report people sooner but confirm more false "
                               "tracks [frames]", min=1, max=100)
    max_lost_seconds: float = setting(1.0, "death age: time a confirmed track survives without a match [s]", min=0.0)
    frame_rate: float = setting(30.0, "nominal camera rate the motion model is tuned for [Hz]", above=0.0)
    position_noise: float = setting(0.05, "Kalman position noise std as a fraction of box height [1]", above=0.0)
    velocity_noise: float = setting(0.00625, "Kalman velocity noise std per frame as a fraction of box height [1]",
                                    above=0.0)
    max_tracks: int = setting(256, "live tracks at most; further births are refused and counted", min=1)
    fuse_score: bool = setting(True, "rank first-association candidates by IoU x detection score (ByteTrack's score "
                                     "fusion) rather than IoU alone")
    proven_hits: int = setting(8, "consecutive matches that prove a track; until then, once it has missed, it is "
                                  "reported only when matched in unproven_hits of the last unproven_window updates "
                                  "[updates]", min=1, max=1000)
    unproven_hits: int = setting(3, "matches in the last unproven_window updates for an unproven track that has "
                                    "missed to be reported [updates]", min=1, max=60)
    unproven_window: int = setting(4, "updates looked back on for an unproven track's matches [updates]", min=1,
                                   max=60)
    score_reference: float = setting(0.75, "mean score of matched person detections the thresholds are set for; "
                                           "while the running mean is lower, high and new-track thresholds scale "
                                           "down by the square of the ratio; 0: fixed thresholds [0-1]", min=0.0,
                                     max=1.0)
    time_jump_seconds: float = setting(10.0, "a stamp more than this after the previous one is a time jump: the "
                                             "tracker resets (counted); must exceed max_lost_seconds [s]", above=0.0)

    def check(self) -> None:
        if self.time_jump_seconds <= self.max_lost_seconds:
            raise ValueError(f"time_jump_seconds ({self.time_jump_seconds}) must exceed max_lost_seconds "
                             f"({self.max_lost_seconds})")
        if self.unproven_hits > self.unproven_window:
            raise ValueError(f"unproven_hits ({self.unproven_hits}) must not exceed unproven_window "
                             f"({self.unproven_window})")
        if self.low_threshold > self.high_threshold:
            raise ValueError(f"low_threshold ({self.low_threshold}) must not exceed high_threshold "
                             f"({self.high_threshold})")


class TrackState(enum.Enum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"


class _Track:
    def __init__(self, detection: Detection, stamp_ns: int, config: TrackerConfig, birth_hits: int) -> None:
        self.filter = BoxKalmanFilter(detection.box, config.position_noise, config.velocity_noise)
        self.state = TrackState.TENTATIVE
        self.birth_hits = birth_hits
        """Consecutive matches that confirm this track (min_hits, one more when born over a lost track)."""
        self.track_id = 0
        self.hits = 1
        self.last_matched_ns = stamp_ns
        self.recent_matches = 1
        """Bit i set: matched i updates ago."""
        self.run = 1
        """Consecutive matches up to the latest one."""
        self.proven = False


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(A, B) intersection over union of xyxy boxes."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)


def match_by_iou(track_boxes: np.ndarray, detection_boxes: np.ndarray, min_iou: float,
                 detection_scores: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Hungarian assignment maximising the total IoU, or IoU x score when ``detection_scores`` are given;
    pairs whose IoU is below ``min_iou`` are not matches."""
    if len(track_boxes) == 0 or len(detection_boxes) == 0:
        return []
    iou = box_iou(track_boxes, detection_boxes)
    similarity = iou if detection_scores is None else iou * np.asarray(detection_scores, np.float64)[None, :]
    rows, cols = linear_sum_assignment(-similarity)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]


class ByteTracker:
    """Turns per-frame person detections into confirmed tracks with stable ids."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        validate_config(self.config, "tracker")
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._last_stamp_ns: int | None = None
        self._score_level = self.config.score_reference
        self.removed_ids: tuple[int, ...] = ()
        """Ids of confirmed tracks that died in the latest update (for pruning per-track state)."""
        self.dropped_detections = 0
        """Detections refused as malformed (non-finite or empty boxes)."""
        self.refused_births = 0
        """Births refused because ``max_tracks`` tracks were alive."""
        self.time_jumps = 0
        """Updates whose stamp went backwards or leapt ``time_jump_seconds`` ahead; each reset the tracker."""

    @property
    def live_ids(self) -> list[int]:
        """Ids of confirmed and lost tracks (those that may still report)."""
        return [t.track_id for t in self._tracks if t.state is not TrackState.TENTATIVE]

    @property
    def live_boxes(self) -> dict[int, np.ndarray]:
        """Where each confirmed or lost track is expected at the latest stamp (Kalman box, xyxy float32)."""
        return {t.track_id: t.filter.box for t in self._tracks if t.state is not TrackState.TENTATIVE}

    def update(self, detections: list[Detection], stamp_ns: int) -> list[TrackedPerson]:
        """Advance to ``stamp_ns`` with this frame's detections; returns the confirmed tracks matched now.

        A stamp before the previous update's, or more than ``time_jump_seconds`` after it, is a time jump
        (a bag looping, a clock reset, a stream resumed): the tracker resets itself first (the lost ids
        appear in ``removed_ids``) and counts it in ``time_jumps``.
        """
        config = self.config
        removed_by_jump: tuple[int, ...] = ()
        if self._last_stamp_ns is not None and not (
                0 <= stamp_ns - self._last_stamp_ns <= config.time_jump_seconds * 1e9):
            self.reset()
            removed_by_jump = self.removed_ids
            self.time_jumps += 1
        steps = 1.0 if self._last_stamp_ns is None else (stamp_ns - self._last_stamp_ns) * 1e-9 * config.frame_rate
        self._last_stamp_ns = stamp_ns
        window_mask = (1 << config.unproven_window) - 1
        for track in self._tracks:
            track.filter.predict(steps)
            track.recent_matches = (track.recent_matches << 1) & window_mask

        detections = [d for d in detections if self._well_formed(d)]
        scale = self.threshold_scale
        high_threshold = config.high_threshold * scale
        new_track_threshold = config.new_track_threshold * scale
        high = [d for d in detections if d.score >= high_threshold]
        low = [d for d in detections if config.low_threshold <= d.score < high_threshold]
        matched: list[tuple[_Track, Detection]] = []

        established = [t for t in self._tracks
                       if t.state is not TrackState.TENTATIVE and not self._expired(t, stamp_ns)]
        pairs = match_by_iou(self._track_boxes(established), self._detection_boxes(high), config.match_iou,
                             [d.score for d in high] if config.fuse_score else None)
        matched += [(established[r], high[c]) for r, c in pairs]
        high = self._unpaired(high, [c for _, c in pairs])
        unmatched = self._unpaired(established, [r for r, _ in pairs])

        # Low-score detections: confirmed tracks first (people in view keep theirs), then lost ones (a hidden
        # person coming back into view scores low at first).
        for state in (TrackState.CONFIRMED, TrackState.LOST):
            candidates = [t for t in unmatched if t.state is state]
            pairs = match_by_iou(self._track_boxes(candidates), self._detection_boxes(low), config.low_match_iou)
            matched += [(candidates[r], low[c]) for r, c in pairs]
            low = self._unpaired(low, [c for _, c in pairs])
        # A tentative track may also continue on a low-score detection (a weak detector's person).
        unclaimed = high + low

        tentative = [t for t in self._tracks if t.state is TrackState.TENTATIVE]
        pairs = match_by_iou(self._track_boxes(tentative), self._detection_boxes(unclaimed),
                             config.tentative_match_iou)
        matched += [(tentative[r], unclaimed[c]) for r, c in pairs]
        unclaimed = self._unpaired(unclaimed, [c for _, c in pairs])

        reported = self._apply_matches(matched, stamp_ns)
        for person in reported:
            self._score_level += SCORE_LEVEL_RATE * (person.score - self._score_level)
        self._retire_unmatched({id(t) for t, _ in matched}, stamp_ns)
        self.removed_ids = removed_by_jump + self.removed_ids
        lost_boxes = self._track_boxes([t for t in self._tracks if t.state is TrackState.LOST])
        overlaps_lost = box_iou(self._detection_boxes(unclaimed), lost_boxes).max(axis=1, initial=0.0) > 0
        for detection, over_lost in zip(unclaimed, overlaps_lost.tolist()):
            if detection.score < new_track_threshold:
                continue
            if over_lost and detection.score < high_threshold:
                continue
            if len(self._tracks) >= config.max_tracks:
                self.refused_births += 1
                continue
            track = _Track(detection, stamp_ns, config, config.min_hits + over_lost)
            self._tracks.append(track)
            if track.birth_hits == 1:
                self._confirm(track)
                reported.append(self._person(track, detection))
        return sorted(reported, key=lambda person: person.track_id)

    @property
    def threshold_scale(self) -> float:
        """Factor (at most 1) on ``high_threshold`` and ``new_track_threshold``: the square of the running mean
        of reported scores over ``score_reference`` (see the module docstring)."""
        if self.config.score_reference <= 0:
            return 1.0
        return min(1.0, self._score_level / self.config.score_reference) ** 2

    def reset(self) -> None:
        """Forget every track (ids keep counting up, so none is reused)."""
        self.removed_ids = tuple(self.live_ids)
        self._tracks = []
        self._last_stamp_ns = None

    def _apply_matches(self, matched: list[tuple[_Track, Detection]], stamp_ns: int) -> list[TrackedPerson]:
        reported = []
        for track, detection in matched:
            track.filter.update(detection.box)
            track.last_matched_ns = stamp_ns
            track.hits += 1
            track.run += 1
            track.recent_matches |= 1
            track.proven = track.proven or track.run >= self.config.proven_hits
            if track.state is TrackState.LOST:
                track.state = TrackState.CONFIRMED
            if track.state is TrackState.TENTATIVE and track.hits >= track.birth_hits:
                self._confirm(track)
            if track.state is TrackState.CONFIRMED and self._reportable(track):
                reported.append(self._person(track, detection))
        return reported

    def _reportable(self, track: _Track) -> bool:
        """Proven, never missed since birth, or matched often enough lately (see the module docstring:
        intermittent tracks)."""
        return (track.proven or track.run == track.hits
                or track.recent_matches.bit_count() >= self.config.unproven_hits)

    def _retire_unmatched(self, matched_ids: set[int], stamp_ns: int) -> None:
        removed, kept = [], []
        for track in self._tracks:
            if id(track) in matched_ids:
                kept.append(track)
            elif track.state is TrackState.TENTATIVE:
                continue
            elif self._expired(track, stamp_ns):
                removed.append(track.track_id)
            else:
                track.state = TrackState.LOST
                track.run = 0
                track.filter.hold_size()
                kept.append(track)
        self._tracks = kept
        self.removed_ids = tuple(removed)

    def _expired(self, track: _Track, stamp_ns: int) -> bool:
        """Unmatched for longer than the death age at ``stamp_ns`` (so it may not match any more)."""
        return (stamp_ns - track.last_matched_ns) * 1e-9 > self.config.max_lost_seconds

    def _confirm(self, track: _Track) -> None:
        track.state = TrackState.CONFIRMED
        track.track_id = self._next_id
        self._next_id += 1

    @staticmethod
    def _person(track: _Track, detection: Detection) -> TrackedPerson:
        """The track's filtered box (steadier than one detection's, and whole where the detection boxes only
        the visible part of a partly hidden person) with the detection's score and keypoints."""
        keypoints = None if detection.keypoints is None else np.asarray(detection.keypoints, dtype=np.float32)
        return TrackedPerson(track.track_id, track.filter.box, float(detection.score), None, keypoints)

    @staticmethod
    def _unpaired(items: list, paired: list[int]) -> list:
        taken = set(paired)
        return [item for index, item in enumerate(items) if index not in taken]

    @staticmethod
    def _track_boxes(tracks: list[_Track]) -> np.ndarray:
        return np.asarray([t.filter.box for t in tracks], dtype=np.float32).reshape(-1, 4)

    @staticmethod
    def _detection_boxes(detections: list[Detection]) -> np.ndarray:
        return np.asarray([d.box for d in detections], dtype=np.float32).reshape(-1, 4)

    def _well_formed(self, detection: Detection) -> bool:
        box = np.asarray(detection.box, dtype=np.float64)
        ok = (box.shape == (4,) and np.isfinite(box).all() and box[2] > box[0] and box[3] > box[1]
              and np.isfinite(detection.score))
        if not ok:
            self.dropped_detections += 1
        return bool(ok)
