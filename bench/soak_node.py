"""Soak: the real node over DDS for minutes at camera rate with several walking people; how often gait is valid.

A publisher sends raw 320x240 images and the people's tracked skeletons at ``--rate`` Hz (the synthetic scene,
looped with stamps that keep going), the node (its own process, pose_source skeletons, STEP gait) answers,
and this script counts, after ``--warmup`` seconds, the share of person-frames whose gait result is valid,
the node's output rate, the frames it skipped under load (newest frame wins) and its latency percentiles.

Usage: .venv/bin/python bench/soak_node.py [--seconds 300] [--people 5] [--rate 30] [--warmup 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from emotion_perception.msg import EmotionArray, TrackedSkeleton, TrackedSkeletonArray
from emotion_perception.offline.synthetic_scene import SceneConfig, render_scene

NODE = Path(sys.prefix) / "lib" / "emotion_perception" / "emotion_perception_node"
CONFIG = Path(sys.prefix) / "share" / "emotion_perception" / "config" / "emotion_perception.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--people", type=int, default=5)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds left out at the start")
    parser.add_argument("--domain", type=int, default=57)
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    env.update(ROS_DOMAIN_ID=str(args.domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", OMP_NUM_THREADS="1")
    os.environ.update(ROS_DOMAIN_ID=str(args.domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    node_process = subprocess.Popen(
        [str(NODE), "--ros-args", "--params-file", str(CONFIG), "-p", "pipeline.pose_source:=skeletons",
         "-p", "detector.weights:=''", "-r", "image:=/soak/image", "-r", "skeletons:=/soak/skeletons",
         "-r", "camera_info:=/soak/camera_info"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    config = SceneConfig(people=args.people, seconds=10.0, fps=args.rate, seed=3)
    intrinsics, frames = render_scene(config)
    rclpy.init()
    node = rclpy.create_node("soak_publisher")
    images = node.create_publisher(Image, "/soak/image", 10)
    skeletons = node.create_publisher(TrackedSkeletonArray, "/soak/skeletons", 10)
    infos = node.create_publisher(CameraInfo, "/soak/camera_info", 10)
    arrays: list[tuple[float, EmotionArray]] = []
    diagnostics: list[DiagnosticArray] = []
    node.create_subscription(EmotionArray, "/emotions", lambda m: arrays.append((time.monotonic(), m)), 100)
    node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    deadline = time.monotonic() + 120
    while images.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    period_ns = int(1e9 / args.rate)
    start_wall, sent = time.monotonic(), 0
    k = [intrinsics.fx, 0.0, intrinsics.cx, 0.0, intrinsics.fy, intrinsics.cy, 0.0, 0.0, 1.0]
    try:
        while time.monotonic() - start_wall < args.seconds:
            frame = frames[sent % len(frames)]
            stamp = 1_700_000_000_000_000_000 + sent * period_ns
            header = Header(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id="soak_camera")
            infos.publish(CameraInfo(header=header, width=config.width, height=config.height, k=k))
            skeletons.publish(TrackedSkeletonArray(header=header, skeletons=[
                TrackedSkeleton(id=s.track_id, joints=[Point(x=float(x), y=float(y), z=float(z)) for x, y, z in s.joints_3d],
                                confidence=s.confidence) for s in frame.skeletons]))
            images.publish(Image(header=header, height=config.height, width=config.width, encoding="rgb8",
                                 step=config.width * 3, data=frame.image.tobytes()))
            sent += 1
            delay = start_wall + sent / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        time.sleep(2.0)
    finally:
        node_process.terminate()
        node_process.wait(timeout=20)
        executor.shutdown()
        rclpy.try_shutdown()
    counted = [msg for received, msg in arrays if received - start_wall >= args.warmup]
    person_frames = [person for msg in counted for person in msg.people]
    valid = sum(person.gait.valid for person in person_frames)
    values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}
    print(f"soak: {args.seconds:.0f} s at {args.rate:g} Hz, {args.people} people, pose_source skeletons, STEP gait, "
          f"{os.cpu_count()} CPU cores")
    print(f"frames sent {sent}, EmotionArrays received {len(arrays)} ({len(arrays) / args.seconds:.1f} Hz), "
          f"skipped under load (superseded) {values.get('dropped_superseded', '0')}")
    print(f"after {args.warmup:g} s warm-up: gait valid in {valid}/{len(person_frames)} person-frames = "
          f"{100.0 * valid / max(len(person_frames), 1):.1f} %")
    reasons: dict[str, int] = {}
    for person in person_frames:
        if not person.gait.valid:
            key = person.gait.status.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
    print(f"invalid gait by reason: {reasons}")
    print(f"node latency: {values.get('latency_total_ms', '?')} ms; time jumps {values.get('time_jumps', '?')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
