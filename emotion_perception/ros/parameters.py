"""ROS parameters from the settings dataclasses: one declared parameter per field, validated by the settings' rule.

Every field is declared with a descriptor carrying its documentation and bounds. Values are validated when
the node configures (the same rule the offline tools apply to a params file); overrides naming no setting
(``gait.modle``) are refused with the known names. While configured, only ``runtime`` fields may change;
the others wait for cleanup + configure, and a refused change says so.
"""

from __future__ import annotations

import dataclasses

from rcl_interfaces.msg import ParameterDescriptor, ParameterType
from rclpy.node import Node

from ..configuration import check_value, field_help, field_types, unknown_names_error
from ..settings import ROS_NODE_PARAMETERS, Settings, group_classes

_PARAMETER_TYPES = {
    bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING,
    list[float]: ParameterType.PARAMETER_DOUBLE_ARRAY, list[int]: ParameterType.PARAMETER_INTEGER_ARRAY,
    list[str]: ParameterType.PARAMETER_STRING_ARRAY, list[bool]: ParameterType.PARAMETER_BOOL_ARRAY,
}


class ParameterError(ValueError):
    """The node's parameters cannot make valid settings; the message says which and why."""


def setting_fields() -> dict[str, tuple[type, dataclasses.Field]]:
    """Every setting's ROS parameter name -> (type, dataclass field)."""
    fields = {}
    for group, config_cls in group_classes().items():
        kinds = field_types(config_cls)
        for f in dataclasses.fields(config_cls):
            fields[f"{group}.{f.name}"] = (kinds[f.name], f)
    return fields


def declare_settings(node: Node) -> None:
    """Declare every setting as a ROS parameter with a descriptor (documentation, bounds, [runtime]).

    Floats accept integer values from YAML or ``-p`` (``5`` for ``5.0``) instead of refusing them.
    """
    defaults = Settings().flat()
    for name, (kind, f) in setting_fields().items():
        descriptor = ParameterDescriptor(description=field_help(f), type=_PARAMETER_TYPES[kind],
                                         dynamic_typing=kind is float)
        node.declare_parameter(name, defaults[name], descriptor)


def read_settings(node: Node) -> Settings:
    """The settings the node's parameters make; ParameterError naming unknown or invalid ones."""
    declared = setting_fields()
    overrides = getattr(node, "_parameter_overrides", {})  # rclpy keeps every override given to this node here
    unknown = {name for name in overrides if name not in declared and name.split(".")[0] not in ROS_NODE_PARAMETERS}
    if unknown:
        raise ParameterError(str(unknown_names_error(unknown, list(declared), "parameters")))
    try:
        return Settings.from_nested({name: node.get_parameter(name).value for name in declared})
    except ValueError as exc:
        raise ParameterError(str(exc)) from None


def runtime_change(node: Node, parameters, configured: bool) -> tuple[str, Settings | None]:
    """Why a parameter change is refused ("" when it may go ahead), and the node's settings after it (None
    when there is nothing to apply now).

    Unconfigured: any valid value (bounds checked per field; cross-field rules at configure). Configured:
    only runtime fields, and the resulting settings must be valid.
    """
    fields = setting_fields()
    changes = {p.name: p.value for p in parameters if p.name in fields}
    frozen = sorted(name for name in changes if not fields[name][1].metadata.get("runtime"))
    if configured and frozen:
        runtime = ", ".join(name for name, (_, f) in fields.items() if f.metadata.get("runtime"))
        return (f"{', '.join(frozen)} cannot change while the node is configured: deactivate, clean up, set it and "
                f"configure again. Parameters that change at run time: {runtime}"), None
    try:
        if configured:
            return "", node.settings.with_values(changes) if changes else None
        for name, value in changes.items():
            kind, f = fields[name]
            check_value(value, kind, dict(f.metadata), name)
    except ValueError as exc:
        return str(exc), None
    return "", None
