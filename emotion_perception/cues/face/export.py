"""The face networks' ONNX export entries (``FaceCue.exportable_networks``; runtime/export.py exports them):
the expression classifier and MTCNN's three stages."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ...runtime.export import BATCH_SIZES, ExportableNetwork, Sizes, example_generator
from .expression import DEFAULT_WEIGHTS as DEFAULT_EXPRESSION_WEIGHTS, load_expression_model, mini_xception
from .mtcnn import DEFAULT_WEIGHTS as DEFAULT_MTCNN_WEIGHTS, ONet, PNet, RNet, load_mtcnn


def _expression_build(weights: str | None) -> nn.Module:
    return mini_xception().eval() if weights is None else load_expression_model(weights).network.eval()


def _face_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    return (2 * torch.rand(sizes["batch"], 1, 64, 64, generator=example_generator()) - 1,)


def _mtcnn_builder(stage: str) -> Callable[[str | None], nn.Module]:
    def build(weights: str | None) -> nn.Module:
        if weights is None:
            return {"pnet": PNet, "rnet": RNet, "onet": ONet}[stage]().eval()
        return getattr(load_mtcnn(weights), stage).to(memory_format=torch.contiguous_format).eval()

    return build


def _mtcnn_inputs(side: int | None) -> Callable[[Sizes], tuple[torch.Tensor, ...]]:
    """R-Net and O-Net take fixed square crops; P-Net any image size (it slides over the pyramid)."""
    def inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
        height, width = (side, side) if side else (sizes["height"], sizes["width"])
        return (2 * torch.rand(sizes.get("batch", 1), 3, height, width, generator=example_generator()) - 1,)

    return inputs


FACE_NETWORKS: tuple[ExportableNetwork, ...] = (
    ExportableNetwork(
        name="face_expression", summary="mini-XCEPTION facial expressions: grey faces (N, 1, 64, 64) in [-1, 1] "
                                        "-> logits (N, 7), the weights' label order",
        build=_expression_build, example_inputs=_face_inputs, input_names=("faces",),
        input_axes=({0: "batch"},), output_names=("logits",), export_sizes={"batch": 2}, check_sizes=BATCH_SIZES,
        default_weights=DEFAULT_EXPRESSION_WEIGHTS),
    ExportableNetwork(
        name="mtcnn_pnet", summary="MTCNN P-Net: an image (N, 3, H, W) -> face probability (N, h, w), box "
                                   "regression (N, 4, h, w)",
        build=_mtcnn_builder("pnet"), example_inputs=_mtcnn_inputs(None), input_names=("image",),
        input_axes=({0: "batch", 2: "height", 3: "width"},), output_names=("probability", "regression"),
        export_sizes={"batch": 2, "height": 64, "width": 80},
        check_sizes=({"batch": 1, "height": 48, "width": 48}, {"batch": 3, "height": 120, "width": 90}),
        default_weights=DEFAULT_MTCNN_WEIGHTS),
    ExportableNetwork(
        name="mtcnn_rnet", summary="MTCNN R-Net: face candidates (N, 3, 24, 24) -> face probability (N,), box "
                                   "regression (N, 4)",
        build=_mtcnn_builder("rnet"), example_inputs=_mtcnn_inputs(24), input_names=("faces",),
        input_axes=({0: "batch"},), output_names=("probability", "regression"), export_sizes={"batch": 2},
        check_sizes=BATCH_SIZES, default_weights=DEFAULT_MTCNN_WEIGHTS),
    ExportableNetwork(
        name="mtcnn_onet", summary="MTCNN O-Net: face candidates (N, 3, 48, 48) -> face probability (N,), box "
                                   "regression (N, 4), landmarks (N, 10)",
        build=_mtcnn_builder("onet"), example_inputs=_mtcnn_inputs(48), input_names=("faces",),
        input_axes=({0: "batch"},), output_names=("probability", "regression", "landmarks"),
        export_sizes={"batch": 2}, check_sizes=BATCH_SIZES, default_weights=DEFAULT_MTCNN_WEIGHTS),
)
"""The expression network and MTCNN's P-, R- and O-Net."""
