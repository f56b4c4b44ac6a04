"""rosbag2 files without the ROS 2 CLI: writing the sample bag, replaying a bag onto DDS, processing one offline.

rosbags (pure Python) reads and writes the bag container (sqlite3 or mcap); messages are (de)serialised with
rclpy's own CDR code, so what goes through the pipeline offline is byte for byte what the node would receive.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from geometry_msgs.msg import Point
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from std_msgs.msg import Header

from emotion_perception.msg import TrackedSkeleton, TrackedSkeletonArray

from ..detection import BACKENDS, build_detector
from ..offline.ground_truth import ground_truth_from_scene, load_ground_truth, save_ground_truth
from ..pipeline import FrameRejected, Pipeline
from ..offline.realtime import RealtimeReplay
from ..runtime.paths import PACKAGE, share_dir
from ..offline.report import RunRecord, atomic_output_dir
from ..offline.run import VIDEO_FILE, AnnotatedVideo
from ..offline.scoring import write_scoring
from ..settings import Settings
from ..offline.synthetic_scene import SAMPLE_SCENE, SceneConfig, render_scene
from .conversions import camera_info_msg, emotion_array_msg, ns_to_stamp, rgb_to_jpeg_msg, stamp_to_ns
from .frames import FrameAssembler
from .sync import ApproximateTimeSync

EMOTIONS_TOPIC = "/emotions"
"""Where the node publishes with its defaults (no namespace): the offline output uses the same topic."""
SAMPLE_TOPICS = {"image": "/camera/color/image_raw/compressed", "camera_info": "/camera/color/camera_info",
                 "skeletons": "/body_tracker/skeletons"}
ACK_TIMEOUT_S = 5.0
"""How long bag play waits for subscribers to acknowledge the last messages before closing its publishers."""
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


def typestore():
    """A rosbags typestore of ROS 2 Kilted with this package's messages registered from msg/."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted((share_dir() / "msg").glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store


def message_class(msgtype: str, store=None) -> type:
    """The rclpy message class for a registered message type name such as 'sensor_msgs/msg/Image'.

    Only types the typestore knows (ROS 2 Kilted's and this package's) are resolved: a bag naming any other
    type must not make us import whatever module its name points at.
    """
    store = store or typestore()
    parts = msgtype.split("/")
    if msgtype not in store.fielddefs or len(parts) != 3 or parts[1] != "msg":
        raise ValueError(f"the bag names message type {msgtype!r}, which is not a registered ROS message type")
    package, kind, name = parts
    try:
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"message type {msgtype} is registered but its Python package is not installed "
                         f"({exc}); install ros-{package.replace('_', '-')}") from exc


@contextlib.contextmanager
def open_bag(path: Path) -> Iterator[Reader]:
    """A rosbag2 reader, with a clear error for a path that is not a readable bag."""
    if not (Path(path) / "metadata.yaml").is_file():
        raise ValueError(f"{path} is not a rosbag2 directory (no metadata.yaml)")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # rosbags raises ReaderError, and lower-level errors for corrupt files
        raise ValueError(f"{path}: cannot read the bag ({exc})") from exc
    try:
        yield reader
    finally:
        reader.close()


def _storage(path: Path) -> StoragePlugin:
    return StoragePlugin.SQLITE3 if path.suffix == ".db3" or path.name.endswith("_sqlite3") else StoragePlugin.MCAP


# --- the sample bag -----------------------------------------------------------------------------------
def write_sample_bag(path: Path, config: SceneConfig = SAMPLE_SCENE, jpeg_quality: int = 85) -> Path:
    """Render the synthetic scene and write it as a rosbag2 (mcap): compressed images, camera info, skeletons.

    Beside the bag's files, ground_truth.json names the emotion each track id's walk was generated with.
    """
    intrinsics, frames = render_scene(config)
    store = typestore()
    frame_id = "camera_color_optical_frame"
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {
            "image": writer.add_connection(SAMPLE_TOPICS["image"], "sensor_msgs/msg/CompressedImage", typestore=store),
            "camera_info": writer.add_connection(SAMPLE_TOPICS["camera_info"], "sensor_msgs/msg/CameraInfo", typestore=store),
            "skeletons": writer.add_connection(SAMPLE_TOPICS["skeletons"], f"{PACKAGE}/msg/TrackedSkeletonArray", typestore=store),
        }
        for frame in frames:
            header = Header(stamp=ns_to_stamp(frame.stamp_ns), frame_id=frame_id)
            skeletons = TrackedSkeletonArray(header=header, skeletons=[
                TrackedSkeleton(id=s.track_id, joints=[Point(x=float(x), y=float(y), z=float(z)) for x, y, z in s.joints_3d],
                                confidence=s.confidence.astype(np.float32))
                for s in frame.skeletons])
            writer.write(connections["camera_info"], frame.stamp_ns, serialize_message(camera_info_msg(intrinsics, header)))
            writer.write(connections["skeletons"], frame.stamp_ns, serialize_message(skeletons))
            writer.write(connections["image"], frame.stamp_ns,
                         serialize_message(rgb_to_jpeg_msg(frame.image, header, jpeg_quality)))
    note = ("synthetic scene: procedural walks drawn as solid figures (emotion_perception/offline/synthetic_scene.py), "
            "each labelled with the emotion style it was generated with")
    if config.photo_seconds:
        note += ("; then a real photograph (scikit-image's astronaut, NASA, public domain) whose smiling person is "
                 "labelled happy by hand, with hand-placed joints")
    metadata = {"note": note, "scene": {k: getattr(config, k) for k in config.__dataclass_fields__}}
    save_ground_truth(ground_truth_from_scene(intrinsics, frames, metadata), path / "ground_truth.json")
    return path


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
def people_source(settings: Settings, reader: Reader, log) -> tuple[Settings, Any]:
    """Settings whose people source can see someone in this bag, and the detector if it is the source.

    Without a usable detector, a bag that carries tracked skeletons is processed from them (said through
    ``log``); one that carries none is refused, since every frame would come out empty.
    """
    if settings.pipeline.pose_source != "detector":
        return settings, None
    detector = build_detector(settings.detector)
    if detector.available:
        return settings, detector
    skeleton_topics = [c.topic for c in reader.connections if c.msgtype == f"{PACKAGE}/msg/TrackedSkeletonArray"]
    if not skeleton_topics:
        raise ValueError(f"no person detector ({detector.status}) and the bag has no "
                         f"{PACKAGE}/msg/TrackedSkeletonArray topic: nobody could be seen. Get the detector "
                         f"weights ({BACKENDS[settings.detector.model].weights_hint}) or set detector.weights "
                         "to a file")
    log(f"no person detector ({detector.status}); people come from the bag's tracked skeletons on "
        f"{skeleton_topics[0]} (pipeline.pose_source=skeletons)")
    return settings.with_values({"pipeline.pose_source": "skeletons"}), None


def _frame_rate(reader: Reader, images: int) -> float:
    """The images' mean rate over the bag's duration (for the annotated video's playback speed)."""
    seconds = reader.duration * 1e-9
    return (images - 1) / seconds if images > 1 and seconds > 0 else 30.0


def process_bag(bag: Path, out: Path, settings: Settings, topics: dict[str, str | None] | None = None,
                pipeline: Pipeline | None = None, progress: bool = True, log=None,
                ground_truth: Path | None = None, realtime: RealtimeReplay | None = None,
                max_frames: int | None = None, video: bool = False) -> dict[str, Any]:
    """Run the pipeline over the images of ``bag`` without DDS; write ``out`` (a bag with EmotionArray on the
    live node's topic), ``out``/summary.json and people.csv, all at once when the run succeeds.

    Every frame is processed (the first ``max_frames`` images, if given), unless ``realtime`` emulates a live
    node of that speed (newest frame wins, the rest dropped and counted). With ``video``, ``out``/annotated.mp4
    shows every decoded frame as ``emotion-perception run`` draws it. With ``ground_truth``
    (docs/replay_testing.md) the output is scored against it: summary["scoring"], scoring.md and plots. Frames
    that cannot be used and messages that cannot be decoded are skipped and counted in the summary; a bag of
    which no frame could be processed is refused (ValueError saying why).
    """
    from tqdm import tqdm

    log = log or (lambda text: print(f"note: {text}", file=sys.stderr))
    truth = load_ground_truth(ground_truth) if ground_truth is not None else None
    record = RunRecord()
    counts = record.counts
    store = typestore()
    with open_bag(bag) as reader, atomic_output_dir(out) as partial:  # partial: a staging dir named like out
        if pipeline is None:
            settings, detector = people_source(settings, reader, log)
            pipeline = Pipeline(settings, log=log, detector=detector)
        chosen = choose_topics(reader, pipeline.settings, **(topics or {}))
        secondary = chosen.skeletons or chosen.depth
        wanted = [c for c in reader.connections if c.topic in {chosen.image, chosen.camera_info, secondary}]
        classes = {c.topic: message_class(c.msgtype, store) for c in wanted}
        assembler = FrameAssembler(pipeline.settings.input, pipeline.home_device)
        image_count = sum(c.msgcount for c in wanted if c.topic == chosen.image)
        total = image_count if max_frames is None else min(image_count, max_frames)
        annotated = AnnotatedVideo(partial / VIDEO_FILE, _frame_rate(reader, image_count)) if video else None
        last_rejection: dict[str, str] = {}
        with Writer(partial, version=9, storage_plugin=_storage(out)) as writer:
            emotions = writer.add_connection(EMOTIONS_TOPIC, f"{PACKAGE}/msg/EmotionArray", typestore=store)

            def handle(image_msg: Any, *others: Any, input_gap_s: float | None = None) -> None:
                frame = None
                try:
                    frame, skeletons, notes = assembler.assemble(image_msg, *others)
                    counts.update(reason for reason, _ in notes)
                    frame.input_gap_s = input_gap_s
                    result = pipeline.process(frame, skeletons)
                except FrameRejected as exc:
                    counts[exc.reason] += 1
                    last_rejection[exc.reason] = str(exc)
                    if annotated is not None and frame is not None:
                        annotated.add(frame.image)
                    return
                record.add(result)
                if annotated is not None:
                    annotated.add(frame.image, result)
                writer.write(emotions, max(frame.stamp_ns, 0),  # bags keep unsigned times; stamps can be anything
                             serialize_message(emotion_array_msg(result, image_msg.header)))

            def work(handoffs) -> None:
                for handoff in handoffs:
                    start = time.perf_counter()
                    handle(*handoff.item, input_gap_s=handoff.input_gap_s)
                    realtime.processed(time.perf_counter() - start)

            def on_frame(image_msg: Any, *others: Any) -> None:
                if realtime is None:
                    handle(image_msg, *others)
                else:
                    work(realtime.arrive(stamp_to_ns(image_msg.header.stamp), (image_msg, *others)))

            streams = [chosen.image] + ([secondary] if secondary else [])
            sync = ApproximateTimeSync.from_settings(streams, [False, bool(chosen.depth)], pipeline.settings, on_frame)
            images_read = 0
            with tqdm(total=total, unit="frame", disable=not progress, desc=bag.name) as bar:
                for connection, _, raw in reader.messages(connections=wanted):
                    if connection.topic == chosen.image and images_read == total:
                        break  # read on to here: the last image's partners, written before the next image, are in
                    try:
                        msg = deserialize_message(raw, classes[connection.topic])
                    except Exception:  # a corrupt message costs itself, never the run
                        counts[f"undecodable {connection.topic}"] += 1
                        continue
                    if connection.topic == chosen.camera_info:
                        if assembler.camera_info(msg):
                            counts["ignored_camera_info"] += 1
                    elif connection.topic == chosen.image:
                        sync.add(0, msg)
                        images_read += 1
                        bar.update(1)
                    else:
                        sync.add(1, msg)
                if realtime is not None:
                    work(realtime.finish())
                    counts["superseded"] = realtime.frames_dropped
        if annotated is not None:
            annotated.close()
        sync.finish()
        counts.update({f"unpaired_by {reason}": n for reason, n in sync.unmatched.items()})
        counts["images"] = total
        if total and not counts["processed"]:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()) if n and reason != "images")
            detail = "; ".join(f"{reason}: {text}" for reason, text in sorted(last_rejection.items()))
            raise ValueError(f"{bag}: none of the {total} images on {chosen.image} could be processed "
                             f"({reasons or 'no frame came out of pairing'})" + (f"; last: {detail}" if detail else ""))
        summary = {"bag": str(bag), "topics": chosen.__dict__, **record.summary(pipeline),
                   "video": annotated.describe() if annotated is not None else None}
        if realtime is not None:
            summary["realtime"] = realtime.summary()
        if truth is not None:
            source = pipeline.settings.pipeline.pose_source
            summary["scoring"] = write_scoring(
                partial, record.rows, truth, record.stamps_ns, people_source=source,
                people_detail=chosen.skeletons if source == "skeletons" else pipeline.people_status().status)
        record.write(partial, summary, pipeline)
    return summary


# --- replay onto DDS ----------------------------------------------------------------------------------
def play_bag(node: Any, bag: Path, rate: float = 1.0, clock: bool = False, topics: list[str] | None = None,
             wait_for_subscribers_s: float = 0.0, remap: dict[str, str] | None = None) -> int:
    """Publish a bag's messages from ``node`` with their original timing (scaled by ``rate``; 0 = at once).

    With ``clock``, /clock carries the bag time (for nodes with use_sim_time). With
    ``wait_for_subscribers_s``, waits up to that long until every image topic has a subscriber; when one still
    has none, nothing is played and a RuntimeError names it (whoever asked to wait wants the images received:
    playing to nobody would only look like a run). Returns the number of messages published. The node must be spun elsewhere if it also subscribes.
    """
    from rclpy.duration import Duration
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock

    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"the playback rate must be a finite number >= 0 (0: as fast as possible), not {rate:g}")
    remap = remap or {}
    published = 0
    store = typestore()
    with open_bag(bag) as reader:
        absent = sorted(set(topics or ()) - {c.topic for c in reader.connections})
        if absent:
            raise ValueError(f"{bag} has no topic {', '.join(absent)}; it has "
                             f"{', '.join(sorted({c.topic for c in reader.connections}))}")
        wanted = [c for c in reader.connections if not topics or c.topic in topics]
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        publishers = {c.topic: node.create_publisher(message_class(c.msgtype, store), remap.get(c.topic, c.topic), qos)
                      for c in wanted}
        clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
        image_publishers = [publishers[c.topic] for c in wanted if c.msgtype in IMAGE_TYPES]
        try:
            deadline = time.monotonic() + wait_for_subscribers_s
            while time.monotonic() < deadline and not all(p.get_subscription_count() > 0 for p in image_publishers):
                time.sleep(0.05)
            unheard = [p.topic_name for p in image_publishers if p.get_subscription_count() == 0]
            if wait_for_subscribers_s > 0 and unheard:
                raise RuntimeError(f"no subscriber on {', '.join(unheard)} after waiting {wait_for_subscribers_s:g} s: "
                                   "nothing was played (is the node running, with its image topic remapped there?)")
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
        finally:
            for publisher in [*publishers.values(), clock_pub]:
                if publisher is not None:
                    publisher.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S))  # reliable: deliver the tail
                    node.destroy_publisher(publisher)
    return published
