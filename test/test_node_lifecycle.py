"""The node as a managed (lifecycle) node over real DDS: transitions, runtime parameters, the default-weights path."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from emotion_perception.msg import EmotionArray


def image(second: int) -> Image:
    return Image(header=Header(stamp=Time(sec=second), frame_id="cam"), height=48, width=64, encoding="rgb8",
                 step=192, data=np.full(48 * 192, 80, dtype=np.uint8).tobytes())


def call(node, spin, client, request, timeout: float = 30.0):
    assert spin(node, client.service_is_ready, 60), f"service {client.srv_name} did not appear"
    future = client.call_async(request)
    assert spin(node, future.done, timeout), f"no answer from {client.srv_name}"
    return future.result()


def double(name: str, value: float) -> Parameter:
    return Parameter(name=name, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value))


def integer(name: str, value: int) -> Parameter:
    return Parameter(name=name, value=ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value))


def test_lifecycle_transitions_and_runtime_parameters(start_node, rclpy_context, spin):
    import rclpy

    node_process = start_node("-p", "autostart:=false", "-r", "image:=/managed/image", "-r", "__node:=managed_ep")
    node = rclpy.create_node("test_lifecycle", context=rclpy_context)
    get_state = node.create_client(GetState, "/managed_ep/get_state")
    change = node.create_client(ChangeState, "/managed_ep/change_state")
    set_parameters = node.create_client(SetParameters, "/managed_ep/set_parameters")
    images = node.create_publisher(Image, "/managed/image", 10)
    arrays: list[EmotionArray] = []
    node.create_subscription(EmotionArray, "/emotions", arrays.append, 10)

    def state() -> int:
        return call(node, spin, get_state, GetState.Request()).current_state.id

    def transition(transition_id: int) -> bool:
        return call(node, spin, change, ChangeState.Request(transition=Transition(id=transition_id))).success

    def answers(second: int) -> bool:
        """Whether an image is answered (best effort: a few tries while discovery settles)."""
        for attempt in range(8):
            images.publish(image(second * 100 + attempt))
            if spin(node, lambda: arrays, 0.5):
                return True
        return False

    assert state() == State.PRIMARY_STATE_UNCONFIGURED
    refused = call(node, spin, set_parameters, SetParameters.Request(parameters=[double("fusion.half_life_s", -2.0)]))
    assert not refused.results[0].successful and "fusion.half_life_s" in refused.results[0].reason
    assert transition(Transition.TRANSITION_CONFIGURE) and state() == State.PRIMARY_STATE_INACTIVE
    assert not answers(1), "an inactive node publishes nothing"
    assert transition(Transition.TRANSITION_ACTIVATE) and state() == State.PRIMARY_STATE_ACTIVE
    assert spin(node, lambda: images.get_subscription_count() > 0, 30)
    assert answers(2), "an active node answers every image"
    results = call(node, spin, set_parameters, SetParameters.Request(parameters=[
        double("fusion.half_life_s", 2.0), double("fusion.switch_margin", 7.0), integer("pipeline.max_people", 3)])).results
    assert results[0].successful, "a runtime parameter changes while active"
    assert not results[1].successful and "out of range" in results[1].reason
    assert not results[2].successful and "cannot change while the node is configured" in results[2].reason
    assert transition(Transition.TRANSITION_DEACTIVATE) and state() == State.PRIMARY_STATE_INACTIVE
    spin(node, lambda: False, 0.5)
    arrays.clear()
    assert not answers(3), "a deactivated node has unsubscribed"
    assert transition(Transition.TRANSITION_CLEANUP) and state() == State.PRIMARY_STATE_UNCONFIGURED
    changed = call(node, spin, set_parameters, SetParameters.Request(parameters=[integer("pipeline.max_people", 3)]))
    assert changed.results[0].successful, "unconfigured, every parameter may change"
    assert transition(Transition.TRANSITION_CONFIGURE) and transition(Transition.TRANSITION_ACTIVATE)
    assert spin(node, lambda: images.get_subscription_count() > 0, 30) and answers(4)
    assert transition(Transition.TRANSITION_ACTIVE_SHUTDOWN) and state() == State.PRIMARY_STATE_FINALIZED
    assert node_process.poll() is None, "a finalized node waits to be stopped; it does not crash"


def test_default_detector_weights_offline_and_not_cached_is_an_error_with_the_fix(start_node, ros_env, rclpy_context,
                                                                                   spin, tmp_path):
    import rclpy

    ros_env["TORCH_HOME"] = str(tmp_path / "empty_torch_home")  # nothing cached, and no internet here
    node_process = start_node("-p", "detector.weights:=DEFAULT", "-r", "image:=/offline/image",
                              "-p", "output.diagnostics_period_s:=0.3")
    node = rclpy.create_node("test_offline_default", context=rclpy_context)
    images = node.create_publisher(Image, "/offline/image", 10)
    statuses: list[DiagnosticStatus] = []
    arrays: list[EmotionArray] = []
    node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: statuses.append(m.status[0]), 10)
    node.create_subscription(EmotionArray, "/emotions", arrays.append, 10)
    assert spin(node, lambda: statuses and statuses[-1].values, 60)
    status = statuses[-1]
    assert status.level == DiagnosticStatus.ERROR and "nobody can be seen" in status.message
    people = {kv.key: kv.value for kv in status.values}["people"]
    assert "emotion-perception weights fetch keypointrcnn" in people and str(tmp_path) in people
    for second in range(20):
        images.publish(image(second))
        if spin(node, lambda: arrays, 0.5):
            break
    assert arrays and arrays[-1].people == [], "the node keeps running and answering, seeing nobody"
    assert node_process.poll() is None


def diagnostics_of(start_node, rclpy_context, spin, name: str, *arguments: str, feed=None) -> DiagnosticStatus:
    """The node's diagnostic status once it has settled (``feed(node, publish_index)`` keeps input flowing)."""
    import rclpy

    start_node("-r", f"__node:={name}", "-p", "output.diagnostics_period_s:=0.3", *arguments)
    node = rclpy.create_node(f"watch_{name}", context=rclpy_context)
    statuses: list[DiagnosticStatus] = []
    node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: statuses.extend(m.status), 10)
    def mine() -> list[DiagnosticStatus]:
        return [s for s in statuses if s.hardware_id == f"/{name}" and s.values]

    assert spin(node, mine, 60), f"no diagnostics from /{name}"
    publish = feed(node) if feed else None
    for index in range(60):
        if publish:
            publish(index)
        spin(node, lambda: False, 0.1)
    return mine()[-1]


def test_diagnostics_say_ok_warn_or_error_by_what_runs(start_node, rclpy_context, spin):
    from geometry_msgs.msg import Point

    from emotion_perception.msg import TrackedSkeleton, TrackedSkeletonArray

    def skeleton_stream(node):
        images = node.create_publisher(Image, "/ok/image", 10)
        skeletons = node.create_publisher(TrackedSkeletonArray, "/ok/skeletons", 10)
        joints = [Point(x=0.1 * (j % 3), y=-0.8 + 0.1 * j, z=3.0) for j in range(16)]

        def publish(index: int) -> None:
            header = Header(stamp=Time(sec=100 + index // 10, nanosec=(index % 10) * 100_000_000), frame_id="cam")
            skeletons.publish(TrackedSkeletonArray(header=header, skeletons=[
                TrackedSkeleton(id=1, joints=joints, confidence=np.ones(16, np.float32))]))
            msg = image(0)
            msg.header = header
            images.publish(msg)
        return publish

    ok = diagnostics_of(start_node, rclpy_context, spin, "ep_ok", "-p", "pipeline.pose_source:=skeletons",
                        "-r", "image:=/ok/image", "-r", "skeletons:=/ok/skeletons", feed=skeleton_stream)
    assert ok.level == DiagnosticStatus.OK, (ok.message, [(kv.key, kv.value) for kv in ok.values])
    assert ok.name == "/ep_ok: emotion perception"
    values = {kv.key: kv.value for kv in ok.values}
    assert values["cue_gait"].startswith("active") and values["cue_face"].startswith("active")
    assert values["cue_context"].startswith("off:"), "a cue nobody configured is off by choice: still OK"
    warn = diagnostics_of(start_node, rclpy_context, spin, "ep_warn", "-p", "pipeline.pose_source:=skeletons",
                          "-p", "gait.weights:=/nowhere/gait.pt")
    assert warn.level == DiagnosticStatus.WARN and "configured cues off: gait" in warn.message
    error = diagnostics_of(start_node, rclpy_context, spin, "ep_error")  # detector source, no detector weights
    assert error.level == DiagnosticStatus.ERROR and "nobody can be seen" in error.message


def test_markers_follow_people_and_the_debug_image_reaches_a_reliable_subscriber(start_node, rclpy_context, spin):
    """RViz subscribes reliable: the debug image used to be best effort ("incompatible QoS"); markers of a track
    are deleted when it ends."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from visualization_msgs.msg import Marker, MarkerArray

    from emotion_perception.paths import sample_bag_path
    from emotion_perception.ros.bag import SAMPLE_TOPICS, play_bag

    start_node("-p", "pipeline.pose_source:=skeletons", "-p", "input.image_transport:=compressed",
               "-r", f"image/compressed:={SAMPLE_TOPICS['image']}", "-r", f"camera_info:={SAMPLE_TOPICS['camera_info']}",
               "-r", f"skeletons:={SAMPLE_TOPICS['skeletons']}")
    node = rclpy.create_node("test_rviz", context=rclpy_context)
    markers: list[MarkerArray] = []
    images: list[Image] = []
    marker_sub = node.create_subscription(MarkerArray, "/emotion_perception/markers", markers.append, 1000)
    image_sub = node.create_subscription(Image, "/emotion_perception/debug_image", images.append,
                                         QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))
    assert spin(node, lambda: marker_sub.get_publisher_count() > 0 and image_sub.get_publisher_count() > 0, 60)
    play_bag(node, sample_bag_path(), rate=0.5, wait_for_subscribers_s=60)
    spin(node, lambda: False, 2.0)
    assert images and images[-1].encoding == "rgb8" and images[-1].width == 320
    added = [m for array in markers for m in array.markers if m.action == Marker.ADD]
    assert {m.ns for m in added} == {"people", "labels"} and {m.id for m in added} >= {1, 2, 3, 4, 5}
    assert all(m.header.frame_id == "camera_color_optical_frame" for m in added)
    angry_near = [m for m in added if m.ns == "labels" and m.id == 4 and "angry" in m.text]
    assert angry_near, "the approaching walker's label shows in RViz"
    deleted = {m.id for array in markers for m in array.markers if m.action == Marker.DELETE}
    assert {1, 2, 3, 4} <= deleted, "the walkers' markers go when the scene cuts to the photo"
