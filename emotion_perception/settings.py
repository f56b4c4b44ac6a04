"""Settings of the whole package as typed dataclasses: one group per stage, every field documented and bounded.

The ROS node declares one ROS parameter per field (``group.field``, with the field's ``help`` as its
descriptor), config/emotion_perception.yaml lists them all, and offline tools build the same
:class:`Settings` from that YAML, so the node, bag processing and benchmarks run identical pipelines.

Validation is one rule for everybody (configuration.py); unknown keys are refused with the list of known
ones. Fields marked ``runtime`` may change while the node runs; the rest need a reconfigure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .configuration import apply_overrides, field_help, setting, unknown_names_error, validate_config
from .runtime.device import PRECISIONS

NODE_NAME = "emotion_perception"

ROS_NODE_PARAMETERS = ("use_sim_time", "autostart", "qos_overrides", "start_type_description_service")
"""Parameters of the ROS node itself (not settings groups) that a params file may carry."""


@dataclass
class PipelineConfig:
    """What drives the pipeline and where its networks run."""

    pose_source: str = setting("detector", "where people come from: 'detector' (the person/keypoint detector on "
                               "images) or 'skeletons' (tracked 3D skeletons on the skeletons topic)",
                               choices=("detector", "skeletons"))
    device: str = setting("cpu", "torch device of every network: 'cpu', 'cuda' or 'cuda:N' (falls back to cpu, "
                          "with a warning and a diagnostics note, when CUDA is absent)")
    precision: str = setting("fp32", "numerics of the networks on CUDA: 'fp32' (strict: TF32 off, reproduces the "
                             "released models), 'tf32' (TF32 matmul/convolutions), 'fp16' (autocast everywhere) or "
                             "'fp16_detector' (the detector in fp16, the cue networks strict fp32)",
                             choices=PRECISIONS)
    accelerate: str = setting("eager", "how every network runs: 'eager' (as written), 'compile' (torch.compile; on "
                              "CUDA with CUDA graphs for the fixed-shape cue networks) or 'tensorrt' (torch_tensorrt "
                              "engines, CUDA only); a path that cannot be taken leaves the network eager and the log "
                              "says why (docs/acceleration.md)", choices=("eager", "compile", "tensorrt"))
    cpu_threads: int = setting(0, "torch CPU threads for the networks; 0 = torch's default (one per core). On a "
                               "busy machine fewer threads than cores avoid oversubscription", min=0, max=1024)
    overlap: bool = setting(True, "the node finds and tracks the people of the next frame while the cues judge "
                                  "this one (two worker threads, one CUDA stream each; output stays in stamp order)")
    max_people: int = setting(20, "most people processed per frame (largest boxes first)", min=1, max=1000)
    min_image_size: int = setting(32, "frames narrower or lower than this [px] are dropped", min=1)
    reorder_tolerance_s: float = setting(
        0.5, "a frame up to this much older than the last one processed is dropped as out of order; an older one "
             "means time jumped back (bag loop, clock reset) and every stage keeping state over time resets [s]",
        min=0.0)

    def check(self) -> None:
        if not (self.device == "cpu" or self.device == "cuda" or
                (self.device.startswith("cuda:") and self.device[5:].isdigit())):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', not {self.device!r}")


@dataclass
class InputConfig:
    """Camera topics the node subscribes to (relative names: remap them, e.g. image:=/camera/color/image_raw)."""

    image_transport: str = setting("raw", "'raw' subscribes sensor_msgs/Image on 'image'; 'compressed' subscribes "
                                   "sensor_msgs/CompressedImage on 'image/compressed'", choices=("raw", "compressed"))
    qos: str = setting("sensor_data", "subscription QoS: 'sensor_data' (best effort, matches every camera) or "
                       "'reliable' (only reliable publishers)", choices=("sensor_data", "reliable"))
    queue_depth: int = setting(5, "subscription history depth", min=1, max=1000)
    use_camera_info: bool = setting(True, "subscribe 'camera_info' for intrinsics (needed for 3D from depth)")
    use_depth: bool = setting(False, "subscribe 'depth' (aligned to the image; 16UC1 mm or 32FC1 m) and pair it "
                              "with images (with pose_source 'skeletons' depth is not used, and the node says so)")
    sync_slop_s: float = setting(0.05, "largest stamp difference [s] for pairing image with depth or skeletons",
                                 min=0.0, max=10.0)
    depth_timeout_s: float = setting(1.0, "when the depth topic has been silent this long, images go on without "
                                     "depth (2D skeletons) instead of waiting for it [s]", above=0.0)
    max_image_pixels: int = setting(33_177_600, "larger images are dropped, compressed ones before decoding "
                                    "(default: 8K, 7680x4320)", min=1)
    max_depth_m: float = setting(20.0, "depth beyond this [m] counts as no measurement", above=0.0)
    no_image_warning_s: float = setting(5.0, "warn when no image arrived for this long [s]", above=0.0)
    skeleton_format: str = setting("tracked_skeletons", "message on 'skeletons' (pipeline.pose_source: skeletons): "
                                   "'tracked_skeletons' (emotion_perception/TrackedSkeletonArray) or "
                                   "'azure_kinect_markers' (visualization_msgs/MarkerArray of the Azure Kinect ROS "
                                   "driver's body_tracking_data; docs/hri.md)",
                                   choices=("tracked_skeletons", "azure_kinect_markers"))


@dataclass
class OutputConfig:
    """What the node publishes besides the EmotionArray on 'emotions'."""

    debug_image: bool = setting(True, "publish an annotated image on ~/debug_image (only computed while "
                                "subscribed)", runtime=True)
    debug_image_reliable: bool = setting(True, "publish ~/debug_image reliable (what RViz subscribes with); false "
                                         "for best effort")
    markers: bool = setting(True, "publish visualization_msgs/MarkerArray on ~/markers (a sphere and a label per "
                            "person with a 3D position)", runtime=True)
    diagnostics_period_s: float = setting(1.0, "period [s] of the diagnostic_msgs/DiagnosticArray on /diagnostics",
                                          min=0.05, max=3600.0)
    hri: bool = setting(False, "publish REP-155 (ROS4HRI) topics under /humans/: bodies and faces tracked, their "
                        "ROIs, 2D skeletons and expressions (needs hri_msgs; without it the node says so and goes "
                        "on without them; docs/hri.md)")
    tf: bool = setting(False, "broadcast a TF frame per person on /tf: body_<id>, and face_<id> and gaze_<id> where "
                       "a face is placed, children of the image's frame with its stamp (needs tf2_msgs)")


def _stage_configs() -> dict[str, type]:
    """The stage config classes, by group name (imported here so settings.py stays the one registry)."""
    from .cues.registry import cue_classes
    from .detection import DetectorConfig
    from .fusion import FusionConfig
    from .pose import HistoryConfig
    from .pose.lifting.stage import LifterConfig
    from .tracking import TrackerConfig

    return {"detector": DetectorConfig, "tracker": TrackerConfig, "history": HistoryConfig, "lifter": LifterConfig,
            **{cue.name: cue.config_class for cue in cue_classes()}, "fusion": FusionConfig}


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
                raise unknown_names_error({name}, list(classes), "settings group")
            if not isinstance(config, classes[name]):
                raise TypeError(f"settings group {name!r} must be a {classes[name].__name__}")
            validate_config(config, name)
            self[name] = config

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def from_nested(cls, values: dict[str, Any]) -> Settings:
        """Settings from {group: {field: value}} or {"group.field": value} (a params file's ros__parameters).

        The ROS node's own parameters (ROS_NODE_PARAMETERS) are passed over; anything else unknown is refused.
        """
        settings = cls()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            if key.split(".")[0] in ROS_NODE_PARAMETERS:
                continue
            group, dot, name = key.partition(".")
            if dot:
                nested.setdefault(group, {})[name] = value
            elif isinstance(value, dict):
                nested.setdefault(group, {}).update(value)
            elif group in settings:
                raise ValueError(f"settings group {group!r} must be a mapping of its fields, got {value!r}")
            else:
                nested.setdefault(group, {})
        unknown = set(nested) - set(settings)
        if unknown:
            raise unknown_names_error(unknown, list(settings), "settings group")
        for group, fields_ in nested.items():
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

    def with_values(self, flat_values: dict[str, Any]) -> Settings:
        """A validated copy with {"group.field": value} changes (the node's runtime parameter updates)."""
        nested: dict[str, dict[str, Any]] = {}
        for key, value in flat_values.items():
            group, _, name = key.partition(".")
            if group not in self:
                raise unknown_names_error({group}, list(self), "settings group")
            nested.setdefault(group, {})[name] = value
        changed = Settings(dict(self))
        for group, values in nested.items():
            changed[group] = apply_overrides(self[group], values, group)
        return changed


def render_params_yaml() -> str:
    """config/emotion_perception.yaml: every parameter with its default and its documentation."""
    lines = ["# Parameters of the emotion_perception node (ROS 2 params file; load with",
             "#   ros2 launch emotion_perception emotion_perception.launch.py config:=THIS_FILE",
             "# or --ros-args --params-file THIS_FILE). Generated by `emotion-perception config`;",
             "# every value here is the built-in default. [runtime] marks parameters that may be changed while",
             "# the node runs (ros2 param set); the others are read when the node is configured.",
             "/**:", "  ros__parameters:"]
    for group, cls in group_classes().items():
        lines.append(f"    # --- {group}: {(cls.__doc__ or '').strip().splitlines()[0]}")
        lines.append(f"    {group}:")
        for f in dataclasses.fields(cls):
            value = getattr(cls(), f.name)
            lines.append(f"      # {field_help(f)}")
            lines.append(f"      {f.name}: {yaml.safe_dump(value, default_flow_style=True).strip().removesuffix(chr(10) + '...')}")
    return "\n".join(lines) + "\n"


def load_settings(params_file: Path | None = None, overrides: list[str] = ()) -> Settings:
    """Settings from a params file (default: the installed one) with "GROUP.FIELD=VALUE" overrides (values in
    YAML; an empty VALUE is the empty string), validated by the same rule as the node's parameters: what the offline
    commands take."""
    from .runtime.paths import default_params_file

    path = Path(params_file) if params_file is not None else default_params_file()
    if params_file is not None and not path.is_file():
        raise ValueError(f"params file {path} not found")
    settings = Settings.from_yaml(path) if path.is_file() else Settings()
    changes = {}
    for item in overrides:
        key, equals, value = item.partition("=")
        if not equals or "." not in key:
            raise ValueError(f"override {item!r} is not GROUP.FIELD=VALUE")
        try:
            changes[key] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError as exc:
            raise ValueError(f"override {item!r}: the value is not YAML ({exc.problem})") from None
    return settings.with_values(changes)
