"""Settings fields that carry their own documentation and bounds, and the one rule that validates them.

A field's metadata holds its help text, its bounds (``min``/``max`` inclusive, ``above`` exclusive,
``choices``) and whether it may change at run time; floats must be finite; a config class may add
cross-field checks in a ``check()`` method. The node's parameters and the offline tools' YAML go through
the same functions, so a value is accepted or refused with the same reason everywhere.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import field
from typing import Any


def setting(default: Any, help: str, *, min: float | None = None, max: float | None = None,
            above: float | None = None, choices: tuple | None = None, runtime: bool = False) -> Any:
    """A settings field: its default, its documentation and the bounds that validation enforces.

    ``runtime`` fields may be changed while the node runs (``ros2 param set``); others are read-only there.
    """
    metadata = {"help": help, "runtime": runtime}
    for key, value in (("min", min), ("max", max), ("above", above), ("choices", choices)):
        if value is not None:
            metadata[key] = value
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def field_types(config_cls: type) -> dict[str, Any]:
    """Resolved type of each field (the dataclasses use postponed annotations)."""
    return typing.get_type_hints(config_cls)


def describe_bounds(metadata: dict[str, Any]) -> str:
    """The bounds of a field in words, for descriptors, error messages and the params file."""
    parts = []
    if "choices" in metadata:
        parts.append("one of " + ", ".join(repr(c) for c in metadata["choices"]))
    if "above" in metadata:
        parts.append(f"> {metadata['above']:g}")
    if "min" in metadata:
        parts.append(f">= {metadata['min']:g}")
    if "max" in metadata:
        parts.append(f"<= {metadata['max']:g}")
    return ", ".join(parts)


def check_value(value: Any, kind: Any, metadata: dict[str, Any], where: str) -> Any:
    """``value`` as a valid field of type ``kind`` with ``metadata``'s bounds; ValueError naming ``where``."""
    if typing.get_origin(kind) is list:
        (item_kind,) = typing.get_args(kind)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        return [check_value(item, item_kind, metadata, where) for item in value]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind in (bool, int, float, str) and not (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        raise ValueError(f"{where}: expected {kind.__name__}, got {value!r}")
    if kind is float and not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number, got {value!r}")
    bounds = describe_bounds(metadata)
    if ("choices" in metadata and value not in metadata["choices"]
            or "min" in metadata and value < metadata["min"]
            or "max" in metadata and value > metadata["max"]
            or "above" in metadata and not value > metadata["above"]):
        raise ValueError(f"{where}: {value!r} is out of range (must be {bounds})")
    return value


def validate_config(config: Any, group: str) -> None:
    """Check every field of ``config`` and its cross-field ``check()``; ValueError with the reason."""
    kinds = field_types(type(config))
    for f in dataclasses.fields(config):
        check_value(getattr(config, f.name), kinds[f.name], dict(f.metadata), f"{group}.{f.name}")
    cross_check = getattr(config, "check", None)
    if cross_check is not None:
        try:
            cross_check()
        except ValueError as exc:
            raise ValueError(f"{group}: {exc}") from None


def unknown_names_error(unknown: set[str], known: list[str], what: str) -> ValueError:
    """An error naming the unknown keys, the closest known one of each, and the known keys of their groups
    (all groups when an unknown key's group is unknown too)."""
    hints = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name}" + (f" (did you mean {close[0]}?)" if close else ""))
    groups = {name.split(".")[0] for name in unknown}
    listed = [name for name in known if name.split(".")[0] in groups and "." in name]
    if not listed:
        listed = list(dict.fromkeys(name.split(".")[0] for name in known))
    return ValueError(f"unknown {what}: {', '.join(hints)}; known: {', '.join(listed)}")


def apply_overrides(config: Any, values: dict[str, Any], group: str) -> Any:
    """A validated copy of ``config`` with ``values`` (field name -> value) applied; unknown names are an error."""
    kinds = field_types(type(config))
    unknown = set(values) - set(kinds)
    if unknown:
        raise unknown_names_error({f"{group}.{name}" for name in unknown},
                                  [f"{group}.{name}" for name in kinds], f"settings in group {group!r}")
    metadata = {f.name: dict(f.metadata) for f in dataclasses.fields(config)}
    coerced = {name: check_value(value, kinds[name], metadata[name], f"{group}.{name}") for name, value in values.items()}
    changed = dataclasses.replace(config, **coerced)
    validate_config(changed, group)
    return changed


def field_help(f: dataclasses.Field) -> str:
    """A field's documentation with its bounds and whether it may change at run time."""
    bounds = describe_bounds(dict(f.metadata))
    text = f.metadata.get("help", "")
    if bounds:
        text += f" ({bounds})"
    if f.metadata.get("runtime"):
        text += " [runtime]"
    return text
