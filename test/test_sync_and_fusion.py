"""Our approximate-time synchroniser and the fusion rule (cue evidence, filtering over time, hysteresis)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from emotion_perception.fusion import FusionConfig, TemporalFusion
from emotion_perception.cues.context.labels import EMOTIC_CATEGORIES
from emotion_perception.ros.sync import ApproximateTimeSync
from emotion_perception.types import Evidence
from emotion_perception.cues.context.results import ContextResult, context_distribution
from emotion_perception.cues.gait.results import GaitResult

MS = 1_000_000


def stamped(ms: int, name: str):
    return stamped_ns(ms * MS, name)


def stamped_ns(ns: int, name: str):
    return SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=ns // 10**9, nanosec=ns % 10**9)), name=name)


def pairing(slop_s: float = 0.010, **kwargs):
    pairs = []
    sync = ApproximateTimeSync(["image", "depth"], 10, slop_s,
                               lambda a, b: pairs.append((a.name, None if b is None else b.name)), **kwargs)
    return sync, pairs


def test_pairs_within_slop_each_message_once_in_order():
    sync, pairs = pairing()
    sync.add(0, stamped(1000, "i1"))
    sync.add(1, stamped(1004, "d1"))      # within 10 ms -> pair
    sync.add(1, stamped(1030, "d2"))
    sync.add(0, stamped(1033, "i2"))      # pairs with d2
    sync.add(0, stamped(1066, "i3"))      # its depth never comes...
    sync.add(1, stamped(1100, "d4"))      # ...and depth moved past it: i3 is discarded
    sync.add(0, stamped(1098, "i4"))
    assert pairs == [("i1", "d1"), ("i2", "d2"), ("i4", "d4")]
    assert sync.unmatched == {"depth": 1} and sync.received == [4, 3]


def test_closest_partner_wins_and_single_stream_passes_through():
    sync, pairs = pairing(0.050)
    sync.add(1, stamped(990, "d_far"))
    sync.add(1, stamped(1002, "d_near"))
    sync.add(0, stamped(1000, "i"))
    assert pairs == [], "a partner newer than the image may belong to the next image: wait for it"
    sync.add(0, stamped(1033, "i_next"))
    assert pairs == [("i", "d_near")]
    single = []
    ApproximateTimeSync(["image"], 2, 0.0, single.append).add(0, stamped(5, "x"))
    assert [m.name for m in single] == ["x"]


def test_partners_with_equal_stamps_pair_in_arrival_order():
    """A driver that publishes twice with one stamp: messages do not compare, so only the stamps may order them."""
    sync, pairs = pairing(0.010)
    sync.add(1, stamped(1000, "d_first"))
    sync.add(1, stamped(1000, "d_again"))
    sync.add(0, stamped(1000, "i1"))
    sync.add(0, stamped(1033, "i2"))
    sync.add(1, stamped(1033, "d2"))
    assert pairs == [("i1", "d_first"), ("i2", "d2")]


def test_one_lost_partner_costs_one_image_not_a_cascade_of_wrong_pairs():
    """Slop wider than the frame period: image k must not take partner k+1 when partner k was lost."""
    sync, pairs = pairing(0.050)
    for k in range(6):
        if k != 2:  # the skeleton of frame 2 is lost
            sync.add(1, stamped(1000 + 33 * k, f"s{k}"))
        sync.add(0, stamped(1000 + 33 * k, f"i{k}"))
    sync.add(0, stamped(1000 + 33 * 6, "i6"))
    sync.add(1, stamped(1000 + 33 * 6, "s6"))
    assert pairs == [(f"i{k}", f"s{k}") for k in (0, 1, 3, 4, 5, 6)]
    assert sync.unmatched == {"depth": 1}


def test_time_jumping_back_discards_the_old_queue_and_pairing_goes_on():
    sync, pairs = pairing(0.010)
    for k in range(3):
        sync.add(1, stamped(60_000 + 33 * k, f"old_d{k}"))
        sync.add(0, stamped(60_000 + 33 * k, f"old_i{k}"))
    sync.add(0, stamped(70_000, "future_image"))  # its partner never comes before time jumps back
    for k in range(5):
        sync.add(1, stamped(1000 + 33 * k, f"d{k}"))
        sync.add(0, stamped(1000 + 33 * k, f"i{k}"))
    assert pairs[:3] == [(f"old_i{k}", f"old_d{k}") for k in range(3)]
    assert pairs[-4:] == [(f"i{k}", f"d{k}") for k in range(1, 5)], "at most one frame is lost to the jump"
    assert sync.time_jumps >= 1


def test_a_silent_optional_stream_lets_images_through_without_it():
    sync, pairs = pairing(0.010, optional=[False, True], timeout_s=0.5)
    sync.add(1, stamped(1000, "d0"))
    sync.add(0, stamped(1000, "i0"))
    for k in range(1, 40):  # depth goes silent; images keep coming at 30 Hz
        sync.add(0, stamped(1000 + 33 * k, f"i{k}"))
    assert pairs[0] == ("i0", "d0")
    released = [image for image, depth in pairs[1:] if depth is None]
    assert len(released) == len(pairs) - 1 and released[-1] == "i39", "once depth is silent, every image passes"
    assert released == [f"i{k}" for k in range(40 - len(released), 40)]
    assert len(released) >= 39 - 17, "images wait at most the timeout (0.5 s = 15 frames) for the depth"
    assert sum(sync.unmatched.values()) == 39 - len(released), "images that waited in vain are counted"
    required, required_pairs = pairing(0.010, timeout_s=0.5)
    for k in range(40):
        required.add(0, stamped(1000 + 33 * k, f"i{k}"))
    assert required_pairs == [], "a required stream (skeletons) never lets images through alone"


def lossy_streams(seed: int, image_loss: float, partner_loss: float = 0.0, frames: int = 300):
    """Images and skeletons of one 30 Hz camera (equal stamps), each skeleton arriving up to two frames after its
    image (a body tracker's latency), with a share of each stream lost; returns (pairs, sync, frames both sent)."""
    rng = np.random.default_rng(seed)
    pairs = []
    sync = ApproximateTimeSync(["image", "skeletons"], 10, 0.050, lambda a, b: pairs.append((a.name, b.name)))
    arrivals, last = [], [0.0, 0.0]
    image_lost, partner_lost = rng.random(frames) < image_loss, rng.random(frames) < partner_loss
    for k in range(frames):
        stamp_ms = 1000 + k * 100 / 3
        for stream, lost, latency_ms in ((0, image_lost[k], rng.uniform(0, 5)), (1, partner_lost[k], rng.uniform(0, 66))):
            if not lost:  # each stream's messages arrive in order
                last[stream] = max(last[stream], stamp_ms + latency_ms)
                arrivals.append((last[stream], stream, stamped_ns(int(stamp_ms * MS), f"{k}")))
    for _, stream, msg in sorted(arrivals, key=lambda arrival: arrival[:2]):
        sync.add(stream, msg)
    return pairs, sync, int((~image_lost & ~partner_lost).sum())


@pytest.mark.parametrize("image_loss, partner_loss", [(0.2, 0.0), (0.2, 0.2), (0.5, 0.0)])
def test_with_images_lost_every_pair_is_the_right_one(image_loss, partner_loss):
    """With 20 % of images lost, 28 of 234 pairs took the previous frame's skeleton: the partner of a lost image
    was taken by the next image before that image's own partner came."""
    for seed in range(3):
        pairs, sync, both_sent = lossy_streams(seed, image_loss, partner_loss)
        wrong = [(image, partner) for image, partner in pairs if image != partner]
        assert not wrong, f"seed {seed}: {len(wrong)} of {len(pairs)} pairs are of different frames: {wrong[:5]}"
        assert len(pairs) == both_sent, f"seed {seed}: every frame with both messages pairs"
        assert sum(sync.unmatched.values()) == sync.received[0] - len(pairs), "images without a partner are counted"


def test_a_partner_nearer_a_lost_image_is_not_taken_by_the_next_one():
    sync, pairs = pairing(0.050)
    for k in range(4):  # 30 Hz: the nominal period is known
        sync.add(0, stamped(1000 + 33 * k, f"i{k}"))
        sync.add(1, stamped(1000 + 33 * k, f"s{k}"))
    sync.add(1, stamped(1000 + 33 * 4, "s4"))  # image 4 is lost
    sync.add(0, stamped(1000 + 33 * 5, "i5"))  # s4 lies within the slop, but one period away: i5 waits for s5
    assert pairs[-1] == ("i3", "s3")
    sync.add(1, stamped(1000 + 33 * 5, "s5"))
    assert pairs[-1] == ("i5", "s5") and sync.unmatched == {}


@pytest.mark.parametrize("future", ["image", "skeleton"])
def test_one_future_stamped_message_costs_its_own_frame_only_and_is_counted(future):
    """In bag process, one image from 2036 lost the next normal frame too, and that loss was not counted."""
    sync, pairs = pairing(0.050)
    for k in range(10):
        stamp_ns = (1000 + 33 * k) * MS
        far = 2_100_000_000 * 10**9
        sync.add(0, stamped_ns(far if (k == 5 and future == "image") else stamp_ns, f"f{k}"))
        sync.add(1, stamped_ns(far if (k == 5 and future == "skeleton") else stamp_ns, f"f{k}"))
    assert pairs == [(f"f{k}", f"f{k}") for k in range(10) if k != 5]
    assert sum(sync.unmatched.values()) == 1, sync.unmatched
    assert sync.unmatched == ({"time_jump": 1} if future == "image" else {"depth": 1})


def gait(probabilities) -> GaitResult:
    return GaitResult(valid=True, status="ok", probabilities=np.asarray(probabilities, dtype=np.float32))


def context(active: dict[str, float], vad=(5.5, 5.5, 5.5)) -> ContextResult:
    scores = np.zeros(26, dtype=np.float32)
    for name, value in active.items():
        scores[EMOTIC_CATEGORIES.index(name)] = value
    return ContextResult(valid=True, status="ok", scores=scores, thresholds=np.full(26, 0.1, np.float32),
                         vad=np.asarray(vad, dtype=np.float32))


def test_cue_results_express_themselves_in_the_fused_vocabulary():
    evidence = gait([0.8, 0.1, 0.05, 0.05]).evidence()
    np.testing.assert_allclose(evidence.distribution, [0.8, 0.1, 0.05, 0.05])
    assert evidence.valence == pytest.approx(0.8 * 0.8 + 0.1 * (-0.7) + 0.05 * (-0.6))
    sad = context({"Sadness": 0.8, "Fatigue": 0.2}, vad=(1.0, 3.25, 5.5)).evidence()
    np.testing.assert_allclose(sad.distribution, [0, 1, 0, 0])
    assert (sad.valence, sad.arousal) == pytest.approx((-1.0, -0.5))
    assert GaitResult(False, "collecting").evidence() is None
    assert context_distribution(np.zeros(26)) == pytest.approx(np.full(4, 0.25))


def test_without_filtering_fusion_is_the_weighted_mean_of_the_cues_present():
    fusion = TemporalFusion(FusionConfig(half_life_s=0.0, switch_margin=0.0, min_hold_s=0.0))
    happy, sad = gait([0.8, 0.1, 0.05, 0.05]).evidence(), context({"Sadness": 1.0}, vad=(1, 1, 1)).evidence()
    both = fusion.update(1, 0, {"gait": happy, "context": sad}, {"gait": 0.6, "context": 0.4})
    expected = 0.6 * np.array([0.8, 0.1, 0.05, 0.05]) + 0.4 * np.array([0, 1, 0, 0])
    np.testing.assert_allclose(both.probabilities, expected, rtol=1e-6)
    assert both.emotion == "happy" and both.confidence == pytest.approx(expected.max())
    assert both.coverage == pytest.approx(1.0) and both.cues == ["gait", "context"] and both.missing_cues == []
    only_gait = fusion.update(2, 0, {"gait": happy, "context": None}, {"gait": 0.6, "context": 0.4})
    assert only_gait.confidence == pytest.approx(0.8), "confidence is among the cues present, never capped"
    assert only_gait.coverage == pytest.approx(0.6) and only_gait.missing_cues == ["context"]
    nothing = fusion.update(3, 0, {"gait": None, "context": None}, {"gait": 0.6, "context": 0.4})
    assert not nothing.valid and nothing.emotion == "unknown"


def test_an_out_of_distribution_result_counts_less():
    fusion = TemporalFusion(FusionConfig(half_life_s=0.0))
    doubtful = Evidence.from_distribution(np.array([0.0, 0.0, 1.0, 0.0]), reliability=0.25)
    sure = Evidence.from_distribution(np.array([1.0, 0.0, 0.0, 0.0]))
    fused = fusion.update(1, 0, {"gait": doubtful, "face": sure}, {"gait": 1.0, "face": 1.0})
    np.testing.assert_allclose(fused.probabilities, [0.8, 0, 0.2, 0])
    assert fused.coverage == pytest.approx(0.625)


def test_the_stable_label_holds_through_a_short_blip_and_switches_after_min_hold():
    config = FusionConfig(half_life_s=0.2, switch_margin=0.15, min_hold_s=0.3)
    fusion = TemporalFusion(config)
    happy = Evidence.from_distribution(np.array([0.7, 0.1, 0.1, 0.1]))
    angry = Evidence.from_distribution(np.array([0.1, 0.1, 0.7, 0.1]))
    frames = [happy] * 30 + [angry] * 3 + [happy] * 30 + [angry] * 60
    labels, since = [], []
    for index, said in enumerate(frames):
        estimate = fusion.update(7, index * 33 * MS, {"gait": said}, {"gait": 1.0})
        labels.append(estimate.emotion)
        since.append(estimate.label_since_ns)
    assert set(labels[:63]) == {"happy"}, "three angry frames (0.1 s) do not flip the label"
    assert labels[-1] == "angry"
    switch = labels.index("angry")
    assert (switch - 63) * 33 >= 300, "the challenger must lead for min_hold_s first"
    assert since[-1] == switch * 33 * MS and since[switch - 1] == 0
    flips = sum(a != b for a, b in zip(labels, labels[1:]))
    assert flips == 1
    fusion.reset()
    assert fusion.track_ids == []
