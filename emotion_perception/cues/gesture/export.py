"""The gesture network's ONNX export entry (``GestureCue.exportable_networks``; runtime/export.py exports it)."""

from __future__ import annotations

import torch
from torch import nn

from ...runtime.export import BATCH_SIZES, ExportableNetwork, Sizes, example_generator
from .model import accm, load_accm
from .stage import GestureConfig


def _build(weights: str | None) -> nn.Module:
    return accm().eval() if weights is None else load_accm(weights)[0].eval()


def _inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    return (torch.randn(sizes["batch"], 96, GestureConfig().window_frames, generator=example_generator()),)


ACCM_NETWORK = ExportableNetwork(
    name="gesture_accm", summary="FER_BGER's ACCM body-gesture classifier: joint motion (N, 96, W) -> logits "
                                 "(N, labels)",
    build=_build, example_inputs=_inputs, input_names=("motion",), input_axes=({0: "batch"},),
    output_names=("logits",), export_sizes={"batch": 2}, check_sizes=BATCH_SIZES)
"""ACCM; it has no released weights (train one: docs/gesture.md)."""
