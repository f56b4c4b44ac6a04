"""The README's main job: the real node, in its own process, fed the sample bag over DDS; what it publishes
is shown as a live table in the terminal and saved as an annotated contact sheet."""

from __future__ import annotations

import json
import os
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

from ..detection import build_detector
from .bag import SAMPLE_TOPICS, play_bag, sample_bag_path, share_dir
from .cli import settings_from_args

SHEET_FRAMES = 6


class DemoObserver:
    """Collects what the node publishes and renders the live table."""

    def __init__(self, truth: dict[str, str]):
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
                self.people[person.track_id] = {
                    "gait": (f"{person.gait.label} {max(person.gait.probabilities):.2f}" if person.gait.valid
                             else person.gait.status),
                    "context": ",".join(person.context.active_categories[:2]) if person.context.valid else person.context.status,
                    "fused": f"{person.fused.emotion} {person.fused.confidence:.2f}" if person.fused.valid else "unknown",
                }

    def table(self) -> str:
        with self.lock:
            lines = [f"frames received: {len(self.arrays)}",
                     f"{'track':>5}  {'gait emotion':28s}  {'context':30s}  {'fused':14s}  walk generated as"]
            for track_id in sorted(self.people):
                row = self.people[track_id]
                lines.append(f"{track_id:>5}  {row['gait'][:28]:28s}  {row['context'][:30]:30s}  {row['fused']:14s}  "
                             f"{self.truth.get(str(track_id), '?')}")
        return "\n".join(lines)


def _contact_sheet(images: list[Image], path: Path) -> bool:
    if not images:
        return False
    chosen = [images[int(i)] for i in np.linspace(0, len(images) - 1, min(SHEET_FRAMES, len(images)))]
    tiles = [np.frombuffer(m.data, dtype=np.uint8).reshape(m.height, m.width, 3) for m in chosen]
    while len(tiles) % 3:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + 3], axis=1) for i in range(0, len(tiles), 3)]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    return True


def run_demo(bag: Path | None, out: Path, rate: float) -> int:
    bag = bag or sample_bag_path()
    if not (bag / "metadata.yaml").is_file():
        raise ValueError(f"{bag} is not a rosbag2 directory (no metadata.yaml)")
    truth_file = bag / "ground_truth.json"
    truth = json.loads(truth_file.read_text())["emotions_by_track_id"] if truth_file.is_file() else {}
    settings = settings_from_args(None, [])
    detector = build_detector(settings.detector)
    pose_source = "detector" if detector.available else "skeletons"
    print(f"demo: playing {bag}")
    if pose_source == "skeletons":
        print("demo: NOTE no person-detector weights are configured on this machine "
              f"({detector.status}); the node takes people from the bag's tracked-skeleton topic "
              f"{SAMPLE_TOPICS['skeletons']} (pose_source: skeletons) instead of running the detector.")
    print("demo: the sample is synthetic (procedural walks drawn as solid figures), not camera footage.")
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    command = [sys.executable, "-m", "emotion_perception.ros.node", "--ros-args",
               "--params-file", str(share_dir() / "config" / "emotion_perception.yaml"),
               "-p", f"pipeline.pose_source:={pose_source}", "-p", "input.image_transport:=compressed",
               "-r", f"image/compressed:={SAMPLE_TOPICS['image']}", "-r", f"camera_info:={SAMPLE_TOPICS['camera_info']}",
               "-r", f"skeletons:={SAMPLE_TOPICS['skeletons']}"]
    node_process = subprocess.Popen(command, env=env, cwd=out)
    rclpy.init()
    node = rclpy.create_node("emotion_perception_demo")
    observer = DemoObserver(truth)
    node.create_subscription(EmotionArray, "/emotions", observer.on_emotions, 50)
    node.create_subscription(Image, "/emotion_perception/debug_image", observer.debug_images.append, qos_profile_sensor_data)
    node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: setattr(observer, "diagnostics", m), 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    stop_table = threading.Event()

    def show_table() -> None:
        interactive = sys.stdout.isatty()
        while not stop_table.wait(1.0):
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
    sheet = out / "debug_sheet.png"
    if _contact_sheet(observer.debug_images, sheet):
        print(f"demo: annotated frames from ~/debug_image: {sheet}")
    if observer.diagnostics is not None:
        for status in observer.diagnostics.status:
            print(f"demo: diagnostics [{status.message}]: " + "; ".join(f"{kv.key}={kv.value}" for kv in status.values
                                                                       if kv.key.startswith(("branch_", "latency_total", "dropped"))))
    print(f"demo: published {published} bag messages; received {len(observer.arrays)} EmotionArray messages")
    return 0 if observer.arrays else 1
