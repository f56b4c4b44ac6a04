"""A cue installed from another distribution (entry points, test/support/plugin_cue.py) runs in the installed node:
every person's generic ``cues`` list carries its result, fusion hears it, and /diagnostics names it, while a
broken plug-in beside it is skipped without stopping the node."""

from __future__ import annotations

from sensor_msgs.msg import CameraInfo, Image

from emotion_perception.msg import TrackedSkeletonArray

from support.plugin_cue import install_plugins, plugin_env


def stamp(index: int) -> int:
    """Frame ``index`` at 10 fps from 100 s."""
    return 100 * 10**9 + index * 100_000_000


def test_a_plugin_cue_reaches_every_persons_cues_list_and_the_diagnostics(
        tmp_path, ros_env, start_node, rclpy_context, spin, listen, image, header, tracked_skeleton):
    import rclpy

    ros_env.update(plugin_env(install_plugins(tmp_path), ros_env))
    node_process = start_node("-p", "pipeline.pose_source:=skeletons", "-p", "output.diagnostics_period_s:=0.3",
                              "-p", "gait.weights:=''", "-p", "face.expression_weights:=''",
                              "-r", "image:=/plugin/image", "-r", "skeletons:=/plugin/skeletons",
                              "-r", "camera_info:=/plugin/camera_info")
    node = rclpy.create_node("test_plugin_cue", context=rclpy_context)
    images = node.create_publisher(Image, "/plugin/image", 10)
    skeletons = node.create_publisher(TrackedSkeletonArray, "/plugin/skeletons", 10)
    infos = node.create_publisher(CameraInfo, "/plugin/camera_info", 10)
    observer = listen(node)
    assert spin(node, lambda: images.get_subscription_count() > 0 and skeletons.get_subscription_count() > 0
                and observer.subscription.get_publisher_count() > 0, 60), "the node did not come up"

    def send(index: int) -> None:
        infos.publish(CameraInfo(header=header(stamp(index)), width=64, height=48,
                                 k=[60.0, 0.0, 31.5, 0.0, 60.0, 23.5, 0.0, 0.0, 1.0]))
        skeletons.publish(TrackedSkeletonArray(header=header(stamp(index)), skeletons=[
            tracked_skeleton(1, x=-0.5, z=4.0), tracked_skeleton(2, x=0.5, z=4.0)]))
        images.publish(image(stamp(index)))

    assert observer.first_answer(send, range(60), 0.3), "the node never answered"
    answered = len(observer.arrays)
    for index in range(60, 66):
        send(index)
        spin(node, lambda: len(observer.arrays) > answered, 5.0)
        answered = len(observer.arrays)
    people = [person for array in observer.arrays[-3:] for person in array.people]
    assert people and all([cue.name for cue in person.cues] == ["posture"] for person in people), people
    for person in people:
        (posture,) = person.cues
        assert posture.valid and posture.label == "upright" and list(posture.labels) == ["slumped", "upright"]
        assert posture.model == "posture_rule" and posture.probabilities[1] > 0.9
        assert "posture" in person.fused.cues and person.fused.emotion == "happy"
    assert spin(node, lambda: observer.values().get("cue_posture", "").startswith("active: ready: posture_rule"),
                10), observer.values()
    assert not any("broken" in key for key in observer.values()), observer.values()
    assert node_process.poll() is None
