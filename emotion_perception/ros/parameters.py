"""ROS parameters from the settings dataclasses: one declared parameter per field, validated by the settings' rule.

Every field is declared with a descriptor carrying its documentation and bounds (``integer_range`` /
``floating_point_range``, which tools such as rqt_reconfigure show). Values are validated when the node
configures (the same rule the offline tools apply to a params file); overrides naming no setting
(``gait.modle``) or of the wrong type are refused naming the parameter.

Read-only follows the lifecycle: unconfigured, every setting may be set (what a user of a managed node
expects: set, then configure); while configured (inactive or active) only ``runtime`` fields may change and
the descriptors of all others say ``read_only``, so ``ros2 param describe pipeline.device`` tells the truth
and rclpy refuses a change naming the parameter; cleanup makes them writable again.
"""

from __future__ import annotations

import dataclasses
import sys

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rcl_interfaces.srv import ListParameters
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException, ParameterNotDeclaredException
from rclpy.node import Node

from ..configuration import check_value, field_help, field_types, unknown_names_error
from ..settings import ROS_NODE_PARAMETERS, Settings, group_classes

_PARAMETER_TYPES = {
    bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING,
    list[float]: ParameterType.PARAMETER_DOUBLE_ARRAY, list[int]: ParameterType.PARAMETER_INTEGER_ARRAY,
    list[str]: ParameterType.PARAMETER_STRING_ARRAY, list[bool]: ParameterType.PARAMETER_BOOL_ARRAY,
}


INT64_MAX = 2**63 - 1
CONFIGURE_TIME = ("read-only while the node is configured (inactive or active): deactivate, clean up, set it and "
                  "configure again")


class ParameterError(ValueError):
    """The node's parameters cannot make valid settings; the message says which and why."""


class UnknownParameters(ParameterNotDeclaredException):
    """A change names parameters the node does not have; the message names them (what the parameter services
    send back as the reason)."""

    def __init__(self, message: str):
        Exception.__init__(self, message)  # rclpy's own message would be "undeclared parameter(s): [...]"


def setting_fields() -> dict[str, tuple[type, dataclasses.Field]]:
    """Every setting's ROS parameter name -> (type, dataclass field)."""
    fields = {}
    for group, config_cls in group_classes().items():
        kinds = field_types(config_cls)
        for f in dataclasses.fields(config_cls):
            fields[f"{group}.{f.name}"] = (kinds[f.name], f)
    return fields


def descriptor_range(kind: type, metadata: dict) -> dict:
    """The descriptor's range fields for a setting's ``min``/``max``/``above`` bounds (none without bounds; an open
    end is the type's limit). ROS ranges are inclusive: an ``above`` bound shows as the range's start and the
    settings' rule refuses the bound itself."""
    low = max((metadata[key] for key in ("min", "above") if key in metadata), default=None)
    high = metadata.get("max")
    if low is None and high is None:
        return {}
    if kind is int:
        if "above" in metadata and low == metadata["above"]:
            low = int(low) + 1
        return {"integer_range": [IntegerRange(from_value=-INT64_MAX if low is None else int(low),
                                               to_value=INT64_MAX if high is None else int(high), step=0)]}
    if kind is float:
        return {"floating_point_range": [FloatingPointRange(
            from_value=-sys.float_info.max if low is None else float(low),
            to_value=sys.float_info.max if high is None else float(high), step=0.0)]}
    return {}


def declare_settings(node: Node) -> None:
    """Declare every setting as a ROS parameter with a descriptor (documentation, bounds, [runtime]).

    Floats accept integer values from YAML or ``-p`` (``5`` for ``5.0``) instead of refusing them. An override
    of the wrong type or out of bounds is a ParameterError naming the parameter and what it must be.
    """
    defaults = Settings().flat()
    overrides = getattr(node, "_parameter_overrides", {})  # rclpy keeps every override given to this node here
    for name, (kind, f) in setting_fields().items():
        metadata = dict(f.metadata)
        descriptor = ParameterDescriptor(
            description=field_help(f), type=_PARAMETER_TYPES[kind], dynamic_typing=kind is float,
            additional_constraints="" if metadata.get("runtime") else CONFIGURE_TIME, **descriptor_range(kind, metadata))
        try:
            node.declare_parameter(name, defaults[name], descriptor)
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            try:
                check_value(overrides[name].value, kind, metadata, name)
            except ValueError as refusal:
                raise ParameterError(str(refusal)) from None
            raise ParameterError(f"{name}: {exc}") from None


def set_configure_time_read_only(node: Node, read_only: bool) -> None:
    """Mark every setting that is not ``runtime`` read-only (configured) or writable (unconfigured).

    The stored descriptors are changed in place: rclpy's ``set_descriptor`` refuses to touch a read-only one.
    """
    for name, (_, f) in setting_fields().items():
        if not f.metadata.get("runtime"):
            node.describe_parameter(name).read_only = read_only


def refuse_unknown_parameters(node: Node, parameters) -> None:
    """UnknownParameters naming each parameter of ``parameters`` the node has not declared, with the closest one."""
    unknown = {p.name for p in parameters if not node.has_parameter(p.name)}
    if unknown:
        known = list(node.list_parameters([], ListParameters.Request.DEPTH_RECURSIVE).names)
        raise UnknownParameters(str(unknown_names_error(unknown, known, "parameters")))


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
    only runtime fields reach here (the others are read-only then), and the resulting settings must be valid.
    """
    fields = setting_fields()
    changes = {p.name: p.value for p in parameters if p.name in fields}
    try:
        if configured:
            return "", node.settings.with_values(changes) if changes else None
        for name, value in changes.items():
            kind, f = fields[name]
            check_value(value, kind, dict(f.metadata), name)
    except ValueError as exc:
        return str(exc), None
    return "", None
