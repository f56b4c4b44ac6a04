"""Real pedestrians (OpenCV's vtest.avi) through the default detector, `run` and the node, against counts made
by eye and the hand-checked boxes of data/vtest_ground_truth.

Skipped, saying why, where vtest.avi (Debian's opencv-doc) or the MoveNet graph model (../shared/models/movenet,
which set-up's `weights fetch movenet_multipose` also reads) is absent.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from emotion_perception.offline.box_truth import VTEST_VIDEO, load_box_truth, mot_scores
from emotion_perception.cli import main
from emotion_perception.detection import DetectorConfig, build_detector
from emotion_perception.settings import Settings
from emotion_perception.tracking import box_iou

from support.installed import SHARED
from support.marks import needs_vtest

MOVENET = SHARED / "models" / "movenet"
"""The graph model beside the checkout (../shared, as CI lays it out)."""
needs_footage = [
    needs_vtest,
    pytest.mark.skipif(not (MOVENET / "movenet-multipose.json").is_file(),
                       reason=f"the MoveNet graph model is absent from {MOVENET}"),
]
pytestmark = needs_footage

EYE_COUNTS = {100: 7, 400: 3, 600: 6}
"""People in these frames, counted by eye (frame 100: six on the walkway and one far walker at the top left)."""
MOVENET_MOST = 6
"""MoveNet MultiPose reports at most 6 people."""


def vtest_frames(indices) -> dict[int, np.ndarray]:
    capture = cv2.VideoCapture(str(VTEST_VIDEO))
    frames = {}
    for index in sorted(indices):
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
        assert ok, f"cannot read frame {index} of {VTEST_VIDEO}"
        frames[index] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    capture.release()
    return frames


@pytest.fixture(scope="module")
def detector():
    detector = build_detector(DetectorConfig(weights=str(MOVENET)))
    assert detector.available, detector.status
    return detector


def confident(detector, people):
    """People the tracker matches first: on its scale at least its high threshold."""
    high = Settings().tracker.high_threshold
    return [p for p in people if detector.score_calibration(p.score) >= high]


def test_default_detector_finds_the_people_counted_by_eye(detector):
    """Within one person of the count by eye (capped at MoveNet's 6), never more; and on the hand-checked clip
    (frame 100) every person found is a person of the ground truth (so the count is not made of false ones)."""
    frames = vtest_frames(EYE_COUNTS)
    for index, people in zip(frames, detector.detect(list(frames.values()))):
        found = confident(detector, people)
        expected = min(EYE_COUNTS[index], MOVENET_MOST)
        assert expected - 1 <= len(found) <= expected, (index, [round(p.score, 2) for p in people])
    truth = load_box_truth()
    annotated = np.concatenate([np.array(list(truth.people[100].values())), truth.dont_care[100]])
    found = confident(detector, detector.detect([frames[100]])[0])
    assert np.all(box_iou(np.array([p.box for p in found]), annotated).max(axis=1) >= 0.5), (
        "a person found is one of the six on the walkway or the far walker (a don't-care box of the truth)")


@pytest.mark.slow
def test_run_on_a_vtest_clip_confirms_tracks_and_judges_gait(tmp_path):
    out = tmp_path / "out"
    code = main(["run", str(VTEST_VIDEO), "-o", str(out), "--max-frames", "100", "--no-progress",
                 "--set", f"detector.weights={MOVENET}"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"]["processed"] == 100
    assert len(summary["people"]) >= 4, "confirmed tracks of the walkers"
    gait = [person["valid_share"]["gait"] for person in summary["people"].values()]
    assert max(gait) > 0, f"gait windows of walkers tracked for seconds: {summary['people']}"
    assert (out / "annotated.mp4").stat().st_size > 10_000 and (out / "people.csv").is_file()
    rows = (out / "people.csv").read_text().splitlines()[1:]
    reported: dict[int, list] = {}
    header = (out / "people.csv").read_text().splitlines()[0].split(",")
    for line in rows:
        row = dict(zip(header, line.split(",")))
        frame = round(float(row["time_s"]) * 10)
        box = np.array([float(row[k]) for k in ("box_x_min", "box_y_min", "box_x_max", "box_y_max")])
        reported.setdefault(frame, []).append((int(row["track_id"]), box))
    truth = load_box_truth()
    scores = mot_scores(truth, {f: p for f, p in reported.items() if f in truth.frames})
    assert scores["idf1"] > 0.3, scores


@pytest.mark.slow
def test_the_node_fed_a_bag_of_real_footage_publishes_the_people_in_it(tmp_path, start_node, rclpy_context, spin):
    import rclpy

    from emotion_perception.msg import EmotionArray
    from emotion_perception.ros.bags.play import play_bag
    from emotion_perception.ros.conversions import stamp_to_ns
    from emotion_perception.ros.bags.video import write_video_bag

    written = write_video_bag(VTEST_VIDEO, tmp_path / "bag", max_frames=40, progress=False)
    node_process = start_node("-p", f"detector.weights:={MOVENET}", "-p", "pipeline.pose_source:=detector",
               "-p", "input.image_transport:=compressed", "-r", f"image/compressed:={written['topics']['image']}",
               "-r", f"camera_info:={written['topics']['camera_info']}")
    node = rclpy.create_node("test_real_footage", context=rclpy_context)
    arrays: list[EmotionArray] = []
    subscription = node.create_subscription(EmotionArray, "/emotions", arrays.append, 100)
    # it loads MoveNet and the cue networks first: slow on a busy 2-core machine
    assert spin(node, lambda: subscription.get_publisher_count() > 0, 180), (
        "the node did not come up: " + (node_process.stdout.read()[-3000:] if node_process.poll() is not None
                                        else "still starting"))
    play_bag(node, tmp_path / "bag", rate=0.5, wait_for_subscribers_s=60)  # the demo's half speed: 5 fps
    assert spin(node, lambda: any(len(a.people) >= 3 for a in arrays), 180), [len(a.people) for a in arrays]
    truth = load_box_truth()
    for array in arrays:
        frame = round((stamp_to_ns(array.header.stamp) - written["first_stamp_ns"]) / 1e8)
        annotated = np.array(list(truth.people[frame].values()))
        for person in array.people:
            box = np.array([person.box_x_min, person.box_y_min, person.box_x_max, person.box_y_max])
            assert box_iou(box[None], annotated).max() >= 0.3, (frame, person.track_id, box)
