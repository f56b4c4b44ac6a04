"""The context network's ONNX export entry (``ContextCue.exportable_networks``; runtime/export.py exports it)."""

from __future__ import annotations

import torch
from torch import nn

from ...runtime.export import ExportableNetwork, Sizes, example_generator
from .model import emotic_resnet18, load_emotic
from .preprocessing import EmoticPreprocessing


def _build(weights: str | None) -> nn.Module:
    return emotic_resnet18().eval() if weights is None else load_emotic(weights)[0]


def _inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    pre, generator = EmoticPreprocessing(), example_generator()
    scenes, people = sizes["scenes"], sizes["people"]
    return (torch.randn(scenes, 3, pre.context_size, pre.context_size, generator=generator),
            torch.randn(people, 3, pre.body_size, pre.body_size, generator=generator),
            torch.arange(people) % scenes)


EMOTIC_NETWORK = ExportableNetwork(
    name="emotic", summary="EMOTIC context network: scenes (M, 3, 224, 224), bodies (N, 3, 128, 128), "
                           "scene_index (N,) -> category scores (N, 26), VAD / 10 (N, 3)",
    build=_build, example_inputs=_inputs,
    input_names=("context", "body", "scene_index"), input_axes=({0: "scenes"}, {0: "people"}, {0: "people"}),
    output_names=("categories", "vad"), export_sizes={"scenes": 2, "people": 2},
    check_sizes=({"scenes": 1, "people": 1}, {"scenes": 1, "people": 3}, {"scenes": 2, "people": 3}))
"""EMOTIC's two-branch network; it has no released weights (train one: docs/context.md)."""
