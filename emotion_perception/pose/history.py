"""Per-track joint history: timestamped ring buffers, resampled on demand to a fixed rate for gait networks.

Memory is bounded whatever the input: at most ``max_tracks`` tracks (the least recently seen goes first),
at most ``max_frames`` observations per track, and a track unseen for ``max_age_seconds`` (measured on
the newest stamp added) is dropped. A gap longer than ``max_gap_seconds`` inside a track starts its
buffer afresh, so a window never interpolates across a long gap.

Gaps are measured on the **input stream**, not on the frames that happened to be processed: the caller
announces each processed frame with :meth:`JointHistory.start_frame`, giving the largest stamp gap between
the frames it *received* since the previous processed one. A track seen in the previous processed frame is
continuous unless the input itself had a long gap, so a node that skips frames under load (newest frame
wins) keeps its gait windows; a track missing from processed frames is judged by its own last stamp.

Sequences are in the gait frame (metres, x right, y up, z towards the camera). When every observation in
the window has 3D joints the sequence is those joints (position_source of the newest one). Otherwise the
sequence is the **planar fallback**, flagged with position_source NONE: the 2D joints with image y turned
up, translated so the first frame's root is the origin, scaled so the median root-neck length equals
``planar_torso_length_m``, and z = 0. It is never presented as measured 3D.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

import numpy as np

from ..labels import GAIT_EDGES, GAIT_JOINTS
from ..configuration import setting, validate_config
from ..types import JointSequence, PositionSource, Skeleton
from .skeleton import optical_to_gait

_ROOT, _NECK = GAIT_JOINTS.index("root"), GAIT_JOINTS.index("neck")


def _joints_from_root() -> list[tuple[int, int]]:
    """(joint, parent) pairs in an order where each parent comes before its children; root's parent is -1."""
    order, parents = [(_ROOT, -1)], {}
    for parent, child in GAIT_EDGES:
        parents.setdefault(child, parent)
    while len(order) < len(GAIT_JOINTS):
        placed = {joint for joint, _ in order}
        order += [(child, parent) for child, parent in parents.items() if parent in placed and child not in placed]
    return order


_JOINT_ORDER = _joints_from_root()


@dataclass
class HistoryConfig:
    """Per-track joint history settings."""

    max_frames: int = setting(512, "observations kept per track [frames]", min=2, max=100_000)
    max_tracks: int = setting(64, "tracks kept at once; the least recently seen is dropped first", min=1, max=10_000)
    max_age_seconds: float = setting(2.0, "a track not seen for this long (on the input stream) is dropped [s]",
                                     above=0.0)
    max_gap_seconds: float = setting(0.5, "a longer gap in a track's observations on the input stream restarts "
                                     "its history [s]", above=0.0)
    min_confidence: float = setting(0.05, "joints below this confidence are missing and interpolated across [0-1]",
                                    min=0.0, max=1.0)
    planar_torso_length_m: float = setting(0.5, "root-to-neck length the planar no-depth fallback is scaled to [m]",
                                           above=0.0)


class _TrackBuffer:
    """One track's observations (oldest first)."""

    def __init__(self, max_frames: int) -> None:
        self.stamps: deque[int] = deque(maxlen=max_frames)
        self.joints_2d: deque[np.ndarray] = deque(maxlen=max_frames)
        self.confidence: deque[np.ndarray] = deque(maxlen=max_frames)
        self.joints_gait: deque[np.ndarray | None] = deque(maxlen=max_frames)
        self.sources: deque[PositionSource] = deque(maxlen=max_frames)
        self.frames_observed = 0

    def clear(self) -> None:
        for buffer in (self.stamps, self.joints_2d, self.confidence, self.joints_gait, self.sources):
            buffer.clear()


class JointHistory:
    """Recent skeletons of every live track, turned into fixed-rate JointSequences on demand."""

    def __init__(self, config: HistoryConfig | None = None) -> None:
        self.config = config or HistoryConfig()
        validate_config(self.config, "history")
        self._tracks: OrderedDict[int, _TrackBuffer] = OrderedDict()
        self._newest_stamp: int | None = None
        self._previous_frame_ns: int | None = None
        self._frame_ns: int | None = None
        self._input_gap_ns = 0
        self._max_age_ns = int(self.config.max_age_seconds * 1e9)
        self._max_gap_ns = int(self.config.max_gap_seconds * 1e9)
        self.dropped = 0
        """Observations refused because their stamp was not after the track's previous one, or non-finite."""
        self.time_jumps = 0
        """Observations older than every kept track's max age, taken as time jumping back: all was cleared."""

    @property
    def track_ids(self) -> list[int]:
        return list(self._tracks)

    def add(self, track_id: int, stamp_ns: int, skeleton: Skeleton) -> bool:
        """Record one skeleton of a track; False (and counted in ``dropped``) when it is refused."""
        joints_2d = np.asarray(skeleton.joints_2d, dtype=np.float32)
        confidence = np.asarray(skeleton.confidence, dtype=np.float32)
        if joints_2d.shape != (16, 2) or confidence.shape != (16,):
            raise ValueError(f"skeleton must have joints_2d (16, 2) and confidence (16,), "
                             f"got {joints_2d.shape} and {confidence.shape}")
        joints_gait = None
        if skeleton.joints_3d is not None:
            joints_gait = optical_to_gait(np.asarray(skeleton.joints_3d, dtype=np.float32))
            if joints_gait.shape != (16, 3):
                raise ValueError(f"skeleton joints_3d must be (16, 3), got {joints_gait.shape}")
        finite = np.isfinite(joints_2d).all() and np.isfinite(confidence).all() and (
            joints_gait is None or np.isfinite(joints_gait).all())
        if not finite:
            self.dropped += 1
            return False
        if self._newest_stamp is not None and stamp_ns < self._newest_stamp - self._max_age_ns:
            self.clear()  # time jumped backwards (a bag looping): nothing kept is comparable
            self.time_jumps += 1
        track = self._tracks.get(track_id)
        if track is not None and track.stamps and stamp_ns <= track.stamps[-1]:
            self.dropped += 1
            return False
        self._newest_stamp = stamp_ns if self._newest_stamp is None else max(self._newest_stamp, stamp_ns)
        self._drop_old()
        track = self._tracks.get(track_id)
        if track is None:
            while len(self._tracks) >= self.config.max_tracks:
                self._tracks.popitem(last=False)
            track = self._tracks[track_id] = _TrackBuffer(self.config.max_frames)
        elif track.stamps and self._gap_ns(track.stamps[-1], stamp_ns) > self._max_gap_ns:
            track.clear()
        self._tracks.move_to_end(track_id)
        track.stamps.append(int(stamp_ns))
        track.joints_2d.append(joints_2d.copy())
        track.confidence.append(confidence.copy())
        track.joints_gait.append(joints_gait)
        track.sources.append(PositionSource(skeleton.position_source))
        track.frames_observed += 1
        return True

    def frames_observed(self, track_id: int) -> int:
        """Skeletons a track has contributed since it was first added (0 for an unknown track)."""
        track = self._tracks.get(track_id)
        return track.frames_observed if track else 0

    def available_frames(self, track_id: int, fps: float) -> int:
        """The largest ``n_frames`` that ``sequence`` can serve now for a track (0 for an unknown track)."""
        track = self._tracks.get(track_id)
        if track is None or not track.stamps:
            return 0
        span_s = (track.stamps[-1] - track.stamps[0]) * 1e-9
        return int(np.floor(span_s * fps + 0.5)) + 1

    def frames_buffered(self, track_id: int) -> int:
        """Observations currently held for a track (at most ``max_frames``; 0 for an unknown track)."""
        track = self._tracks.get(track_id)
        return len(track.stamps) if track else 0

    def prune(self, alive_ids) -> list[int]:
        """Forget every track not in ``alive_ids``; returns the ids forgotten."""
        alive = set(alive_ids)
        gone = [track_id for track_id in self._tracks if track_id not in alive]
        for track_id in gone:
            del self._tracks[track_id]
        return gone

    def sequence(self, track_id: int, n_frames: int, fps: float) -> JointSequence | None:
        """The last ``n_frames`` at ``fps`` (the cue's own rate) ending at the track's newest observation, or None.

        None when the track is unknown, its uninterrupted history is shorter than the window, or its root
        joint is never seen in the window. Missing joints are interpolated in time; a joint missing in the
        whole window takes its parent's position.
        """
        if n_frames < 1:
            raise ValueError(f"n_frames must be >= 1, got {n_frames}")
        track = self._tracks.get(track_id)
        if track is None or not track.stamps:
            return None
        stamps = np.asarray(track.stamps, dtype=np.int64)
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        period = 1.0 / fps
        end = stamps[-1]
        times = (stamps - end) * 1e-9  # seconds, newest = 0
        targets = (np.arange(n_frames) - (n_frames - 1)) * period
        if times[0] > targets[0] + 0.5 * period:
            return None
        first = max(int(np.searchsorted(times, targets[0] + 1e-6, side="right")) - 1, 0)  # 1 us: stamp rounding
        window = slice(first, len(stamps))
        gait_3d = list(track.joints_gait)[window]
        confidence = np.stack(list(track.confidence)[window])
        valid = confidence >= self.config.min_confidence
        if all(joints is not None for joints in gait_3d):
            resampled = self._resample(times[window], np.stack(gait_3d), valid, targets)
            source = track.sources[-1]
        else:
            planar = self._resample(times[window], np.stack(list(track.joints_2d)[window]), valid, targets)
            resampled = None if planar is None else self._planar_to_gait(planar)
            source = PositionSource.NONE
        if resampled is None:
            return None
        return JointSequence(track_id, resampled, float(fps), track.frames_observed, source)

    @staticmethod
    def _resample(times: np.ndarray, joints: np.ndarray, valid: np.ndarray, targets: np.ndarray) -> np.ndarray | None:
        """Linear interpolation of (K, 16, D) joints at ``targets`` using each joint's valid frames only."""
        out = np.zeros((len(targets), joints.shape[1], joints.shape[2]), dtype=np.float32)
        for joint, parent in _JOINT_ORDER:
            seen = valid[:, joint]
            if not seen.any():
                if parent < 0:
                    return None
                out[:, joint] = out[:, parent]
                continue
            for axis in range(joints.shape[2]):
                out[:, joint, axis] = np.interp(targets, times[seen], joints[seen, joint, axis])
        return out

    def _planar_to_gait(self, joints_px: np.ndarray) -> np.ndarray | None:
        """The flagged no-depth fallback: pixels to a metre-like, y-up plane at z = 0 (see module docstring)."""
        torso_px = float(np.median(np.linalg.norm(joints_px[:, _NECK] - joints_px[:, _ROOT], axis=1)))
        if torso_px <= 1e-6:
            return None
        scale = self.config.planar_torso_length_m / torso_px
        planar = (joints_px - joints_px[0, _ROOT]) * scale * np.array([1.0, -1.0], dtype=np.float32)
        return np.concatenate([planar, np.zeros(planar.shape[:2] + (1,))], axis=2).astype(np.float32)

    def start_frame(self, stamp_ns: int, input_gap_s: float | None = None) -> None:
        """Announce the processed frame whose skeletons come next.

        ``input_gap_s``: the largest stamp gap between frames received since the previous processed frame
        (None when every received frame was processed: the gap is then the stamp difference itself).
        """
        self._previous_frame_ns, self._frame_ns = self._frame_ns, int(stamp_ns)
        if input_gap_s is None or self._previous_frame_ns is None:
            self._input_gap_ns = 0 if self._previous_frame_ns is None else self._frame_ns - self._previous_frame_ns
        else:
            self._input_gap_ns = int(input_gap_s * 1e9)

    def _gap_ns(self, last_ns: int, stamp_ns: int) -> int:
        """A track's gap on the input stream: the input's own gap when the previous processed frame saw it."""
        if self._frame_ns == stamp_ns and last_ns == self._previous_frame_ns:
            return self._input_gap_ns
        return stamp_ns - last_ns

    def newest_stamp(self, track_id: int) -> int | None:
        """Stamp of a track's newest observation (None for an unknown track)."""
        track = self._tracks.get(track_id)
        return track.stamps[-1] if track and track.stamps else None

    def clear(self) -> None:
        """Forget every track (a time jump: nothing kept is comparable with what comes)."""
        self._tracks.clear()
        self._newest_stamp = self._previous_frame_ns = self._frame_ns = None

    def _drop_old(self) -> None:
        newest = self._newest_stamp
        stale = [tid for tid, track in self._tracks.items()
                 if track.stamps and self._gap_ns(track.stamps[-1], newest) > self._max_age_ns]
        for track_id in stale:
            del self._tracks[track_id]
