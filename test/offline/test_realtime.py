"""The realtime emulation of the live node's newest-frame-wins worker, alone and in front of the real pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_perception.offline.ground_truth import ground_truth_from_scene
from emotion_perception.pipeline import Pipeline
from emotion_perception.offline.realtime import RealtimeReplay, replay_schedule
from emotion_perception.offline.report import frame_rows
from emotion_perception.offline.scoring import score
from emotion_perception.settings import Settings
from emotion_perception.offline.synthetic_scene import SceneConfig, render_scene
from emotion_perception.types import Frame

MS = 1_000_000
PERIOD_NS = 33_333_333  # 30 fps


def camera_stamps(frames: int, seed: int = 0) -> list[int]:
    """30 fps with a few milliseconds of jitter, as a camera driver stamps them."""
    jitter = np.random.default_rng(seed).integers(-3 * MS, 3 * MS, frames)
    return [1_700_000_000 * 10**9 + i * PERIOD_NS + int(j) for i, j in enumerate(jitter)]


def test_the_newest_waiting_frame_wins():
    """Frames at 0, 10, 20, 30 ms costing 25 ms: 1 waits and is superseded by 2, which the worker takes at 25 ms;
    3 waits until 50 ms, when the recording has ended."""
    replay = RealtimeReplay(cost_s=0.025)
    handoffs = [h for i, stamp in enumerate((0, 10 * MS, 20 * MS, 30 * MS)) for h in replay.arrive(stamp, i)]
    handoffs += list(replay.finish())
    assert [h.item for h in handoffs] == [0, 2, 3]
    assert [h.waited_s for h in handoffs] == pytest.approx([0.0, 0.005, 0.020])
    assert [h.input_gap_s for h in handoffs] == pytest.approx([0.0, 0.010, 0.010])
    assert (replay.frames_arrived, replay.frames_processed, replay.frames_dropped) == (4, 3, 1)
    summary = replay.summary()
    assert summary["frames_dropped"] == 1 and summary["latency_ms"]["max"] == pytest.approx(45.0)


def test_a_slower_machine_processes_fewer_frames():
    stamps = camera_stamps(300)
    costs = list(np.random.default_rng(1).gamma(4.0, 0.01, len(stamps)))  # mean 40 ms: a little over a frame
    counts = [len(replay_schedule(stamps, costs, speed)) for speed in (8.0, 2.0, 1.0, 0.5, 0.25)]
    assert counts[0] == len(stamps), "a machine far faster than the camera keeps every frame"
    assert counts == sorted(counts, reverse=True) and counts[-1] < counts[2] < counts[0]
    fixed = [len(replay_schedule(stamps, 0.05, speed)) for speed in (2.0, 1.0, 0.5)]
    assert fixed[0] > fixed[1] > fixed[2]


def test_the_schedule_is_deterministic_and_in_stamp_order():
    stamps = camera_stamps(200, seed=3)
    costs = list(np.random.default_rng(4).uniform(0.0, 0.12, len(stamps)))
    first = replay_schedule(stamps, costs, 0.7)
    assert first == replay_schedule(stamps, costs, 0.7)
    assert first == sorted(first) and len(set(first)) == len(first)
    assert first[0] == 0, "the first frame finds the worker free"
    assert first[-1] == len(stamps) - 1, "the last frame is never superseded"
    replay = RealtimeReplay(speed=0.7)
    taken = []
    for index, stamp in enumerate(stamps):
        for handoff in replay.arrive(stamp, index):
            taken.append(handoff.item)
            replay.processed(costs[handoff.item])
    for handoff in replay.finish():
        taken.append(handoff.item)
        replay.processed(costs[handoff.item])
    assert taken == first
    assert replay.frames_processed + replay.frames_dropped == replay.frames_arrived == len(stamps)
    assert replay.processed_stamps_ns == [stamps[i] for i in first]


def test_a_stamp_that_goes_back_arrives_with_the_frame_before():
    assert replay_schedule([0, 10 * MS, 5 * MS], 0.020) == [0, 2]


def test_misuse_is_refused():
    replay = RealtimeReplay()
    with pytest.raises(RuntimeError, match="processed"):
        list(replay.arrive(0, "a"))  # measured costs, and none reported
    replay = RealtimeReplay(cost_s=0.1)
    pending = replay.arrive(0, "a")
    with pytest.raises(RuntimeError, match="not all taken"):
        replay.arrive(PERIOD_NS, "b")
    list(pending)
    list(replay.finish())
    with pytest.raises(RuntimeError, match="finished"):
        replay.arrive(2 * PERIOD_NS, "c")
    for bad in ({"speed": 0.0}, {"cost_s": -1.0}):
        with pytest.raises(ValueError):
            RealtimeReplay(**bad)


def test_the_pipeline_behind_the_emulated_worker_still_scores_against_the_truth():
    """The skeleton-fed pipeline on the synthetic scene at 100 ms a frame: a third of the frames, gait still valid."""
    intrinsics, frames = render_scene(SceneConfig(seconds=2.0, people=2))
    truth = ground_truth_from_scene(intrinsics, frames)
    settings = Settings.from_nested({"pipeline": {"pose_source": "skeletons"}, "face": {"expression_weights": ""}})
    pipeline = Pipeline(settings)
    replay = RealtimeReplay(speed=1.0, cost_s=0.1)
    rows = []

    def process(handoffs):
        for handoff in handoffs:
            scene_frame = handoff.item
            frame = Frame(image=scene_frame.image, stamp_ns=scene_frame.stamp_ns, frame_id="camera",
                          intrinsics=intrinsics, input_gap_s=handoff.input_gap_s)
            rows.extend(frame_rows(pipeline.process(frame, scene_frame.skeletons), frames[0].stamp_ns))

    for scene_frame in frames:
        process(replay.arrive(scene_frame.stamp_ns, scene_frame))
    process(replay.finish())
    assert replay.frames_dropped > 0 and replay.frames_processed < len(frames) / 2
    assert sorted({r["stamp_ns"] for r in rows}) == replay.processed_stamps_ns
    report = score(rows, truth, processed_stamps_ns=replay.processed_stamps_ns)
    assert report["overall"]["frames"] == 2 * replay.frames_processed and report["overall"]["tracked_share"] == 1.0
    for person in report["people"]:
        assert person["tracks"] == [person["id"]] and person["mean_box_iou"] > 0.99
        assert person["valid_frames"] > 0 and person["seconds_to_first_valid"] < 2.0
    assert all(track["purity"] == 1.0 for track in report["tracks"].values())
