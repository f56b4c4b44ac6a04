"""Ground truth and scoring: constructed runs whose right answers are known, the file format, and the sample."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import CameraInfo

from emotion_perception.offline.ground_truth import (GroundTruth, GroundTruthError, GroundTruthFrame, GroundTruthPerson,
                                             ground_truth_from_scene, load_ground_truth, save_ground_truth)
from emotion_perception.labels import EMOTIONS
from emotion_perception.msg import TrackedSkeletonArray
from emotion_perception.pipeline import person_from_external
from emotion_perception.offline.report import csv_columns, write_csv
from emotion_perception.runtime.paths import sample_bag_path
from emotion_perception.ros.bags.sample import SAMPLE_TOPICS
from emotion_perception.ros.conversions import intrinsics_from_camera_info, skeletons_from_msg
from emotion_perception.offline.scoring import MatchConfig, load_rows, score, write_scoring
from emotion_perception.cues.gait.results import GaitResult
from emotion_perception.offline.synthetic_scene import SceneConfig, render_scene


FPS = 10
FRAMES = 100
START_NS = 1_000_000_000_000
PERIOD_NS = 1_000_000_000 // FPS
STAMPS = [START_NS + i * PERIOD_NS for i in range(FRAMES)]
EMOTION_OF = {1: "happy", 2: "sad", 3: "angry"}


def box_of(person: int, frame: int) -> list[float]:
    """Person 1 walks right from the left edge, person 2 left from the right edge, person 3 stays in the middle."""
    x = {1: 10.0 + frame, 2: 500.0 - frame, 3: 250.0}[person]
    return [x, 50.0, x + 50.0, 170.0]


def position_of(person: int, frame: int) -> list[float]:
    return [{1: -2.0 + 0.01 * frame, 2: 2.0 - 0.01 * frame, 3: 0.0}[person], 0.2, 5.0]


def truth_of(people=(1, 2), boxes=True, positions=True) -> GroundTruth:
    return GroundTruth([GroundTruthPerson(person, EMOTION_OF[person], [
        GroundTruthFrame(stamp, tuple(box_of(person, i)) if boxes else None,
                         tuple(position_of(person, i)) if positions else None)
        for i, stamp in enumerate(STAMPS)]) for person in people])


def row(frame: int, track: int, follows: int, emotion: str | None, box=True, gait_valid=None) -> dict:
    """A people.csv row of ``track`` standing on person ``follows``; ``emotion`` None: fused not valid yet."""
    result = {"stamp_ns": STAMPS[frame], "time_s": frame / FPS, "track_id": track,
              **dict(zip(("box_x_min", "box_y_min", "box_x_max", "box_y_max"),
                         box_of(follows, frame) if box else [0.0, 0.0, 0.0, 0.0])),
              "has_position": 1, **dict(zip(("x_m", "y_m", "z_m"), position_of(follows, frame))),
              "fused_valid": int(emotion is not None), "fused_emotion": emotion or "unknown",
              "gait_valid": int(emotion is not None if gait_valid is None else gait_valid),
              "gait_status": "ok" if emotion else "collecting"}
    if emotion is not None:
        probabilities = {label: 0.7 if label == emotion else 0.1 for label in EMOTIONS}
        result.update({f"fused_p_{label}": p for label, p in probabilities.items()})
        result.update({f"gait_p_{label}": p for label, p in probabilities.items()})
    return result


def run(tracks: dict[int, tuple[int, str]], warm_up: int = 20) -> list[dict]:
    """Rows of tracks {track: (person followed, fused label)}: no valid result for the first ``warm_up`` frames."""
    return [row(i, track, person, emotion if i >= warm_up else None)
            for i in range(FRAMES) for track, (person, emotion) in tracks.items()]


def test_perfect_run_scores_full_agreement_with_known_times():
    report = score(run({1: (1, "happy"), 2: (2, "sad")}), truth_of())
    first, second = report["people"]
    for entry, emotion in ((first, "happy"), (second, "sad")):
        assert entry["agreement"] == 1.0 and entry["frames"] == FRAMES and entry["tracked_share"] == 1.0
        assert entry["seconds_to_first_valid"] == pytest.approx(20 / FPS)
        assert entry["seconds_to_first_correct"] == pytest.approx(20 / FPS)
        assert entry["valid_share"] == {"gait": 0.8, "fused": 0.8}
        assert entry["label_flips"] == 0 and entry["label_flips_per_minute"] == 0.0
        assert entry["confusion"] == {**{label: 0 for label in EMOTIONS}, emotion: 80, "unknown": 20}
        assert entry["mean_box_iou"] == pytest.approx(1.0)
    assert first["tracks"] == [1] and second["tracks"] == [2]
    assert report["confusion"]["columns"] == [*EMOTIONS, "unknown"]
    assert report["confusion"]["counts"] == [[80, 0, 0, 0, 20], [0, 80, 0, 0, 20], [0] * 5, [0] * 5]
    assert report["overall"]["agreement"] == 1.0 and report["overall"]["valid_frames"] == 160
    assert report["unmatched_tracks"] == [] and report["unmatched_people"] == []
    json.dumps(report)  # plain data


def test_a_swapped_label_counts_against_its_person_only():
    report = score(run({1: (1, "happy"), 2: (2, "angry")}), truth_of())
    assert [p["agreement"] for p in report["people"]] == [1.0, 0.0]
    assert report["confusion"]["counts"][EMOTIONS.index("sad")] == [0, 0, 80, 0, 20]
    assert report["overall"]["agreement"] == 0.5 and report["overall"]["agreement_mean_over_people"] == 0.5
    assert report["people"][1]["seconds_to_first_correct"] is None


def test_a_track_that_switches_people_is_scored_as_the_person_it_followed_most():
    """Tracks 1 and 2 swap people at frame 60: each follows its first person for 60 of 100 frames, and says
    what it sees."""
    rows = [row(i, track, person, EMOTION_OF[person])
            for i in range(FRAMES) for track, first in ((1, 1), (2, 2)) for person in [first if i < 60 else 3 - first]]
    report = score(rows, truth_of())
    assert {k: (t["person"], t["purity"]) for k, t in report["tracks"].items()} == {"1": (1, 0.6), "2": (2, 0.6)}
    happy, sad = report["people"]
    assert happy["agreement"] == 0.6 and sad["agreement"] == 0.6
    assert happy["confusion"]["happy"] == 60 and happy["confusion"]["sad"] == 40
    assert happy["label_flips"] == 1
    assert happy["label_flips_per_minute"] == pytest.approx(1 / ((FRAMES - 1) / FPS / 60), rel=1e-3)


def test_a_person_never_detected_and_a_false_track_are_reported_and_change_nothing_else():
    rows = run({1: (1, "happy"), 2: (2, "sad")})
    rows += [{**row(i, 9, 1, "angry"), **dict(zip(("box_x_min", "box_y_min", "box_x_max", "box_y_max"),
                                                   (600.0, 300.0, 640.0, 380.0))), "x_m": 9.0}
             for i in range(30, 50)]
    report = score(rows, truth_of(people=(1, 2, 3)))
    assert report["unmatched_people"] == [3] and report["unmatched_tracks"] == [9]
    assert report["tracks"]["9"] == {"person": None, "frames": 20, "matched_frames": 0, "purity": None}
    missed = report["people"][2]
    assert missed["tracked_frames"] == 0 and missed["tracked_share"] == 0.0 and missed["agreement"] is None
    assert missed["seconds_to_first_valid"] is None
    assert missed["confusion"] == {label: 0 for label in [*EMOTIONS, "unknown"]}
    assert report["overall"]["people_tracked"] == 2
    assert report["overall"]["tracked_share"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["overall"]["agreement"] == 1.0


def test_flips_per_minute_and_time_to_first_valid_follow_their_definitions():
    labels = ["happy"] * 30 + ["neutral"] * 30 + ["happy"] * 25
    rows = [row(i, 4, 1, labels[i - 15] if i >= 15 else None) for i in range(FRAMES)]
    entry = score(rows, truth_of(people=(1,)))["people"][0]
    assert entry["tracks"] == [4] and entry["valid_frames"] == 85
    assert entry["label_flips"] == 2
    assert entry["label_flips_per_minute"] == pytest.approx(2 / ((FRAMES - 1) / FPS / 60), rel=1e-3)
    assert entry["seconds_to_first_valid"] == pytest.approx(1.5)
    assert entry["agreement"] == pytest.approx(55 / 85, abs=1e-4)
    assert entry["confusion"]["neutral"] == 30 and entry["confusion"]["unknown"] == 15


def test_frames_processed_without_anyone_detected_count_as_missed():
    rows = [r for r in run({1: (1, "happy")}) if r["stamp_ns"] < STAMPS[50]]
    entry = score(rows, truth_of(people=(1,)), processed_stamps_ns=STAMPS)["people"][0]
    assert entry["frames"] == FRAMES and entry["tracked_frames"] == 50 and entry["tracked_share"] == 0.5


def test_tracks_without_boxes_are_matched_by_3d_position():
    rows = [row(i, track, person, EMOTION_OF[person], box=False)
            for i in range(FRAMES) for track, person in ((5, 2), (6, 1))]
    report = score(rows, truth_of())
    assert [p["tracks"] for p in report["people"]] == [[6], [5]]
    assert all(p["agreement"] == 1.0 and p["mean_box_iou"] is None for p in report["people"])
    for r in rows:
        r["z_m"] += 1.0  # a metre behind where anyone is
    assert score(rows, truth_of())["unmatched_tracks"] == [5, 6]
    assert score(rows, truth_of(), config=MatchConfig(max_distance_m=1.5))["unmatched_tracks"] == []


def test_position_only_ground_truth_matches_by_distance():
    report = score(run({1: (1, "happy"), 2: (2, "sad")}), truth_of(boxes=False))
    assert [p["tracks"] for p in report["people"]] == [[1], [2]] and report["overall"]["agreement"] == 1.0


def test_sample_format_without_frames_matches_by_track_id(tmp_path: Path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"note": "old", "emotions_by_track_id": {"1": "happy", "2": "sad"}}))
    truth = load_ground_truth(path)
    assert [(p.id, p.emotion, p.frames) for p in truth.people] == [(1, "happy", []), (2, "sad", [])]
    assert truth.metadata == {"note": "old"}
    report = score(run({1: (1, "happy"), 2: (2, "angry"), 7: (1, "sad")}), truth)
    assert [p["agreement"] for p in report["people"]] == [1.0, 0.0]
    assert report["unmatched_tracks"] == [7]
    assert report["people"][0]["seconds_to_first_valid"] == pytest.approx(2.0)


def test_rows_read_back_from_the_csv_score_like_the_rows_themselves(tmp_path: Path):
    rows = run({1: (1, "happy"), 2: (2, "angry")})
    write_csv(tmp_path / "people.csv", rows, csv_columns({"gait": GaitResult}))
    read = load_rows(tmp_path / "people.csv")
    assert read[0]["stamp_ns"] == STAMPS[0] and read[-1]["fused_emotion"] == "angry" and "fused_p_happy" not in read[0]
    assert score(read, truth_of()) == score(rows, truth_of())


def test_ground_truth_round_trips_and_malformed_files_name_the_problem(tmp_path: Path):
    truth = truth_of(people=(1, 3))
    loaded = load_ground_truth(save_ground_truth(truth, tmp_path / "truth.json"))
    assert [(p.id, p.emotion, [f.stamp_ns for f in p.frames]) for p in loaded.people] == \
        [(p.id, p.emotion, [f.stamp_ns for f in p.frames]) for p in truth.people]
    for attribute, tolerance in (("box", 0.005), ("position", 5e-5)):  # saved to 0.01 px and 0.1 mm
        np.testing.assert_allclose([getattr(f, attribute) for p in loaded.people for f in p.frames],
                                   [getattr(f, attribute) for p in truth.people for f in p.frames], atol=tolerance)
    assert load_ground_truth(save_ground_truth(loaded, tmp_path / "again.json")) == loaded
    person = {"id": 1, "emotion": "happy", "frames": [{"stamp_ns": 5, "box": [0, 0, 10, 20]}]}

    def with_frame(**frame) -> dict:
        return {"people": [{**person, "frames": [frame]}]}

    broken = {
        "not valid JSON": "{",
        "neither 'people' nor": {"persons": []},
        "people[0].emotion: expected one of happy": {"people": [{**person, "emotion": "joyful"}]},
        "people[0].frames[0].box: expected a list of 4": with_frame(stamp_ns=5, box=[1, 2, 3]),
        "people[0].frames[0].box: expected [x_min": with_frame(stamp_ns=5, box=[9, 0, 1, 1]),
        "people[0].frames[0]: a frame needs a box or a position": with_frame(stamp_ns=5),
        "people[0].frames[0].stamp_ns: expected an integer": with_frame(stamp_ns=5.5, box=[0, 0, 1, 1]),
        "people[0].frames[0]: unknown keys ['boxes']": with_frame(stamp_ns=5, boxes=[0, 0, 1, 1]),
        "person id 1 appears more than once": {"people": [person, person]},
        "people[0]: id is missing": {"people": [{"emotion": "sad"}]},
        "format version 2": {"version": 2, "people": []},
    }
    for expected, content in broken.items():
        path = tmp_path / "broken.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises(GroundTruthError, match=re.escape(expected)) as error:
            load_ground_truth(path)
        assert str(path) in str(error.value)
    with pytest.raises(GroundTruthError, match="cannot read"):
        load_ground_truth(tmp_path / "missing.json")


def test_scene_ground_truth_matches_the_sample_bags_skeleton_projections():
    bag = sample_bag_path()
    bundled = load_ground_truth(bag / "ground_truth.json")  # the older format or this one
    intrinsics, frames = render_scene(SceneConfig(**bundled.metadata["scene"]))
    truth = ground_truth_from_scene(intrinsics, frames)
    assert {p.id: p.emotion for p in truth.people} == {p.id: p.emotion for p in bundled.people}
    if any(p.frames for p in bundled.people):  # a sample written with per-frame truth carries these very boxes
        np.testing.assert_allclose([f.box for p in bundled.people for f in p.frames],
                                   [f.box for p in truth.people for f in p.frames], atol=0.005)
    boxes = {(p.id, f.stamp_ns): f.box for p in truth.people for f in p.frames}
    compared = 0
    with Reader(bag) as reader:
        topics = (SAMPLE_TOPICS["skeletons"], SAMPLE_TOPICS["camera_info"])
        connections = [c for c in reader.connections if c.topic in topics]
        info = None
        for connection, timestamp, raw in reader.messages(connections=connections):
            if connection.topic == SAMPLE_TOPICS["camera_info"]:
                info = deserialize_message(raw, CameraInfo)
                continue
            assert info is not None, "the sample writes camera info before each skeleton array"
            camera, problem = intrinsics_from_camera_info(info)
            assert camera is not None, problem
            for external in skeletons_from_msg(deserialize_message(raw, TrackedSkeletonArray)):
                projected = person_from_external(external, camera).box
                np.testing.assert_allclose(projected, boxes[(external.track_id, timestamp)], atol=1e-3)
                compared += 1
    assert compared == len(boxes) == sum(len(p.frames) for p in truth.people) > 0
    assert all(f.position is not None and f.position[2] > 0 for p in truth.people for f in p.frames)


def test_scoring_files_are_written_with_plots(tmp_path: Path):
    rows = run({1: (1, "happy"), 2: (2, "angry"), 9: (3, "sad")})
    for r in rows:  # a cue with a vocabulary larger than the fused one: the plot shows its top labels
        r.update({"scene_valid": 1, **{f"scene_p_category{k}": k / 30 for k in range(26)}})
    report = write_scoring(tmp_path, rows, truth_of(people=(1, 2)))
    assert report["files"] == ["scoring.md", "scoring_confusion.png", "scoring_person_1.png", "scoring_person_2.png"]
    for name in report["files"][1:]:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000
    text = (tmp_path / "scoring.md").read_text()
    assert "| 2 | sad | 2 | 100 | 100.0% | 80.0% | 80.0% | 100.0% | 0.0% |" in text
    assert "| sad | 0 | 0 | 80 | 0 | 20 |" in text and "Tracks that matched nobody: 9." in text
    assert "![person 2](scoring_person_2.png)" in text
