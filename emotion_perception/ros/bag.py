"""rosbag2 files without the ROS 2 CLI: writing the sample bag, replaying a bag onto DDS, processing one offline.

rosbags (pure Python) reads and writes the bag container (sqlite3 or mcap); messages are (de)serialised with
rclpy's own CDR code, so what goes through the pipeline offline is byte for byte what the node would receive.
"""

from __future__ import annotations

import collections
import csv
import importlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from geometry_msgs.msg import Point
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from sensor_msgs.msg import CameraInfo, CompressedImage
from std_msgs.msg import Header

from emotion_perception.msg import TrackedSkeleton, TrackedSkeletonArray

from ..pipeline import FrameRejected, Pipeline
from ..settings import Settings
from ..synthetic_scene import SceneConfig, render_scene
from .conversions import emotion_array_msg, ns_to_stamp
from .frames import FrameAssembler, FrameDropped
from .sync import ApproximateTimeSync

PACKAGE = "emotion_perception"
EMOTIONS_TOPIC = "/emotion_perception/emotions"
SAMPLE_TOPICS = {"image": "/camera/color/image_raw/compressed", "camera_info": "/camera/color/camera_info",
                 "skeletons": "/body_tracker/skeletons"}
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


def share_dir() -> Path:
    """The package's installed share directory (msg definitions, config, sample data)."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, OSError):  # not found, or no AMENT_PREFIX_PATH (a plain virtualenv)
        return Path(sys.prefix) / "share" / PACKAGE


def typestore():
    """A rosbags typestore of ROS 2 Kilted with this package's messages registered from msg/."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted((share_dir() / "msg").glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store


def message_class(msgtype: str) -> type:
    """The rclpy message class for a type name such as 'sensor_msgs/msg/Image'."""
    package, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def _storage(path: Path) -> StoragePlugin:
    return StoragePlugin.SQLITE3 if path.suffix == ".db3" or path.name.endswith("_sqlite3") else StoragePlugin.MCAP


# --- the sample bag -----------------------------------------------------------------------------------
def write_sample_bag(path: Path, config: SceneConfig = SceneConfig(), jpeg_quality: int = 85) -> Path:
    """Render the synthetic scene and write it as a rosbag2 (mcap): compressed images, camera info, skeletons.

    Beside the bag's files, ground_truth.json names the emotion each track id's walk was generated with.
    """
    intrinsics, frames = render_scene(config)
    store = typestore()
    frame_id = "camera_color_optical_frame"
    info = CameraInfo(width=intrinsics.width, height=intrinsics.height, distortion_model="plumb_bob",
                      d=[0.0] * 5, k=[intrinsics.fx, 0.0, intrinsics.cx, 0.0, intrinsics.fy, intrinsics.cy, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[intrinsics.fx, 0.0, intrinsics.cx, 0.0, 0.0, intrinsics.fy, intrinsics.cy, 0.0, 0.0, 0.0, 1.0, 0.0])
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {
            "image": writer.add_connection(SAMPLE_TOPICS["image"], "sensor_msgs/msg/CompressedImage", typestore=store),
            "camera_info": writer.add_connection(SAMPLE_TOPICS["camera_info"], "sensor_msgs/msg/CameraInfo", typestore=store),
            "skeletons": writer.add_connection(SAMPLE_TOPICS["skeletons"], f"{PACKAGE}/msg/TrackedSkeletonArray", typestore=store),
        }
        for frame in frames:
            header = Header(stamp=ns_to_stamp(frame.stamp_ns), frame_id=frame_id)
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
            assert ok, "OpenCV could not encode a JPEG"
            info.header = header
            skeletons = TrackedSkeletonArray(header=header, skeletons=[
                TrackedSkeleton(id=s.track_id, joints=[Point(x=float(x), y=float(y), z=float(z)) for x, y, z in s.joints_3d],
                                confidence=s.confidence.astype(np.float32))
                for s in frame.skeletons])
            writer.write(connections["camera_info"], frame.stamp_ns, serialize_message(info))
            writer.write(connections["skeletons"], frame.stamp_ns, serialize_message(skeletons))
            writer.write(connections["image"], frame.stamp_ns,
                         serialize_message(CompressedImage(header=header, format="jpeg", data=jpeg.tobytes())))
    truth = {"note": "synthetic scene: procedural walks drawn as solid figures (see emotion_perception/synthetic_scene.py)",
             "scene": {k: getattr(config, k) for k in config.__dataclass_fields__},
             "emotions_by_track_id": {str(k): v for k, v in frames[0].emotions.items()}}
    (path / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return path


def sample_bag_path() -> Path:
    """The bundled sample bag (installed with the package)."""
    return share_dir() / "data" / "sample_walk"


# --- reading ------------------------------------------------------------------------------------------
@dataclass
class BagTopics:
    image: str
    camera_info: str | None
    depth: str | None
    skeletons: str | None


def choose_topics(reader: Reader, settings: Settings, image: str | None = None, camera_info: str | None = None,
                  depth: str | None = None, skeletons: str | None = None) -> BagTopics:
    """The bag's topics for each input: given ones are checked, missing ones found by message type."""
    by_topic = {c.topic: c.msgtype for c in reader.connections}

    def pick(given: str | None, types: tuple[str, ...], what: str, required: bool) -> str | None:
        if given is not None:
            if given not in by_topic:
                raise ValueError(f"topic {given} is not in the bag; it has {', '.join(sorted(by_topic))}")
            return given
        found = sorted(topic for topic, msgtype in by_topic.items() if msgtype in types)
        if required and not found:
            raise ValueError(f"the bag has no {what} topic ({' or '.join(types)}); topics: {', '.join(sorted(by_topic))}")
        return found[0] if found else None

    transport = settings.input.image_transport
    image_types = IMAGE_TYPES if image else (("sensor_msgs/msg/CompressedImage",) if transport == "compressed" else IMAGE_TYPES)
    image_topic = pick(image, image_types, "image", True)
    wants_skeletons = settings.pipeline.pose_source == "skeletons"
    return BagTopics(
        image=image_topic,
        camera_info=pick(camera_info, ("sensor_msgs/msg/CameraInfo",), "camera info", False),
        depth=pick(depth, (), "depth", False) if (depth or settings.input.use_depth) and not wants_skeletons else None,
        skeletons=pick(skeletons, (f"{PACKAGE}/msg/TrackedSkeletonArray",), "skeletons", True) if wants_skeletons else None,
    )


# --- offline processing -------------------------------------------------------------------------------
def process_bag(bag: Path, out: Path, settings: Settings, topics: dict[str, str | None] | None = None,
                pipeline: Pipeline | None = None, progress: bool = True) -> dict[str, Any]:
    """Run the pipeline over every image of ``bag`` without DDS; write ``out`` (a bag with EmotionArray)
    and ``out``/summary.json + people.csv. Returns the summary."""
    from tqdm import tqdm

    if out.exists():
        raise ValueError(f"{out} exists; choose a new output path")
    pipeline = pipeline or Pipeline(settings, log=lambda text: print(f"warning: {text}", file=sys.stderr))
    assembler = FrameAssembler(settings.input)
    counts: collections.Counter[str] = collections.Counter()
    rows: list[dict[str, Any]] = []
    store = typestore()
    with Reader(bag) as reader:
        chosen = choose_topics(reader, settings, **(topics or {}))
        secondary = chosen.skeletons or chosen.depth
        wanted = [c for c in reader.connections if c.topic in {chosen.image, chosen.camera_info, secondary}]
        classes = {c.topic: message_class(c.msgtype) for c in wanted}
        out.parent.mkdir(parents=True, exist_ok=True)
        with Writer(out, version=9, storage_plugin=_storage(out)) as writer:
            emotions = writer.add_connection(EMOTIONS_TOPIC, f"{PACKAGE}/msg/EmotionArray", typestore=store)

            def on_frame(image_msg: Any, *others: Any) -> None:
                try:
                    frame, skeletons, notes = assembler.assemble(image_msg, *others)
                    counts.update(reason for reason, _ in notes)
                    result = pipeline.process(frame, skeletons)
                except (FrameDropped, FrameRejected) as exc:
                    counts[getattr(exc, "reason", "rejected")] += 1
                    return
                assembler.processed(frame)
                counts["processed"] += 1
                writer.write(emotions, frame.stamp_ns, serialize_message(emotion_array_msg(result, image_msg.header)))
                rows.extend(_summary_rows(result))

            sync = ApproximateTimeSync(2 if secondary else 1, settings.input.queue_depth * 2,
                                       settings.input.sync_slop_s, on_frame)
            total = sum(c.msgcount for c in wanted if c.topic == chosen.image)
            with tqdm(total=total, unit="frame", disable=not progress, desc=bag.name) as bar:
                for connection, _, raw in reader.messages(connections=wanted):
                    msg = deserialize_message(raw, classes[connection.topic])
                    if connection.topic == chosen.camera_info:
                        assembler.camera_info(msg)
                    elif connection.topic == chosen.image:
                        sync.add(0, msg)
                        bar.update(1)
                    else:
                        sync.add(1, msg)
    counts["unmatched"] = sync.unmatched
    summary = {"bag": str(bag), "topics": chosen.__dict__, "frames": dict(counts),
               "branches": {k: {"active": a, "status": s} for k, (a, s) in pipeline.branch_status().items()},
               "latency_ms": {k: dict(zip(("p50", "p95", "p99"), v)) for k, v in pipeline.timings.percentiles_ms().items()},
               "people": _people_summary(rows)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    _write_csv(out / "people.csv", rows)
    return summary


def _summary_rows(result) -> list[dict[str, Any]]:
    rows = []
    for person in result.people:
        rows.append({"stamp_ns": result.stamp_ns, "track_id": person.track_id,
                     "gait_label": person.gait.label, "gait_status": person.gait.status,
                     "gait_frames_observed": person.gait.frames_observed,
                     "context_active": "|".join(person.context.active_categories),
                     "fused_emotion": person.fused.emotion, "fused_confidence": round(person.fused.confidence, 6),
                     "fused_valence": round(person.fused.valence, 6), "fused_arousal": round(person.fused.arousal, 6)})
    return rows


def _people_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per track id: frames seen and the last valid gait and fused labels."""
    people: dict[str, Any] = {}
    for row in rows:
        entry = people.setdefault(str(row["track_id"]), {"frames": 0, "gait_label": "", "fused_emotion": "unknown"})
        entry["frames"] += 1
        if row["gait_label"]:
            entry["gait_label"] = row["gait_label"]
        if row["fused_emotion"] != "unknown":
            entry["fused_emotion"] = row["fused_emotion"]
    return people


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields = list(rows[0]) if rows else ["stamp_ns", "track_id"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


# --- replay onto DDS ----------------------------------------------------------------------------------
def play_bag(node: Any, bag: Path, rate: float = 1.0, clock: bool = False, topics: list[str] | None = None,
             wait_for_subscribers_s: float = 0.0, remap: dict[str, str] | None = None) -> int:
    """Publish a bag's messages from ``node`` with their original timing (scaled by ``rate``; 0 = at once).

    With ``clock``, /clock carries the bag time (for nodes with use_sim_time). With
    ``wait_for_subscribers_s``, waits up to that long until every image topic has a subscriber.
    Returns the number of messages published. The node must be spun elsewhere if it also subscribes.
    """
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock

    remap = remap or {}
    published = 0
    with Reader(bag) as reader:
        wanted = [c for c in reader.connections if not topics or c.topic in topics]
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        publishers = {c.topic: node.create_publisher(message_class(c.msgtype), remap.get(c.topic, c.topic), qos)
                      for c in wanted}
        clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
        image_publishers = [publishers[c.topic] for c in wanted if c.msgtype in IMAGE_TYPES]
        deadline = time.monotonic() + wait_for_subscribers_s
        while time.monotonic() < deadline and not all(p.get_subscription_count() > 0 for p in image_publishers):
            time.sleep(0.05)
        start_wall, start_bag = time.monotonic(), None
        for connection, timestamp, raw in reader.messages(connections=wanted):
            start_bag = timestamp if start_bag is None else start_bag
            if rate > 0:
                delay = start_wall + (timestamp - start_bag) / 1e9 / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if clock_pub is not None:
                clock_pub.publish(Clock(clock=ns_to_stamp(timestamp)))
            publishers[connection.topic].publish(raw)  # rclpy publishes serialised bytes as they are
            published += 1
    return published
