"""The one list of cues the package ships, and the registration of further ones.

Pipeline, settings, fusion, messages, the debug image, bag summaries and diagnostics iterate over
:func:`cue_classes`; none of them names a cue. A new cue is a folder with a :class:`~emotion_perception.cues.base.Cue`
subclass, one line here, its labels in labels.py and (optionally) its typed message field in
PersonEmotion.msg; every cue also appears in PersonEmotion's generic ``cues`` list without a message of its own.
"""

from __future__ import annotations

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


def cue_classes() -> tuple[type[Cue], ...]:
    """Every cue: the shipped ones, then any registered with :func:`register_cue`."""
    return SHIPPED_CUES + tuple(_registered)


def register_cue(cue_class: type[Cue]) -> None:
    """Add a cue of a plug-in (or a test) to this process's pipelines, settings and outputs, and its released
    weights and export entries to `emotion-perception weights list|fetch` and `export`."""
    names = {cue.name for cue in cue_classes()}
    if cue_class.name in names:
        raise ValueError(f"a cue named {cue_class.name!r} is already registered")
    for kind, taken, offered in (("weights", released_weights(), cue_class.released_weights),
                                 ("network", exportable_networks(), cue_class.exportable_networks)):
        clash = sorted({entry.name for entry in offered} & set(taken))
        if clash:
            raise ValueError(f"cue {cue_class.name!r}: {kind} {', '.join(clash)} already named by another cue")
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
