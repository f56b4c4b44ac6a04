"""The one list of cues the package ships, the cues of installed plug-ins, and the registration of further ones.

Pipeline, settings, fusion, messages, the debug image, bag summaries, diagnostics and the command line iterate
over :func:`cue_classes`; none of them names a cue, and each cue's labels, result type, settings group, released
weights, export entries and commands come from its class. A new cue of the package is a folder with a
:class:`~emotion_perception.cues.base.Cue` subclass, one line in ``SHIPPED_CUES`` and (optionally) its typed
message field in PersonEmotion.msg; every cue also appears in PersonEmotion's generic ``cues`` list without a
message of its own. A cue of another distribution declares its class in the entry-point group
``emotion_perception.cues`` (runtime/plugins.py); a test or a script may call :func:`register_cue`.
"""

from __future__ import annotations

from ..runtime import plugins
from ..runtime.export import ExportableNetwork
from ..runtime.weights import WeightsPassport
from .context.cue import ContextCue
from .base import Cue
from .face.cue import FaceCue
from .gait.cue import GaitCue
from .gesture.cue import GestureCue

SHIPPED_CUES: tuple[type[Cue], ...] = (GaitCue, ContextCue, FaceCue, GestureCue)
"""The cues of the package, in the order messages, CSV columns and the debug image list them."""

_registered: list[type[Cue]] = []
_plugins: tuple[type[Cue], ...] | None = None


def cue_classes() -> tuple[type[Cue], ...]:
    """Every cue: the shipped ones, those of installed plug-ins (:func:`plugin_cues`), then any registered with
    :func:`register_cue`."""
    return SHIPPED_CUES + plugin_cues() + tuple(_registered)


def plugin_cues() -> tuple[type[Cue], ...]:
    """The cues installed distributions declare in the entry-point group ``emotion_perception.cues``, by entry
    point name, looked up once per process. One that fails to import, is not a Cue subclass, or takes a name
    already taken is logged and left out (runtime/plugins.py)."""
    global _plugins
    if _plugins is None:
        found: list[type[Cue]] = []
        for entry in plugins.declared(plugins.CUE_GROUP):
            loaded = plugins.load(entry)
            if loaded is None:
                continue
            complete = all(hasattr(loaded, attribute) for attribute in ("name", "config_class", "result_class"))
            if not (isinstance(loaded, type) and issubclass(loaded, Cue) and complete):
                plugins.skip(entry, f"{loaded!r} is not a Cue subclass with a name, config_class and result_class")
                continue
            problem = _clash(loaded, SHIPPED_CUES + tuple(found))
            if problem:
                plugins.skip(entry, problem)
                continue
            found.append(loaded)
        _plugins = tuple(found)
    return _plugins


def _clash(cue_class: type[Cue], cues: tuple[type[Cue], ...]) -> str:
    """Why ``cue_class`` cannot join ``cues`` (its name, or a weights or network name, is taken); "" if it can."""
    if cue_class.name in {cue.name for cue in cues}:
        return f"a cue named {cue_class.name!r} is already registered"
    for kind, attribute in (("weights", "released_weights"), ("network", "exportable_networks")):
        taken = {entry.name for cue in cues for entry in getattr(cue, attribute)}
        clash = sorted({entry.name for entry in getattr(cue_class, attribute)} & taken)
        if clash:
            return f"cue {cue_class.name!r}: {kind} {', '.join(clash)} already named by another cue"
    return ""


def register_cue(cue_class: type[Cue]) -> None:
    """Add a cue of a plug-in (or a test) to this process's pipelines, settings and outputs, and its released
    weights and export entries to `emotion-perception weights list|fetch` and `export`."""
    problem = _clash(cue_class, cue_classes())
    if problem:
        raise ValueError(problem)
    _registered.append(cue_class)


def unregister_cue(cue_class: type[Cue]) -> None:
    """Remove a cue added with :func:`register_cue`."""
    _registered.remove(cue_class)


def released_weights() -> dict[str, WeightsPassport]:
    """Every cue's released weights (``Cue.released_weights``) by name, in cue order."""
    return {passport.name: passport for cue in cue_classes() for passport in cue.released_weights}


def exportable_networks() -> dict[str, ExportableNetwork]:
    """Every cue's ONNX export entries (``Cue.exportable_networks``) by name, in cue order."""
    return {network.name: network for cue in cue_classes() for network in cue.exportable_networks}
