"""The emotion_perception node: camera topics in, one EmotionArray per processed frame out.

Subscription callbacks only queue messages: a worker thread takes the newest frame (older ones waiting
are dropped and counted), runs the pipeline and publishes, so inference never blocks the executor.
"""

from __future__ import annotations

import collections
import threading
import time
import traceback
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from emotion_perception.msg import EmotionArray, TrackedSkeletonArray

from ..pipeline import FrameRejected, Pipeline
from ..settings import NODE_NAME, Settings
from ..visualization import draw_people
from .conversions import emotion_array_msg, rgb_to_image_msg
from .frames import FrameAssembler, FrameDropped
from .parameters import declare_settings
from .sync import ApproximateTimeSync

try:  # robots have message_filters from ROS; our ApproximateTimeSync stands in elsewhere
    import message_filters
except ImportError:  # pragma: no cover - depends on the machine
    message_filters = None

RATE_WINDOW_S = 5.0
IGNORED_INPUTS = ("depth_ignored",)
"""Counted reasons where an input was set aside but its frame still went through."""


class RateMeter:
    """Events per second over the last RATE_WINDOW_S seconds of wall time."""

    def __init__(self):
        self._times: collections.deque[float] = collections.deque()

    def tick(self) -> None:
        self._times.append(time.monotonic())

    def rate(self) -> float:
        now = time.monotonic()
        while self._times and self._times[0] < now - RATE_WINDOW_S:
            self._times.popleft()
        return len(self._times) / RATE_WINDOW_S


class EmotionPerceptionNode(Node):
    """Subscribes image (+ camera_info, depth or skeletons), publishes 'emotions', '~/debug_image', '/diagnostics'."""

    def __init__(self, **kwargs: Any):
        super().__init__(NODE_NAME, **kwargs)
        self.settings: Settings = declare_settings(self)
        self.pipeline = Pipeline(self.settings, log=self.get_logger().warning)
        for branch, (active, why) in self.pipeline.branch_status().items():
            self.get_logger().info(f"{branch}: {'active' if active else 'OFF'} ({why})")

        inputs = self.settings.input
        self._qos = qos_profile_sensor_data if inputs.qos == "sensor_data" else QoSProfile(
            depth=inputs.queue_depth, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        if inputs.qos not in ("sensor_data", "reliable"):
            raise ValueError(f"input.qos must be 'sensor_data' or 'reliable', not {inputs.qos!r}")
        self.emotions_pub = self.create_publisher(EmotionArray, "emotions", 10)
        self.debug_pub = (self.create_publisher(Image, "~/debug_image", qos_profile_sensor_data)
                          if self.settings.output.debug_image else None)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)

        self._lock = threading.Condition()
        self._pending: tuple | None = None
        self._stopping = False
        self.frames = FrameAssembler(self.settings.input)
        self._last_image_time = time.monotonic()
        self._last_no_image_warning = 0.0
        self.drops: collections.Counter[str] = collections.Counter()
        self.input_rate, self.output_rate = RateMeter(), RateMeter()
        self._subscribe()

        self._worker = threading.Thread(target=self._work, name="emotion_perception_worker", daemon=True)
        self._worker.start()
        self.create_timer(self.settings.output.diagnostics_period_s, self._publish_diagnostics)
        self.create_timer(1.0, self._watch_input)

    # --- input -------------------------------------------------------------------------------------
    def _subscribe(self) -> None:
        inputs = self.settings.input
        if inputs.image_transport not in ("raw", "compressed"):
            raise ValueError(f"input.image_transport must be 'raw' or 'compressed', not {inputs.image_transport!r}")
        image_type, image_topic = (Image, "image") if inputs.image_transport == "raw" else (CompressedImage, "image/compressed")
        streams: list[tuple[type, str]] = [(image_type, image_topic)]
        if self.settings.pipeline.pose_source == "skeletons":
            streams.append((TrackedSkeletonArray, "skeletons"))
        elif inputs.use_depth:
            streams.append((Image, "depth"))
        self.image_topic = self.resolve_topic_name(image_topic)
        self._streams = [kind for kind, _ in streams]
        if inputs.use_camera_info:
            self.create_subscription(CameraInfo, "camera_info", self.frames.camera_info, self._qos)
        if len(streams) == 1:
            self.create_subscription(image_type, image_topic, self._on_frame, self._qos)
        elif message_filters is not None:
            subscribers = [message_filters.Subscriber(self, kind, topic, qos_profile=self._qos) for kind, topic in streams]
            self._sync = message_filters.ApproximateTimeSynchronizer(subscribers, inputs.queue_depth * 2, inputs.sync_slop_s)
            self._sync.registerCallback(self._on_frame)
        else:
            self._sync = ApproximateTimeSync(len(streams), inputs.queue_depth * 2, inputs.sync_slop_s, self._on_frame)
            for index, (kind, topic) in enumerate(streams):
                self.create_subscription(kind, topic, lambda msg, index=index: self._sync.add(index, msg), self._qos)

    def _on_frame(self, image_msg: Any, *others: Any) -> None:
        """Queue the newest frame for the worker; a frame still waiting is superseded and counted."""
        self.input_rate.tick()
        self._last_image_time = time.monotonic()
        with self._lock:
            if self._pending is not None:
                self.drops["superseded"] += 1
            self._pending = (image_msg, *others)
            self._lock.notify()

    def _watch_input(self) -> None:
        silent = time.monotonic() - self._last_image_time
        limit = self.settings.input.no_image_warning_s
        if silent > limit and time.monotonic() - self._last_no_image_warning > limit:
            self._last_no_image_warning = time.monotonic()
            qos = "best effort (sensor_data)" if self.settings.input.qos == "sensor_data" else "reliable"
            publishers = self.count_publishers(self.image_topic)
            self.get_logger().warning(
                f"no image received on {self.image_topic} for {silent:.0f} s (subscription QoS: {qos}; "
                f"{publishers} publisher(s) on that topic). Check the remapping (image:=/your/camera/topic), "
                f"that the camera runs, and with `ros2 topic info -v {self.image_topic}` that its QoS is compatible.")

    # --- work ----------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                bundle, self._pending = self._pending, None
            try:
                self._process(*bundle)
            except Exception:  # the worker must outlive any single bad frame
                self.drops["internal_error"] += 1
                self.get_logger().error(f"frame dropped after an internal error:\n{traceback.format_exc()}",
                                        throttle_duration_sec=5.0)

    def _count(self, reason: str, detail: str) -> None:
        """Count a dropped frame (or ignored input) and warn, at most every 5 s per call site."""
        self.drops[reason] += 1
        self.get_logger().warning(f"{reason}: {detail} [{self.drops[reason]} so far]", throttle_duration_sec=5.0)

    def _process(self, image_msg: Any, *others: Any) -> None:
        try:
            frame, skeletons, notes = self.frames.assemble(image_msg, *others)
            for reason, detail in notes:
                self._count(reason, detail)
            result = self.pipeline.process(frame, skeletons)
        except FrameDropped as exc:
            self._count(exc.reason, str(exc))
            return
        except FrameRejected as exc:
            self._count("rejected", str(exc))
            return
        self.frames.processed(frame)
        self.emotions_pub.publish(emotion_array_msg(result, image_msg.header))
        self.output_rate.tick()
        if self.debug_pub is not None and self.debug_pub.get_subscription_count() > 0:
            self.debug_pub.publish(rgb_to_image_msg(draw_people(frame.image, result), image_msg.header))

    # --- diagnostics ---------------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        frames_dropped = sum(count for reason, count in self.drops.items() if reason not in IGNORED_INPUTS)
        values = {"input_rate_hz": f"{self.input_rate.rate():.2f}", "output_rate_hz": f"{self.output_rate.rate():.2f}",
                  "frames_dropped": str(frames_dropped)}
        values.update({f"dropped_{reason}": str(count) for reason, count in sorted(self.drops.items())})
        for stage, (p50, p95, p99) in self.pipeline.timings.percentiles_ms().items():
            values[f"latency_{stage}_ms"] = f"p50 {p50:.1f} p95 {p95:.1f} p99 {p99:.1f}"
        branches = self.pipeline.branch_status()
        for branch, (active, why) in branches.items():
            values[f"branch_{branch}"] = f"{'active' if active else 'off'}: {why}"
        silent = time.monotonic() - self._last_image_time > self.settings.input.no_image_warning_s
        level, message = DiagnosticStatus.OK, "ok"
        if silent:
            level, message = DiagnosticStatus.WARN, f"no image on {self.image_topic}"
        elif not all(active for active, _ in branches.values()):
            level, message = DiagnosticStatus.WARN, "running with branches off: " + ", ".join(
                branch for branch, (active, _) in branches.items() if not active)
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: pipeline", message=message,
                                  hardware_id=self.get_fully_qualified_name(),
                                  values=[KeyValue(key=k, value=v) for k, v in values.items()])
        header = Header(stamp=self.get_clock().now().to_msg())
        self.diagnostics_pub.publish(DiagnosticArray(header=header, status=[status]))

    def destroy_node(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = None
    try:
        node = EmotionPerceptionNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
