"""Running the pipeline over a bag offline (``bag process``), without DDS: the same frames as the node's give
the same output, written as a bag of EmotionArray beside the summary, people.csv and (with ground truth) scoring."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from ...detection import BACKENDS, PersonDetector, build_detector
from ...offline.ground_truth import load_ground_truth
from ...offline.realtime import RealtimeReplay
from ...offline.report import RunRecord, atomic_output_dir
from ...offline.run import VIDEO_FILE, AnnotatedVideo
from ...offline.scoring import write_scoring
from ...pipeline import FrameRejected, Pipeline
from ...runtime.paths import PACKAGE
from ...settings import Settings
from ..conversions import emotion_array_msg, stamp_to_ns
from ..frames import FrameAssembler
from ..sync import ApproximateTimeSync
from .store import IMAGE_TYPES, message_class, open_bag, typestore

EMOTIONS_TOPIC = "/emotions"
"""Where the node publishes with its defaults (no namespace): the offline output uses the same topic."""


def _storage(path: Path) -> StoragePlugin:
    return StoragePlugin.SQLITE3 if path.suffix == ".db3" or path.name.endswith("_sqlite3") else StoragePlugin.MCAP


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


def people_source(settings: Settings, reader: Reader, log) -> tuple[Settings, PersonDetector | None]:
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
    with open_bag(bag) as reader, atomic_output_dir(out) as partial:  # partial: a staging dir named like out
        if pipeline is None:
            settings, detector = people_source(settings, reader, log)
            pipeline = Pipeline(settings, log=log, detector=detector)
        chosen = choose_topics(reader, pipeline.settings, **(topics or {}))
        secondary = chosen.skeletons or chosen.depth
        wanted = [c for c in reader.connections if c.topic in {chosen.image, chosen.camera_info, secondary}]
        classes = {c.topic: message_class(c.msgtype) for c in wanted}
        assembler = FrameAssembler(pipeline.settings.input, pipeline.home_device)
        image_count = sum(c.msgcount for c in wanted if c.topic == chosen.image)
        total = image_count if max_frames is None else min(image_count, max_frames)
        annotated = AnnotatedVideo(partial / VIDEO_FILE, _frame_rate(reader, image_count)) if video else None
        last_rejection: dict[str, str] = {}
        with Writer(partial, version=9, storage_plugin=_storage(out)) as writer:
            emotions = writer.add_connection(EMOTIONS_TOPIC, f"{PACKAGE}/msg/EmotionArray",
                                              typestore=typestore())

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
