"""A cue installed from another distribution (entry points, test/support/plugin_cue.py) runs in the installed node:
every person's generic ``cues`` list carries its result, fusion hears it, and /diagnostics names it, while the
faulty plug-ins beside it are skipped without stopping the node."""

from __future__ import annotations

import numpy as np

from support.plugin_cue import install_plugins, plugin_env


def test_a_plugin_cue_reaches_every_persons_cues_list_and_the_diagnostics(
        tmp_path, ros_env, start_sample_node, play_sample, rclpy_context, spin, listen):
    import rclpy

    ros_env.update(plugin_env(install_plugins(tmp_path), ros_env))
    node_process = start_sample_node("-p", "output.diagnostics_period_s:=0.5", "-p", "gait.weights:=''",
                                     "-p", "face.expression_weights:=''")
    node = rclpy.create_node("test_plugin_cue", context=rclpy_context)
    observer = listen(node)
    play_sample(node)
    assert spin(node, lambda: any(array.people for array in observer.arrays), 10), "no one seen in the sample"
    people = [person for array in observer.arrays for person in array.people]
    assert all([cue.name for cue in person.cues] == ["posture"] for person in people), "the only cue running"
    judged = [person for person in people if person.cues[0].valid]
    assert len(judged) == len(people), {person.cues[0].status for person in people}
    for person in judged:
        (posture,) = person.cues
        assert list(posture.labels) == ["slumped", "upright"] and posture.label in posture.labels
        assert posture.model == "posture_rule" and abs(float(np.sum(posture.probabilities)) - 1.0) < 1e-5
    assert any("posture" in person.fused.cues for person in judged), "fusion hears the plug-in"
    assert spin(node, lambda: observer.values().get("cue_posture", "").startswith("active: ready: posture_rule"),
                10), observer.values()
    assert not any("broken" in key or "second_gait" in key for key in observer.values()), observer.values()
    assert node_process.poll() is None
