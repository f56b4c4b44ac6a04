"""The node as a managed (lifecycle) node over real DDS: transitions, runtime parameters, the default-weights path."""

from __future__ import annotations

import signal
import sys
import threading
import time

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, SetParameters
from sensor_msgs.msg import Image

from support.installed import PROCESSES, node_command

SECOND = 1_000_000_000


def call(node, spin, client, request, timeout: float = 30.0):
    assert spin(node, client.service_is_ready, 60), f"service {client.srv_name} did not appear"
    future = client.call_async(request)
    assert spin(node, future.done, timeout), f"no answer from {client.srv_name}"
    return future.result()


def double(name: str, value: float) -> Parameter:
    return Parameter(name=name, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value))


def integer(name: str, value: int) -> Parameter:
    return Parameter(name=name, value=ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value))


def string(name: str, value: str) -> Parameter:
    return Parameter(name=name, value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value))


def test_lifecycle_transitions_and_runtime_parameters(start_node, rclpy_context, spin, listen, image):
    import rclpy

    node_process = start_node("-p", "autostart:=false", "-r", "image:=/managed/image", "-r", "__node:=managed_ep")
    node = rclpy.create_node("test_lifecycle", context=rclpy_context)
    get_state = node.create_client(GetState, "/managed_ep/get_state")
    change = node.create_client(ChangeState, "/managed_ep/change_state")
    set_parameters = node.create_client(SetParameters, "/managed_ep/set_parameters")
    describe = node.create_client(DescribeParameters, "/managed_ep/describe_parameters")
    images = node.create_publisher(Image, "/managed/image", 10)
    listener = listen(node, depth=10)
    arrays = listener.arrays

    def state() -> int:
        return call(node, spin, get_state, GetState.Request()).current_state.id

    def transition(transition_id: int) -> bool:
        return call(node, spin, change, ChangeState.Request(transition=Transition(id=transition_id))).success

    def answers(second: int) -> bool:
        """Whether an image is answered (best effort: a few tries while discovery settles)."""
        return listener.first_answer(images.publish, (image((second * 100 + attempt) * SECOND) for attempt in range(8)),
                                     0.5)

    def read_only(name: str) -> bool:
        return call(node, spin, describe, DescribeParameters.Request(names=[name])).descriptors[0].read_only

    assert state() == State.PRIMARY_STATE_UNCONFIGURED
    refused = call(node, spin, set_parameters, SetParameters.Request(parameters=[double("fusion.half_life_s", -2.0)]))
    assert not refused.results[0].successful and "fusion.half_life_s" in refused.results[0].reason
    unknown = call(node, spin, set_parameters, SetParameters.Request(parameters=[string("gait.modle", "stgcn")]))
    assert not unknown.results[0].successful and "gait.modle (did you mean gait.model?)" in unknown.results[0].reason
    assert not read_only("pipeline.device"), "unconfigured, every setting may be set before configuring"
    depth, timeout, device = call(node, spin, describe, DescribeParameters.Request(
        names=["input.queue_depth", "input.depth_timeout_s", "pipeline.device"])).descriptors
    assert (depth.integer_range[0].from_value, depth.integer_range[0].to_value) == (1, 1000)
    assert timeout.floating_point_range[0].from_value == 0.0, "'above 0' shows as the start of the range"
    assert timeout.floating_point_range[0].to_value == sys.float_info.max
    assert not device.integer_range and not device.floating_point_range
    assert "read-only while the node is configured" in device.additional_constraints
    assert transition(Transition.TRANSITION_CONFIGURE) and state() == State.PRIMARY_STATE_INACTIVE
    assert read_only("pipeline.device") and not read_only("fusion.half_life_s"), "configured: only runtime settings"
    assert not answers(1), "an inactive node publishes nothing"
    assert transition(Transition.TRANSITION_ACTIVATE) and state() == State.PRIMARY_STATE_ACTIVE
    assert spin(node, lambda: images.get_subscription_count() > 0, 30)
    assert answers(2), "an active node answers every image"
    results = call(node, spin, set_parameters, SetParameters.Request(parameters=[
        double("fusion.half_life_s", 2.0), double("fusion.switch_margin", 7.0), integer("pipeline.max_people", 3)])).results
    assert results[0].successful, "a runtime parameter changes while active"
    assert not results[1].successful and "out of range" in results[1].reason
    assert not results[2].successful and "read-only" in results[2].reason and "pipeline.max_people" in results[2].reason
    assert transition(Transition.TRANSITION_DEACTIVATE) and state() == State.PRIMARY_STATE_INACTIVE
    spin(node, lambda: False, 0.5)
    arrays.clear()
    assert not answers(3), "a deactivated node has unsubscribed"
    assert transition(Transition.TRANSITION_CLEANUP) and state() == State.PRIMARY_STATE_UNCONFIGURED
    assert not read_only("pipeline.max_people")
    changed = call(node, spin, set_parameters, SetParameters.Request(parameters=[integer("pipeline.max_people", 3)]))
    assert changed.results[0].successful, "unconfigured, every parameter may change"
    assert transition(Transition.TRANSITION_CONFIGURE) and transition(Transition.TRANSITION_ACTIVATE)
    assert spin(node, lambda: images.get_subscription_count() > 0, 30) and answers(4)
    assert transition(Transition.TRANSITION_ACTIVE_SHUTDOWN) and state() == State.PRIMARY_STATE_FINALIZED
    assert node_process.poll() is None, "a finalized node waits to be stopped; it does not crash"


def test_default_detector_weights_offline_and_not_cached_is_an_error_with_the_fix(start_node, ros_env, rclpy_context,
                                                                                   spin, tmp_path, listen, image):
    import rclpy

    ros_env["EMOTION_PERCEPTION_WEIGHTS_DIR"] = str(tmp_path / "empty_weights")  # nothing fetched, no internet
    node_process = start_node("-p", "detector.weights:=DEFAULT", "-r", "image:=/offline/image",
                              "-p", "output.diagnostics_period_s:=0.3")
    node = rclpy.create_node("test_offline_default", context=rclpy_context)
    images = node.create_publisher(Image, "/offline/image", 10)
    listener = listen(node, depth=10)
    assert spin(node, lambda: listener.status and listener.status.values, 60)
    status = listener.status
    assert status.level == DiagnosticStatus.ERROR and "nobody can be seen" in status.message
    people = {kv.key: kv.value for kv in status.values}["people"]
    assert "emotion-perception weights fetch movenet_multipose" in people and str(tmp_path) in people
    answered = listener.first_answer(images.publish, (image(second * SECOND) for second in range(20)), 0.5)
    assert answered and listener.arrays[-1].people == [], "the node keeps running and answering, seeing nobody"
    assert node_process.poll() is None


def diagnostics_of(start_node, rclpy_context, spin, listen, nodes: dict[str, tuple[str, ...]],
                   feed=None) -> dict[str, DiagnosticStatus]:
    """Each named node's diagnostic status once it has settled (``nodes``: name -> its arguments); the nodes run
    side by side, so their start-ups overlap (``feed(node)`` returns ``publish(index)``, which keeps input flowing)."""
    import rclpy

    for name, arguments in nodes.items():
        start_node("-r", f"__node:={name}", "-p", "output.diagnostics_period_s:=0.3", *arguments)
    node = rclpy.create_node("watch_diagnostics", context=rclpy_context)
    listener = listen(node)

    def mine(name: str) -> list[DiagnosticStatus]:
        return [s for s in listener.statuses if s.hardware_id == f"/{name}" and s.values]

    assert spin(node, lambda: all(mine(name) for name in nodes), 120), (
        f"no diagnostics from {[f'/{name}' for name in nodes if not mine(name)]}")
    publish = feed(node) if feed else None
    for index in range(60):
        if publish:
            publish(index)
        spin(node, lambda: False, 0.1)
    return {name: mine(name)[-1] for name in nodes}


def test_diagnostics_say_ok_warn_or_error_by_what_runs(start_node, rclpy_context, spin, listen, image, header,
                                                        tracked_skeleton, frame_stamp):
    from emotion_perception.msg import TrackedSkeletonArray

    def skeleton_stream(node):
        images = node.create_publisher(Image, "/ok/image", 10)
        skeletons = node.create_publisher(TrackedSkeletonArray, "/ok/skeletons", 10)

        def publish(index: int) -> None:
            skeletons.publish(TrackedSkeletonArray(header=header(frame_stamp(index)), skeletons=[tracked_skeleton(1)]))
            images.publish(image(frame_stamp(index)))
        return publish

    statuses = diagnostics_of(start_node, rclpy_context, spin, listen, {
        "ep_ok": ("-p", "pipeline.pose_source:=skeletons", "-r", "image:=/ok/image", "-r", "skeletons:=/ok/skeletons"),
        "ep_warn": ("-p", "pipeline.pose_source:=skeletons", "-p", "gait.weights:=/nowhere/gait.pt"),
        "ep_error": ()}, feed=skeleton_stream)  # error: the detector source, no detector weights
    ok, warn, error = statuses["ep_ok"], statuses["ep_warn"], statuses["ep_error"]
    assert ok.level == DiagnosticStatus.OK, (ok.message, [(kv.key, kv.value) for kv in ok.values])
    assert ok.name == "/ep_ok: emotion perception"
    values = {kv.key: kv.value for kv in ok.values}
    assert values["cue_gait"].startswith("active") and values["cue_face"].startswith("active")
    assert values["cue_context"].startswith("off:"), "a cue nobody configured is off by choice: still OK"
    assert warn.level == DiagnosticStatus.WARN and "configured cues off: gait" in warn.message
    assert error.level == DiagnosticStatus.ERROR and "nobody can be seen" in error.message


def test_markers_follow_people_and_the_debug_image_reaches_a_reliable_subscriber(start_sample_node, play_sample,
                                                                                  rclpy_context, spin):
    """RViz subscribes reliable: the debug image used to be best effort ("incompatible QoS"); markers of a track
    are deleted when it ends."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from visualization_msgs.msg import Marker, MarkerArray

    start_sample_node()
    node = rclpy.create_node("test_rviz", context=rclpy_context)
    markers: list[MarkerArray] = []
    images: list[Image] = []
    marker_sub = node.create_subscription(MarkerArray, "/emotion_perception/markers", markers.append, 1000)
    image_sub = node.create_subscription(Image, "/emotion_perception/debug_image", images.append,
                                         QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))
    assert spin(node, lambda: marker_sub.get_publisher_count() > 0 and image_sub.get_publisher_count() > 0, 60)
    play_sample(node)
    spin(node, lambda: False, 2.0)
    assert images and images[-1].encoding == "rgb8" and images[-1].width == 320
    added = [m for array in markers for m in array.markers if m.action == Marker.ADD]
    assert {m.ns for m in added} == {"people", "labels"} and {m.id for m in added} >= {1, 2, 3, 4, 5}
    assert all(m.header.frame_id == "camera_color_optical_frame" for m in added)
    angry_near = [m for m in added if m.ns == "labels" and m.id == 4 and "angry" in m.text]
    assert angry_near, "the approaching walker's label shows in RViz"
    deleted = {m.id for array in markers for m in array.markers if m.action == Marker.DELETE}
    assert {1, 2, 3, 4} <= deleted, "the walkers' markers go when the scene cuts to the photo"


def stops_cleanly(process) -> str:
    """Ctrl+C: the node's output, after checking it ended with status 0 and no traceback."""
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in output, (process.returncode, output[-3000:])
    return output


def test_no_attribute_of_ours_replaces_rclpy_node_bookkeeping(rclpy_context):
    """rclpy's Node keeps its publishers, subscriptions, timers... in attributes of its own (the executor waits on
    them): ours assigning ``self._publishers`` once lost the /clock subscription and destroyed /diagnostics."""
    import ast
    import inspect

    from rclpy.lifecycle import LifecycleNode

    from emotion_perception.ros.node import EmotionPerceptionNode

    bare = LifecycleNode("bare_lifecycle_node", context=rclpy_context)
    rclpy_names = set(vars(bare)) | set(dir(LifecycleNode))
    bare.destroy_node()
    tree = ast.parse(inspect.getsource(EmotionPerceptionNode).lstrip())
    assigned = {target.attr for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                for target in ast.walk(target)
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"}
    assert assigned >= {"settings", "pipeline", "diagnostics_pub"}, "the source walk finds our attributes"
    assert not assigned & rclpy_names, sorted(assigned & rclpy_names)
    overrides = {"on_configure", "on_activate", "on_deactivate", "on_cleanup", "on_shutdown", "on_error",
                 "destroy_node", "set_parameters_atomically"}
    methods = {name for name in vars(EmotionPerceptionNode) if not name.startswith("__")}
    assert methods & rclpy_names == overrides, "only the lifecycle callbacks and these documented hooks are overridden"


def test_a_failed_configure_leaves_the_node_unconfigured_and_saying_why_until_shut_down(start_node, rclpy_context,
                                                                                      spin):
    """A typo'd key: configure fails, the node stays up and unconfigured with the reason in /diagnostics; a shutdown
    from there finalizes it; Ctrl+C then ends it cleanly."""
    import rclpy

    process = start_node("-p", "autostart:=false", "-p", "gait.modle:=stgcn", "-r", "__node:=ep_typo",
                         "-p", "output.diagnostics_period_s:=0.2")
    node = rclpy.create_node("test_failed_configure", context=rclpy_context)
    get_state = node.create_client(GetState, "/ep_typo/get_state")
    change = node.create_client(ChangeState, "/ep_typo/change_state")
    statuses: list[DiagnosticStatus] = []
    node.create_subscription(DiagnosticArray, "/diagnostics",
                             lambda m: statuses.extend(s for s in m.status if s.hardware_id == "/ep_typo"), 10)
    configure = call(node, spin, change, ChangeState.Request(transition=Transition(id=Transition.TRANSITION_CONFIGURE)))
    assert not configure.success
    state = call(node, spin, get_state, GetState.Request()).current_state.id
    assert state == State.PRIMARY_STATE_UNCONFIGURED

    def refused_since(start: int) -> list[DiagnosticStatus]:
        return [s for s in statuses[start:] if s.level == DiagnosticStatus.ERROR and "gait.modle" in s.message]

    assert spin(node, lambda: len(refused_since(0)) >= 5, 60), [s.message for s in statuses[-3:]]
    assert "did you mean gait.model" in refused_since(0)[-1].message and "not configured" in refused_since(0)[-1].message
    shutdown = ChangeState.Request(transition=Transition(id=Transition.TRANSITION_UNCONFIGURED_SHUTDOWN))
    assert call(node, spin, change, shutdown).success
    assert call(node, spin, get_state, GetState.Request()).current_state.id == State.PRIMARY_STATE_FINALIZED
    after = len(statuses)
    assert spin(node, lambda: len(statuses) >= after + 5, 60), "diagnostics go on after the shutdown transition"
    assert process.poll() is None
    stops_cleanly(process)


def test_configure_again_after_fixing_a_parameter_and_cycles_keep_one_publisher_per_topic(start_node, rclpy_context,
                                                                                          spin):
    import rclpy

    process = start_node("-p", "autostart:=false", "-p", "pipeline.device:=gpu", "-r", "__node:=ep_cycles",
                         "-r", "image:=/cycles/image")
    node = rclpy.create_node("test_cycles", context=rclpy_context)
    change = node.create_client(ChangeState, "/ep_cycles/change_state")
    set_parameters = node.create_client(SetParameters, "/ep_cycles/set_parameters")

    def transition(transition_id: int) -> bool:
        return call(node, spin, change, ChangeState.Request(transition=Transition(id=transition_id))).success

    assert not transition(Transition.TRANSITION_CONFIGURE), "pipeline.device 'gpu' is refused at configure"
    fixed = call(node, spin, set_parameters, SetParameters.Request(parameters=[string("pipeline.device", "cpu")]))
    assert fixed.results[0].successful, fixed.results[0].reason
    assert transition(Transition.TRANSITION_CONFIGURE) and transition(Transition.TRANSITION_ACTIVATE)
    for _ in range(2):
        for step in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP, Transition.TRANSITION_CONFIGURE,
                     Transition.TRANSITION_ACTIVATE):
            assert transition(step), step
    topics = ["/ep_cycles/debug_image", "/emotions", "/ep_cycles/markers", "/diagnostics"]

    def publishers() -> dict[str, int]:
        return {topic: sum(info.node_name == "ep_cycles" for info in node.get_publishers_info_by_topic(topic))
                for topic in topics}

    assert spin(node, lambda: set(publishers().values()) == {1}, 60), publishers()
    assert process.poll() is None
    stops_cleanly(process)


def test_diagnostics_flow_under_sim_time_and_follow_clock(processes, ros_env, rclpy_context, spin):
    """use_sim_time: diagnostics run on wall time (also before any /clock), are stamped with the simulated time,
    and Ctrl+C ends the node cleanly while /clock keeps it busy. The node is started with SIGINT ignored, as a
    script's ``cmd &`` (a CI job) starts it: no KeyboardInterrupt then hid rclpy's handler shutting the context down
    while the executor was between two waits (an RCLError from the next wait set, in 1 to 2 stops of 3 here)."""
    import rclpy
    from rosgraph_msgs.msg import Clock

    process = processes([str(PROCESSES / "with_sigint.py"), "ignored", sys.executable,
                         *node_command("-p", "use_sim_time:=true", "-r", "__node:=ep_sim",
                                       "-p", "output.diagnostics_period_s:=0.2")], ros_env)
    node = rclpy.create_node("test_sim_time", context=rclpy_context)
    arrays: list[DiagnosticArray] = []
    node.create_subscription(DiagnosticArray, "/diagnostics",
                             lambda m: arrays.append(m) if any(s.hardware_id == "/ep_sim" for s in m.status) else None,
                             10)
    assert spin(node, lambda: len(arrays) >= 3, 60), "no diagnostics before /clock"
    clock = node.create_publisher(Clock, "/clock", 10)
    second = 1000

    def simulated() -> bool:
        nonlocal second
        second += 1
        clock.publish(Clock(clock=Time(sec=second)))
        return any(a.header.stamp.sec > 1000 for a in arrays)

    assert spin(node, simulated, 60), [a.header.stamp.sec for a in arrays[-3:]]
    assert process.poll() is None

    def clock_flows() -> None:  # Ctrl+C lands while the node's executor is busy with /clock messages
        while process.poll() is None:
            simulated()
            time.sleep(0.001)

    publisher = threading.Thread(target=clock_flows, daemon=True)
    publisher.start()
    stops_cleanly(process)
    publisher.join()
