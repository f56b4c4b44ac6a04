"""The layout's rules, read from the sources: which part of the package may import which (docs/architecture.md).

Every import between parts of the package is checked against one table; an import that points up or sideways
fails with the module and the line. ROS stays in ros/: nothing else imports rclpy or a message package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support.installed import REPO

PACKAGE = REPO / "emotion_perception"

VOCABULARY = {"types", "labels", "configuration"}
"""The core's vocabulary: typed dataclasses, label lists, validated settings fields."""

MAY_IMPORT: dict[str, set[str]] = {
    "vocabulary": set(),
    "runtime": {"vocabulary"},
    "tracking": {"vocabulary", "runtime"},
    "pose": {"vocabulary", "runtime", "tracking"},
    "detection": {"vocabulary", "runtime"},
    "cues": {"vocabulary", "runtime", "pose"},
    "fusion": {"vocabulary"},
    "visualization": {"vocabulary"},
    "settings": {"vocabulary", "runtime", "tracking", "pose", "detection", "cues", "fusion"},
    "pipeline": {"vocabulary", "runtime", "tracking", "pose", "detection", "cues", "fusion", "settings"},
    "offline": {"vocabulary", "runtime", "tracking", "pose", "detection", "cues", "fusion", "settings", "pipeline",
                "visualization"},
    "ros": {"vocabulary", "runtime", "tracking", "pose", "detection", "cues", "fusion", "settings", "pipeline",
            "visualization", "offline", "msg"},
    "cli": {"vocabulary", "runtime", "tracking", "pose", "detection", "cues", "fusion", "settings", "pipeline",
            "visualization", "offline", "ros"},
}
"""Part -> the parts it may import (besides itself). Imports point down this table; ros/ may use offline/'s
replay tools, offline/ reaches ROS only through functions handed to it."""

TRAINING_READS_GAIT_DATA = {"emotion_perception.pose.lifting.data", "emotion_perception.pose.lifting.train"}
"""The lifter's training (not its inference) learns from the gait cue's procedural walks and STEP's gait files."""

ROS_PACKAGES = {"rclpy", "sensor_msgs", "std_msgs", "geometry_msgs", "visualization_msgs", "diagnostic_msgs",
                "builtin_interfaces", "lifecycle_msgs", "rcl_interfaces", "hri_msgs", "tf2_msgs", "tf2_ros",
                "cv_bridge", "message_filters", "launch", "launch_ros", "rosgraph_msgs"}


def part_of(module: str) -> str:
    """The part a module of the package belongs to (its folder, or the core module's own name)."""
    name = module.split(".")[1] if "." in module else "__init__"
    if name in VOCABULARY:
        return "vocabulary"
    return "vocabulary" if name == "__init__" else name


def module_name(path: Path) -> tuple[str, bool]:
    parts = path.relative_to(REPO).with_suffix("").parts
    return (".".join(parts[:-1]), True) if parts[-1] == "__init__" else (".".join(parts), False)


def imports(path: Path, source: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``source`` (the text of ``path``), relative ones resolved."""
    module, is_package = module_name(path)
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found += ([(node.lineno, f"{target}.{alias.name}") for alias in node.names]
                      if target == "emotion_perception" else [(node.lineno, target)])
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_table_has_every_part_of_the_package():
    parts = {part_of(module_name(path)[0]) for path in SOURCES}
    assert parts <= set(MAY_IMPORT), f"parts without a row in MAY_IMPORT: {sorted(parts - set(MAY_IMPORT))}"


def layer_violations(path: Path, source: str) -> list[str]:
    """The imports of ``source`` (the text of ``path``) that break MAY_IMPORT or keep ROS out of the core."""
    module = module_name(path)[0]
    part = part_of(module)
    wrong = []
    for line, target in imports(path, source):
        top = target.split(".")[0]
        if top in ROS_PACKAGES and part != "ros":
            wrong.append(f"line {line}: {target} (only ros/ imports ROS)")
        if top != "emotion_perception" or "." not in target:
            continue
        other = part_of(target)
        if other == "msg" and part != "ros":
            wrong.append(f"line {line}: {target} (only ros/ imports the messages)")
        elif other not in (part, "__version__") and other not in MAY_IMPORT[part]:
            if module in TRAINING_READS_GAIT_DATA and target.startswith("emotion_perception.cues.gait."):
                continue
            wrong.append(f"line {line}: {target} ({part} may import {sorted(MAY_IMPORT[part]) or 'nothing'})")
    return wrong


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path: Path):
    wrong = layer_violations(path, path.read_text())
    assert not wrong, f"{module_name(path)[0]}:\n" + "\n".join(wrong)


def test_the_check_sees_an_upward_import_and_ros_outside_ros():
    """The rule is read from the code: a runtime module importing the pipeline, or rclpy, is caught."""
    device = PACKAGE / "runtime" / "device.py"
    source = device.read_text()
    assert layer_violations(device, source) == []
    assert "pipeline" in " ".join(layer_violations(device, source + "\nfrom ..pipeline import Pipeline\n"))
    assert "only ros/" in " ".join(layer_violations(device, source + "\nimport rclpy\n"))
