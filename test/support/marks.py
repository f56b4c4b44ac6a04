"""Marks for tests that need what a machine may lack (marks are applied when pytest collects, so these are plain
values rather than fixtures)."""

from __future__ import annotations

import pytest
import torch

from emotion_perception.offline.box_truth import VTEST_VIDEO

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
without_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
needs_vtest = pytest.mark.skipif(not VTEST_VIDEO.is_file(), reason=f"{VTEST_VIDEO} is absent: apt-get install "
                                                                    "opencv-doc (scripts/setup.sh does where it can)")
"""OpenCV's sample clip of real pedestrians."""
