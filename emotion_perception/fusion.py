"""One stable estimate per tracked person from whichever cues speak, filtered over time.

The rule (documented in the README, "Fusion"):

1. Each valid cue result becomes :class:`~emotion_perception.types.Evidence`: a distribution over
   labels.EMOTIONS, a (valence, arousal) point in [-1, 1]^2 and a reliability in [0, 1] (how much of the
   cue's fusion weight it deserves, e.g. gait input far from its training data gets less).
2. Per track and per cue, an exponential filter with half-life ``half_life_s`` (on the frames' stamps)
   keeps ``presence`` (the filtered reliability, 0 in frames where the cue said nothing) and the filtered
   presence-weighted distribution and point. A cue that drops out for a moment fades over a few
   half-lives instead of vanishing at once, and one that starts speaking gains weight as it goes on.
3. The fused distribution and point are the means over the cues, each weighted by its ``fusion_weight``
   times its presence. ``coverage`` = that total weight / the total fusion weight of the running cues:
   how much of what could speak did speak. The estimate is valid while coverage >= ``min_coverage``.
4. The stable label changes only when another label's fused probability beats it by ``switch_margin``
   for at least ``min_hold_s`` (hysteresis); ``label_since`` is when it last changed. ``confidence`` is the
   fused probability of the stable label: a probability among the cues present, never scaled down by cues
   that are absent (that is what ``coverage`` says).

With ``half_life_s`` 0 there is no filtering: every frame's estimate stands alone.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .configuration import setting
from .labels import EMOTIONS, UNKNOWN
from .types import Evidence, FusedEstimate

MAX_TRACKS = 1024
"""Per-track filters kept at most (the least recently updated go first)."""


@dataclass
class FusionConfig:
    """How cues are filtered over time and combined (each cue's weight is its own group's fusion_weight)."""

    half_life_s: float = setting(0.5, "half-life of the per-track temporal filter over each cue and the fused "
                                 "result [s]; 0 = no filtering", min=0.0, max=60.0, runtime=True)
    switch_margin: float = setting(0.15, "hysteresis: the stable label changes only when another label's fused "
                                   "probability exceeds it by this much [0-1]", min=0.0, max=1.0, runtime=True)
    min_hold_s: float = setting(0.3, "... and has led for at least this long [s]", min=0.0, max=60.0, runtime=True)
    min_coverage: float = setting(0.1, "the fused estimate is invalid while less than this share of the running "
                                  "cues' weight stands behind it [0-1]", above=0.0, max=1.0, runtime=True)


@dataclass
class _CueFilter:
    presence: float = 0.0
    weighted_distribution: np.ndarray = field(default_factory=lambda: np.zeros(len(EMOTIONS)))
    weighted_point: np.ndarray = field(default_factory=lambda: np.zeros(2))


@dataclass
class _TrackState:
    stamp_ns: int
    cues: dict[str, _CueFilter] = field(default_factory=dict)
    label: str = ""
    label_since_ns: int = 0
    challenger: str = ""
    challenger_since_ns: int = 0


class TemporalFusion:
    """Fuses each track's cue evidence frame after frame (see the module docstring)."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        self.config = config or FusionConfig()
        self._tracks: OrderedDict[int, _TrackState] = OrderedDict()

    def update(self, track_id: int, stamp_ns: int, evidence: dict[str, Evidence | None],
               weights: dict[str, float]) -> FusedEstimate:
        """This frame's estimate for a track from each running cue's evidence (None: the cue said nothing).

        ``weights``: the fusion weight of every running cue (the keys of ``evidence``).
        """
        state = self._tracks.get(track_id)
        first = state is None
        if first:
            state = _TrackState(stamp_ns)
            while len(self._tracks) >= MAX_TRACKS:
                self._tracks.popitem(last=False)
            self._tracks[track_id] = state
        self._tracks.move_to_end(track_id)
        keep = self._decay(stamp_ns - state.stamp_ns) if not first else 0.0
        state.stamp_ns = stamp_ns
        for name, said in evidence.items():
            cue = state.cues.setdefault(name, _CueFilter())
            cue.presence *= keep
            cue.weighted_distribution *= keep
            cue.weighted_point *= keep
            if said is not None:
                new = (1.0 - keep) * said.reliability
                cue.presence += new
                cue.weighted_distribution = cue.weighted_distribution + new * np.asarray(said.distribution, np.float64)
                cue.weighted_point = cue.weighted_point + new * np.array([said.valence, said.arousal])
        speaking = [name for name, said in evidence.items() if said is not None]
        missing = [name for name, said in evidence.items() if said is None]
        total = sum(weights.get(name, 0.0) for name in evidence)
        present = sum(weights.get(name, 0.0) * state.cues[name].presence for name in evidence)
        coverage = present / total if total > 0 else 0.0
        if coverage < self.config.min_coverage or present <= 0:
            state.label, state.challenger = "", ""
            return FusedEstimate(valid=False, coverage=float(coverage), cues=speaking, missing_cues=missing)
        distribution = sum(weights.get(n, 0.0) * state.cues[n].weighted_distribution for n in evidence) / present
        point = sum(weights.get(n, 0.0) * state.cues[n].weighted_point for n in evidence) / present
        label = self._stable_label(state, distribution, stamp_ns)
        return FusedEstimate(
            valid=True, emotion=label, confidence=float(distribution[EMOTIONS.index(label)]),
            probabilities=distribution.astype(np.float32), valence=float(np.clip(point[0], -1, 1)),
            arousal=float(np.clip(point[1], -1, 1)), coverage=float(min(coverage, 1.0)),
            label_since_ns=state.label_since_ns, cues=speaking, missing_cues=missing)

    def _decay(self, elapsed_ns: int) -> float:
        """Share of the filtered state that survives ``elapsed_ns`` (0 without filtering)."""
        half_life = self.config.half_life_s
        if half_life <= 0:
            return 0.0
        return float(0.5 ** (max(elapsed_ns, 0) * 1e-9 / half_life))

    def _stable_label(self, state: _TrackState, distribution: np.ndarray, stamp_ns: int) -> str:
        leader = EMOTIONS[int(np.argmax(distribution))]
        if not state.label:
            state.label, state.label_since_ns, state.challenger = leader, stamp_ns, ""
            return leader
        margin = distribution[EMOTIONS.index(leader)] - distribution[EMOTIONS.index(state.label)]
        if leader == state.label or margin < self.config.switch_margin:
            state.challenger = ""
            return state.label
        if state.challenger != leader:
            state.challenger, state.challenger_since_ns = leader, stamp_ns
        if (stamp_ns - state.challenger_since_ns) * 1e-9 >= self.config.min_hold_s:
            state.label, state.label_since_ns, state.challenger = leader, stamp_ns, ""
        return state.label

    def forget(self, track_ids) -> None:
        """Drop the filters of tracks that ended."""
        for track_id in track_ids:
            self._tracks.pop(track_id, None)

    def reset(self) -> None:
        """Drop every filter (time jumped)."""
        self._tracks.clear()

    @property
    def track_ids(self) -> list[int]:
        return list(self._tracks)


def invalid_estimate(cue_names: list[str]) -> FusedEstimate:
    """The estimate of a person no cue may judge this frame (every running cue missing)."""
    return FusedEstimate(valid=False, emotion=UNKNOWN, missing_cues=list(cue_names))
