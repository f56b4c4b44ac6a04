"""Where the installed package is and how tests start its node (scripts/setup.sh installs both)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
PROCESSES = Path(__file__).resolve().parent / "processes"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NODE = Path(sys.prefix) / "lib" / "emotion_perception" / "emotion_perception_node"
CONFIG = Path(sys.prefix) / "share" / "emotion_perception" / "config" / "emotion_perception.yaml"
NO_DOWNLOADS = ("-p", "detector.weights:=''")
"""Tests name their detector weights: nothing may download (the DEFAULT weights would)."""


def node_command(*arguments: str) -> list[str]:
    """The installed node with the installed params file, no detector weights, and ``arguments`` (ROS args)."""
    assert NODE.is_file(), f"{NODE} is not installed (scripts/setup.sh installs it)"
    return [str(NODE), "--ros-args", "--params-file", str(CONFIG), *NO_DOWNLOADS, *arguments]
