"""Our approximate-time synchroniser and the fusion rule."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from emotion_perception.fusion import FusionConfig, context_distribution, fuse
from emotion_perception.labels import EMOTIC_CATEGORIES, GAIT_EMOTIONS
from emotion_perception.ros.sync import ApproximateTimeSync
from emotion_perception.types import ContextResult, GaitResult


def stamped(ms: int, name: str):
    return SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=ms // 1000, nanosec=(ms % 1000) * 10**6)), name=name)


def test_pairs_within_slop_each_message_once_in_order():
    pairs = []
    sync = ApproximateTimeSync(2, 10, 0.010, lambda a, b: pairs.append((a.name, b.name)))
    sync.add(0, stamped(1000, "i1"))
    sync.add(1, stamped(1004, "d1"))      # within 10 ms -> pair
    sync.add(1, stamped(1030, "d2"))
    sync.add(0, stamped(1033, "i2"))      # pairs with d2
    sync.add(0, stamped(1066, "i3"))      # its depth never comes...
    sync.add(1, stamped(1100, "d4"))      # ...and depth moved past it: i3 is discarded
    sync.add(0, stamped(1098, "i4"))
    assert pairs == [("i1", "d1"), ("i2", "d2"), ("i4", "d4")]
    assert sync.unmatched == 1


def test_closest_partner_wins_and_single_stream_passes_through():
    pairs = []
    sync = ApproximateTimeSync(2, 10, 0.050, lambda a, b: pairs.append((a.name, b.name)))
    sync.add(1, stamped(990, "d_far"))
    sync.add(1, stamped(1002, "d_near"))
    sync.add(0, stamped(1000, "i"))
    assert pairs == [("i", "d_near")]
    single = []
    ApproximateTimeSync(1, 2, 0.0, single.append).add(0, stamped(5, "x"))
    assert [m.name for m in single] == ["x"]


def gait(probabilities) -> GaitResult:
    return GaitResult(valid=True, status="ok", probabilities=np.asarray(probabilities, dtype=np.float32))


def context(active: dict[str, float], vad=(5.5, 5.5, 5.5)) -> ContextResult:
    scores = np.zeros(26, dtype=np.float32)
    for name, value in active.items():
        scores[EMOTIC_CATEGORIES.index(name)] = value
    return ContextResult(valid=True, status="ok", scores=scores, thresholds=np.full(26, 0.1, np.float32),
                         vad=np.asarray(vad, dtype=np.float32))


def test_fusion_weights_cues_and_flags_missing_ones():
    happy_gait = gait([0.8, 0.1, 0.05, 0.05])
    sad_context = context({"Sadness": 0.8, "Fatigue": 0.2}, vad=(1.0, 3.25, 5.5))
    both = fuse(happy_gait, sad_context, FusionConfig(gait_weight=0.6, context_weight=0.4))
    expected = 0.6 * np.array([0.8, 0.1, 0.05, 0.05]) + 0.4 * np.array([0.0, 1.0, 0.0, 0.0])
    assert both.emotion == GAIT_EMOTIONS[int(np.argmax(expected))] == "happy"
    assert both.confidence == pytest.approx(expected.max())
    gait_valence = 0.8 * 0.8 + 0.1 * (-0.7) + 0.05 * (-0.6) + 0.05 * 0.0
    assert both.valence == pytest.approx(0.6 * gait_valence + 0.4 * (-1.0))
    assert both.cues == ["gait", "context"] and both.missing_cues == ["face"]
    only_context = fuse(GaitResult(False, "collecting"), sad_context)
    assert only_context.emotion == "sad" and only_context.confidence == pytest.approx(0.4)
    assert only_context.missing_cues == ["gait", "face"] and only_context.valence == pytest.approx(-1.0)
    nothing = fuse(GaitResult(False, "off"), ContextResult(False, "off"))
    assert not nothing.valid and nothing.emotion == "unknown"


def test_context_distribution_pools_groups_and_is_uniform_without_evidence():
    distribution = context_distribution(np.where(np.arange(26) == EMOTIC_CATEGORIES.index("Anger"), 0.5, -0.1))
    assert distribution[GAIT_EMOTIONS.index("angry")] == pytest.approx(1.0)
    assert context_distribution(np.zeros(26)) == pytest.approx(np.full(4, 0.25))
