"""What the detector tests share: the MoveNet MultiPose graph model beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def movenet_dir(shared_dir) -> Path:
    """The TF.js graph model's two files and their golden outputs, as ../shared/models/movenet holds them."""
    return shared_dir / "models" / "movenet"
