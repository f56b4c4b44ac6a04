"""The gait networks' ONNX export entries (``GaitCue.exportable_networks``; runtime/export.py exports them)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ...runtime.export import BATCH_SIZES, ExportableNetwork, Sizes, example_generator
from .features import affective_features_batch
from .models import build_network, load_gait_model
from .preprocessing import PROXEMO_IMAGE_SIZE
from .stage import GaitConfig
from .weights import PROXEMO_VSGCNN, STEP_STGCN


def _builder(architecture: str) -> Callable[[str | None], nn.Module]:
    def build(weights: str | None) -> nn.Module:
        if weights is None:
            return build_network(architecture).eval()
        return load_gait_model(weights, architecture).network.eval()

    return build


def _stgcn_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    # coordinates on the scale of the released weights' training inputs (poses about one unit tall)
    return (0.3 * torch.randn(sizes["batch"], 3, GaitConfig().window_frames, 16, 1, generator=example_generator()),)


def _stgcn_affective_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    (joints,) = _stgcn_inputs(sizes)
    return joints, affective_features_batch(joints[..., 0].permute(0, 2, 3, 1)).float()


def _vsgcnn_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    side = PROXEMO_IMAGE_SIZE
    return (255.0 * torch.rand(sizes["batch"], side, side, 3, generator=example_generator()),)


GAIT_NETWORKS: tuple[ExportableNetwork, ...] = (
    ExportableNetwork(
        name="stgcn", summary="STEP's ST-GCN gait classifier: joints (N, 3, T, 16, 1) -> logits (N, 4), the "
                              "weights' label order",
        build=_builder("stgcn"), example_inputs=_stgcn_inputs,
        input_names=("joints",), input_axes=({0: "batch"},), output_names=("logits",),
        export_sizes={"batch": 2}, check_sizes=BATCH_SIZES, default_weights=STEP_STGCN.name),
    ExportableNetwork(
        name="stgcn_affective", summary="STEP's ST-GCN + affective features: joints (N, 3, T, 16, 1), features "
                                        "(N, 27) -> logits (N, 4)",
        build=_builder("stgcn_affective"), example_inputs=_stgcn_affective_inputs,
        input_names=("joints", "features"), input_axes=({0: "batch"}, {0: "batch"}), output_names=("logits",),
        export_sizes={"batch": 2}, check_sizes=BATCH_SIZES),
    ExportableNetwork(
        name="vsgcnn", summary="ProxEmo's VS-GCNN: view images (N, 244, 244, 3) -> scores (N, 16), index "
                               "4 x emotion + view group",
        build=_builder("vsgcnn"), example_inputs=_vsgcnn_inputs,
        input_names=("images",), input_axes=({0: "batch"},), output_names=("scores",),
        export_sizes={"batch": 2}, check_sizes=BATCH_SIZES, default_weights=PROXEMO_VSGCNN.name),
)
"""ST-GCN (with and without affective features) and VS-GCNN."""
