"""The README's main job: the real node, in its own process, fed the sample bag over DDS, then real pedestrians
(a clip of OpenCV's vtest.avi through `bag from-video` and the person detector); what it publishes is shown as
a live table in the terminal, scored against each part's ground truth and saved as annotated contact sheets."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from emotion_perception.msg import EmotionArray

from ..offline.box_truth import VTEST_VIDEO, format_scores, load_box_truth, mot_scores
from ..detection import build_detector
from ..offline.ground_truth import GroundTruth, load_ground_truth
from ..runtime.paths import default_params_file, sample_bag_path
from ..settings import load_settings
from ..offline.scoring import score
from .bags.play import play_bag
from .bags.sample import SAMPLE_TOPICS
from .bags.video import write_video_bag
from .conversions import stamp_to_ns

SHEET_FRAMES = 6


def message_rows(msg: EmotionArray) -> list[dict]:
    """A received EmotionArray as the rows scoring reads (the columns of people.csv it needs)."""
    stamp = stamp_to_ns(msg.header.stamp)
    rows = []
    for person in msg.people:
        row = {"stamp_ns": stamp, "track_id": person.track_id, "box_x_min": person.box_x_min,
               "box_y_min": person.box_y_min, "box_x_max": person.box_x_max, "box_y_max": person.box_y_max,
               "fused_valid": int(person.fused.valid), "fused_emotion": person.fused.emotion,
               **{f"{cue.name}_valid": int(cue.valid) for cue in person.cues}}
        if person.has_position:
            row.update(x_m=person.position.x, y_m=person.position.y, z_m=person.position.z)
        rows.append(row)
    return rows


class DemoObserver:
    """Collects what the node publishes and renders the live table."""

    def __init__(self, truth: GroundTruth | None):
        self.truth = truth
        self.arrays: list[EmotionArray] = []
        self.debug_images: list[Image] = []
        self.diagnostics: DiagnosticArray | None = None
        self.people: dict[int, dict] = {}
        self.lock = threading.Lock()

    def on_emotions(self, msg: EmotionArray) -> None:
        with self.lock:
            self.arrays.append(msg)
            for person in msg.people:
                fused = person.fused
                self.people[person.track_id] = {
                    "cues": "; ".join(f"{cue.name}: {cue.summary}" for cue in person.cues),
                    "fused": f"{fused.emotion} {fused.confidence:.2f}" if fused.valid else "unknown",
                    "distance": f"{person.distance:.1f} m" if person.has_position else "2D",
                }

    def table(self) -> str:
        with self.lock:
            lines = [f"frames received: {len(self.arrays)}",
                     f"{'track':>5}  {'fused':14s}  {'where':8s}  cues"]
            for track_id in sorted(self.people):
                row = self.people[track_id]
                lines.append(f"{track_id:>5}  {row['fused']:14s}  {row['distance']:8s}  {row['cues'][:100]}")
        return "\n".join(lines)

    def truth_table(self) -> str:
        """Per ground-truth person: what the node said over the frames it answered, against the truth."""
        if self.truth is None:
            return "demo: no ground truth beside the bag: nothing to compare with"
        with self.lock:
            rows = [row for msg in self.arrays for row in message_rows(msg)]
            stamps = [stamp_to_ns(msg.header.stamp) for msg in self.arrays]
        report = score(rows, self.truth, stamps)
        lines = ["demo: what the node said, against the ground truth (agreement over the frames with a valid "
                 "fused label):", f"{'person':>6}  {'truth':8s}  {'agreement':>9s}  {'valid':>6s}  {'first valid':>11s}  "
                 f"{'final label':11s}"]
        for person in report["people"]:
            agreement = "-" if person["agreement"] is None else f"{100 * person['agreement']:.0f} %"
            first = "-" if person["seconds_to_first_valid"] is None else f"{person['seconds_to_first_valid']:.1f} s"
            lines.append(f"{person['id']:>6}  {person['emotion']:8s}  {agreement:>9s}  "
                         f"{100 * person['valid_share']['fused']:5.0f}%  {first:>11s}  {person['final_label']:11s}")
        overall = report["overall"]
        lines.append(f"overall: {100 * (overall['agreement'] or 0):.0f} % agreement over {overall['valid_frames']} "
                     f"valid person-frames; {self.truth.metadata.get('note', '')}")
        return "\n".join(lines)


SHEET_FROM = 0.4
"""The sheet shows frames from this share of the recording on: by then every cue has had time to speak."""


def _contact_sheet(images: list[Image], path: Path) -> bool:
    """Frames of ~/debug_image nearest evenly spaced times over the later part of the recording."""
    if not images:
        return False
    stamps = np.array([stamp_to_ns(m.header.stamp) for m in images], dtype=np.float64)
    targets = stamps.min() + np.linspace(SHEET_FROM, 1.0, SHEET_FRAMES) * (stamps.max() - stamps.min())
    chosen = [images[i] for i in sorted({int(np.argmin(np.abs(stamps - target))) for target in targets})]
    tiles = [np.frombuffer(m.data, dtype=np.uint8).reshape(m.height, m.width, 3) for m in chosen]
    while len(tiles) % 3:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + 3], axis=1) for i in range(0, len(tiles), 3)]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    return True


def _run_node(bag: Path, out: Path, rate: float, node_arguments: list[str], observer: DemoObserver) -> int:
    """Start the node in its own process with ``node_arguments`` (ROS args after the params file), play ``bag``
    into it over DDS while ``observer`` collects what it publishes (a live table), stop it; messages played."""
    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    command = [sys.executable, "-m", "emotion_perception.ros.node", "--ros-args",
               "--params-file", str(default_params_file()), *node_arguments]
    node_process = subprocess.Popen(command, env=env, cwd=out)
    rclpy.init()
    node = rclpy.create_node("emotion_perception_demo")
    node.create_subscription(EmotionArray, "/emotions", observer.on_emotions, 50)
    node.create_subscription(Image, "/emotion_perception/debug_image", observer.debug_images.append, qos_profile_sensor_data)
    node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: setattr(observer, "diagnostics", m), 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    stop_table = threading.Event()

    def show_table() -> None:
        """Redraw the table each second on a terminal; into a log, only when new output arrived."""
        interactive, shown = sys.stdout.isatty(), -1
        while not stop_table.wait(1.0):
            if interactive or len(observer.arrays) != shown:
                shown = len(observer.arrays)
                print(("\x1b[2J\x1b[H" if interactive else "") + observer.table(), flush=True)

    table_thread = threading.Thread(target=show_table, daemon=True)
    try:
        if node_process.poll() is not None:
            raise RuntimeError("the node exited at start-up; see its log above")
        table_thread.start()
        published = play_bag(node, bag, rate=rate, wait_for_subscribers_s=120.0)
        last_count, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < 3.0:  # wait until the node has caught up
            time.sleep(0.2)
            if len(observer.arrays) != last_count:
                last_count, quiet_since = len(observer.arrays), time.monotonic()
    finally:
        stop_table.set()
        node_process.send_signal(signal.SIGINT)
        try:
            node_process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node_process.kill()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    print(observer.table())
    return published


def _print_diagnostics(observer: DemoObserver) -> None:
    if observer.diagnostics is not None:
        for status in observer.diagnostics.status:
            print(f"demo: diagnostics [{status.message}]: " + "; ".join(f"{kv.key}={kv.value}" for kv in status.values
                                                                       if kv.key.startswith(("cue_", "people", "latency_total", "dropped"))))


def run_sample(bag: Path, out: Path, rate: float) -> int:
    """The recorded sample: drawn people (and one photograph) with known emotions, their skeletons on a topic."""
    if not (bag / "metadata.yaml").is_file():
        raise ValueError(f"{bag} is not a rosbag2 directory (no metadata.yaml)")
    truth_file = bag / "ground_truth.json"
    truth = load_ground_truth(truth_file) if truth_file.is_file() else None
    print(f"demo: playing {bag}; its people are drawn, so the node takes them from the bag's tracked-skeleton "
          f"topic {SAMPLE_TOPICS['skeletons']} (pose_source: skeletons)")
    if truth is not None:
        print(f"demo: ground truth: {truth.metadata.get('note', truth_file)}")
    observer = DemoObserver(truth)
    published = _run_node(bag, out, rate, [
        "-p", "pipeline.pose_source:=skeletons", "-p", "input.image_transport:=compressed",
        "-r", f"image/compressed:={SAMPLE_TOPICS['image']}", "-r", f"camera_info:={SAMPLE_TOPICS['camera_info']}",
        "-r", f"skeletons:={SAMPLE_TOPICS['skeletons']}"], observer)
    print(observer.truth_table())
    sheet = out / "debug_sheet.png"
    if _contact_sheet(observer.debug_images, sheet):
        print(f"demo: annotated frames from ~/debug_image: {sheet}")
    _print_diagnostics(observer)
    print(f"demo: published {published} bag messages; received {len(observer.arrays)} EmotionArray messages")
    return len(observer.arrays)


def run_real_footage(out: Path, rate: float) -> int | None:
    """Real pedestrians: OpenCV's vtest.avi clip of the hand-checked ground truth, through `bag from-video` and
    the node's default person detector; tracks scored against the truth, what the node says shown as it is
    (nobody knows how these people felt). None when it cannot run (said why)."""
    truth = load_box_truth()
    video = VTEST_VIDEO
    if not video.is_file():
        print(f"demo: real footage skipped: {video} is not installed (apt-get install opencv-doc; scripts/setup.sh "
              "does it where it may)")
        return None
    settings = load_settings()
    detector = build_detector(settings.detector, download=False)  # the demo never downloads
    if not detector.available:
        print(f"demo: real footage skipped: no person detector ({detector.status})")
        return None
    bag = out / "vtest_bag"
    shutil.rmtree(bag, ignore_errors=True)
    written = write_video_bag(video, bag, max_frames=truth.last_frame + 1, progress=False)
    print(f"demo: real footage: {video.name} frames 0-{truth.last_frame} ({written['frames'] / written['fps']:.0f} s "
          f"at {written['fps']:g} fps) as a bag, into the node with the {settings.detector.model} detector "
          f"at {rate:g}x speed")
    observer = DemoObserver(None)
    published = _run_node(bag, out, rate, [
        "-p", "pipeline.pose_source:=detector", "-p", "input.image_transport:=compressed",
        "-r", f"image/compressed:={written['topics']['image']}",
        "-r", f"camera_info:={written['topics']['camera_info']}"], observer)
    frame_ns = 1e9 / written["fps"]
    reported: dict[int, list] = {}
    for msg in observer.arrays:
        frame = round((stamp_to_ns(msg.header.stamp) - written["first_stamp_ns"]) / frame_ns)
        reported[frame] = [(p.track_id, np.array([p.box_x_min, p.box_y_min, p.box_x_max, p.box_y_max]))
                           for p in msg.people]
    try:
        scores = format_scores(mot_scores(truth, reported, frames=reported))
    except RuntimeError as exc:
        scores = str(exc)
    print(f"demo: real footage, the node's tracks against the hand-checked boxes of data/vtest_ground_truth, over "
          f"the {len(reported)} of {len(truth.frames)} frames it answered live (the rest superseded while it "
          f"worked):\n  {scores}")
    sheet = out / "vtest_sheet.png"
    if _contact_sheet(observer.debug_images, sheet):
        print(f"demo: annotated real frames from ~/debug_image: {sheet}")
    _print_diagnostics(observer)
    print(f"demo: published {published} bag messages; received {len(observer.arrays)} EmotionArray messages")
    return len(observer.arrays)


def run_demo(bag: Path | None, out: Path, rate: float) -> int:
    out.mkdir(parents=True, exist_ok=True)
    sample = run_sample(bag or sample_bag_path(), out, rate)
    real = run_real_footage(out, rate)
    return 0 if sample and real != 0 else 1
