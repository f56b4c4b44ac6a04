"""Where the installed package keeps its files: message definitions, the params file, the sample data."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = "emotion_perception"


def share_dir() -> Path:
    """The package's installed share directory (from the ament index, else beside the interpreter's prefix)."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, OSError):  # not found, or no AMENT_PREFIX_PATH (a plain virtualenv)
        return Path(sys.prefix) / "share" / PACKAGE


def default_params_file() -> Path:
    """The installed config/emotion_perception.yaml (every setting at its default)."""
    return share_dir() / "config" / "emotion_perception.yaml"


def sample_bag_path() -> Path:
    """The bundled sample bag (installed with the package)."""
    return share_dir() / "data" / "sample_walk"
