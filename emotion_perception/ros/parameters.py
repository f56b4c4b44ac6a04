"""ROS parameters from the settings dataclasses: one declared parameter per field, with a descriptor."""

from __future__ import annotations

import dataclasses

from rcl_interfaces.msg import ParameterDescriptor, ParameterType
from rclpy.node import Node

from ..settings import Settings, apply_overrides, field_types, group_classes

_PARAMETER_TYPES = {
    bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING,
    list[float]: ParameterType.PARAMETER_DOUBLE_ARRAY, list[int]: ParameterType.PARAMETER_INTEGER_ARRAY,
    list[str]: ParameterType.PARAMETER_STRING_ARRAY, list[bool]: ParameterType.PARAMETER_BOOL_ARRAY,
}


def declare_settings(node: Node) -> Settings:
    """Declare every setting as a read-only ROS parameter and return the values the node was given.

    Floats accept integer values from YAML or ``-p`` (``5`` for ``5.0``) instead of refusing them.
    """
    defaults = Settings()
    groups = {}
    for group, config_cls in group_classes().items():
        kinds = field_types(config_cls)
        values = {}
        for f in dataclasses.fields(config_cls):
            kind = kinds[f.name]
            descriptor = ParameterDescriptor(
                description=f.metadata.get("help", ""), type=_PARAMETER_TYPES[kind], read_only=True,
                dynamic_typing=kind is float)
            default = getattr(defaults[group], f.name)
            parameter = node.declare_parameter(f"{group}.{f.name}", default, descriptor)
            values[f.name] = parameter.value
        groups[group] = apply_overrides(defaults[group], values, group)
    return Settings(groups)

