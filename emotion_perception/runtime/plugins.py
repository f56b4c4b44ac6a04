"""Plug-ins from other installed distributions, found through Python entry points (importlib.metadata).

A distribution adds a cue or a person-detector backend by declaring it in its metadata, e.g. in its
pyproject.toml::

    [project.entry-points."emotion_perception.cues"]
    posture = "my_cues.posture:PostureCue"            # a cues.base.Cue subclass
    [project.entry-points."emotion_perception.detectors"]
    my_detector = "my_detectors.backend"               # a module with build_detector (detection/registry.py)

cues/registry.py and detection/registry.py collect them beside the shipped ones. A plug-in that cannot be
loaded, or is not what its group expects, is logged (naming it, its entry point and its distribution) and
skipped: a broken plug-in never stops the command line, the offline tools or a running node.
"""

from __future__ import annotations

import functools
import logging
from importlib.metadata import EntryPoint, EntryPoints, entry_points
from typing import Any

CUE_GROUP = "emotion_perception.cues"
"""Entry-point group of cue plug-ins: ``name = package.module:CueClass``."""
DETECTOR_GROUP = "emotion_perception.detectors"
"""Entry-point group of detector backends: ``name = package.module`` (the backend's module)."""

log = logging.getLogger(__name__)


@functools.cache
def _installed() -> EntryPoints:
    """Every installed entry point (one scan of the distributions' metadata per process)."""
    return entry_points()


def declared(group: str) -> list[EntryPoint]:
    """The installed entry points of ``group``, by name; a name declared twice counts once (the first found)."""
    found: dict[str, EntryPoint] = {}
    for entry in _installed().select(group=group):
        found.setdefault(entry.name, entry)
    return [found[name] for name in sorted(found)]


def origin(entry: EntryPoint) -> str:
    """A plug-in's name, entry point and distribution, as messages name it."""
    distribution = entry.dist.name if entry.dist is not None else "an unknown distribution"
    return f"{entry.name!r} ({entry.value}, from {distribution})"


def skip(entry: EntryPoint, why: str) -> None:
    """Log that the plug-in of ``entry`` is left out, and why."""
    log.error("emotion_perception: plug-in %s of %s skipped: %s", origin(entry), entry.group, why)


def load(entry: EntryPoint) -> Any | None:
    """What ``entry`` names, or None (logged) when importing it fails in any way."""
    try:
        return entry.load()
    except Exception as exc:  # a plug-in's import may fail in any way; it must not take the package down
        skip(entry, f"cannot be loaded: {type(exc).__name__}: {exc}")
        return None
