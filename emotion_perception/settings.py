"""Settings of the whole package as typed dataclasses: one group per stage, every field documented.

The ROS node declares one ROS parameter per field (``group.field``, with the field's ``help`` as its
descriptor), config/emotion_perception.yaml lists them all, and offline tools build the same
:class:`Settings` from that YAML, so the node, bag processing and benchmarks run identical pipelines.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NODE_NAME = "emotion_perception"


def field_types(config_cls: type) -> dict[str, Any]:
    """Resolved type of each field (the dataclasses use postponed annotations)."""
    return typing.get_type_hints(config_cls)


def coerce(value: Any, kind: Any, where: str) -> Any:
    """``value`` as a field of type ``kind``; ints pass for floats, anything else mismatched is an error."""
    origin = typing.get_origin(kind)
    if origin is list:
        (item_kind,) = typing.get_args(kind)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        return [coerce(item, item_kind, where) for item in value]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (bool, int, float, str) and not (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        raise ValueError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def apply_overrides(config: Any, values: dict[str, Any], group: str) -> Any:
    """A copy of ``config`` with ``values`` (field name -> value) applied; unknown names are an error."""
    kinds = field_types(type(config))
    unknown = set(values) - set(kinds)
    if unknown:
        raise ValueError(f"unknown settings {', '.join(f'{group}.{name}' for name in sorted(unknown))}")
    changes = {name: coerce(value, kinds[name], f"{group}.{name}") for name, value in values.items()}
    return dataclasses.replace(config, **changes)


@dataclass
class PipelineConfig:
    """What drives the pipeline and where its networks run."""

    pose_source: str = field(default="detector", metadata={
        "help": "where people come from: 'detector' (run the person/keypoint detector on images) or "
                "'skeletons' (tracked 3D skeletons on the skeletons topic)"})
    device: str = field(default="cpu", metadata={
        "help": "torch device of every network: 'cpu', 'cuda' or 'cuda:N' (falls back to cpu, with a warning, when CUDA is absent)"})
    max_people: int = field(default=20, metadata={"help": "most people processed per frame (largest boxes first)"})
    min_image_size: int = field(default=32, metadata={"help": "frames narrower or lower than this [px] are dropped"})


@dataclass
class InputConfig:
    """Camera topics the node subscribes to (relative names: remap them, e.g. image:=/camera/color/image_raw)."""

    image_transport: str = field(default="raw", metadata={
        "help": "'raw' subscribes sensor_msgs/Image on 'image'; 'compressed' subscribes sensor_msgs/CompressedImage on 'image/compressed'"})
    qos: str = field(default="sensor_data", metadata={
        "help": "subscription QoS: 'sensor_data' (best effort, matches every camera) or 'reliable' (only reliable publishers)"})
    queue_depth: int = field(default=5, metadata={"help": "subscription history depth"})
    use_camera_info: bool = field(default=True, metadata={"help": "subscribe 'camera_info' for intrinsics (needed for 3D from depth)"})
    use_depth: bool = field(default=False, metadata={"help": "subscribe 'depth' (aligned to the image; 16UC1 mm or 32FC1 m) and pair it with images"})
    sync_slop_s: float = field(default=0.05, metadata={"help": "largest stamp difference [s] for pairing image with depth or skeletons"})
    max_image_pixels: int = field(default=33_177_600, metadata={"help": "larger images are dropped (default: 8K, 7680x4320)"})
    max_depth_m: float = field(default=20.0, metadata={"help": "depth beyond this [m] counts as no measurement"})
    no_image_warning_s: float = field(default=5.0, metadata={"help": "warn when no image arrived for this long [s]"})


@dataclass
class OutputConfig:
    """What the node publishes besides the EmotionArray on 'emotions'."""

    debug_image: bool = field(default=True, metadata={"help": "publish an annotated image on ~/debug_image (only computed while subscribed)"})
    diagnostics_period_s: float = field(default=1.0, metadata={"help": "period [s] of the diagnostic_msgs/DiagnosticArray on /diagnostics"})


def _stage_configs() -> dict[str, type]:
    """The stage config classes, by group name (imported here so settings.py stays the one registry)."""
    from .context import ContextConfig
    from .detection import DetectorConfig
    from .fusion import FusionConfig
    from .gait import GaitConfig
    from .pose import HistoryConfig
    from .tracking import TrackerConfig

    return {"detector": DetectorConfig, "tracker": TrackerConfig, "history": HistoryConfig,
            "gait": GaitConfig, "context": ContextConfig, "fusion": FusionConfig}


def group_classes() -> dict[str, type]:
    """Every settings group, in the order the YAML and the ROS parameters list them."""
    return {"input": InputConfig, "output": OutputConfig, "pipeline": PipelineConfig, **_stage_configs()}


class Settings(dict):
    """All settings groups by name (``settings["gait"].weights``); defaults for any group not given."""

    def __init__(self, groups: dict[str, Any] | None = None):
        classes = group_classes()
        super().__init__({name: cls() for name, cls in classes.items()})
        for name, config in (groups or {}).items():
            if name not in classes:
                raise ValueError(f"unknown settings group {name!r}; known: {', '.join(classes)}")
            if not isinstance(config, classes[name]):
                raise TypeError(f"settings group {name!r} must be a {classes[name].__name__}")
            self[name] = config

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def from_nested(cls, values: dict[str, dict[str, Any]]) -> Settings:
        """Settings from {group: {field: value}} (the shape of a ROS params file's ros__parameters)."""
        settings = cls()
        for group, fields_ in values.items():
            if group not in settings:
                raise ValueError(f"unknown settings group {group!r}; known: {', '.join(settings)}")
            if not isinstance(fields_, dict):
                raise ValueError(f"settings group {group!r} must be a mapping")
            settings[group] = apply_overrides(settings[group], fields_, group)
        return settings

    @classmethod
    def from_yaml(cls, path: str | Path) -> Settings:
        """Settings from a ROS 2 params file (``/**:`` or ``emotion_perception:`` with ``ros__parameters``)."""
        document = yaml.safe_load(Path(path).read_text()) or {}
        for key in ("/**", NODE_NAME, f"/{NODE_NAME}"):
            if key in document:
                return cls.from_nested(document[key].get("ros__parameters", {}))
        raise ValueError(f"{path}: no '/**' or '{NODE_NAME}' section with ros__parameters")

    def flat(self) -> dict[str, Any]:
        """{"group.field": value} for every setting (the ROS parameter names)."""
        return {f"{group}.{f.name}": getattr(config, f.name)
                for group, config in self.items() for f in dataclasses.fields(config)}


def render_params_yaml() -> str:
    """config/emotion_perception.yaml: every parameter with its default and its documentation."""
    lines = ["# Parameters of the emotion_perception node (ROS 2 params file; load with",
             "#   ros2 launch emotion_perception emotion_perception.launch.py config:=THIS_FILE",
             "# or --ros-args --params-file THIS_FILE). Generated by `emotion-perception config`;",
             "# every value here is the built-in default.",
             "/**:", "  ros__parameters:"]
    for group, cls in group_classes().items():
        lines.append(f"    # --- {group}: {(cls.__doc__ or '').strip().splitlines()[0]}")
        lines.append(f"    {group}:")
        for f in dataclasses.fields(cls):
            value = getattr(cls(), f.name)
            lines.append(f"      # {f.metadata.get('help', '')}")
            lines.append(f"      {f.name}: {yaml.safe_dump(value, default_flow_style=True).strip().removesuffix(chr(10) + '...')}")
    return "\n".join(lines) + "\n"
