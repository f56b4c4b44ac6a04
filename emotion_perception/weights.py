"""Weights as data with a passport.

Every set of weights the package can use is described by a :class:`WeightsPassport`: where the file
comes from, its sha256, licence, the label order of the model's outputs (in our vocabulary's names),
the preprocessing it expects and what it was trained on. A checkpoint on disk is a state_dict file
(``NAME.pt``, loaded with ``weights_only=True``) with its passport beside it (``NAME.json``); the
released weights we support are listed in :data:`PUBLISHED`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WeightsPassport:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise WeightsError(f"unknown passport fields {sorted(unknown)}")
        for key in ("labels", "joint_order"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


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


def load_checkpoint(path: str | Path, architecture: str | None = None) -> tuple[dict[str, torch.Tensor], WeightsPassport]:
    """Load ``NAME.pt`` with its passport ``NAME.json``; refuse a passport for another architecture."""
    path = Path(path)
    passport_path = path.with_suffix(".json")
    if not passport_path.is_file():
        raise WeightsError(f"{path}: no passport {passport_path.name} beside it; write one "
                           "(see WeightsPassport) so the package knows the label order and preprocessing")
    passport = WeightsPassport.from_json(passport_path.read_text())
    if architecture is not None and passport.architecture != architecture:
        raise WeightsError(f"{path} holds {passport.architecture!r} weights, not {architecture!r}")
    return load_state_dict(path, passport.sha256), passport


PUBLISHED: dict[str, WeightsPassport] = {
    passport.name: passport
    for passport in (
        WeightsPassport(
            name="step_stgcn_epoch395",
            architecture="stgcn",
            labels=("angry", "neutral", "happy", "sad"),
            file_name="step_stgcn_epoch395.pth",
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
    )
}
"""Released weights the package knows by name (obtained with `emotion-perception weights fetch`)."""


def published_path(name: str, weights_dir: Path | None = None) -> Path:
    """Path of a fetched released weights file; WeightsError telling how to fetch it if absent."""
    passport = PUBLISHED[name]
    path = (weights_dir or default_weights_dir()) / passport.file_name
    if not path.is_file():
        raise WeightsError(f"released weights {name!r} not found at {path}; run "
                           f"`emotion-perception weights fetch --from DIR` (DIR holding {passport.file_name}) "
                           "or `emotion-perception weights fetch` on a machine with internet")
    return path


def fetch_published(name: str, source_dir: Path | None = None, weights_dir: Path | None = None) -> Path:
    """Copy (or download) released weights into the weights dir, verifying sha256. Idempotent."""
    passport = PUBLISHED[name]
    target_dir = weights_dir or default_weights_dir()
    target = target_dir / passport.file_name
    if target.is_file() and sha256_of(target) == passport.sha256:
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    if source_dir is not None:
        source = Path(source_dir) / passport.file_name
        if not source.is_file():
            raise WeightsError(f"{source} not found (released weights {name!r})")
        shutil.copyfile(source, partial)
    elif passport.url:
        with urllib.request.urlopen(passport.url, timeout=60) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
    else:
        raise WeightsError(f"released weights {name!r} have no download address; give --from DIR")
    try:
        verify_sha256(partial, passport.sha256)
    except WeightsError:
        partial.unlink()
        raise
    partial.replace(target)
    return target
