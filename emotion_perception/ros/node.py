"""The emotion_perception node: a managed (lifecycle) node, camera topics in, one EmotionArray per processed frame out.

Lifecycle: *configure* validates the parameters and loads every model; *activate* moves the networks to their
device, subscribes and starts the worker; *deactivate* unsubscribes, stops the worker and parks the networks
on the CPU (freeing GPU memory); *cleanup*/*shutdown* release everything. With ``autostart`` (the default, and
what the launch file passes) the node configures and activates itself.

Subscription callbacks only queue messages: a worker thread takes the newest frame (older ones waiting are
dropped and counted), decodes it and finds and tracks its people; with ``pipeline.overlap`` a second worker
runs the cues, fusion and publishing of that frame while the first goes on with the next one, so inference
never blocks the executor and the detector and the cue networks work at the same time. The two workers meet
in a :class:`~emotion_perception.runtime.handoff.FrameHandoff`, which states that policy; the /diagnostics
status is built in :mod:`.diagnostics`.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from emotion_perception.msg import EmotionArray

from .human_ids import HumanIds
from ..pipeline import FrameRejected, Pipeline
from ..runtime.handoff import FrameHandoff, TakenFrame
from ..settings import NODE_NAME, Settings
from ..visualization import draw_people
from .conversions import emotion_array_msg, rgb_to_image_msg, stamp_to_ns
from .body_trackers import SkeletonInput
from .diagnostics import RATE_WINDOW_S, NodeCounters, diagnostic_status
from .frames import FrameAssembler
from .hri import HumanOutputs
from .markers import MarkerWriter
from .parameters import (ParameterError, declare_settings, read_settings, refuse_unknown_parameters, runtime_change,
                         set_configure_time_read_only)
from .signals import StopSignals
from .sync import ApproximateTimeSync

EXIT_BAD_SETTINGS = 2
"""Exit status of an autostarting node whose parameters are invalid."""


class EmotionPerceptionNode(LifecycleNode):
    """Subscribes image (+ camera_info, depth or skeletons); publishes 'emotions', '~/debug_image', '~/markers',
    '/diagnostics'.

    rclpy's Node keeps its own entities in attributes such as ``_publishers``, ``_subscriptions`` and ``_timers``
    (the executor waits on those lists): ours have names of their own (``_outputs``, ``_inputs``, ...), and
    test_node_lifecycle checks that no attribute set here shadows one of rclpy's Node or LifecycleNode.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(NODE_NAME, **kwargs)
        self.settings: Settings | None = None
        self.pipeline: Pipeline | None = None
        self.configure_problem = ""
        """Why the last configure failed ("" when it did not)."""
        self.notes: list[str] = []
        """Things a user must know about how the node runs (device fallback, depth not used, ...)."""
        self.counters = NodeCounters()
        """Drops by reason, time jumps, input and output rates: what /diagnostics reports."""
        self._handoff: FrameHandoff | None = None
        """Frames from the callbacks to the workers, a new one for each activation (see _start_workers)."""
        self._workers: list[threading.Thread] = []
        self._inputs: list = []
        """Our subscriptions (camera topics), made on activate and destroyed on deactivate."""
        self._sync: ApproximateTimeSync | None = None
        self._skeleton_input = SkeletonInput("tracked_skeletons")
        self._last_image_time = time.monotonic()
        self._reported_input_problem = ""
        """The kind of input problem last logged ("silent", "unpaired"; "" while frames flow): each is said once."""
        self._outputs: list = []
        """Our lifecycle publishers, made on configure and destroyed on cleanup (not /diagnostics)."""
        self.frames: FrameAssembler | None = None
        self.emotions_pub = self.debug_pub = self.markers_pub = None
        self.humans: HumanOutputs | None = None
        """REP-155 topics and per-person TF frames (output.hri, output.tf), made on configure."""
        self.human_ids = HumanIds()
        """REP-155 ids, kept over configure cycles: none is given twice while the node runs."""
        self.markers = MarkerWriter()
        declare_settings(self)  # after the state above: a refused override ends __init__, and rclpy then destroys us
        self.autostart = bool(self.declare_parameter("autostart", True).value)
        self._wall_clock = Clock(clock_type=ClockType.STEADY_TIME)
        """Diagnostics and the input watchdog run on wall time: they report the node's health, which matters as
        much while a simulated clock (use_sim_time) is paused or not yet published."""
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diagnostics_timer = self.create_timer(1.0, self._publish_diagnostics, clock=self._wall_clock)
        self.create_timer(1.0, self._watch_input, clock=self._wall_clock)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # --- lifecycle -----------------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            return self._configure(state)
        except ParameterError as exc:
            self.configure_problem = str(exc)
        except Exception as exc:  # a transition must fail with a reason, never take the node down
            self.configure_problem = f"{type(exc).__name__}: {exc}"
            self.get_logger().error(traceback.format_exc())
        self.get_logger().error(f"configure refused: {self.configure_problem}")
        self._release()
        return TransitionCallbackReturn.FAILURE

    def _configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        settings = read_settings(self)
        self.configure_problem = ""
        self.settings = settings
        self.notes = []
        if settings.input.use_depth and settings.pipeline.pose_source == "skeletons":
            self._note("input.use_depth is set but pipeline.pose_source is 'skeletons': the external skeletons are "
                       "already 3D, so the depth topic is not subscribed")
        self.pipeline = Pipeline(settings, log=self._note)
        self.pipeline.to("cpu")  # parked on the CPU until activated
        self.frames = FrameAssembler(settings.input, self.pipeline.home_device)
        self._log_components()
        outputs = settings.output
        self.emotions_pub = self.create_lifecycle_publisher(EmotionArray, "emotions", 10)
        debug_qos = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE if outputs.debug_image_reliable
                               else ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
        self.debug_pub = self.create_lifecycle_publisher(Image, "~/debug_image", debug_qos)
        self.markers_pub = self.create_lifecycle_publisher(MarkerArray, "~/markers", 10)
        self._outputs = [self.emotions_pub, self.debug_pub, self.markers_pub]
        if outputs.hri or outputs.tf:
            self.humans = HumanOutputs(self, outputs, self.human_ids, log=self._note)
        self.destroy_timer(self._diagnostics_timer)
        self._diagnostics_timer = self.create_timer(outputs.diagnostics_period_s, self._publish_diagnostics,
                                                    clock=self._wall_clock)
        set_configure_time_read_only(self, True)
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.pipeline.to(self.pipeline.home_device)
        self._start_workers()
        self._subscribe()
        self._last_image_time = time.monotonic()
        self._reported_input_problem = ""
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._unsubscribe()
        self._stop_workers()
        if self.markers_pub is not None:
            self.markers_pub.publish(self.markers.clear(Header(frame_id="")))
        if self.humans is not None:
            self.humans.clear(Header(stamp=self.get_clock().now().to_msg()))
        result = super().on_deactivate(state)
        self.pipeline.to("cpu")
        return result

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._unsubscribe()
        self._stop_workers()
        self._release()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._unsubscribe()
        self._stop_workers()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        for publisher in self._outputs:
            self.destroy_lifecycle_publisher(publisher)
        self._outputs = []
        set_configure_time_read_only(self, False)
        self.emotions_pub = self.debug_pub = self.markers_pub = None
        if self.humans is not None:
            self.humans.close()
            self.humans = None
        if self.pipeline is not None:
            self.pipeline.to("cpu")
        self.pipeline = None

    def _note(self, text: str) -> None:
        self.notes.append(text)
        self.get_logger().warning(text)

    def _log_components(self) -> None:
        people = self.pipeline.people_status()
        if people.available:
            self.get_logger().info(f"people: {people.status}")
        else:
            self.get_logger().error(f"people: OFF, nobody will be seen: {people.status}")
        for name, cue in self.pipeline.cue_status().items():
            if cue.available:
                self.get_logger().info(f"{name}: {cue.status}")
            elif cue.configured:
                self.get_logger().warning(f"{name}: OFF although configured: {cue.status}")
            else:
                self.get_logger().info(f"{name}: off ({cue.status})")

    # --- parameters ----------------------------------------------------------------------------------------
    def set_parameters_atomically(self, parameter_list):
        """What the parameter services call: an unknown name is refused naming it (rclpy's own refusal names none)."""
        refuse_unknown_parameters(self, parameter_list)
        return super().set_parameters_atomically(parameter_list)

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        state = self._state_machine.current_state[1]
        problem, settings = runtime_change(self, parameters, configured=state in ("inactive", "active"))
        if problem:
            return SetParametersResult(successful=False, reason=problem)
        if settings is not None:
            self.settings = settings
            self.pipeline.update_settings(settings)
        return SetParametersResult(successful=True)

    # --- input ---------------------------------------------------------------------------------------------
    def _subscribe(self) -> None:
        inputs = self.settings.input
        qos = qos_profile_sensor_data if inputs.qos == "sensor_data" else QoSProfile(
            depth=inputs.queue_depth, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        image_type, image_topic = (Image, "image") if inputs.image_transport == "raw" else (CompressedImage, "image/compressed")
        streams: list[tuple[type, str, bool]] = [(image_type, image_topic, False)]
        if self.settings.pipeline.pose_source == "skeletons":
            self._skeleton_input = SkeletonInput(inputs.skeleton_format)
            streams.append((self._skeleton_input.message_type, "skeletons", False))
        elif inputs.use_depth:
            streams.append((Image, "depth", True))
        self.image_topic = self.resolve_topic_name(image_topic)
        self.stream_topics = [self.resolve_topic_name(topic) for _, topic, _ in streams]
        if inputs.use_camera_info:
            self._inputs.append(self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos))
        self._sync = ApproximateTimeSync.from_settings(self.stream_topics, [optional for _, _, optional in streams],
                                                       self.settings, self._on_frame)
        for index, (kind, topic, _) in enumerate(streams):
            self._inputs.append(self.create_subscription(
                kind, topic, lambda msg, index=index: self._on_message(index, msg), qos))

    def _unsubscribe(self) -> None:
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs = []
        self._sync = None

    def _on_message(self, index: int, msg: Any) -> None:
        if index == 0:
            self._last_image_time = time.monotonic()
            self._skeleton_input.last_image_header = msg.header
        else:  # another body tracker's skeletons become a TrackedSkeletonArray (input.skeleton_format)
            msg = self._skeleton_input.adapt(msg)
        sync = self._sync
        if sync is not None and msg is not None:
            sync.add(index, msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        problem = self.frames.camera_info(msg)
        if problem:
            self._count("ignored_camera_info", f"{problem}; the last valid camera_info stays in use")

    def _on_frame(self, image_msg: Any, *others: Any) -> None:
        """Hand the newest frame to the worker; a frame still waiting is superseded and counted."""
        self.counters.input_rate.tick()
        if self._handoff.offer(stamp_to_ns(image_msg.header.stamp), (image_msg, *others)):
            self.counters.drops["superseded"] += 1

    def _watch_input(self) -> None:
        """Say when images stop coming or stop pairing, once per change, and when frames flow again (the
        diagnostics carry the state all along)."""
        if self._sync is None or self.settings is None:
            return
        silent = time.monotonic() - self._last_image_time
        kind = ("silent" if silent > self.settings.input.no_image_warning_s else
                "unpaired" if self._unpaired_problem() else "")
        if kind == self._reported_input_problem:
            return
        if kind == "silent":
            qos = "best effort (sensor_data)" if self.settings.input.qos == "sensor_data" else "reliable"
            self.get_logger().warning(
                f"no image received on {self.image_topic} for {silent:.0f} s (subscription QoS: {qos}; "
                f"{self.count_publishers(self.image_topic)} publisher(s) on that topic). Check the remapping "
                f"(image:=/your/camera/topic), that the camera runs, and with `ros2 topic info -v {self.image_topic}` "
                "that its QoS is compatible. Said once: the node says when images come back.")
        elif kind == "unpaired":
            self.get_logger().warning(self._unpaired_problem())
        else:
            self.get_logger().info(f"images arrive on {self.image_topic} again and frames are processed")
        self._reported_input_problem = kind

    def _unpaired_problem(self) -> str:
        """Why images arrive but none pairs with the other stream ("" when frames flow)."""
        sync = self._sync
        if (sync is None or len(sync.names) < 2 or not sync.received[0] or self.counters.input_rate.rate() > 0
                or time.monotonic() - self._last_image_time > RATE_WINDOW_S):
            return ""
        partners = ", ".join(f"{topic} ({sync.received[index]} messages received, {sync.unmatched[topic]} images "
                             "left unpaired)" for index, topic in enumerate(sync.names[1:], start=1))
        return (f"images arrive on {self.image_topic} but none paired in the last {RATE_WINDOW_S:.0f} s with "
                f"{partners}; check that topic and that its stamps lie within input.sync_slop_s="
                f"{self.settings.input.sync_slop_s:g} s of the images'")

    # --- work ----------------------------------------------------------------------------------------------
    def _front_work(self, handoff: FrameHandoff) -> None:
        """The front worker: newest frame -> decoded -> people found and tracked; then the cues (here, or on
        the cue worker when pipeline.overlap, while this one goes on with the next frame)."""
        while (taken := handoff.take()) is not None:
            self._guarded(self._observe, handoff, taken)

    def _cue_work(self, handoff: FrameHandoff) -> None:
        """The cue worker (pipeline.overlap): frames in the order the front worker passed them."""
        while (passed := handoff.take_passed()) is not None:
            self._guarded(self._judge, *passed)

    def _guarded(self, step, *args) -> None:
        try:
            step(*args)
        except Exception:  # a worker must outlive any single bad frame
            self.counters.drops["internal_error"] += 1
            self.get_logger().error(f"frame dropped after an internal error:\n{traceback.format_exc()}",
                                    throttle_duration_sec=5.0)

    def _start_workers(self) -> None:
        """A new hand-off for each activation: a front worker that outlived its stop's join timeout (a frame
        slower than 10 s) holds the closed one and ends instead of running beside its replacement."""
        handoff = self._handoff = FrameHandoff(overlap=self.settings.pipeline.overlap, follows=self._handoff)
        self._workers = [threading.Thread(target=self._front_work, args=(handoff,), name="emotion_perception_front",
                                          daemon=True)]
        if handoff.overlap:
            self._workers.append(threading.Thread(target=self._cue_work, args=(handoff,),
                                                  name="emotion_perception_cues", daemon=True))
        for worker in self._workers:
            worker.start()

    def _stop_workers(self) -> None:
        if self._handoff is not None:
            self._handoff.close()
        for worker in self._workers:  # the front worker first: the cue worker finishes the frame it was passed
            worker.join(timeout=10.0)
        self._workers = []

    def _count(self, reason: str, detail: str) -> None:
        """Count a dropped frame (or an ignored input) and warn, at most every 5 s per call site."""
        drops = self.counters.drops
        drops[reason] += 1
        self.get_logger().warning(f"{reason}: {detail} [{drops[reason]} so far]", throttle_duration_sec=5.0)

    def _observe(self, handoff: FrameHandoff, taken: TakenFrame) -> None:
        image_msg, *others = taken.item
        try:
            frame, skeletons, notes = self.frames.assemble(image_msg, *others)
            for reason, detail in notes:
                self._count(reason, detail)
            if any(other is None for other in others):
                self._count("ignored_depth", f"no depth on {self.stream_topics[1]} for "
                                             f"{self.settings.input.depth_timeout_s:g} s: frames go on without depth")
            frame.input_gap_s = taken.input_gap_s
            observation = self.pipeline.observe(frame, skeletons)
        except FrameRejected as exc:
            self._count(exc.reason, str(exc))
            return
        if handoff.overlap:
            handoff.pass_on((observation, image_msg.header))  # waits for the cue worker; refused once stopping
        else:
            self._judge(observation, image_msg.header)

    def _judge(self, observation, header) -> None:
        result = self.pipeline.judge(observation)
        for reason, detail in result.set_aside:
            self._count(reason, detail)
        if result.time_jump:
            self.counters.time_jumps += 1
            self.get_logger().info(f"time jumped {result.time_jump} at stamp {result.stamp_ns} ns: tracks, histories "
                                   f"and filters reset [{self.counters.time_jumps} so far]")
        if self.humans is not None:  # names the people first: their REP-155 ids go out in the EmotionArray too
            height, width = observation.frame.image.shape[:2]
            self.humans.publish(result, header, width, height)
        self.emotions_pub.publish(emotion_array_msg(result, header))
        self.counters.output_rate.tick()
        outputs = self.settings.output
        if outputs.markers and self.markers_pub.get_subscription_count() > 0:
            self.markers_pub.publish(self.markers.markers(result, header))
        if outputs.debug_image and self.debug_pub.get_subscription_count() > 0:
            self.debug_pub.publish(rgb_to_image_msg(draw_people(observation.frame.image, result), header))

    # --- diagnostics ---------------------------------------------------------------------------------------
    def _input_problem(self) -> str:
        """Why no frame flows while active, as /diagnostics says it ("" when frames flow)."""
        if time.monotonic() - self._last_image_time > self.settings.input.no_image_warning_s:
            return f"no image on {self.image_topic}"
        return self._unpaired_problem()

    def _publish_diagnostics(self) -> None:
        state = self._state_machine.current_state[1]
        status = diagnostic_status(
            self.get_fully_qualified_name(), state, self.counters, self.pipeline, sync=self._sync, notes=self.notes,
            configure_problem=self.configure_problem,
            input_problem=self._input_problem() if state == "active" and self.pipeline is not None else "")
        header = Header(stamp=self.get_clock().now().to_msg())
        self.diagnostics_pub.publish(DiagnosticArray(header=header, status=[status]))

    def destroy_node(self) -> None:
        self._unsubscribe()
        self._stop_workers()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Spin until SIGINT or SIGTERM (status 0), then destroy the node and shut down, in that order (see .signals)."""
    with StopSignals() as signals:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        executor = SingleThreadedExecutor()
        node = None
        try:
            node = EmotionPerceptionNode()
            if node.autostart:
                if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                    node.get_logger().fatal(f"could not configure: {node.configure_problem}")
                    return EXIT_BAD_SETTINGS
                node.trigger_activate()
            executor.add_node(node)
            executor.spin_until_future_complete(signals.stop)
        except ParameterError as exc:  # an override of the wrong type or out of bounds, refused while declaring
            rclpy.logging.get_logger(NODE_NAME).fatal(f"invalid parameters: {exc}")
            return EXIT_BAD_SETTINGS
        except ExternalShutdownException:  # the context shut down by other code than ours
            pass
        finally:
            executor.shutdown()
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
