"""Shared test set-up: few torch threads (2 cores here; contention makes more threads collapse)."""

import os

import pytest
import torch

torch.set_num_threads(1)

SHARED = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> str:
    """../shared beside the checkout (reference weights and data); tests needing it skip without it."""
    if not os.path.isdir(SHARED):
        pytest.skip("../shared is not beside the checkout")
    return SHARED
